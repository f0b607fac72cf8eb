"""The registries the harness offers to plugins: methods, datasets, degradations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmark.dataset import Dataset
from benchmark.method import Method
from benchmark.registry import Registry

METHODS: Registry[Method] = Registry("method")
"""``name → Method subclass``; called as ``cls(scale=Scale, profile=Profile)``."""

DATASETS: Registry[Dataset] = Registry("dataset")
"""``name → factory(data_root: Path | None, cache_dir: Path) -> Dataset``."""

Degradation = Callable[..., np.ndarray]
DEGRADATIONS: Registry[Degradation] = Registry("degradation")
"""``name → fn(hr: (X, Y, Z) array, scale: Scale, rng: np.random.Generator) -> (X/sx, Y/sy, Z/sz) array``."""
