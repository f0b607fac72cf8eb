"""Metrics inside a mask (the brain), and the 2D slice-wise SSIM that many MRI papers report.

Conventions (each SR volume is clipped to ``[0, 1]`` first, as for the whole-volume metrics of
:mod:`benchmark.evaluation.metrics`; volumes are ``(X, Y, Z)`` on the HR grid, the mask a boolean
volume of the same shape):

* **masked PSNR**: ``10·log10(1 / MSE)`` in dB, the MSE over the voxels of the mask only (data range 1).
* **masked SSIM**: the mean of the 3D SSIM map (11-voxel Gaussian window, σ = 1.5 voxels, population
  covariances, data range 1: exactly the map whose whole-volume mean is ``ssim``) over the voxels
  that are in the mask **and** whose window lies inside the volume, i.e. at least 5 voxels from
  every face.  The windows of those voxels may reach outside the mask: the map is the whole
  volume's, only the average is restricted.  Equal to scikit-image's ``full=True`` map of the
  same call, restricted to those voxels (``tests/test_masked_metrics.py``).
* **2D SSIM** (``ssim2d``): fastMRI's convention.  For each slice along ``axis`` (Z, the slice
  axis, by default), scikit-image's ``structural_similarity`` with its defaults (7×7 uniform
  window, sample covariances) and ``data_range`` = the maximum of the whole HR volume; the mean
  over slices.  Computed by scikit-image itself, on the CPU, in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from benchmark.evaluation.metrics import SSIM_WINDOW, check_pair, ssim_slabs

SSIM_HALO = (SSIM_WINDOW - 1) // 2
"""Voxels between a face of the volume and the first voxel whose 3D SSIM window lies inside it (5)."""

SLICE_AXIS = 2
"""The axis along which ``ssim2d`` takes slices: Z, the through-plane axis of the thin-slab protocol."""


def _checked_mask(mask: torch.Tensor | np.ndarray, shape: torch.Size) -> torch.Tensor:
    mask = torch.as_tensor(mask)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"the mask is {tuple(mask.shape)}, the volumes {tuple(shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"the mask must be boolean, got {mask.dtype}")
    return mask


def masked_psnr(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor | np.ndarray) -> float:
    """PSNR in dB (data range 1) of ``sr`` (clipped to ``[0, 1]``) against ``hr`` over the voxels of ``mask``.

    Args:
        sr, hr: ``(X, Y, Z)`` volumes on the HR grid.
        mask: boolean ``(X, Y, Z)``.

    Raises:
        ValueError: shapes differ, the mask is not boolean, or it is empty.
    """
    check_pair(sr, hr)
    mask = _checked_mask(mask, sr.shape).to(sr.device)
    if not bool(mask.any()):
        raise ValueError("the mask is empty")
    difference = sr.detach().double().clamp(0, 1)[mask] - hr.detach().double().to(sr.device)[mask]
    mse = float((difference**2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def masked_ssim3d(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor | np.ndarray) -> float:
    """Mean 3D SSIM map over the mask's voxels at least 5 voxels from every face (see the module doc).

    Args:
        sr, hr: ``(X, Y, Z)`` volumes, every size at least 11; ``sr`` is clipped to ``[0, 1]``.
        mask: boolean ``(X, Y, Z)``.

    Raises:
        ValueError: shapes differ, the mask is not boolean, or no voxel of it is 5 voxels inside.
    """
    check_pair(sr, hr)
    if sr.dim() != 3 or min(sr.shape) < SSIM_WINDOW:
        raise ValueError(f"3D SSIM needs (X, Y, Z) volumes of at least {SSIM_WINDOW} voxels per axis")
    mask = _checked_mask(mask, sr.shape).to(sr.device)
    inner = mask[SSIM_HALO:-SSIM_HALO, SSIM_HALO:-SSIM_HALO, SSIM_HALO:-SSIM_HALO]
    count = int(inner.sum())
    if count == 0:
        raise ValueError(f"no voxel of the mask is {SSIM_HALO} voxels inside the volume")
    x = sr.detach().clamp(0, 1)
    y = hr.detach().to(x.device)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start, ssim in ssim_slabs(x, y, 1.0, None):
        total += ssim[inner[start : start + ssim.shape[0]]].sum()
    return float(total) / count


def slice_ssim2d(sr: torch.Tensor, hr: torch.Tensor, axis: int = SLICE_AXIS) -> float:
    """Mean over the slices along ``axis`` of scikit-image's 2D SSIM, fastMRI's way (see the module doc).

    Args:
        sr, hr: ``(X, Y, Z)`` volumes; ``sr`` is clipped to ``[0, 1]``; each slice at least 7×7.
        axis: the slice axis (0, 1 or 2).
    """
    from skimage.metrics import structural_similarity

    check_pair(sr, hr)
    x = np.moveaxis(sr.detach().double().clamp(0, 1).cpu().numpy(), axis, 0)
    y = np.moveaxis(hr.detach().double().cpu().numpy(), axis, 0)
    data_range = float(y.max())
    return float(np.mean([structural_similarity(b, a, data_range=data_range) for a, b in zip(x, y)]))


BRAIN_METRICS = {"psnr_brain": masked_psnr, "ssim_brain": masked_ssim3d}
"""Result column → function(sr, hr, mask) -> float, for the test subjects that have a brain mask."""

SLICE_METRICS = {"ssim2d": slice_ssim2d}
"""Result column → function(sr, hr) -> float: the 2D slice-wise SSIM, for every test subject."""
