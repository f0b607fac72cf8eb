"""Linear up-sampling of slabs on the k-space-truncation grid, for an optional global skip.

The ``quick`` and ``tiny`` profiles train for a few hundred CPU steps; there a network that
learns the residual over a linear up-sampling of its input (as ZSSR's ``learn_residual``
and many MRI SR networks do) reaches useful quality far sooner than one that learns the
whole image.  Profile key ``global_skip`` (``False`` in the ``paper`` profile, which keeps the
authors' TS-RCAN exactly) switches it on for every image-to-image SR path of every method
alike, so that only the training pipelines differ.

Grid: LR voxel ``j`` sits at HR voxel ``j·s`` (see :mod:`benchmark.protocol.degradations`),
so HR voxel ``s·j + r`` is ``(1 − r/s)·x[j] + (r/s)·x[j+1]``, the last LR voxel repeated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _upsample_axis(x: torch.Tensor, factor: int, dim: int) -> torch.Tensor:
    if factor == 1:
        return x
    following = torch.cat([x.narrow(dim, 1, x.shape[dim] - 1), x.narrow(dim, x.shape[dim] - 1, 1)], dim=dim)
    parts = [(1 - r / factor) * x + (r / factor) * following for r in range(factor)]
    stacked = torch.stack(parts, dim=dim + 1)  # (..., n, factor, ...)
    shape = list(x.shape)
    shape[dim] *= factor
    return stacked.reshape(shape)


def upsample_slab_linear(slabs: torch.Tensor, scale: Sequence[int]) -> torch.Tensor:
    """Linear up-sampling of slabs ``(B, M, h, w)`` to ``(B, M·sz, sx·h, sy·w)`` (slices are channels)."""
    sx, sy, sz = (int(s) for s in scale)
    out = _upsample_axis(slabs, sz, 1)
    out = _upsample_axis(out, sx, 2)
    return _upsample_axis(out, sy, 3)
