"""Masked PSNR and SSIM, and the 2D slice-wise SSIM, against scikit-image and the plain formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from benchmark.evaluation.masked_metrics import SSIM_HALO, masked_psnr, masked_ssim3d, slice_ssim2d
from benchmark.evaluation.metrics import psnr, ssim3d


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An HR volume, an SR volume (noisy, partly out of [0, 1]) and an ellipsoid mask, ``(28, 24, 20)``."""
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in (28, 24, 20)], indexing="ij"))
    hr = np.clip(0.6 - 0.4 * (grid**2).sum(0) + 0.05 * rng.standard_normal(grid.shape[1:]), 0, 1)
    sr = hr + 0.08 * rng.standard_normal(hr.shape)
    mask = ((grid / np.array([0.8, 0.7, 0.9])[:, None, None, None]) ** 2).sum(0) < 1
    return sr, hr, mask


def test_masked_psnr_is_the_psnr_of_the_masked_voxels(pair):
    sr, hr, mask = pair
    expected = 10 * math.log10(1 / np.mean((np.clip(sr, 0, 1)[mask] - hr[mask]) ** 2))
    assert masked_psnr(torch.from_numpy(sr), torch.from_numpy(hr), mask) == pytest.approx(expected, abs=1e-12)
    everywhere = np.ones_like(mask)
    assert masked_psnr(torch.from_numpy(sr), torch.from_numpy(hr), everywhere) == pytest.approx(
        psnr(torch.from_numpy(sr), torch.from_numpy(hr)), abs=1e-12
    )


def test_masked_ssim_is_scikit_images_full_map_over_the_mask_inside_the_border(pair):
    sr, hr, mask = pair
    _, full = structural_similarity(
        np.clip(sr, 0, 1), hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, full=True
    )
    inside = np.zeros_like(mask)
    inside[SSIM_HALO:-SSIM_HALO, SSIM_HALO:-SSIM_HALO, SSIM_HALO:-SSIM_HALO] = True
    expected = full[mask & inside].mean()
    found = masked_ssim3d(torch.from_numpy(sr), torch.from_numpy(hr), mask)
    assert found == pytest.approx(expected, abs=1e-12)
    # The mask counts: outside it the map differs, so the two means differ.
    assert abs(found - full[inside].mean()) > 1e-4
    everywhere = np.ones_like(mask)
    assert masked_ssim3d(torch.from_numpy(sr), torch.from_numpy(hr), everywhere) == pytest.approx(
        ssim3d(torch.from_numpy(sr), torch.from_numpy(hr)), abs=1e-12
    )


def test_slice_ssim_follows_fastmri(pair):
    sr, hr, _ = pair
    top = hr.max()  # fastMRI: data_range is the maximum of the whole reference volume
    per_slice = [structural_similarity(hr[:, :, k], np.clip(sr, 0, 1)[:, :, k], data_range=top) for k in range(20)]
    assert slice_ssim2d(torch.from_numpy(sr), torch.from_numpy(hr)) == pytest.approx(np.mean(per_slice), abs=1e-12)
    along_x = [structural_similarity(hr[i], np.clip(sr, 0, 1)[i], data_range=top) for i in range(28)]
    assert slice_ssim2d(torch.from_numpy(sr), torch.from_numpy(hr), axis=0) == pytest.approx(np.mean(along_x))
    assert slice_ssim2d(torch.from_numpy(hr), torch.from_numpy(hr)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "mask, fragment",
    [
        (np.zeros((28, 24, 20), bool), "empty"),
        (np.ones((28, 24, 19), bool), "the mask is (28, 24, 19)"),
        (np.ones((28, 24, 20), np.uint8), "boolean"),
    ],
)
def test_a_bad_mask_is_named(pair, mask, fragment):
    sr, hr, _ = pair
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        masked_psnr(torch.from_numpy(sr), torch.from_numpy(hr), mask)


def test_a_mask_only_in_the_border_has_no_ssim(pair):
    sr, hr, _ = pair
    border = np.zeros((28, 24, 20), bool)
    border[:SSIM_HALO] = True
    with pytest.raises(ValueError, match="5 voxels inside"):
        masked_ssim3d(torch.from_numpy(sr), torch.from_numpy(hr), border)
