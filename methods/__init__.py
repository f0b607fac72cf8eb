"""Built-in method plugins; importing this package registers them (this is the list of built-ins)."""

from methods import supervised, tricubic  # noqa: F401
