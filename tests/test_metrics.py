import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter1d
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmark.evaluation.metrics import gaussian_kernel1d, psnr, ssim3d, ssim_map3d, ssim_sum3d


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
    # Smooth volumes: the float32 window of f3bed93 was up to 6e-8 away here (1e-6 was the old tolerance).
    assert abs(ssim3d(torch.tensor(sr), torch.tensor(hr)) - expected) < 1e-12


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


# The metric is defined as scikit-image's float64 call; these tests hold it to 1e-12.
def skimage_ssim(sr: np.ndarray, hr: np.ndarray) -> float:
    return structural_similarity(
        sr.astype(np.float64),
        hr.astype(np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1,
    )


def random_pair(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    hr = rng.random(shape).astype(dtype)
    sr = np.clip(hr + 0.2 * rng.standard_normal(shape), 0, 1).astype(dtype)
    return sr, hr


@pytest.mark.parametrize("shape", [(11, 11, 11), (40, 33, 12), (57, 20, 13), (24, 30, 19)])
def test_ssim_equals_scikit_image_to_1e12(shape):
    # Regression: the window weights were rounded to float32, ~1e-9 away from scikit-image.
    sr, hr = random_pair(shape, seed=sum(shape))
    assert abs(ssim3d(torch.tensor(sr), torch.tensor(hr)) - skimage_ssim(sr, hr)) < 1e-12
    smooth_sr, smooth_hr = pair(shape, 0.05)
    assert abs(ssim3d(torch.tensor(smooth_sr), torch.tensor(smooth_hr)) - skimage_ssim(smooth_sr, smooth_hr)) < 1e-12


@pytest.mark.parametrize("slab", [1, 10, 13, 16, 47, 100])
def test_streamed_sum_does_not_depend_on_the_slab(slab):
    # 57 - 10 = 47 output planes: slabs of 13 and 16 leave a ragged last slab; 1 is raised to 10.
    sr, hr = random_pair((57, 20, 13), seed=3)
    mean = float(ssim_sum3d(torch.tensor(sr), torch.tensor(hr), slab=slab)) / (47 * 10 * 3)
    assert abs(mean - skimage_ssim(sr, hr)) < 1e-12


def test_float32_volumes_are_compared_in_float64():
    sr, hr = random_pair((30, 26, 21), seed=5, dtype=np.float32)
    assert abs(ssim3d(torch.tensor(sr), torch.tensor(hr)) - skimage_ssim(sr, hr)) < 1e-12


def test_ssim_map3d_equals_scikit_image_map():
    sr, hr = random_pair((23, 19, 15), seed=7)
    _, full = structural_similarity(
        sr, hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, full=True
    )
    ours = ssim_map3d(torch.tensor(sr)[None, None], torch.tensor(hr)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ours, full[5:-5, 5:-5, 5:-5], rtol=0, atol=1e-12)


def test_window_weights_are_scipy_gaussian_filter_weights():
    impulse = np.zeros(21)
    impulse[10] = 1.0
    scipy_weights = gaussian_filter1d(impulse, 1.5, truncate=3.5, mode="constant")[5:16]
    np.testing.assert_array_equal(gaussian_kernel1d(dtype=torch.float64).numpy(), scipy_weights)
    assert gaussian_kernel1d().dtype == torch.float32  # the training loss's default


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_ssim_equals_cpu_ssim():
    sr, hr = random_pair((48, 40, 36), seed=11, dtype=np.float32)
    cpu = ssim3d(torch.tensor(sr), torch.tensor(hr))
    cuda = ssim3d(torch.tensor(sr).cuda(), torch.tensor(hr).cuda())
    assert abs(cuda - cpu) < 1e-12


def test_ssim_does_not_depend_on_the_thread_count():
    # The default slab grows with torch's thread count (4 slabs of 16 planes here at 1 thread, 2 of 32 at 2).
    sr, hr = random_pair((60, 24, 18), seed=13)
    previous = torch.get_num_threads()
    values = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            values.append(ssim3d(torch.tensor(sr), torch.tensor(hr)))
    finally:
        torch.set_num_threads(previous)
    assert abs(values[0] - values[1]) < 1e-12
    assert abs(values[0] - skimage_ssim(sr, hr)) < 1e-12
