"""The registries the harness offers to plugins: methods, datasets, degradations.

``DEGRADATIONS`` is defined beside the degradations (:mod:`benchmark.protocol.degradations`)
and re-exported here, so a plugin finds every registry in one place.
"""

from __future__ import annotations

from benchmark.data.dataset import Dataset
from benchmark.method import Method
from benchmark.protocol.degradations import DEGRADATIONS, Degradation
from benchmark.registry import Registry

__all__ = ["DATASETS", "DEGRADATIONS", "METHODS", "Degradation"]

METHODS: Registry[Method] = Registry("method")
"""``name → Method subclass``; called as ``cls(scale=Scale, profile=Profile)``."""

DATASETS: Registry[Dataset] = Registry("dataset")
"""``name → factory(data_root: Path | None, cache_dir: Path) -> Dataset``."""
