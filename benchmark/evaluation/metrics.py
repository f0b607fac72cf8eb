"""Image-quality metrics on whole 3D volumes, in torch (CPU or CUDA).

Convention (stated in docs/protocol.md, "Metrics"):

* Both volumes are compared on the HR grid; the SR volume is clipped to ``[0, 1]`` first and
  the data range is 1.
* SSIM is the 3D SSIM of Wang et al. (2004) with a separable Gaussian window of 11 voxels per
  axis, σ = 1.5 voxels, K1 = 0.01, K2 = 0.03, population (not sample) covariances, averaged
  over the voxels whose whole window lies inside the volume (a 5-voxel border is left out).
  This is what ``skimage.metrics.structural_similarity(sr, hr, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1)`` computes on float64 3D arrays: the
  same window weights (scipy's, truncate 3.5), float64 throughout, equal to 1e-12 (tested; the
  measured difference is ~1e-16).
* PSNR = 10·log10(1 / MSE) in dB over the whole volume.

How the 3D SSIM is computed (:func:`ssim3d`): the five images ``x, y, x², y², xy`` are filtered
along each axis as products with a banded matrix (each row holds the 11 window weights: the
kernel of a 'valid' correlation), in blocks of 32 outputs so that the band stays narrow, which
runs as dense float64 matrix products (BLAS on CPU, cuBLAS on CUDA: CUDA tensors stay on the
GPU and are computed in float64 too; a test compares both devices to 1e-12 where CUDA is
present). On CPU the volume is streamed in slabs of output planes along X (16 per torch
thread), so that the five filtered volumes are never held whole (buffers of ~0.13 GB at 16
planes for 160×196×162, where the previous filter held ~1 GB); on CUDA it is one slab.

Speed, measured with ``benchmarks/ssim_speed.py`` (160×196×162 float32 pair, medians of 5,
interleaved with scikit-image's float64 call in one process, 2-core Xeon; README
"Performance"): 0.44× scikit-image's time at one torch thread and 0.24× at two, with the
machine otherwise idle (load average 1.2); 0.39× and 0.53× while other jobs kept it busy (load
3.2). The previous filter (shifted views of the whole stack, float32 weights) took 1.47× and
1.38× (load 1.1). Other processes on the cores slow the two-thread case most (torch's threads
wait on each other): ``bench run --threads 1`` suits a busy machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_SLAB_PLANES_PER_THREAD = 16
"""Output planes along X per slab on CPU per torch thread, up to :data:`SSIM_SLAB_PLANES_MAX`.

Measured on 160×196×162 (2-core Xeon, busy with other work): at 1 thread 16 planes took 0.34×
scikit-image's time, 32 planes 0.39×, 64 planes 0.51×; at 2 threads 16 planes 0.98×, 32 planes
0.72×, 64 planes 0.67× (fewer, larger operations: the threads wait less on each other)."""
SSIM_SLAB_PLANES_MAX = 64
SSIM_BAND_BLOCK = 32
"""Outputs per banded matrix product along one axis (the band is ``32 × 42``)."""


def gaussian_kernel1d(
    sigma: float = SSIM_SIGMA,
    size: int = SSIM_WINDOW,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Normalised 1D Gaussian, ``(size,)``, sampled at integer offsets.

    Computed in float64 with scipy.ndimage's own formula (``exp(-0.5 / σ² · x²)`` divided by
    its sum), so the float64 weights are bit-identical to those of ``gaussian_filter``, then
    cast to ``dtype`` (float32 by default, for the training loss).
    """
    offsets = np.arange(size) - (size - 1) // 2
    weights = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    return torch.from_numpy(weights / weights.sum()).to(device=device, dtype=dtype)


class _BandMatrices:
    """Banded matrices of one window, by number of outputs: row ``i`` holds the window at columns ``i … i+size−1``.

    ``band(n) @ v`` with ``v`` of ``n + size − 1`` rows is the 'valid' correlation of ``v``'s
    columns with the window, ``(n, …)``.
    """

    def __init__(self, kernel: torch.Tensor) -> None:
        self.kernel = kernel
        self.size = kernel.numel()
        self._cache: dict[int, torch.Tensor] = {}

    def __call__(self, outputs: int) -> torch.Tensor:
        """The ``(outputs, outputs + size − 1)`` band, built once per size."""
        if outputs not in self._cache:
            band = self.kernel.new_zeros(outputs, outputs + self.size - 1)
            rows = torch.arange(outputs, device=self.kernel.device)
            for offset in range(self.size):
                band[rows, rows + offset] = self.kernel[offset]
            self._cache[outputs] = band
        return self._cache[outputs]


def _filter_last(matrix: torch.Tensor, bands: _BandMatrices, out: torch.Tensor) -> None:
    """'Valid' filtering of each row of ``matrix`` ``(P, L)`` into ``out`` ``(P, L − size + 1)``.

    One ``mm`` per block of :data:`SSIM_BAND_BLOCK` outputs, written straight into the block of
    ``out`` (a strided matrix for BLAS: no copy).
    """
    for start in range(0, out.shape[1], SSIM_BAND_BLOCK):
        n = min(SSIM_BAND_BLOCK, out.shape[1] - start)
        torch.mm(matrix[:, start : start + n + bands.size - 1], bands(n).T, out=out[:, start : start + n])


def _filter_middle(volume: torch.Tensor, bands: _BandMatrices, out: torch.Tensor) -> None:
    """'Valid' filtering of ``volume`` ``(P, L, Q)`` along ``L`` into ``out`` ``(P, L − size + 1, Q)``.

    One batched product per block of :data:`SSIM_BAND_BLOCK` outputs, then one copy into ``out``
    (a batched product into a strided ``out`` runs batch by batch: slower, and far slower on a
    busy machine with several threads).
    """
    for start in range(0, out.shape[1], SSIM_BAND_BLOCK):
        n = min(SSIM_BAND_BLOCK, out.shape[1] - start)
        out[:, start : start + n] = torch.matmul(bands(n), volume[:, start : start + n + bands.size - 1])


def ssim_slabs(
    x: torch.Tensor, y: torch.Tensor, data_range: float, slab: int | None
) -> Iterator[tuple[int, torch.Tensor]]:
    """The 3D SSIM map of two volumes, slab by slab of output planes along X, in float64.

    Args:
        x, y: ``(X, Y, Z)`` volumes of one shape and device, every size at least 11, any dtype
            (converted slab by slab: no float64 copy of the whole volumes is made).
        data_range: ``max − min`` of the intensities.
        slab: output planes per slab (at least 10); None: :data:`SSIM_SLAB_PLANES_PER_THREAD`
            times ``torch.get_num_threads()`` (at most :data:`SSIM_SLAB_PLANES_MAX`) on CPU, the
            whole volume on other devices.

    Yields:
        ``(start, ssim)``: the first output plane and the map ``(count, Y − 10, Z − 10)`` of the
        ``count`` output planes from there.
    """
    bands = _BandMatrices(gaussian_kernel1d(device=x.device, dtype=torch.float64))
    halo = bands.size - 1
    size_x, size_y, size_z = x.shape
    planes = size_x - halo
    if slab is None:
        per_thread = SSIM_SLAB_PLANES_PER_THREAD * torch.get_num_threads()
        slab = min(per_thread, SSIM_SLAB_PLANES_MAX) if x.device.type == "cpu" else planes
    slab = min(planes, max(halo, slab))
    inner_y, inner_z = size_y - halo, size_z - halo
    # Per slab, X planes of x, y, x², y², xy, (planes, 5, Y, Z): filtered along Z, then along Y
    # into `window` after the `halo` planes carried over from the previous slab, then along X.
    # Flat buffers, viewed with each slab's plane count (planes outermost, so the views agree).
    cells = (slab + halo) * 5
    moments = torch.empty(cells * size_y * size_z, dtype=torch.float64, device=x.device)
    along_z = moments.new_empty(cells * size_y * inner_z)
    window = moments.new_empty(cells * inner_y * inner_z)
    for start in range(0, planes, slab):
        count = min(slab, planes - start)
        first = 0 if start == 0 else halo
        if first:  # the previous slab was full: its last `halo` planes (slab >= halo: no overlap)
            plane = 5 * inner_y * inner_z
            window[: halo * plane] = window[slab * plane : (slab + halo) * plane]
        new = count + halo - first
        m = moments[: new * 5 * size_y * size_z].view(new, 5, size_y, size_z)
        source = slice(start + first, start + count + halo)
        m[:, 0] = x[source]
        m[:, 1] = y[source]
        torch.mul(m[:, 0], m[:, 0], out=m[:, 2])
        torch.mul(m[:, 1], m[:, 1], out=m[:, 3])
        torch.mul(m[:, 0], m[:, 1], out=m[:, 4])
        z = along_z[: new * 5 * size_y * inner_z].view(new * 5, size_y, inner_z)
        _filter_last(m.view(-1, size_z), bands, z.view(-1, inner_z))
        slab_window = window[: (count + halo) * 5 * inner_y * inner_z].view(count + halo, 5 * inner_y * inner_z)
        _filter_middle(z, bands, slab_window[first:].view(new * 5, inner_y, inner_z))
        means = (bands(count) @ slab_window).view(count, 5, inner_y, inner_z)
        yield start, ssim_from_means(*means.unbind(1), data_range=data_range)


def ssim_map3d(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM of two batches of volumes, computed in float64.

    Args:
        x, y: ``(B, 1, X, Y, Z)`` volumes; every spatial size must be at least 11 voxels.
        data_range: ``max - min`` of the intensity scale (1 for volumes in ``[0, 1]``).

    Returns:
        ``(B, 1, X-10, Y-10, Z-10)`` float64 SSIM at every voxel whose window lies inside the volume.
    """
    halo = SSIM_WINDOW - 1
    out = torch.empty((*x.shape[:2], *(n - halo for n in x.shape[2:])), dtype=torch.float64, device=x.device)
    for index in range(x.shape[0]):
        for start, ssim in ssim_slabs(x[index, 0], y[index, 0], data_range, None):
            out[index, 0, start : start + ssim.shape[0]] = ssim
    return out


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
    filtered = window_mean(torch.cat([x, y, x * x, y * y, x * y], dim=0))
    return ssim_from_means(*filtered.chunk(5, dim=0), data_range=data_range)


def ssim_from_means(
    mu_x: torch.Tensor,
    mu_y: torch.Tensor,
    xx: torch.Tensor,
    yy: torch.Tensor,
    xy: torch.Tensor,
    data_range: float = 1.0,
) -> torch.Tensor:
    """The SSIM formula from the local weighted means of ``x, y, x², y², xy`` (all one shape).

    The same float operations, in the same order, as scikit-image (each product computed once);
    differentiable (the slab SSIM loss uses it too).
    """
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    mu_xy = mu_x * mu_y
    numerator = (2 * mu_xy + c1) * (2 * (xy - mu_xy) + c2)
    denominator = (mu_xx + mu_yy + c1) * ((xx - mu_xx) + (yy - mu_yy) + c2)
    return numerator / denominator


def ssim_sum3d(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, slab: int | None = None) -> torch.Tensor:
    """Sum of the 3D SSIM map of two ``(X, Y, Z)`` volumes (arguments as :func:`ssim_slabs`), a float64 0-d tensor."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for _, ssim in ssim_slabs(x, y, data_range, slab):
        total += ssim.sum()
    return total


def ssim3d(sr: torch.Tensor, hr: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean 3D SSIM of one SR volume against its HR volume.

    Args:
        sr, hr: ``(X, Y, Z)`` volumes on the same grid, intensities in ``[0, data_range]``;
            ``sr`` is clipped to that range. Computed in float64 on the volumes' device.

    Returns:
        SSIM in ``[-1, 1]`` (1 for identical volumes).
    """
    check_pair(sr, hr)
    if sr.dim() != 3:
        raise ValueError(f"3D SSIM needs (X, Y, Z) volumes, got {tuple(sr.shape)}")
    if min(sr.shape) < SSIM_WINDOW:
        raise ValueError(f"3D SSIM needs at least {SSIM_WINDOW} voxels per axis, got {tuple(sr.shape)}")
    x = sr.detach().clamp(0, data_range)
    y = hr.detach().to(x.device)
    count = math.prod(n - SSIM_WINDOW + 1 for n in x.shape)
    return float(ssim_sum3d(x, y, data_range)) / count


def psnr(sr: torch.Tensor, hr: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB of an SR volume (clipped to ``[0, data_range]``) against its HR volume.

    Any shape works as long as both agree: whole volumes ``(X, Y, Z)`` for the metrics, slab
    batches ``(B, M, H, W)`` for validation.
    """
    check_pair(sr, hr)
    mse = float(((sr.detach().double().clamp(0, data_range) - hr.detach().double()) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def check_pair(sr: torch.Tensor, hr: torch.Tensor) -> None:
    """Refuse two volumes of different shapes (``ValueError``)."""
    if sr.shape != hr.shape:
        raise ValueError(f"metrics need two volumes of one shape, got {tuple(sr.shape)} and {tuple(hr.shape)}")


METRICS = {"ssim": ssim3d, "psnr": psnr}
"""Metric name → function(sr, hr) -> float, in the column order of the results table."""
