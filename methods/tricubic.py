"""Tricubic interpolation: the paper's reference row, no training, no source HR.

Cubic B-spline interpolation (order 3) of the LR volume onto the HR grid, computed as the
polyphase filter of :func:`methods.cubic_upsampling.upsample_cubic`, equal to
``scipy.ndimage.affine_transform(lr, 1/s, order=3, mode="grid-wrap")`` to float64 rounding and
about nine times faster (validation computes it for every learned cell).
The grids are aligned as the k-space truncation aligns them: LR voxel ``j`` samples the
band-limited HR volume at HR voxel ``j·s`` (cropping a DFT resamples at multiples of the
scale), so HR voxel ``x`` is read at LR coordinate ``x / s``; the spline wraps around the
border (``grid-wrap``) because a truncated DFT is periodic.

Design notes and measurements: docs/methods/tricubic.md
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.api import METHODS, Method
from methods.cubic_upsampling import upsample_cubic


@METHODS.register("tricubic", summary="Cubic-spline (order 3) interpolation of the LR volume; no training.")
class Tricubic(Method):
    """Cubic-spline interpolation of the LR volume onto the HR grid."""

    uses_source_hr = False
    needs_training_data = False
    uses_seed = False

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` by order-3 spline interpolation."""
        sr = upsample_cubic(lr.detach().cpu().numpy().astype(np.float64), self.scale.factors)
        return torch.from_numpy(sr.astype(np.float32))
