"""The built-in plugins imported by module, for a checkout that is only on ``PYTHONPATH`` (no entry points)."""

from __future__ import annotations

import importlib
import os

from benchmark.registry import PLUGINS_VARIABLE

BUILTIN_PLUGINS: tuple[str, ...] = ("benchmark.protocol.degradations", "datasets", "methods")
"""The modules of the ``bench.plugins`` entry points in ``pyproject.toml`` (a test keeps them equal)."""


def register_builtins() -> None:
    """Import the built-in plugins by module, so that they register without installed entry points.

    Where the project is only on ``PYTHONPATH`` (the GPU machine), ``importlib.metadata`` finds
    no ``bench.plugins`` entry points and the registries would stay empty.  Where it is
    installed, the entry points name these same modules, already imported, so nothing
    registers twice.  They are also added to ``BENCH_PLUGINS``, so that the cell processes of the
    local queue, started from this one, register them too.
    """
    named = [name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]
    os.environ[PLUGINS_VARIABLE] = ",".join(dict.fromkeys([*named, *BUILTIN_PLUGINS]))
    for module in BUILTIN_PLUGINS:
        importlib.import_module(module)
