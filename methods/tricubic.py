"""Tricubic interpolation: the paper's reference row, no training, no source HR.

Cubic B-spline interpolation (order 3, ``scipy.ndimage``) of the LR volume onto the HR grid.
The grids are aligned as the k-space truncation aligns them: LR voxel ``j`` samples the
band-limited HR volume at HR voxel ``j·s`` (cropping a DFT resamples at multiples of the
scale), so HR voxel ``x`` is read at LR coordinate ``x / s``; the spline wraps around the
border (``grid-wrap``) because a truncated DFT is periodic.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from benchmark.method import Method
from benchmark.plugins import METHODS


@METHODS.register("tricubic", summary="Cubic-spline (order 3) interpolation of the LR volume; no training.")
class Tricubic(Method):
    """Cubic-spline interpolation of the LR volume onto the HR grid."""

    uses_source_hr = False
    needs_training_data = False

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` by order-3 spline interpolation."""
        factors = np.asarray(self.scale.factors, dtype=np.float64)
        hr_shape = tuple(int(n) * int(f) for n, f in zip(lr.shape, factors))
        sr = ndimage.affine_transform(
            lr.detach().cpu().numpy().astype(np.float64),
            matrix=1.0 / factors,
            output_shape=hr_shape,
            order=3,
            mode="grid-wrap",
        )
        return torch.from_numpy(sr.astype(np.float32))
