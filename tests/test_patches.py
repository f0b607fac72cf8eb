"""Random patches with the paper's sizes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.protocol.patches import (
    crop,
    hr_patch_size,
    random_patch_corner,
    sample_aligned_pair,
    sample_hr_patch,
    sample_lr_patch,
)
from benchmark.scale import Scale


def test_paper_patch_sizes():
    assert hr_patch_size((64, 64, 3), Scale(2, 2, 1)) == (128, 128, 3)
    assert hr_patch_size((64, 64, 3), Scale(2, 2, 2)) == (128, 128, 6)


def test_corners_stay_inside_and_reach_both_ends():
    rng = np.random.default_rng(0)
    corners = np.array([random_patch_corner((10, 7, 5), (4, 7, 3), rng) for _ in range(500)])
    assert corners.min(axis=0).tolist() == [0, 0, 0]
    assert corners.max(axis=0).tolist() == [6, 0, 2]
    with pytest.raises(ValueError, match="does not fit"):
        random_patch_corner((10, 7, 5), (4, 8, 3), rng)


def test_crop_and_single_patches_have_the_right_shapes():
    volume = np.arange(12 * 10 * 8, dtype=np.float32).reshape(12, 10, 8)
    assert crop(volume, (1, 2, 3), (4, 5, 2)).tolist() == volume[1:5, 2:7, 3:5].tolist()
    rng = np.random.default_rng(1)
    assert sample_lr_patch(volume, (4, 4, 3), rng).shape == (4, 4, 3)
    assert sample_hr_patch(volume, (3, 2, 3), Scale(2, 2, 2), rng).shape == (6, 4, 6)


@pytest.mark.parametrize("factors", [(2, 2, 1), (2, 2, 2), (3, 2, 1)])
def test_aligned_pair_covers_the_same_region(factors):
    scale = Scale(*factors)
    hr = np.random.default_rng(2).random((24, 20, 12)).astype(np.float32)
    sx, sy, sz = factors
    lr = hr[::sx, ::sy, ::sz]  # LR voxel j at HR voxel s·j, as k-space truncation places it
    for seed in range(20):
        lr_patch, hr_patch = sample_aligned_pair(lr, hr, (4, 4, 3), scale, np.random.default_rng(seed))
        assert lr_patch.shape == (4, 4, 3)
        assert hr_patch.shape == hr_patch_size((4, 4, 3), scale)
        np.testing.assert_array_equal(hr_patch[::sx, ::sy, ::sz], lr_patch)


def test_aligned_pair_is_seeded_and_checks_shapes():
    hr = np.random.default_rng(3).random((16, 16, 8))
    lr = hr[::2, ::2, ::2]
    one = sample_aligned_pair(lr, hr, (4, 4, 3), Scale(2, 2, 2), np.random.default_rng(9))
    two = sample_aligned_pair(lr, hr, (4, 4, 3), Scale(2, 2, 2), np.random.default_rng(9))
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    with pytest.raises(ValueError, match="times the scale"):
        sample_aligned_pair(lr, hr[:-2], (4, 4, 3), Scale(2, 2, 2), np.random.default_rng(0))
