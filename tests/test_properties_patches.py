"""Property-based tests of patch sampling (``benchmark.protocol.patches`` and ``PatchSampler``).

Volumes are coordinate-encoded: voxel ``(x, y, z)`` of an ``(X, Y, Z)`` volume holds
``(x·Y + y)·Z + z``, so a patch's first voxel tells where it was cut.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.protocol.patches import (
    crop,
    hr_patch_size,
    random_patch_corner,
    sample_aligned_pair,
    sample_hr_patch,
    sample_lr_patch,
)
from benchmark.scale import Scale
from methods.thin_slab import PatchSampler

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)

scales = st.builds(Scale, st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
seeds = st.integers(0, 2**32 - 1)


@st.composite
def shape_and_patch(draw: st.DrawFn, max_size: int = 8) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A volume shape ``(X, Y, Z)`` and a patch size ``(px, py, pz)`` that fits in it, voxels."""
    shape = tuple(draw(st.integers(1, max_size)) for _ in range(3))
    patch = tuple(draw(st.integers(1, n)) for n in shape)
    return shape, patch  # type: ignore[return-value]


def encoded(shape: tuple[int, int, int]) -> np.ndarray:
    """``shape`` float32 volume whose voxel ``(x, y, z)`` holds its flat index ``(x·Y + y)·Z + z``."""
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


def corner_of(patch: np.ndarray, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """Corner ``(x0, y0, z0)`` at which ``patch`` was cut from ``encoded(shape)``."""
    return tuple(int(i) for i in np.unravel_index(int(patch[0, 0, 0]), shape))  # type: ignore[return-value]


@PROPERTY
@given(case=shape_and_patch(max_size=40), seed=seeds)
def test_corner_lies_inside_and_is_seeded(case, seed):
    shape, patch = case
    corner = random_patch_corner(shape, patch, np.random.default_rng(seed))
    assert all(isinstance(c, int) for c in corner)
    assert all(0 <= c <= n - p for c, n, p in zip(corner, shape, patch))
    assert corner == random_patch_corner(shape, patch, np.random.default_rng(seed))


@PROPERTY
@given(case=shape_and_patch(), axis=st.integers(0, 2), excess=st.integers(1, 3))
def test_a_patch_larger_than_the_volume_is_refused(case, axis, excess):
    shape, patch = case
    too_big = list(patch)
    too_big[axis] = shape[axis] + excess
    with pytest.raises(ValueError, match="does not fit"):
        random_patch_corner(shape, tuple(too_big), np.random.default_rng(0))  # type: ignore[arg-type]


@PROPERTY
@given(case=shape_and_patch(), seed=seeds)
def test_lr_patch_is_an_exact_block_of_the_volume(case, seed):
    shape, patch = case
    volume = encoded(shape)
    cut = sample_lr_patch(volume, patch, np.random.default_rng(seed))
    assert cut.shape == patch and cut.dtype == volume.dtype
    corner = corner_of(cut, shape)
    assert all(c + p <= n for c, p, n in zip(corner, patch, shape))
    np.testing.assert_array_equal(cut, volume[tuple(slice(c, c + p) for c, p in zip(corner, patch))])
    np.testing.assert_array_equal(cut, sample_lr_patch(volume, patch, np.random.default_rng(seed)))


@PROPERTY
@given(case=shape_and_patch(max_size=5), scale=scales, seed=seeds)
def test_hr_patch_has_the_scaled_size_and_lies_inside(case, scale, seed):
    lr_shape, lr_patch = case
    shape = hr_patch_size(lr_shape, scale)
    size = hr_patch_size(lr_patch, scale)
    assert size == tuple(p * s for p, s in zip(lr_patch, scale.factors))
    volume = encoded(shape)
    cut = sample_hr_patch(volume, lr_patch, scale, np.random.default_rng(seed))
    assert cut.shape == size
    corner = corner_of(cut, shape)
    np.testing.assert_array_equal(cut, crop(volume, corner, size))


@PROPERTY
@given(case=shape_and_patch(max_size=6), scale=scales, seed=seeds)
def test_aligned_pair_hr_corner_is_lr_corner_times_scale(case, scale, seed):
    lr_shape, lr_patch = case
    hr_shape = hr_patch_size(lr_shape, scale)
    lr, hr = encoded(lr_shape), encoded(hr_shape)
    lr_cut, hr_cut = sample_aligned_pair(lr, hr, lr_patch, scale, np.random.default_rng(seed))
    assert lr_cut.shape == lr_patch and hr_cut.shape == hr_patch_size(lr_patch, scale)
    lr_corner, hr_corner = corner_of(lr_cut, lr_shape), corner_of(hr_cut, hr_shape)
    assert hr_corner == tuple(c * s for c, s in zip(lr_corner, scale.factors))
    # With LR voxel j at HR voxel s·j (k-space truncation's geometry) the pair shows the same voxels.
    sx, sy, sz = scale.factors
    strided = hr[::sx, ::sy, ::sz]
    strided_lr, strided_cut = sample_aligned_pair(strided, hr, lr_patch, scale, np.random.default_rng(seed))
    np.testing.assert_array_equal(strided_cut[::sx, ::sy, ::sz], strided_lr)


@PROPERTY
@given(case=shape_and_patch(max_size=5), scale=scales, extra=st.integers(1, 2), axis=st.integers(0, 2))
def test_aligned_pair_refuses_an_hr_volume_of_the_wrong_shape(case, scale, extra, axis):
    lr_shape, lr_patch = case
    wrong = list(hr_patch_size(lr_shape, scale))
    wrong[axis] += extra
    with pytest.raises(ValueError, match="times the scale"):
        sample_aligned_pair(encoded(lr_shape), np.zeros(wrong), lr_patch, scale, np.random.default_rng(0))


@st.composite
def sampler_cases(draw: st.DrawFn) -> tuple[Scale, tuple[int, int, int], list[tuple[int, int, int]]]:
    """``(scale, LR patch, LR shapes of 1–3 volumes)``: every volume holds the patch, voxels."""
    scale = draw(scales)
    patch = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), 3)
    shapes = draw(st.lists(st.tuples(*(st.integers(p, p + 3) for p in patch)), min_size=1, max_size=3))
    return scale, patch, shapes


@PROPERTY
@given(case=sampler_cases(), n=st.integers(1, 5), seed=seeds)
def test_patch_sampler_pairs_are_slabs_cut_at_the_same_place(case, n, seed):
    """``paired_slabs``: ``(n, 3, px, py)`` and ``(n, 3·sz, sx·px, sy·py)``, HR corner = LR corner × scale."""
    scale, patch, lr_shapes = case
    hr_shapes = [hr_patch_size(s, scale) for s in lr_shapes]
    # Volume i holds i·10⁴ + flat index, so a patch tells both its volume and its corner.
    lr_volumes = [encoded(s) + 10_000 * i for i, s in enumerate(lr_shapes)]
    hr_volumes = [encoded(s) + 10_000 * i for i, s in enumerate(hr_shapes)]
    sampler = PatchSampler(patch, scale)
    lr_slabs, hr_slabs = sampler.paired_slabs(lr_volumes, hr_volumes, n, np.random.default_rng(seed))
    px, py, pz = patch
    sx, sy, sz = scale.factors
    assert lr_slabs.shape == (n, pz, px, py) and hr_slabs.shape == (n, pz * sz, sx * px, sy * py)
    for lr_slab, hr_slab in zip(lr_slabs.numpy(), hr_slabs.numpy()):
        lr_index, lr_flat = divmod(int(lr_slab[0, 0, 0]), 10_000)
        hr_index, hr_flat = divmod(int(hr_slab[0, 0, 0]), 10_000)
        assert lr_index == hr_index
        lr_corner = np.unravel_index(lr_flat, lr_shapes[lr_index])
        hr_corner = np.unravel_index(hr_flat, hr_shapes[hr_index])
        assert tuple(int(h) for h in hr_corner) == tuple(c * s for c, s in zip(lr_corner, scale.factors))
        # Slab channel k is slice k of the patch.
        lr_patch = crop(lr_volumes[lr_index], tuple(int(c) for c in lr_corner), patch)
        np.testing.assert_array_equal(lr_slab, np.moveaxis(lr_patch, 2, 0))
    again = sampler.paired_slabs(lr_volumes, hr_volumes, n, np.random.default_rng(seed))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip((lr_slabs, hr_slabs), again))


@PROPERTY
@given(case=sampler_cases(), n=st.integers(1, 5), seed=seeds)
def test_patch_sampler_single_domain_slabs_are_blocks_of_the_volumes(case, n, seed):
    scale, patch, lr_shapes = case
    hr_shapes = [hr_patch_size(s, scale) for s in lr_shapes]
    sampler = PatchSampler(patch, scale)
    for shapes, size, draw in (
        (lr_shapes, sampler.lr_patch, sampler.lr_slabs),
        (hr_shapes, sampler.hr_patch, sampler.hr_slabs),
    ):
        volumes = [encoded(s) + 10_000 * i for i, s in enumerate(shapes)]
        slabs = draw(volumes, n, np.random.default_rng(seed)).numpy()
        assert slabs.shape == (n, size[2], size[0], size[1])
        for slab in slabs:
            index, flat = divmod(int(slab[0, 0, 0]), 10_000)
            corner = tuple(int(c) for c in np.unravel_index(flat, shapes[index]))
            assert all(c + p <= m for c, p, m in zip(corner, size, shapes[index]))
            np.testing.assert_array_equal(slab, np.moveaxis(crop(volumes[index], corner, size), 2, 0))
