"""Property-based tests of k-space truncation and the named degradations (random shapes and scales).

Every HR volume here is ``(X, Y, Z)`` with ``X = sx·mx`` and so on, ``(mx, my, mz)`` the LR shape
in voxels; intensities are in ``[0, 1]`` unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.plugins import DEGRADATIONS
from benchmark.protocol.degradations import kspace_truncate, truncated_kspace
from benchmark.scale import Scale

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)
NAMED = ("kspace", "kspace-noise", "partial-fourier", "elliptical")
DETERMINISTIC = ("kspace", "partial-fourier", "elliptical")

scales = st.builds(Scale, st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
lr_shapes = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))
seeds = st.integers(0, 2**32 - 1)


def hr_shape(lr_shape: tuple[int, int, int], scale: Scale) -> tuple[int, int, int]:
    """HR shape ``(sx·mx, sy·my, sz·mz)`` of an LR shape ``(mx, my, mz)``, voxels."""
    return tuple(m * s for m, s in zip(lr_shape, scale.factors))  # type: ignore[return-value]


def random_hr(lr_shape: tuple[int, int, int], scale: Scale, seed: int) -> np.ndarray:
    """White-noise HR volume ``hr_shape(lr_shape, scale)``, float32 in ``[0, 1)``."""
    return np.random.default_rng(seed).random(hr_shape(lr_shape, scale)).astype(np.float32)


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, seed=seeds)
def test_truncation_shape_dtype_finite_nonnegative_and_repeatable(lr_shape, scale, seed):
    hr = random_hr(lr_shape, scale, seed)
    lr = kspace_truncate(hr, scale)
    assert lr.shape == lr_shape == scale.lr_shape(hr.shape)
    assert lr.dtype == np.float32
    assert np.isfinite(lr).all()
    assert (lr >= 0).all()  # a magnitude image
    np.testing.assert_array_equal(lr, kspace_truncate(hr.copy(), scale))


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, seed=seeds)
def test_dc_term_keeps_the_mean_and_magnitude_only_raises_it(lr_shape, scale, seed):
    """The block's DC (index ``m // 2``) is ``mean(hr) · N_lr``; ``|·|`` can only raise the mean."""
    hr = random_hr(lr_shape, scale, seed)
    block = truncated_kspace(hr, scale)
    dc = block[tuple(m // 2 for m in lr_shape)]
    assert dc.real == pytest.approx(hr.astype(np.float64).mean() * np.prod(lr_shape), rel=1e-9, abs=1e-9)
    assert abs(dc.imag) < 1e-9 * max(1.0, abs(dc.real))
    # mean |z| >= |mean z| = mean(hr) (the inverse FFT's mean is the DC over N_lr)
    assert kspace_truncate(hr, scale).mean() >= hr.mean() - 1e-5


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, value=st.floats(0.0, 1.0), name=st.sampled_from(DETERMINISTIC))
def test_constant_volume_stays_constant(lr_shape, scale, value, name):
    """Only the DC term is non-zero, and every deterministic degradation keeps it."""
    hr = np.full(hr_shape(lr_shape, scale), value, dtype=np.float32)
    lr = DEGRADATIONS.factory(name)(hr, scale, np.random.default_rng(0))
    np.testing.assert_allclose(lr, np.full(lr_shape, value, dtype=np.float32), rtol=0, atol=1e-6)


@PROPERTY
@given(shape=lr_shapes, seed=seeds)
def test_scale_one_is_the_magnitude_of_the_input(shape, seed):
    """``1x1x1`` keeps the whole spectrum: the output is ``|hr|`` (signed input to see the magnitude)."""
    hr = np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)
    np.testing.assert_allclose(kspace_truncate(hr, Scale(1, 1, 1)), np.abs(hr), rtol=0, atol=1e-6)


@st.composite
def band_limited_volumes(draw: st.DrawFn) -> tuple[np.ndarray, Scale]:
    """A positive sum of plane waves whose frequencies all lie inside the LR block.

    Returns ``(hr (X, Y, Z) float64, scale)``; along an axis of LR size ``m`` every frequency
    satisfies ``|k| <= (m - 1) // 2``, so both ``±k`` are in the block ``-(m//2) … m - m//2 - 1``.
    """
    scale = draw(scales)
    lr_shape = draw(lr_shapes)
    shape = hr_shape(lr_shape, scale)
    grids = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    hr = np.ones(shape)
    for _ in range(draw(st.integers(0, 3))):
        k = [draw(st.integers(-((m - 1) // 2), (m - 1) // 2)) for m in lr_shape]
        phase = draw(st.floats(0.0, 2 * np.pi))
        amplitude = draw(st.floats(0.0, 0.3))
        hr += amplitude * np.cos(2 * np.pi * sum(ki * g / n for ki, g, n in zip(k, grids, shape)) + phase)
    return hr, scale


@PROPERTY
@given(case=band_limited_volumes())
def test_band_limited_volume_is_sampled_at_hr_voxel_s_times_j(case):
    """The stated geometry: LR voxel ``j`` is the HR signal at HR voxel ``s·j``, exactly when band-limited."""
    hr, scale = case
    sx, sy, sz = scale.factors
    np.testing.assert_allclose(kspace_truncate(hr, scale), hr[::sx, ::sy, ::sz], rtol=0, atol=1e-5)


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, seed=seeds, shift=st.tuples(*[st.integers(-6, 6)] * 3))
def test_circular_shift_by_whole_lr_voxels_commutes(lr_shape, scale, seed, shift):
    """Rolling HR by ``s·j`` voxels rolls LR by ``j`` voxels (k-space phase ramp, magnitude kept)."""
    hr = random_hr(lr_shape, scale, seed)
    hr_shift = tuple(j * s for j, s in zip(shift, scale.factors))
    moved = kspace_truncate(np.roll(hr, hr_shift, axis=(0, 1, 2)), scale)
    np.testing.assert_allclose(moved, np.roll(kspace_truncate(hr, scale), shift, axis=(0, 1, 2)), atol=1e-5)


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, seed=seeds, name=st.sampled_from(NAMED))
def test_named_degradations_shape_dtype_finite_and_seeded(lr_shape, scale, seed, name):
    hr = random_hr(lr_shape, scale, seed)
    degrade = DEGRADATIONS.factory(name)
    first = degrade(hr, scale, np.random.default_rng(seed))
    assert first.shape == lr_shape
    assert first.dtype == np.float32
    assert np.isfinite(first).all() and (first >= 0).all()
    np.testing.assert_array_equal(first, degrade(hr, scale, np.random.default_rng(seed)))
    np.testing.assert_array_equal(hr, random_hr(lr_shape, scale, seed))  # the input is not modified


@PROPERTY
@given(lr_shape=lr_shapes, scale=scales, extra=st.tuples(*[st.integers(0, 3)] * 3))
def test_refused_exactly_when_the_shape_is_not_a_multiple_of_the_scale(lr_shape, scale, extra):
    shape = tuple(n + e for n, e in zip(hr_shape(lr_shape, scale), extra))
    if any(n % s for n, s in zip(shape, scale.factors)):
        with pytest.raises(ValueError, match="multiple"):
            kspace_truncate(np.ones(shape), scale)
    else:
        assert kspace_truncate(np.ones(shape), scale).shape == scale.lr_shape(shape)
    with pytest.raises(ValueError, match=r"\(X, Y, Z\)"):
        kspace_truncate(np.ones((*shape, 1)), scale)
