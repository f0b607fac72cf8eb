"""The simulated movement is about the world's anatomical axes (through the affine), not array axes.

An oblique scan: array axes tilted 35° about world ``x`` (left–right), anisotropic voxels.  Two
bright markers are moved, and their intensity centroids are measured in world mm (RAS).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import affine_transform
from scipy.spatial.transform import Rotation

from benchmark.data.volume import Volume
from benchmark.protocol.misalignment import Misalignment, apply_misalignment, misalign, misalignment_transform

SHAPE = (44, 44, 40)
VOXEL_MM = np.array([1.0, 1.25, 1.5])
TILT_DEG = 35.0
ANGLE_DEG = 12.0
CENTRE = (np.asarray(SHAPE, dtype=float) - 1) / 2
MARKERS = (CENTRE + np.array([9.0, 4.0, 0.0]), CENTRE + np.array([-9.0, -3.0, 4.0]))  # voxel indices, 17+ apart


def oblique_affine(tilt_deg: float = TILT_DEG) -> np.ndarray:
    """``(4, 4)`` voxel → world (mm): array axes tilted ``tilt_deg`` about world ``x``, voxels ``VOXEL_MM``."""
    affine = np.eye(4)
    affine[:3, :3] = Rotation.from_euler("x", tilt_deg, degrees=True).as_matrix() @ np.diag(VOXEL_MM)
    affine[:3, 3] = [-21.0, 13.0, -40.0]
    return affine


def to_world(affine: np.ndarray, index: np.ndarray) -> np.ndarray:
    return affine[:3, :3] @ index + affine[:3, 3]


def markers_volume(affine: np.ndarray) -> Volume:
    """Two Gaussian blobs (sigma 1.6 voxels) at ``MARKERS``, peak 0.9."""
    grids = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in SHAPE], indexing="ij"), axis=-1)
    data = sum(0.9 * np.exp(-(((grids - m) ** 2).sum(-1)) / (2 * 1.6**2)) for m in MARKERS)
    return Volume(np.asarray(data, dtype=np.float32), affine, "oblique")


def world_centroids(volume: Volume) -> list[np.ndarray]:
    """World (mm) intensity centroid of each marker, each within 7 voxels of where it started."""
    grids = np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in SHAPE], indexing="ij"), axis=-1)
    found = []
    for marker in MARKERS:
        weights = volume.data * (((grids - marker) ** 2).sum(-1) <= 7.0**2)
        index = (grids * weights[..., None]).sum(axis=(0, 1, 2)) / weights.sum()
        found.append(to_world(volume.affine, index))
    return found


def still(volume: Volume, **values: float) -> Misalignment:
    """Only the movement given, for ``volume``'s orientation."""
    moves = ("rotation_si_deg", "rotation_lr_deg", "translation_si_vox", "translation_lr_vox")
    fields = dict.fromkeys((*moves, "shrink_ap_vox", "shrink_lr_vox"), 0.0)
    axes = {f"axis_{name.lower()}": volume.anatomical_axis(name) for name in ("SI", "LR", "AP")}
    return Misalignment(**(fields | values), **axes)


def array_axis_rotation(volume: Volume, axis: int, degrees: float) -> Volume:
    """The interpretation this replaces: rotate (mm) about the array axis nearest SI, about the centre."""
    rotation = Rotation.from_rotvec(np.deg2rad(degrees) * np.eye(3)[axis]).as_matrix()
    forward = np.diag(1 / VOXEL_MM) @ rotation @ np.diag(VOXEL_MM)
    matrix = np.linalg.inv(forward)
    moved = affine_transform(volume.data.astype(np.float64), matrix, offset=CENTRE - matrix @ CENTRE, order=3)
    return Volume(np.clip(moved, 0, 1).astype(np.float32), volume.affine, volume.subject)


def rotation_about_world_z(before: list[np.ndarray], after: list[np.ndarray]) -> tuple[float, float, float]:
    """Of the vector between the markers: (turn about world z, degrees; change of its z, mm; of its length, mm)."""
    d0, d1 = before[1] - before[0], after[1] - after[0]
    turned = np.degrees(np.arctan2(d1[1], d1[0]) - np.arctan2(d0[1], d0[0]))
    return float(turned), float(d1[2] - d0[2]), float(np.linalg.norm(d1) - np.linalg.norm(d0))


def test_the_oblique_scan_is_oblique_and_its_nearest_si_axis_is_tilted():
    volume = markers_volume(oblique_affine())
    assert volume.axcodes == ("R", "A", "S")
    direction = volume.affine[:3, 2] / VOXEL_MM[2]
    assert np.degrees(np.arccos(direction[2])) == pytest.approx(TILT_DEG)


@pytest.mark.parametrize("degrees", [ANGLE_DEG, -ANGLE_DEG])
def test_rotation_about_head_feet_measures_as_a_rotation_about_world_z_on_an_oblique_scan(degrees):
    volume = markers_volume(oblique_affine())
    before = world_centroids(volume)
    after = world_centroids(apply_misalignment(volume, still(volume, rotation_si_deg=degrees)))

    turned, dz, dlength = rotation_about_world_z(before, after)
    assert turned == pytest.approx(degrees, abs=0.3)  # right-handed about +z (superior)
    assert abs(dz) < 0.05 and abs(dlength) < 0.05
    # Each marker turns about world z through the volume's centre in world coordinates.
    centre = to_world(volume.affine, CENTRE)
    turn = Rotation.from_euler("z", degrees, degrees=True).as_matrix()
    for was, now in zip(before, after):
        np.testing.assert_allclose(now, centre + turn @ (was - centre), atol=0.06)


def test_the_array_axis_interpretation_fails_the_same_measurement():
    volume = markers_volume(oblique_affine())
    before = world_centroids(volume)
    after = world_centroids(array_axis_rotation(volume, volume.anatomical_axis("SI"), ANGLE_DEG))
    turned, dz, _ = rotation_about_world_z(before, after)
    assert abs(dz) > 1.0 or abs(turned - ANGLE_DEG) > 1.0, (turned, dz)


def test_rotation_about_left_right_is_about_world_x_on_an_oblique_scan():
    volume = markers_volume(oblique_affine())
    before = world_centroids(volume)
    after = world_centroids(apply_misalignment(volume, still(volume, rotation_lr_deg=ANGLE_DEG)))
    centre = to_world(volume.affine, CENTRE)
    turn = Rotation.from_euler("x", ANGLE_DEG, degrees=True).as_matrix()
    for was, now in zip(before, after):
        np.testing.assert_allclose(now, centre + turn @ (was - centre), atol=0.06)


def test_translation_moves_along_world_si_and_lr_by_voxels_of_the_nearest_array_axes():
    volume = markers_volume(oblique_affine())
    before = world_centroids(volume)
    moved = apply_misalignment(volume, still(volume, translation_si_vox=2.0, translation_lr_vox=-1.5))
    expected = np.array([-1.5 * VOXEL_MM[0], 0.0, 2.0 * VOXEL_MM[2]])  # mm along world x (R), y (A), z (S)
    for was, now in zip(before, world_centroids(moved)):
        np.testing.assert_allclose(now - was, expected, atol=0.05)


def test_shrink_scales_world_ap_about_the_world_centre():
    volume = markers_volume(oblique_affine())
    before = world_centroids(volume)
    moved = apply_misalignment(volume, still(volume, shrink_ap_vox=2.0))
    factor = (SHAPE[volume.anatomical_axis("AP")] - 2.0) / SHAPE[volume.anatomical_axis("AP")]
    centre = to_world(volume.affine, CENTRE)
    for was, now in zip(before, world_centroids(moved)):
        np.testing.assert_allclose(now, centre + np.array([1.0, factor, 1.0]) * (was - centre), atol=0.05)


def test_no_movement_is_exactly_the_identity_on_an_oblique_scan():
    volume = markers_volume(oblique_affine())
    matrix, offset = misalignment_transform(still(volume), SHAPE, volume.affine)
    np.testing.assert_array_equal(matrix, np.eye(3))
    np.testing.assert_array_equal(offset, np.zeros(3))


def previous_transform(params: Misalignment, shape: tuple[int, int, int], voxel_mm: np.ndarray):
    """The array-axis version this replaced (commit 1d605c0), verbatim, for the diagonal case."""

    def about(axis: int, degrees: float) -> np.ndarray:
        theta = np.deg2rad(degrees)
        a, b = (axis + 1) % 3, (axis + 2) % 3
        rotation = np.eye(3)
        rotation[a, a] = rotation[b, b] = np.cos(theta)
        rotation[a, b] = -np.sin(theta)
        rotation[b, a] = np.sin(theta)
        return rotation

    centre = (np.asarray(shape, dtype=float) - 1) / 2
    sizes = np.asarray(voxel_mm, dtype=float)
    shrink = np.ones(3)
    shrink[params.axis_ap] = (shape[params.axis_ap] - params.shrink_ap_vox) / shape[params.axis_ap]
    shrink[params.axis_lr] = (shape[params.axis_lr] - params.shrink_lr_vox) / shape[params.axis_lr]
    rotation = about(params.axis_si, params.rotation_si_deg) @ about(params.axis_lr, params.rotation_lr_deg)
    forward = (rotation * (sizes[None, :] / sizes[:, None])) @ np.diag(shrink)
    translation = np.zeros(3)
    translation[params.axis_si] = params.translation_si_vox
    translation[params.axis_lr] = params.translation_lr_vox
    matrix = np.linalg.inv(forward)
    return matrix, centre - matrix @ (centre + translation)


@pytest.mark.parametrize("voxel_mm", [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (0.7, 0.7, 0.7), (1.0, 1.25, 1.9)])
def test_a_diagonal_ras_affine_moves_bit_for_bit_as_before(voxel_mm):
    """The embedded demo's affines are ``diag(1 or 2 mm) + origin``: its misaligned volumes do not move."""
    affine = np.diag([*voxel_mm, 1.0])
    affine[:3, 3] = [-79.5, -114.5, -71.5]
    data = np.random.default_rng(1).random((20, 22, 18)).astype(np.float32)
    volume = Volume(data, affine, "sub-01")
    for seed in range(5):
        moved, record = misalign(volume, np.random.default_rng(seed))
        params = Misalignment(**record)
        matrix, offset = previous_transform(params, volume.shape, np.asarray(voxel_mm))
        new_matrix, new_offset = misalignment_transform(params, volume.shape, affine)
        np.testing.assert_array_equal(new_matrix, matrix)
        np.testing.assert_array_equal(new_offset, offset)
        before = affine_transform(data.astype(np.float64), matrix, offset=offset, order=3, mode="constant", cval=0.0)
        np.testing.assert_array_equal(moved.data, np.clip(before, 0.0, 1.0).astype(np.float32))
