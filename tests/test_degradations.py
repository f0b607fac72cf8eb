"""k-space truncation and the named degradations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from benchmark.plugins import DEGRADATIONS
from benchmark.protocol.degradations import kspace_truncate, kspace_zero_fill, zero_fill
from benchmark.scale import Scale

NAMED = ("kspace", "kspace-noise", "partial-fourier", "elliptical")


def smooth_volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Positive smooth ``shape`` volume in ``[0, 1]``."""
    noise = gaussian_filter(np.random.default_rng(seed).random(shape), sigma=1.5)
    return ((noise - noise.min()) / (noise.max() - noise.min()) * 0.8 + 0.1).astype(np.float32)


def direct_fft_crop(hr: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Reference: crop the centred spectrum by explicit index slicing, numpy FFT."""
    nx, ny, nz = hr.shape
    mx, my, mz = nx // factors[0], ny // factors[1], nz // factors[2]
    spectrum = np.fft.fftshift(np.fft.fftn(hr))
    x0, y0, z0 = nx // 2 - mx // 2, ny // 2 - my // 2, nz // 2 - mz // 2
    block = spectrum[x0 : x0 + mx, y0 : y0 + my, z0 : z0 + mz]
    return np.abs(np.fft.ifftn(np.fft.ifftshift(block))) * (mx * my * mz) / (nx * ny * nz)


CASES = [
    ((16, 16, 8), (2, 2, 2)),
    ((16, 16, 8), (2, 2, 1)),
    ((16, 16, 8), (1, 1, 1)),
    ((15, 14, 9), (3, 2, 1)),
    ((18, 14, 10), (2, 2, 2)),  # odd LR block (9, 7, 5)
    ((9, 15, 7), (1, 3, 1)),  # odd HR and LR sizes
]


@pytest.mark.parametrize(("shape", "factors"), CASES)
def test_lr_shape_mean_and_reference(shape, factors):
    scale = Scale(*factors)
    hr = smooth_volume(shape)
    lr = kspace_truncate(hr, scale)
    assert lr.shape == tuple(n // s for n, s in zip(shape, factors))
    assert lr.dtype == np.float32
    assert lr.mean() == pytest.approx(hr.mean(), rel=2e-3)
    np.testing.assert_allclose(lr, direct_fft_crop(hr.astype(np.float64), factors), rtol=1e-5, atol=1e-6)


def test_identity_scale_returns_the_volume():
    hr = smooth_volume((10, 12, 8))
    np.testing.assert_allclose(kspace_truncate(hr, Scale(1, 1, 1)), hr, atol=1e-6)


def test_band_limited_signal_is_sampled_at_hr_voxel_s_times_j():
    """A cosine below the LR Nyquist survives exactly, LR voxel j sitting at HR voxel s·j."""
    x = np.arange(24)[:, None, None]
    y = np.arange(16)[None, :, None]
    hr = 1.0 + 0.3 * np.cos(2 * np.pi * 3 * x / 24) * np.cos(2 * np.pi * 2 * y / 16) * np.ones((1, 1, 6))
    lr = kspace_truncate(hr, Scale(2, 2, 3))
    np.testing.assert_allclose(lr, hr[::2, ::2, ::3], atol=1e-6)


def test_shape_not_a_multiple_raises():
    with pytest.raises(ValueError, match="multiple"):
        kspace_truncate(np.ones((15, 16, 8)), Scale(2, 2, 1))


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize(("shape", "factors"), [((16, 14, 8), (2, 2, 2)), ((15, 14, 9), (3, 2, 1))])
def test_named_degradation_shape_and_seed(name, shape, factors):
    scale = Scale(*factors)
    hr = smooth_volume(shape)
    degrade = DEGRADATIONS.factory(name)
    first = degrade(hr, scale, np.random.default_rng(7))
    again = degrade(hr, scale, np.random.default_rng(7))
    assert first.shape == scale.lr_shape(shape)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, again)


def test_noise_depends_on_seed_and_has_the_stated_level():
    scale = Scale(2, 2, 1)
    hr = smooth_volume((32, 32, 16))
    degrade = DEGRADATIONS.factory("kspace-noise")
    one = degrade(hr, scale, np.random.default_rng(1))
    two = degrade(hr, scale, np.random.default_rng(2))
    assert not np.array_equal(one, two)
    # At intensities far above the noise, Rician noise is ~Gaussian with the stated std.
    residual = one - kspace_truncate(hr, scale)
    assert residual.std() == pytest.approx(0.02, rel=0.15)


@pytest.mark.parametrize("name", ["partial-fourier", "elliptical"])
def test_undersampling_degradations_differ_from_plain_truncation(name):
    scale = Scale(2, 2, 2)
    hr = smooth_volume((24, 24, 8), seed=3)
    plain = kspace_truncate(hr, scale)
    other = DEGRADATIONS.factory(name)(hr, scale, np.random.default_rng(0))
    assert np.abs(other - plain).max() > 1e-4
    assert other.mean() == pytest.approx(plain.mean(), rel=0.05)


def test_all_named_degradations_are_registered():
    assert set(NAMED) <= set(DEGRADATIONS.names())


@pytest.mark.parametrize("threads", [1, 2])
def test_ffts_follow_torch_threads(monkeypatch, threads):
    # Regression: the FFTs used every core (workers=-1) whatever `bench run --threads` asked.
    import scipy.fft
    import torch

    seen = []

    def spy(transform):
        def wrapped(*args, **kwargs):
            seen.append(kwargs.get("workers"))
            return transform(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(scipy.fft, "fftn", spy(scipy.fft.fftn))
    monkeypatch.setattr(scipy.fft, "ifftn", spy(scipy.fft.ifftn))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        kspace_truncate(smooth_volume((8, 8, 8)), Scale(2, 2, 2))
    finally:
        torch.set_num_threads(previous)
    assert seen == [threads, threads]


@pytest.mark.parametrize("scale", [Scale(2, 2, 2), Scale(2, 2, 1), Scale(3, 2, 1)], ids=str)
def test_truncating_the_zero_fill_gives_the_lr_back(scale: Scale) -> None:
    """Zero-fill is the linear up-sampling the truncation implies: truncating it returns the LR.

    Tolerance 1e-5 on the [0, 1] scale: float32 output and FFT rounding, nothing else. It is exact
    because the protocol's LR is a magnitude (≥ 0, real) and the even-size Nyquist bins are completed
    with their conjugates; the truncation still is no inverse of zero-fill's input: it discards the
    high frequencies of the HR and the phase of the complex LR image.
    """
    rng = np.random.default_rng(0)
    hr = rng.random(scale.hr_shape((40, 48, 36))).astype(np.float32)
    lr = kspace_truncate(hr, scale)
    up = zero_fill(lr, scale)
    assert up.dtype == np.float32 and up.shape == hr.shape
    np.testing.assert_allclose(kspace_truncate(up, scale), lr, atol=1e-5)
    # A plain centred zero-fill's real part halves the even axes' Nyquist terms and misses the LR.
    plain = kspace_zero_fill(lr.astype(np.float64), scale.factors).real
    assert np.abs(kspace_truncate(plain, scale) - lr).max() > 0.01


def test_zero_fill_of_a_band_limited_volume_is_that_volume() -> None:
    """A volume with no frequency outside the LR band and no Nyquist term comes back whole from its LR."""
    scale = Scale(2, 2, 2)
    grid = np.meshgrid(*(np.arange(n) for n in (32, 24, 16)), indexing="ij")
    hr = 0.5 + 0.2 * np.cos(2 * np.pi * 3 * grid[0] / 32) * np.sin(2 * np.pi * 2 * grid[1] / 24 + 0.3)
    hr = (hr + 0.1 * np.cos(2 * np.pi * 3 * grid[2] / 16)).astype(np.float32)
    np.testing.assert_allclose(zero_fill(kspace_truncate(hr, scale), scale), hr, atol=1e-5)
