"""Built-in method plugins; importing this package registers them (this is the list of built-ins)."""

from methods import cyclegan, dasr, pseudosr, supervised, tricubic, udean, zero_fill, zssr  # noqa: F401
