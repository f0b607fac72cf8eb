"""L1, SSIM, least-squares GAN and degradation-adaptation losses; DASR's frequency filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from methods.losses import (
    degradation_adaptation_loss,
    gaussian_kernel2d,
    high_pass,
    l1_loss,
    low_pass,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    ssim_loss,
    ssim_map2d,
)


def _skimage_ssim(x: np.ndarray, y: np.ndarray) -> float:
    return structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)


def test_l1() -> None:
    x = torch.zeros(2, 3, 4, 4)
    y = torch.full((2, 3, 4, 4), 0.25)
    assert float(l1_loss(x, y)) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        l1_loss(x, y[:, :2])


@pytest.mark.parametrize("shape", [(11, 11), (23, 17)])
def test_ssim_matches_skimage_on_a_slice(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.random(shape)
    y = np.clip(x + 0.2 * rng.standard_normal(shape), 0, 1)
    for dtype in (torch.float64, torch.float32):
        loss = ssim_loss(torch.tensor(x, dtype=dtype)[None, None], torch.tensor(y, dtype=dtype)[None, None])
        assert float(loss) == pytest.approx(1 - _skimage_ssim(x, y), abs=1e-4)


def test_ssim_loss_averages_independent_slices() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 16, 14))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    expected = np.mean([1 - _skimage_ssim(x[b, m], y[b, m]) for b in range(2) for m in range(3)])
    assert float(ssim_loss(torch.tensor(x), torch.tensor(y))) == pytest.approx(expected, abs=1e-6)
    assert ssim_map2d(torch.tensor(x), torch.tensor(y)).shape == (2, 3, 6, 4)


@pytest.mark.parametrize("size", [4, 8, 16])
def test_ssim_loss_range_and_gradient(size: int) -> None:
    torch.manual_seed(0)
    y = torch.rand(2, 3, size, size)
    assert float(ssim_loss(y, y.clone())) == pytest.approx(0.0, abs=1e-6)
    x = torch.rand(2, 3, size, size, requires_grad=True)
    loss = ssim_loss(x, y)
    assert 0 < loss.item() <= 2
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert float(ssim_loss(y, 1 - y)) > 1  # anti-correlated: SSIM < 0
    if size < 11:
        assert ssim_map2d(x, y).shape == x.shape  # 'same' map on short axes


def test_lsgan_losses() -> None:
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert float(lsgan_generator_loss(ones)) == 0
    assert float(lsgan_generator_loss(zeros)) == 1
    assert float(lsgan_generator_loss(zeros + 3)) == 4
    assert float(lsgan_generator_loss(zeros + 3, squared=False)) == 2
    assert float(lsgan_discriminator_loss(ones, zeros)) == 0
    assert float(lsgan_discriminator_loss(zeros, ones)) == 1
    assert float(lsgan_discriminator_loss(ones, ones)) == 0.5


def test_degradation_adaptation_loss() -> None:
    half = torch.full((2, 1, 4, 4), 0.5)
    assert float(degradation_adaptation_loss(half, half)) == 0
    assert float(degradation_adaptation_loss(torch.ones(2, 1, 4, 4), torch.zeros(3, 1, 2, 2))) == 1
    d = torch.zeros(2, 1, 4, 4, requires_grad=True)
    degradation_adaptation_loss(d, half).backward()
    assert d.grad is not None and bool((d.grad < 0).all())


def test_low_pass_keeps_constants_and_high_pass_removes_them() -> None:
    kernel = gaussian_kernel2d(5)
    assert kernel.shape == (5, 5)
    assert torch.isclose(kernel.sum(), torch.tensor(1.0))
    x = torch.full((2, 3, 8, 8), 0.7)
    torch.testing.assert_close(low_pass(x), x)
    assert float(high_pass(x).abs().max()) < 1e-6
    noise = torch.rand(2, 3, 16, 16)
    assert low_pass(noise).std() < noise.std()
    assert low_pass(noise).shape == high_pass(noise).shape == noise.shape
