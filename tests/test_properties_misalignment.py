"""Property-based tests of the simulated movement (``benchmark.protocol.misalignment``).

PROTOCOL.md: rotations 0–2° about SI and LR, translations 0–2 voxels along SI and LR, a shrink
of 0–2 voxels along AP and LR; the array axes of SI, LR, AP come from the affine.  Volumes here
have random axis orders, flips and voxel sizes (mm).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from benchmark.data.volume import Volume
from benchmark.protocol.misalignment import (
    Misalignment,
    apply_misalignment,
    draw_misalignment,
    misalign,
    misalignment_transform,
)

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)
SIGNED = ("rotation_si_deg", "rotation_lr_deg", "translation_si_vox", "translation_lr_vox")
SHRINKS = ("shrink_ap_vox", "shrink_lr_vox")

seeds = st.integers(0, 2**32 - 1)
bounds = st.floats(0.0, 5.0)


@st.composite
def affines(draw: st.DrawFn) -> np.ndarray:
    """``(4, 4)`` voxel-to-world affine: array axes permuted and flipped, voxel sizes 0.5–3 mm."""
    order = draw(st.sampled_from(list(permutations(range(3)))))
    signs = [draw(st.sampled_from([-1.0, 1.0])) for _ in range(3)]
    sizes = [draw(st.floats(0.5, 3.0)) for _ in range(3)]
    affine = np.eye(4)
    affine[:3, :3] = 0.0
    for array_axis, world_axis in enumerate(order):
        affine[world_axis, array_axis] = signs[array_axis] * sizes[array_axis]
    affine[:3, 3] = [draw(st.floats(-50.0, 50.0)) for _ in range(3)]
    return affine


@st.composite
def volumes(draw: st.DrawFn, min_size: int = 6, max_size: int = 12) -> Volume:
    """A random ``(X, Y, Z)`` float32 volume in ``[0, 1]`` with a random orientation."""
    shape = tuple(draw(st.integers(min_size, max_size)) for _ in range(3))
    data = np.random.default_rng(draw(seeds)).random(shape).astype(np.float32)
    return Volume(data, draw(affines()), draw(st.text(min_size=1, max_size=5)))


def shrink_factors(params: Misalignment, shape: tuple[int, int, int]) -> np.ndarray:
    """Scale factor ``(n - s) / n`` per array axis (1 where nothing shrinks)."""
    factors = np.ones(3)
    factors[params.axis_ap] = (shape[params.axis_ap] - params.shrink_ap_vox) / shape[params.axis_ap]
    factors[params.axis_lr] = (shape[params.axis_lr] - params.shrink_lr_vox) / shape[params.axis_lr]
    return factors


@PROPERTY
@given(volume=volumes(), seed=seeds, max_rot=bounds, max_trans=bounds, max_shrink=bounds)
def test_drawn_movement_stays_within_its_bounds_on_the_named_axes(volume, seed, max_rot, max_trans, max_shrink):
    params = draw_misalignment(volume, np.random.default_rng(seed), max_rot, max_trans, max_shrink)
    assert all(abs(getattr(params, key)) <= bound for key, bound in zip(SIGNED, [max_rot] * 2 + [max_trans] * 2))
    assert all(0.0 <= getattr(params, key) <= max_shrink for key in SHRINKS)
    axes = (params.axis_si, params.axis_lr, params.axis_ap)
    assert sorted(axes) == [0, 1, 2]
    assert axes == tuple(volume.anatomical_axis(name) for name in ("SI", "LR", "AP"))
    assert params == draw_misalignment(volume, np.random.default_rng(seed), max_rot, max_trans, max_shrink)


@PROPERTY
@given(volume=volumes(), seed=seeds)
def test_default_bounds_are_the_protocol_ranges(volume, seed):
    params = draw_misalignment(volume, np.random.default_rng(seed))
    assert all(abs(getattr(params, key)) <= 2.0 for key in SIGNED)
    assert all(0.0 <= getattr(params, key) <= 2.0 for key in SHRINKS)


@PROPERTY
@given(volume=volumes(), seed=seeds)
def test_transform_is_a_rotation_in_mm_times_the_shrink_and_moves_the_centre_by_the_translation(volume, seed):
    """``A = D⁻¹ R D S``: ``det A`` is the shrink, ``D A S⁻¹ D⁻¹`` a rotation of at most the two angles."""
    params = draw_misalignment(volume, np.random.default_rng(seed))
    voxel_mm = np.linalg.norm(volume.affine[:3, :3], axis=0)
    matrix, offset = misalignment_transform(params, volume.shape, tuple(voxel_mm.tolist()))
    forward = np.linalg.inv(matrix)  # input index -> output index, linear part
    shrink = shrink_factors(params, volume.shape)
    assert np.linalg.det(forward) == pytest.approx(np.prod(shrink), rel=1e-12)  # volume change = the shrink
    rotation = np.diag(voxel_mm) @ forward @ np.diag(1 / shrink) @ np.diag(1 / voxel_mm)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)  # no shear in mm
    angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1.0, 1.0)))
    assert angle <= abs(params.rotation_si_deg) + abs(params.rotation_lr_deg) + 1e-6
    # The centre moves by the translation, along SI and LR only.
    centre = (np.asarray(volume.shape, dtype=float) - 1) / 2
    translation = np.zeros(3)
    translation[params.axis_si] = params.translation_si_vox
    translation[params.axis_lr] = params.translation_lr_vox
    np.testing.assert_allclose(matrix @ (centre + translation) + offset, centre, atol=1e-9)


@PROPERTY
@given(volume=volumes(), seed=seeds)
def test_misalign_keeps_shape_dtype_affine_range_and_records_what_it_applied(volume, seed):
    original = volume.data.copy()
    moved, record = misalign(volume, np.random.default_rng(seed))
    assert moved.shape == volume.shape and moved.data.dtype == np.float32
    np.testing.assert_array_equal(moved.affine, volume.affine)
    assert moved.subject == volume.subject
    assert np.isfinite(moved.data).all() and moved.data.min() >= 0.0 and moved.data.max() <= 1.0
    np.testing.assert_array_equal(volume.data, original)  # the input is not modified
    # The record is the drawn movement, and re-applying it reproduces the output exactly.
    assert Misalignment(**record) == draw_misalignment(volume, np.random.default_rng(seed))
    np.testing.assert_array_equal(apply_misalignment(volume, Misalignment(**record)).data, moved.data)
    again, record_again = misalign(volume, np.random.default_rng(seed))
    np.testing.assert_array_equal(again.data, moved.data)
    assert record_again == record
    assert all(isinstance(value, (int, float)) for value in record.values())  # JSON-ready


REGRESSION_1_9_MM = Volume(
    np.random.default_rng(0).random((6, 6, 6)).astype(np.float32), np.diag([-1.0, -1.0, -1.9, 1.0]), "0"
)
"""Found by hypothesis: with a 1.9 mm axis, ``D⁻¹ R D`` as a product was ``1 + 2⁻⁵²`` on the diagonal,
the pull-back offset ``-4e-16``, and the whole ``z = 0`` face of an unmoved volume came out zero."""


@PROPERTY
@given(
    shape=st.tuples(*[st.integers(1, 300)] * 3),
    voxel_mm=st.tuples(*[st.floats(0.1, 10.0)] * 3),
    axes=st.permutations([0, 1, 2]),
)
@example(shape=(6, 6, 6), voxel_mm=(1.0, 1.0, 1.9), axes=[2, 0, 1])
def test_no_movement_pulls_back_through_exactly_the_identity(shape, voxel_mm, axes):
    still = Misalignment(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *axes)
    matrix, offset = misalignment_transform(still, shape, voxel_mm)
    np.testing.assert_array_equal(matrix, np.eye(3))
    np.testing.assert_array_equal(offset, np.zeros(3))


def test_no_movement_keeps_every_face_of_a_volume_with_a_1_9_mm_axis():
    moved, _ = misalign(REGRESSION_1_9_MM, np.random.default_rng(0), 0.0, 0.0, 0.0)
    np.testing.assert_allclose(moved.data, REGRESSION_1_9_MM.data, atol=1e-5)


@PROPERTY
@given(volume=volumes(), seed=seeds)
@example(volume=REGRESSION_1_9_MM, seed=0)
def test_zero_bounds_move_nothing(volume, seed):
    moved, record = misalign(volume, np.random.default_rng(seed), 0.0, 0.0, 0.0)
    assert all(record[key] == 0.0 for key in (*SIGNED, *SHRINKS))
    np.testing.assert_allclose(moved.data, volume.data, atol=1e-5)
