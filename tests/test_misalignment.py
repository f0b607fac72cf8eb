"""Simulated movement of the source HR volumes (misaligned setting)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import center_of_mass, gaussian_filter

from benchmark.data.volume import Volume
from benchmark.protocol.misalignment import Misalignment, apply_misalignment, draw_misalignment, misalign

RAS = np.eye(4)
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
# Array axis 0 runs posterior, 1 inferior, 2 right.
PIR = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
MOVES = (
    "rotation_si_deg",
    "rotation_lr_deg",
    "translation_si_vox",
    "translation_lr_vox",
    "shrink_ap_vox",
    "shrink_lr_vox",
)
EXPECTED_AXES = {"RAS": (0, 1, 2), "LPS": (0, 1, 2), "PIR": (2, 0, 1)}  # (LR, AP, SI)


def volume_with(data: np.ndarray, affine: np.ndarray = RAS) -> Volume:
    return Volume(data.astype(np.float32), affine, "sub")


def smooth_volume(shape=(24, 26, 20), seed=0) -> np.ndarray:
    noise = gaussian_filter(np.random.default_rng(seed).random(shape), 2.0)
    return (noise - noise.min()) / (noise.max() - noise.min())


def blob(shape, centre, sigma=1.5) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return np.exp(-sum((g - c) ** 2 for g, c in zip(grids, centre)) / (2 * sigma**2))


def movement(volume: Volume, **values: float) -> Misalignment:
    """A chosen movement (zero where not given) for ``volume``'s orientation."""
    fields = dict.fromkeys(MOVES, 0.0) | values
    return Misalignment(
        **fields,
        axis_si=volume.anatomical_axis("SI"),
        axis_lr=volume.anatomical_axis("LR"),
        axis_ap=volume.anatomical_axis("AP"),
    )


def test_drawn_parameters_stay_within_the_protocol_bounds():
    volume = volume_with(smooth_volume())
    draws = [draw_misalignment(volume, np.random.default_rng(seed)) for seed in range(300)]
    for key in ("rotation_si_deg", "rotation_lr_deg", "translation_si_vox", "translation_lr_vox"):
        values = np.array([getattr(d, key) for d in draws])
        assert np.abs(values).max() <= 2.0
        assert values.min() < -1.0 and values.max() > 1.0  # both signs, spread over the range
    for key in ("shrink_ap_vox", "shrink_lr_vox"):
        values = np.array([getattr(d, key) for d in draws])
        assert values.min() >= 0.0 and values.max() <= 2.0
        assert values.max() > 1.5


@pytest.mark.parametrize(("name", "affine"), [("RAS", RAS), ("LPS", LPS), ("PIR", PIR)])
def test_axes_come_from_the_orientation(name, affine):
    _, params = misalign(volume_with(smooth_volume((12, 14, 10)), affine), np.random.default_rng(0))
    assert (params["axis_lr"], params["axis_ap"], params["axis_si"]) == EXPECTED_AXES[name]


def test_same_seed_same_output_and_shape_affine_kept():
    volume = volume_with(smooth_volume(), LPS)
    one, params_one = misalign(volume, np.random.default_rng(3))
    two, params_two = misalign(volume, np.random.default_rng(3))
    other, _ = misalign(volume, np.random.default_rng(4))
    np.testing.assert_array_equal(one.data, two.data)
    assert params_one == params_two
    assert not np.array_equal(one.data, other.data)
    assert one.shape == volume.shape and one.data.dtype == np.float32
    np.testing.assert_array_equal(one.affine, volume.affine)
    assert one.data.min() >= 0.0 and one.data.max() <= 1.0
    assert not np.allclose(one.data, volume.data)


def test_no_movement_is_the_identity():
    volume = volume_with(smooth_volume())
    moved = apply_misalignment(volume, movement(volume))
    np.testing.assert_allclose(moved.data, volume.data, atol=1e-5)


@pytest.mark.parametrize("affine", [RAS, PIR, LPS])
def test_rotation_about_si_keeps_a_rod_along_si(affine):
    shape = (21, 23, 25)
    probe = volume_with(np.zeros(shape), affine)
    si, lr = probe.anatomical_axis("SI"), probe.anatomical_axis("LR")

    def rod(axis: int) -> np.ndarray:
        data = np.zeros(shape)
        index = [n // 2 for n in shape]
        index[axis] = slice(3, shape[axis] - 3)
        data[tuple(index)] = 1.0
        return gaussian_filter(data, 1.0) * 5

    for axis, keeps in ((si, True), (lr, False)):
        volume = volume_with(np.clip(rod(axis), 0, 1), affine)
        moved = apply_misalignment(volume, movement(volume, rotation_si_deg=2.0))
        change = np.abs(moved.data - volume.data).max()
        assert (change < 0.02) if keeps else (change > 0.05), (axis, change)


@pytest.mark.parametrize("affine", [RAS, PIR, LPS])
def test_translation_and_shrink_move_along_the_named_axes(affine):
    shape = (31, 33, 29)
    ap = volume_with(np.zeros(shape), affine).anatomical_axis("AP")
    centre = [(n - 1) / 2 for n in shape]

    volume = volume_with(blob(shape, centre), affine)
    moved = apply_misalignment(volume, movement(volume, translation_si_vox=2.0, translation_lr_vox=-1.5))
    # In world mm (RAS): +2 voxels toward superior, 1.5 toward left, whichever way the array axes run.
    shift_mm = affine[:3, :3] @ (np.array(center_of_mass(moved.data)) - np.array(centre))
    np.testing.assert_allclose(shift_mm, [-1.5, 0.0, 2.0], atol=0.05)

    offset_centre = list(centre)
    offset_centre[ap] += 8
    volume = volume_with(blob(shape, offset_centre), affine)
    moved = apply_misalignment(volume, movement(volume, shrink_ap_vox=2.0))
    factor = (shape[ap] - 2.0) / shape[ap]
    position = np.array(center_of_mass(moved.data))
    assert position[ap] - centre[ap] == pytest.approx(8 * factor, abs=0.05)
    np.testing.assert_allclose(np.delete(position, ap), np.delete(np.array(centre), ap), atol=0.05)


def test_rotations_are_right_handed_about_every_axis():
    # Regression: about axis 1 the rotation used to turn the other way (left-handed).
    from benchmark.protocol.misalignment import _rotation_about

    for axis in range(3):
        a, b = (axis + 1) % 3, (axis + 2) % 3
        rotation = _rotation_about(axis, 90.0)
        e_a = np.eye(3)[a]
        np.testing.assert_allclose(rotation @ e_a, np.eye(3)[b], atol=1e-12)
