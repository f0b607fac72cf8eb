"""Image-quality metrics on whole 3D volumes, in torch (CPU or CUDA).

Convention (stated in the README):

* Both volumes are compared on the HR grid; the SR volume is clipped to ``[0, 1]`` first and
  the data range is 1.
* SSIM is the 3D SSIM of Wang et al. (2004) with a separable Gaussian window of 11 voxels per
  axis, σ = 1.5 voxels, K1 = 0.01, K2 = 0.03, population (not sample) covariances, averaged
  over the voxels whose whole window lies inside the volume (a 5-voxel border is left out).
  This is exactly what ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1)`` computes on a 3D array.
* PSNR = 10·log10(1 / MSE) in dB over the whole volume.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def gaussian_kernel1d(
    sigma: float = SSIM_SIGMA, size: int = SSIM_WINDOW, device: torch.device | None = None
) -> torch.Tensor:
    """Normalised 1D Gaussian, ``(size,)`` float32, sampled at integer offsets as scipy does."""
    offsets = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).float()


def _filter3d(volume: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of ``(N, 1, X, Y, Z)`` along the three spatial axes.

    A weighted sum of shifted views, accumulated in place: on a 160×196×162 float64 stack of
    five volumes it takes 0.9 s on 2 CPU threads against 4.8 s for single-channel ``conv3d``,
    with the same values to 1e-15. Not differentiable (metrics only).
    """
    weights = kernel.tolist()
    size = len(weights)
    for dim in (2, 3, 4):
        length = volume.shape[dim] - size + 1
        filtered = weights[0] * volume.narrow(dim, 0, length)
        for offset in range(1, size):
            filtered.add_(volume.narrow(dim, offset, length), alpha=weights[offset])
        volume = filtered
    return volume


def ssim_map3d(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM of two batches of volumes.

    Args:
        x, y: ``(B, 1, X, Y, Z)`` volumes; every spatial size must be at least 11 voxels.
        data_range: ``max - min`` of the intensity scale (1 for volumes in ``[0, 1]``).

    Returns:
        ``(B, 1, X-10, Y-10, Z-10)`` SSIM at every voxel whose window lies inside the volume.
    """
    kernel = gaussian_kernel1d(device=x.device).to(x.dtype)
    return ssim_map(x, y, lambda stacked: _filter3d(stacked, kernel), data_range)


def ssim_map(
    x: torch.Tensor, y: torch.Tensor, window_mean: Callable[[torch.Tensor], torch.Tensor], data_range: float = 1.0
) -> torch.Tensor:
    """Local SSIM (Wang et al. 2004, population covariances) given the window's weighted mean.

    Args:
        x, y: ``(N, 1, ...)`` images or volumes of one shape.
        window_mean: maps the stack ``(5N, 1, ...)`` of ``x, y, x², y², xy`` to its local
            weighted means (the Gaussian window), any output size.
        data_range: ``max − min`` of the intensities.

    Returns:
        SSIM at every position ``window_mean`` keeps, ``(N, 1, ...)``.
    """
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    filtered = window_mean(torch.cat([x, y, x * x, y * y, x * y], dim=0))
    mu_x, mu_y, xx, yy, xy = filtered.chunk(5, dim=0)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return numerator / denominator


def ssim3d(sr: torch.Tensor, hr: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean 3D SSIM of one SR volume against its HR volume.

    Args:
        sr, hr: ``(X, Y, Z)`` volumes on the same grid, intensities in ``[0, data_range]``;
            ``sr`` is clipped to that range. Computed in float64 for repeatability.

    Returns:
        SSIM in ``[-1, 1]`` (1 for identical volumes).
    """
    _check_pair(sr, hr)
    if sr.dim() != 3:
        raise ValueError(f"3D SSIM needs (X, Y, Z) volumes, got {tuple(sr.shape)}")
    if min(sr.shape) < SSIM_WINDOW:
        raise ValueError(f"3D SSIM needs at least {SSIM_WINDOW} voxels per axis, got {tuple(sr.shape)}")
    x = sr.detach().double().clamp(0, data_range)[None, None]
    y = hr.detach().double()[None, None]
    return float(ssim_map3d(x, y, data_range).mean())


def psnr(sr: torch.Tensor, hr: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB of an SR volume (clipped to ``[0, data_range]``) against its HR volume.

    Any shape works as long as both agree: whole volumes ``(X, Y, Z)`` for the metrics, slab
    batches ``(B, M, H, W)`` for validation.
    """
    _check_pair(sr, hr)
    mse = float(((sr.detach().double().clamp(0, data_range) - hr.detach().double()) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _check_pair(sr: torch.Tensor, hr: torch.Tensor) -> None:
    if sr.shape != hr.shape:
        raise ValueError(f"metrics need two volumes of one shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")


METRICS = {"ssim": ssim3d, "psnr": psnr}
"""Metric name → function(sr, hr) -> float, in the column order of the results table."""
