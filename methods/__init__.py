"""Built-in method plugins; importing this package registers them (the list of built-ins)."""

from methods import tricubic  # noqa: F401
