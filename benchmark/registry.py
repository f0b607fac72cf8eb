"""Name → factory registries for methods and datasets, with plugins from entry points.

Like timm's model registry: a registry maps a name to a factory, lists names with a
wildcard and passes keyword arguments straight through to the factory.  Plugins are
modules that register themselves when imported.  The core imports them through the
entry-point group ``bench.plugins`` (read once, cached); the project's own built-ins are
declared there in ``pyproject.toml``, third-party packages add their own entries::

    [project.entry-points."bench.plugins"]
    my_method = "my_package.my_method"

A name registered twice is an error, so a plugin cannot silently shadow a built-in.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from benchmark.errors import BenchError

T = TypeVar("T")

PLUGIN_GROUP = "bench.plugins"


class Registry(Generic[T]):
    """A mapping from names to factories of one kind of thing (``"method"``, ``"dataset"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._summaries: dict[str, str] = {}

    def register(self, name: str, summary: str = "") -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``; a duplicate name raises ``ValueError``.

        Args:
            name: lower-case name users type, e.g. ``"tricubic"``.
            summary: one line shown by ``bench list``; defaults to the factory's first doc line.
        """

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(
                    f"{self.kind} '{name}' is registered twice "
                    f"({self._factories[name].__module__} and {factory.__module__})."
                )
            self._factories[name] = factory
            doc = (factory.__doc__ or "").strip().splitlines()
            self._summaries[name] = summary or (doc[0] if doc else "")
            return factory

        return decorate

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell wildcard, sorted."""
        load_plugins()
        return sorted(n for n in self._factories if fnmatch.fnmatchcase(n, pattern))

    def summary(self, name: str) -> str:
        """The one-line description of ``name``."""
        return self._summaries[self._check(name)]

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names raise :class:`BenchError`."""
        return self._factories[self._check(name)]

    def create(self, name: str, **kwargs: Any) -> T:
        """Call the factory of ``name`` with ``kwargs``."""
        return self.factory(name)(**kwargs)

    def resolve(self, spec: str) -> list[str]:
        """Expand a comma-separated list of names and wildcards (``all`` means ``*``), keeping order."""
        load_plugins()
        chosen: list[str] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            pattern = "*" if item == "all" else item
            matches = self.names(pattern) if any(c in pattern for c in "*?[") else [self._check(pattern)]
            if not matches:
                raise BenchError(f"no {self.kind} matches '{item}'; known: {', '.join(self.names())}.")
            chosen.extend(m for m in matches if m not in chosen)
        if not chosen:
            raise BenchError(f"no {self.kind} given; known: {', '.join(self.names())}.")
        return chosen

    def _check(self, name: str) -> str:
        load_plugins()
        if name not in self._factories:
            raise BenchError(f"unknown {self.kind} '{name}'; known: {', '.join(sorted(self._factories))}.")
        return name


_plugins_loaded = False


def load_plugins() -> None:
    """Import every module of the ``bench.plugins`` entry-point group once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        importlib.import_module(entry.value)
