import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmark.metrics import psnr, ssim3d


def pair(shape, noise, seed=0):
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(0, 1, n) for n in shape), indexing="ij")
    hr = 0.5 + 0.4 * np.sin(6 * x) * np.cos(5 * y) * np.sin(4 * z + 1)
    sr = np.clip(hr + noise * rng.standard_normal(shape), 0, 1)
    return sr, hr


@pytest.mark.parametrize(("shape", "noise"), [((24, 30, 19), 0.05), ((40, 33, 12), 0.2), ((16, 16, 16), 0.01)])
def test_ssim_agrees_with_scikit_image(shape, noise):
    sr, hr = pair(shape, noise)
    expected = structural_similarity(
        sr, hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1
    )
    assert abs(ssim3d(torch.tensor(sr), torch.tensor(hr)) - expected) < 1e-6


def test_ssim_identical_is_one_and_float32_inputs_work():
    _, hr = pair((20, 20, 20), 0.0)
    volume = torch.tensor(hr, dtype=torch.float32)
    assert ssim3d(volume, volume) == pytest.approx(1.0, abs=1e-9)


def test_psnr_agrees_with_scikit_image():
    sr, hr = pair((20, 22, 18), 0.1)
    expected = peak_signal_noise_ratio(hr, sr, data_range=1)
    assert psnr(torch.tensor(sr), torch.tensor(hr)) == pytest.approx(expected, abs=1e-9)


def test_sr_is_clipped_to_the_data_range():
    _, hr = pair((16, 16, 16), 0.0)
    sr = torch.tensor(hr) + 2.0  # far above 1: clipped to 1 before the metric
    assert psnr(sr, torch.tensor(hr)) == pytest.approx(psnr(torch.ones_like(sr), torch.tensor(hr)))


def test_shape_mismatch_and_tiny_volumes_are_rejected():
    with pytest.raises(ValueError, match=r"same shape|one shape"):
        ssim3d(torch.zeros(12, 12, 12), torch.zeros(12, 12, 13))
    with pytest.raises(ValueError, match=r"at least 11"):
        ssim3d(torch.zeros(12, 12, 8), torch.zeros(12, 12, 8))


def test_psnr_accepts_volumes_smaller_than_the_ssim_window():
    # Regression: PSNR shared SSIM's size check and refused small validation crops.
    hr = torch.rand(6, 6, 6, generator=torch.Generator().manual_seed(0))
    assert psnr(hr * 0.5, hr) > 0
