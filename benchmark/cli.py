"""Moved to :mod:`benchmark.app.cli`; this path keeps old imports working, with a warning."""

from benchmark.app import cli as _moved
from benchmark.moved_module import warn_moved

globals().update({name: value for name, value in vars(_moved).items() if not name.startswith("__")})
warn_moved("benchmark.cli", "benchmark.app.cli")

if __name__ == "__main__":  # `python -m benchmark.cli`, as older scripts run it
    main()  # noqa: F821 (copied from benchmark.app.cli above)
