"""Name → factory registries for methods and datasets, with plugins from entry points.

Like timm's model registry: a registry maps a name to a factory, lists names with a
wildcard and passes keyword arguments straight through to the factory.  Plugins are
modules that register themselves when imported.  The core imports them through the
entry-point group ``bench.plugins`` (read once, cached); the project's own built-ins are
declared there in ``pyproject.toml``, third-party packages add their own entries::

    [project.entry-points."bench.plugins"]
    my_method = "my_package.my_method"

A plugin that is not installed (a module on ``PYTHONPATH``, a folder of one's own) is named in
the environment variable ``BENCH_PLUGINS``, comma-separated (``BENCH_PLUGINS=my_package.my_method``);
it is imported as if it were an entry point of the group, by every process of a run (the local
queue's and the Slurm array's inherit the environment).

A name registered twice is an error, so a plugin cannot silently shadow a built-in.

A plugin that fails to import (a missing dependency, a syntax error, a clashing name) never
leaves the registries half-filled: what it registered before failing is removed (and the
modules that registered it are forgotten by ``sys.modules``), the other plugins are loaded,
and :class:`BenchError` names the entry point and its error in one sentence.  The failed
entry point stays pending: the next lookup tries it again and, if it still fails, says so
again, so a broken plugin is never silently missing.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from benchmark.errors import BenchError

T = TypeVar("T")

PLUGIN_GROUP = "bench.plugins"
PLUGINS_VARIABLE = "BENCH_PLUGINS"
"""Environment variable: comma-separated modules imported as plugins besides the entry points."""

_REGISTRIES: weakref.WeakSet[Registry[Any]] = weakref.WeakSet()
"""Every registry, so that a failed plugin's registrations can be removed from all of them."""


class Registry(Generic[T]):
    """A mapping from names to factories of one kind of thing (``"method"``, ``"dataset"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._summaries: dict[str, str] = {}
        _REGISTRIES.add(self)

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

    def _forget(self, names: Iterable[str]) -> set[str]:
        """Remove ``names`` (a failed plugin's registrations); returns the modules that registered them."""
        modules = set()
        for name in names:
            modules.add(self._factories.pop(name).__module__)
            self._summaries.pop(name, None)
        return modules

    def _check(self, name: str) -> str:
        load_plugins()
        if name not in self._factories:
            raise BenchError(f"unknown {self.kind} '{name}'; known: {', '.join(sorted(self._factories))}.")
        return name


_pending: list[EntryPoint] | None = None
"""Entry points not imported yet (``None`` until the group is read, once); failed ones stay here."""
_loading = False
"""True while plugins are being imported, so that a plugin calling a registry does not recurse."""


def load_plugins() -> None:
    """Import every module of the ``bench.plugins`` entry-point group not imported yet.

    Raises:
        BenchError: one or more plugins failed to import; each is named with its error.  The
            others are loaded, the failed ones' registrations removed, and they are tried again
            at the next call.
    """
    global _pending, _loading
    if _loading or _pending == []:
        return
    if _pending is None:
        _pending = sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name) + _named_plugins()
    _loading = True
    failures: list[str] = []
    try:
        for entry in list(_pending):
            try:
                _import_plugin(entry)
            except Exception as error:  # any error of a plugin's import, reported as one sentence
                reason = " ".join(f"{type(error).__name__}: {error}".split()).rstrip(".")
                where = f"remove it from {PLUGINS_VARIABLE}" if entry in _named_plugins() else "uninstall the package"
                failures.append(
                    f"plugin '{entry.name}' ({entry.value}) failed to import: {reason} (fix it, or {where})"
                )
            else:
                _pending.remove(entry)
    finally:
        _loading = False
    if failures:
        raise BenchError(
            f"{'; '.join(failures)}; plugins are the entry points of group {PLUGIN_GROUP} and the modules of "
            f"{PLUGINS_VARIABLE}."
        )


def _named_plugins() -> list[EntryPoint]:
    """The modules of ``BENCH_PLUGINS`` as entry points of the group (each module its own name)."""
    names = [name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]
    return [EntryPoint(name=name, value=name, group=PLUGIN_GROUP) for name in names]


def _import_plugin(entry: EntryPoint) -> None:
    """Import one plugin; if it fails, undo what it registered so that a retry starts clean."""
    registries = list(_REGISTRIES)
    before = {id(registry): set(registry._factories) for registry in registries}
    modules_before = set(sys.modules)
    try:
        entry.load()
    except BaseException:
        registered_by: set[str] = set()
        for registry in list(_REGISTRIES):
            new = set(registry._factories) - before.get(id(registry), set())
            registered_by |= registry._forget(new)
        for module in registered_by - modules_before:  # imported by this plugin: executed again on retry
            sys.modules.pop(module, None)
        raise
