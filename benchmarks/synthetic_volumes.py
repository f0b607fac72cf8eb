"""Random LR/HR volume pairs for the speed benchmarks (their content does not matter, only their sizes)."""

from __future__ import annotations

import numpy as np

from benchmark.data.volume import Volume
from benchmark.scale import Scale


def synthetic_pairs(hr_shape: tuple[int, int, int], scale: Scale, n: int) -> tuple[list[Volume], list[Volume]]:
    """``n`` uniform-noise float32 HR volumes ``hr_shape`` and their LR versions, averaged over ``scale`` blocks.

    Args:
        hr_shape: ``(X, Y, Z)`` voxels, each a multiple of the matching scale factor.
        scale: the LR/HR scale.
        n: number of subjects (``s0`` … ``s{n-1}``), seeded (the same volumes every run).

    Returns:
        ``(LR volumes (X/sx, Y/sy, Z/sz), HR volumes)``, identity affines.
    """
    rng = np.random.default_rng(0)
    hrs, lrs = [], []
    for index in range(n):
        hr = rng.random(hr_shape, dtype=np.float32)
        lr = hr.reshape(hr_shape[0] // scale.sx, scale.sx, hr_shape[1] // scale.sy, scale.sy, -1, scale.sz)
        hrs.append(Volume(hr, np.eye(4), f"s{index}"))
        lrs.append(Volume(lr.mean(axis=(1, 3, 5)).astype(np.float32), np.eye(4), f"s{index}"))
    return lrs, hrs
