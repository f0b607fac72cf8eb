"""Named degradations that turn an HR volume into an LR volume through its k-space.

Every degradation has the signature ``fn(hr, scale, rng) -> lr`` with ``hr`` an
``(X, Y, Z)`` array whose shape is a multiple of the scale and ``lr`` an
``(X/sx, Y/sy, Z/sz)`` float32 array.  They all start from the paper's 3D k-space
truncation; the others add one difference between synthetic and authentic LR that the
paper names (Sec. II.A): acquisition noise, partial Fourier, elliptical k-space.  A run can
train on one and test on another (degradation shift).

The registry :data:`DEGRADATIONS` lives here, beside the degradations it names, so the protocol
needs no other part of the harness (``benchmark.plugins`` re-exports it for plugins).

Geometry: the truncated inverse FFT samples the band-limited HR signal at HR voxel
positions ``s·j`` (``j`` the LR index), so the LR voxel ``j`` lies at HR voxel ``s·j``; an LR
affine is the HR affine with its voxel axes multiplied by the scale, without a shift.

Intensity units: the k-space of the LR block is multiplied by ``N_lr / N_hr`` (ratio of
voxel counts) so that the DC term, and hence the mean intensity, of the HR volume is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.fft
import torch

from benchmark.registry import Registry
from benchmark.scale import Scale

Degradation = Callable[..., np.ndarray]
DEGRADATIONS: Registry[Degradation] = Registry("degradation")
"""``name → fn(hr: (X, Y, Z) array, scale: Scale, rng: np.random.Generator) -> (X/sx, Y/sy, Z/sz) array``."""

KSPACE_NOISE_STD = 0.02
"""Default noise of ``kspace-noise``: std of each complex component in the image domain, in
units of the ``[0, 1]`` intensity scale (white matter at ~0.7 gives an SNR of ~35)."""

PARTIAL_FOURIER_FRACTION = 6 / 8
"""Fraction of phase-encode (Y) lines that ``partial-fourier`` keeps."""


def truncated_kspace(hr: np.ndarray, scale: Scale) -> np.ndarray:
    """Centred k-space block of an HR volume, ready for an inverse FFT on the LR grid.

    Args:
        hr: ``(X, Y, Z)`` real volume; every size must be a multiple of the matching factor.
        scale: factors ``(sx, sy, sz)``.

    Returns:
        ``(X/sx, Y/sy, Z/sz)`` complex128 k-space, centred (DC at index ``n // 2`` of each axis,
        the ``fftshift`` convention) and multiplied by the voxel-count ratio ``N_lr / N_hr``.

    Raises:
        ValueError: ``hr`` is not 3D or its shape is not a multiple of the scale.
    """
    hr = np.asarray(hr)
    if hr.ndim != 3:
        raise ValueError(f"k-space truncation needs an (X, Y, Z) volume, got shape {hr.shape}")
    if any(n % s for n, s in zip(hr.shape, scale.factors)):
        raise ValueError(f"HR shape {hr.shape} is not a multiple of the scale {scale}")
    block = scale.lr_shape(hr.shape)
    # Threads follow torch's setting (`bench run --threads`), read at call time.
    kspace = scipy.fft.fftn(hr.astype(np.float64), workers=torch.get_num_threads())
    # Frequencies -m//2 … m - m//2 - 1 of each axis, read straight from the unshifted spectrum:
    # the same block as slicing the fftshift-ed spectrum at n//2 - m//2, without shifting it all.
    frequencies = [np.arange(-(m // 2), m - m // 2) % n for n, m in zip(hr.shape, block)]
    return kspace[np.ix_(*frequencies)] * (np.prod(block) / hr.size)


def image_from_kspace(kspace: np.ndarray) -> np.ndarray:
    """Magnitude image ``(X, Y, Z)`` float32 of a centred k-space ``(X, Y, Z)`` (inverse FFT)."""
    inverse = scipy.fft.ifftn(scipy.fft.ifftshift(kspace), workers=torch.get_num_threads())
    return np.abs(inverse).astype(np.float32)


Volume = np.ndarray | torch.Tensor
"""A volume as a NumPy array or a torch tensor (on any device that has float64 and complex128)."""


def _as_tensor(volume: Volume) -> torch.Tensor:
    """``volume`` as a float64 or complex128 tensor (on its own device; NumPy arrays on the CPU)."""
    tensor = torch.from_numpy(np.asarray(volume)) if isinstance(volume, np.ndarray) else volume
    return tensor.to(torch.complex128 if tensor.is_complex() else torch.float64)


def _like(result: torch.Tensor, given: Volume) -> Volume:
    """``result`` as a NumPy array when ``given`` was one, else the tensor."""
    return result.cpu().numpy() if isinstance(given, np.ndarray) else result


def _fft(volume: torch.Tensor, inverse: bool) -> torch.Tensor:
    """The n-dimensional (inverse) FFT of a tensor, complex128, on its device.

    On the CPU it runs SciPy's FFT on the tensor's memory (torch's threads): on this project's CPU
    machine torch's own took 2.6 times as long for a demo-sized volume (``benchmarks/back_projection_speed.py``).
    """
    if volume.device.type != "cpu":
        return torch.fft.ifftn(volume) if inverse else torch.fft.fftn(volume)
    transform = scipy.fft.ifftn if inverse else scipy.fft.fftn
    return torch.from_numpy(transform(volume.resolve_conj().numpy(), workers=torch.get_num_threads()))


def _open_mesh(indices: list[torch.Tensor]) -> tuple:
    """The outer product of per-axis ``indices`` as an index (NumPy's ``ix_`` on the CPU, the fastest there)."""
    if indices[0].device.type == "cpu":
        return np.ix_(*(index.numpy() for index in indices))
    return tuple(i.reshape([-1 if a == k else 1 for a in range(len(indices))]) for k, i in enumerate(indices))


def _gather(spectrum: torch.Tensor, indices: list[torch.Tensor]) -> torch.Tensor:
    """``spectrum`` at the outer product of per-axis ``indices``."""
    if spectrum.device.type == "cpu":
        return torch.from_numpy(spectrum.numpy()[_open_mesh(indices)])
    return spectrum[_open_mesh(indices)]


def _scatter(values: torch.Tensor, indices: list[torch.Tensor], shape: tuple[int, ...]) -> torch.Tensor:
    """A zero tensor of ``shape`` holding ``values`` at the outer product of per-axis ``indices``."""
    out = values.new_zeros(shape)
    if values.device.type == "cpu":
        out.numpy()[_open_mesh(indices)] = values.numpy()
    else:
        out[_open_mesh(indices)] = values
    return out


def _lr_frequencies_on(
    lr_shape: tuple[int, ...], hr_shape: tuple[int, ...], device: torch.device
) -> list[torch.Tensor]:
    """Per axis, the HR FFT indices of the LR frequencies ``0 … m − m//2 − 1, −(m//2) … −1`` (FFT order)."""
    return [
        torch.from_numpy(np.round(np.fft.fftfreq(m) * m).astype(np.int64) % n).to(device)
        for m, n in zip(lr_shape, hr_shape)
    ]


def truncated_image(hr: Volume, scale: Scale) -> Volume:
    """The k-space truncation before its magnitude: the complex ``(X/sx, Y/sy, Z/sz)`` image.

    Its magnitude is :func:`kspace_truncate` of ``hr`` (the same frequencies, the same voxel-count
    ratio). Computed with torch on ``hr``'s device; a NumPy ``hr`` gives a NumPy complex128 array.
    """
    volume = _as_tensor(hr)
    lr_shape = scale.lr_shape(tuple(volume.shape))
    indices = _lr_frequencies_on(lr_shape, tuple(volume.shape), volume.device)
    block = _gather(_fft(volume, inverse=False), indices)
    return _like(_fft(block * (math.prod(lr_shape) / volume.numel()), inverse=True), hr)


def zero_filled_spectrum(
    lr: torch.Tensor, factors: tuple[int, ...] | list[int], with_mask: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The zero-fill of an LR image's spectrum: ``(HR spectrum, mask of the frequencies it holds)``, FFT order.

    The one place where an LR spectrum is put on the HR grid: the LR spectrum, times
    ``N_hr / N_lr`` (undoing the truncation's voxel-count ratio), at the same frequencies of the HR
    axes, zero elsewhere. :func:`kspace_zero_fill` and :func:`zero_fill` transform it back.

    Args:
        lr: ``(X/sx, Y/sy, Z/sz)`` float64 or complex128 tensor.
        factors: ``(sx, sy, sz)``.
        with_mask: also return the mask (``None`` otherwise).
    """
    hr_shape = tuple(int(n) * int(f) for n, f in zip(lr.shape, factors))
    indices = _lr_frequencies_on(tuple(lr.shape), hr_shape, lr.device)
    spectrum = _scatter(_fft(lr, inverse=False) * (math.prod(hr_shape) / lr.numel()), indices, hr_shape)
    if not with_mask:
        return spectrum, None
    held = _scatter(torch.ones(tuple(lr.shape), dtype=torch.bool, device=lr.device), indices, hr_shape)
    return spectrum, held


def kspace_zero_fill(lr: Volume, factors: tuple[int, ...] | list[int]) -> Volume:
    """The pseudo-inverse of :func:`truncated_image`: the inverse FFT of :func:`zero_filled_spectrum`.

    ``truncated_image(kspace_zero_fill(r)) == r`` for any complex ``r``. For a real image the result
    is complex where an LR axis has even size (its Nyquist bin has no partner); use
    :func:`zero_fill` for the real up-sampling of an LR volume.

    Args:
        lr: ``(X/sx, Y/sy, Z/sz)`` real or complex image (NumPy, or a tensor on any device).
        factors: ``(sx, sy, sz)``.

    Returns:
        ``(X, Y, Z)`` complex128 image, of ``lr``'s kind (NumPy or a tensor on its device).
    """
    spectrum, _ = zero_filled_spectrum(_as_tensor(lr), factors, with_mask=False)
    return _like(_fft(spectrum, inverse=True), lr)


def zero_fill(lr: Volume, scale: Scale) -> Volume:
    """Zero-fill up-sampling: the linear up-sampling that the k-space truncation implies.

    :func:`zero_filled_spectrum`, completed to the Hermitian spectrum of a real volume: on an axis
    of even LR size ``m`` the truncation kept frequency ``−m/2`` but not ``+m/2``, and ``+m/2`` gets
    the conjugate of its mirror. (A plain zero-fill would leave that bin without its partner; its
    real part then halves the Nyquist terms, and truncating it again misses the LR by up to 0.05
    on the ``[0, 1]`` scale for a random volume.) So the truncation of the result returns the LR's
    spectrum exactly: ``kspace_truncate(zero_fill(lr)) == lr`` up to floating-point rounding for
    every ``lr ≥ 0`` (the protocol's LR is a magnitude, hence ≥ 0). The result does not pass
    through the LR voxels exactly where an axis is even: the truncation is not a sampling at the
    Nyquist bin.

    Args:
        lr: ``(X/sx, Y/sy, Z/sz)`` real LR volume (NumPy, or a tensor on any device).
        scale: factors ``(sx, sy, sz)``.

    Returns:
        ``(X, Y, Z)`` float32 volume of ``lr``'s kind (not clipped: the sinc-like up-sampling rings at edges).
    """
    spectrum, held = zero_filled_spectrum(_as_tensor(lr), scale.factors)
    # Frequency −k of every k (index (n − i) mod n along each axis): the conjugate of the held mirror.
    axes = tuple(range(spectrum.ndim))
    mirrored = torch.conj(torch.roll(torch.flip(spectrum, axes), shifts=(1,) * spectrum.ndim, dims=axes))
    image = _fft(torch.where(held, spectrum, mirrored), inverse=True).real
    return _like(image.float(), lr)


def kspace_truncate(hr: np.ndarray, scale: Scale) -> np.ndarray:
    """The paper's 3D k-space truncation (FFT, keep the centred block, inverse FFT, magnitude).

    Args:
        hr: ``(X, Y, Z)`` volume, intensities in ``[0, 1]``; shape a multiple of the scale.
        scale: factors ``(sx, sy, sz)``; ``1x1x1`` returns ``|hr|``.

    Returns:
        ``(X/sx, Y/sy, Z/sz)`` float32 LR volume, not clipped (ringing may pass 1 slightly); its DC
        term is the HR volume's, so its mean equals the HR mean up to the magnitude's rectification.

    Raises:
        ValueError: ``hr`` is not 3D or its shape is not a multiple of the scale.
    """
    return image_from_kspace(truncated_kspace(hr, scale))


def _centred_frequencies(size: int) -> np.ndarray:
    """Integer frequencies ``(size,)`` of a centred k-space axis, 0 at index ``size // 2``."""
    return np.arange(size) - size // 2


@DEGRADATIONS.register("kspace", summary="3D k-space truncation, the paper's degradation")
def degrade_kspace(hr: np.ndarray, scale: Scale, rng: np.random.Generator) -> np.ndarray:
    """3D k-space truncation: ``(X, Y, Z)`` HR → ``(X/sx, Y/sy, Z/sz)`` LR; ``rng`` is unused."""
    del rng
    return kspace_truncate(hr, scale)


@DEGRADATIONS.register("kspace-noise", summary="k-space truncation plus complex Gaussian noise (Rician magnitude)")
def degrade_kspace_noise(
    hr: np.ndarray, scale: Scale, rng: np.random.Generator, noise_std: float = KSPACE_NOISE_STD
) -> np.ndarray:
    """k-space truncation with white complex Gaussian noise added in k-space.

    The magnitude image then carries Rician noise, as an MR scanner's magnitude images do.

    Args:
        hr: ``(X, Y, Z)`` volume in ``[0, 1]``; shape a multiple of the scale.
        scale: factors ``(sx, sy, sz)``.
        rng: source of the noise (seeded by the caller).
        noise_std: std of the real and of the imaginary part of the noise per LR voxel in the
            image domain, in units of the ``[0, 1]`` intensity scale.

    Returns:
        ``(X/sx, Y/sy, Z/sz)`` float32 LR volume.
    """
    kspace = truncated_kspace(hr, scale)
    # An unnormalised inverse FFT over N voxels divides by N: per-sample k-space std σ·√N
    # gives image-domain std σ per component.
    k_std = noise_std * np.sqrt(kspace.size)
    noise = rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
    return image_from_kspace(kspace + k_std * noise)


@DEGRADATIONS.register("partial-fourier", summary="k-space truncation with 6/8 partial Fourier along Y, zero-filled")
def degrade_partial_fourier(
    hr: np.ndarray, scale: Scale, rng: np.random.Generator, fraction: float = PARTIAL_FOURIER_FRACTION
) -> np.ndarray:
    """k-space truncation, then partial Fourier along the phase-encode axis Y, zero-filled.

    Of the ``Y/sy`` lines of the truncated block, the first ``ceil(fraction · Y/sy)`` (from the
    most negative frequency through DC) are kept and the rest, on the positive side, are set
    to zero before the inverse FFT, as a zero-filled partial Fourier reconstruction does.

    Args:
        hr: ``(X, Y, Z)`` volume in ``[0, 1]``; shape a multiple of the scale.
        scale: factors ``(sx, sy, sz)``.
        rng: unused (the degradation is deterministic).
        fraction: fraction of Y lines acquired, 6/8 by default.

    Returns:
        ``(X/sx, Y/sy, Z/sz)`` float32 LR volume.
    """
    del rng
    kspace = truncated_kspace(hr, scale)
    lines = kspace.shape[1]
    kept = max(int(np.ceil(fraction * lines)), lines // 2 + 1)  # always keep DC
    kspace[:, kept:, :] = 0
    return image_from_kspace(kspace)


@DEGRADATIONS.register("elliptical", summary="k-space truncation with an elliptical k-space mask in the X-Y plane")
def degrade_elliptical(hr: np.ndarray, scale: Scale, rng: np.random.Generator) -> np.ndarray:
    """k-space truncation, then an elliptical mask in the X–Y plane of the truncated block.

    A frequency ``(kx, ky)`` of the ``(X/sx, Y/sy)`` block is kept when
    ``(kx / (X/(2sx)))² + (ky / (Y/(2sy)))² <= 1``; the corners are set to zero, along every Z.

    Args:
        hr: ``(X, Y, Z)`` volume in ``[0, 1]``; shape a multiple of the scale.
        scale: factors ``(sx, sy, sz)``.
        rng: unused (the degradation is deterministic).

    Returns:
        ``(X/sx, Y/sy, Z/sz)`` float32 LR volume.
    """
    del rng
    kspace = truncated_kspace(hr, scale)
    nx, ny = kspace.shape[:2]
    kx = _centred_frequencies(nx)[:, None] / (nx / 2)
    ky = _centred_frequencies(ny)[None, :] / (ny / 2)
    kspace[(kx**2 + ky**2) > 1] = 0
    return image_from_kspace(kspace)
