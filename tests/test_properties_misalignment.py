"""Property-based tests of the simulated movement (``benchmark.protocol.misalignment``).

docs/protocol.md, "Misalignment": rotations 0–2° about SI and LR, translations 0–2 voxels along SI and LR, a shrink
of 0–2 voxels along AP and LR, all about the world's anatomical axes (RAS, through the affine).
Volumes here have random axis orders, flips, voxel sizes (mm) and oblique tilts.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

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
def affines(draw: st.DrawFn, oblique: bool = False) -> np.ndarray:
    """``(4, 4)`` voxel-to-world affine: array axes permuted and flipped, voxel sizes 0.5–3 mm;
    ``oblique``: then tilted up to 40° about a random world direction."""
    order = draw(st.sampled_from(list(permutations(range(3)))))
    signs = [draw(st.sampled_from([-1.0, 1.0])) for _ in range(3)]
    sizes = [draw(st.floats(0.5, 3.0)) for _ in range(3)]
    affine = np.eye(4)
    affine[:3, :3] = 0.0
    for array_axis, world_axis in enumerate(order):
        affine[world_axis, array_axis] = signs[array_axis] * sizes[array_axis]
    if oblique:
        direction = np.array([draw(st.floats(-1.0, 1.0)) for _ in range(3)]) + np.array([0.0, 0.0, 1e-3])
        tilt = np.deg2rad(draw(st.floats(0.0, 40.0)))
        affine[:3, :3] = Rotation.from_rotvec(tilt * direction / np.linalg.norm(direction)).as_matrix() @ affine[:3, :3]
    affine[:3, 3] = [draw(st.floats(-50.0, 50.0)) for _ in range(3)]
    return affine


@st.composite
def volumes(draw: st.DrawFn, min_size: int = 6, max_size: int = 12, oblique: bool = True) -> Volume:
    """A random ``(X, Y, Z)`` float32 volume in ``[0, 1]`` with a random (by default oblique) orientation."""
    shape = tuple(draw(st.integers(min_size, max_size)) for _ in range(3))
    data = np.random.default_rng(draw(seeds)).random(shape).astype(np.float32)
    return Volume(data, draw(affines(oblique=oblique)), draw(st.text(min_size=1, max_size=5)))


def expected_world_movement(params: Misalignment, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """``(L (3, 3), t (3,) mm)`` of ``w' = c + L (w - c) + t`` in world (RAS), written out independently."""
    shape, sizes = volume.shape, np.linalg.norm(volume.affine[:3, :3], axis=0)
    shrink_lr = (shape[params.axis_lr] - params.shrink_lr_vox) / shape[params.axis_lr]
    shrink_ap = (shape[params.axis_ap] - params.shrink_ap_vox) / shape[params.axis_ap]
    turn = Rotation.from_euler("z", params.rotation_si_deg, degrees=True) * Rotation.from_euler(
        "x", params.rotation_lr_deg, degrees=True
    )
    linear = turn.as_matrix() @ np.diag([shrink_lr, shrink_ap, 1.0])
    translation = np.array(
        [params.translation_lr_vox * sizes[params.axis_lr], 0.0, params.translation_si_vox * sizes[params.axis_si]]
    )
    return linear, translation


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
def test_transform_is_the_world_movement_about_the_world_centre(volume, seed):
    """Output voxel ``y`` pulls from the input voxel whose world point the movement takes to ``y``'s."""
    params = draw_misalignment(volume, np.random.default_rng(seed))
    matrix, offset = misalignment_transform(params, volume.shape, volume.affine)
    linear, translation = expected_world_movement(params, volume)
    to_mm, origin = volume.affine[:3, :3], volume.affine[:3, 3]
    centre = to_mm @ ((np.asarray(volume.shape, dtype=float) - 1) / 2) + origin
    points = np.random.default_rng(seed).uniform(-5.0, 15.0, size=(3, 8))  # output voxel indices
    moved_mm = to_mm @ points + origin[:, None]  # where each output voxel is, world mm
    source_mm = centre[:, None] + np.linalg.solve(linear, moved_mm - translation[:, None] - centre[:, None])
    expected = np.linalg.solve(to_mm, source_mm - origin[:, None])
    np.testing.assert_allclose(matrix @ points + offset[:, None], expected, atol=1e-9)
    # Rigid in mm apart from the shrink: the world linear part is a rotation times the shrink.
    world = to_mm @ np.linalg.inv(matrix) @ np.linalg.inv(to_mm)
    np.testing.assert_allclose(world, linear, atol=1e-12)


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
    affine=st.one_of(affines(), affines(oblique=True)),
    axes=st.permutations([0, 1, 2]),
)
@example(shape=(6, 6, 6), affine=np.diag([1.0, 1.0, 1.9, 1.0]), axes=[2, 0, 1])
def test_no_movement_pulls_back_through_exactly_the_identity(shape, affine, axes):
    still = Misalignment(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *axes)
    matrix, offset = misalignment_transform(still, shape, affine)
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
