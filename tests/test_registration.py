"""Rigid registration of a moved source HR volume to its target LR volume (``methods.registration``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform
from scipy import ndimage

from benchmark.data.volume import Volume
from methods.registration import rigid_register, sitk_to_array, volume_to_sitk

SHAPE = (48, 56, 40)  # voxels, 1 mm, axes R, A, S
ORIGIN_RAS = np.array([-23.5, -31.0, -12.25])  # mm, world position of voxel (0, 0, 0)
SCALE = 2
ROTATION_S_DEG = 2.0  # about the S (head–feet) axis
ROTATION_R_DEG = 1.5  # about the R (left–right) axis
TRANSLATION_VOX = np.array([-1.5, 0.0, 2.0])  # along R, A, S; voxels = mm here


def _rotation(axis: int, degrees: float) -> np.ndarray:
    """``(3, 3)`` right-handed rotation about array axis ``axis`` (same sign convention as ITK's Euler)."""
    theta = np.deg2rad(degrees)
    a, b = (axis + 1) % 3, (axis + 2) % 3
    rotation = np.eye(3)
    rotation[a, a] = rotation[b, b] = np.cos(theta)
    rotation[a, b] = -np.sin(theta)
    rotation[b, a] = np.sin(theta)
    return rotation


def _head(shape: tuple[int, int, int]) -> np.ndarray:
    """Smooth synthetic head: nested ellipsoids plus asymmetric blobs, ``(X, Y, Z)`` in ``[0, 1]``."""
    grid = np.stack(np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij"), axis=-1)
    centre = (np.asarray(shape) - 1) / 2

    def ellipsoid(offset: tuple[float, ...], radii: tuple[float, ...]) -> np.ndarray:
        radius = np.sqrt((((grid - centre - np.asarray(offset)) / np.asarray(radii)) ** 2).sum(axis=-1))
        return 1.0 / (1.0 + np.exp((radius - 1.0) * min(radii)))  # edge about one voxel wide

    head = 0.35 * ellipsoid((0, 0, 0), (21, 25, 17))  # scalp
    head += 0.25 * ellipsoid((0, 1, 1), (18, 22, 14))  # brain
    head -= 0.3 * ellipsoid((2, -3, 1), (4, 7, 3))  # ventricle, off-centre
    head += 0.3 * ellipsoid((-7, 9, -5), (3, 4, 3))
    head += 0.25 * ellipsoid((8, -10, 6), (4, 3, 2.5))
    head += 0.2 * ellipsoid((5, 6, -7), (2.5, 2.5, 2.5))
    return np.clip(head, 0.0, 1.0).astype(np.float32)


def _kspace_crop(hr: np.ndarray, scale: int) -> np.ndarray:
    """LR volume by 3D k-space truncation (LR voxel ``j`` at HR voxel ``j·scale``), ``(X/s, Y/s, Z/s)``."""
    kspace = np.fft.fftshift(np.fft.fftn(hr.astype(np.float64)))
    block = [n // scale for n in hr.shape]
    window = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(hr.shape, block))
    lr = np.fft.ifftn(np.fft.ifftshift(kspace[window] * (np.prod(block) / hr.size)))
    return np.abs(lr).astype(np.float32)


def _lr_volume(hr: Volume) -> Volume:
    """Target LR volume of an HR volume: k-space crop, affine voxel axes times the scale, no shift."""
    affine = hr.affine.copy()
    affine[:3, :3] *= SCALE
    return Volume(_kspace_crop(hr.data, SCALE), affine, hr.subject)


def _reorient(volume: Volume, axcodes: tuple[str, str, str]) -> Volume:
    """The same world content stored with another voxel orientation (exact: flips and transposes only)."""
    transform = ornt_transform(axcodes2ornt(volume.axcodes), axcodes2ornt(axcodes))
    data = np.ascontiguousarray(apply_orientation(volume.data, transform))
    return Volume(data, volume.affine @ inv_ornt_aff(transform, volume.shape), volume.subject)


@pytest.fixture(scope="module")
def scene() -> dict:
    """True HR, moved HR and target LR in an RAS frame, the true world motion and test points."""
    affine = np.eye(4)
    affine[:3, 3] = ORIGIN_RAS
    hr = _head(SHAPE)
    centre = (np.asarray(SHAPE) - 1) / 2
    rotation = _rotation(2, ROTATION_S_DEG) @ _rotation(0, ROTATION_R_DEG)
    # Forward motion of a voxel position x: x' = c + R (x - c) + t; affine_transform wants its inverse.
    moved = ndimage.affine_transform(
        hr.astype(np.float64),
        rotation.T,
        offset=centre - rotation.T @ (centre + TRANSLATION_VOX),
        order=3,
        mode="constant",
        cval=0.0,
    )
    motion_vox = np.eye(4)
    motion_vox[:3, :3] = rotation
    motion_vox[:3, 3] = centre + TRANSLATION_VOX - rotation @ centre
    # The moved volume shows the anatomy of world point p at motion_world @ p: the transform a
    # registration LR -> moving HR must recover.
    motion_world = affine @ motion_vox @ np.linalg.inv(affine)
    brain = np.argwhere(hr > 0.05)
    low, high = brain.min(axis=0), brain.max(axis=0)
    corners = np.array(
        [[x, y, z, 1.0] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
    )
    truth = Volume(hr, affine, "sub-01")
    return {
        "truth": truth,
        "moving": Volume(np.clip(moved, 0.0, 1.0).astype(np.float32), affine.copy(), "sub-01"),
        "fixed": _lr_volume(truth),
        "motion_world": motion_world,
        "corners_world": (affine @ corners.T).T,
    }


def _max_corner_error_mm(record: dict, motion_world: np.ndarray, corners_world: np.ndarray) -> float:
    """Largest distance between recovered and true images of the bounding-box corners, mm."""
    recovered = np.asarray(record["matrix_ras"])
    return float(np.linalg.norm((corners_world @ (recovered - motion_world).T)[:, :3], axis=1).max())


def _mean_error_to(volume: Volume, reference: Volume) -> float:
    """Mean absolute voxel-wise difference after putting ``volume`` in ``reference``'s orientation."""
    aligned = _reorient(volume, reference.axcodes)
    np.testing.assert_allclose(aligned.affine, reference.affine, atol=1e-9)
    return float(np.abs(aligned.data - reference.data).mean())


def test_volume_to_sitk_geometry_matches_nibabel_with_lps_sign_flip():
    rng = np.random.default_rng(3)
    rotation = _rotation(0, 20.0) @ _rotation(2, -35.0) @ np.diag([-1.0, 1.0, 1.0])  # oblique, left-handed axes
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.7, 1.2, 2.5])
    affine[:3, 3] = [12.0, -40.5, 7.25]
    data = rng.random((7, 5, 4)).astype(np.float32)
    image = volume_to_sitk(Volume(data, affine, "geometry"))

    assert image.GetSize() == (7, 5, 4)
    np.testing.assert_allclose(image.GetSpacing(), [0.7, 1.2, 2.5], atol=1e-12)
    np.testing.assert_array_equal(sitk_to_array(image), data)
    for index in [(0, 0, 0), (6, 4, 3), (3, 1, 2), (1, 4, 0)]:
        ras = affine @ np.array([*index, 1.0])
        lps = image.TransformContinuousIndexToPhysicalPoint([float(i) for i in index])
        np.testing.assert_allclose(lps, [-ras[0], -ras[1], ras[2]], atol=1e-9)
        assert image.GetPixel(*index) == data[index]


def test_volume_to_sitk_rejects_a_degenerate_affine():
    affine = np.eye(4)
    affine[:3, 2] = affine[:3, 0]
    with pytest.raises(ValueError, match="degenerate"):
        volume_to_sitk(Volume(np.zeros((3, 3, 3), np.float32), affine, "bad"))


def test_rigid_register_recovers_a_known_rigid_motion(scene):
    registered, record = rigid_register(scene["moving"], scene["fixed"])

    assert registered.data.shape == SHAPE and registered.data.dtype == np.float32
    assert registered.data.min() >= 0.0 and registered.data.max() <= 1.0
    np.testing.assert_array_equal(registered.affine, scene["moving"].affine)
    assert registered.subject == "sub-01"

    before = _mean_error_to(scene["moving"], scene["truth"])
    after = _mean_error_to(registered, scene["truth"])
    assert after < 0.5 * before, (before, after)
    assert _max_corner_error_mm(record, scene["motion_world"], scene["corners_world"]) < 1.0

    # Recovered Euler angles about R, A, S (composition Rz·Rx·Ry) match the applied rotation.
    np.testing.assert_allclose(record["rotation_deg"], [ROTATION_R_DEG, 0.0, ROTATION_S_DEG], atol=0.5)
    rx, ry, rz = record["rotation_deg"]
    rotation = _rotation(2, rz) @ _rotation(0, rx) @ _rotation(1, ry)
    centre, translation = np.asarray(record["centre_mm"]), np.asarray(record["translation_mm"])
    matrix = np.asarray(record["matrix_ras"])
    np.testing.assert_allclose(matrix[:3, :3], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:3, 3], centre + translation - rotation @ centre, atol=1e-9)

    assert record["residual"]["after"] < record["residual"]["before"]  # negative MI: lower is better
    assert record["iterations"] == sum(record["iterations_per_level"]) > 0
    assert len(record["iterations_per_level"]) == 2
    json.dumps(record)  # JSON-ready for the cell record
    assert isinstance(record["stop_condition"], str) and isinstance(record["metric_final"], float)


def test_rigid_register_is_repeatable(scene):
    first, first_record = rigid_register(scene["moving"], scene["fixed"], seed=7)
    second, second_record = rigid_register(scene["moving"], scene["fixed"], seed=7)
    np.testing.assert_array_equal(first.data, second.data)
    assert first_record == second_record


@pytest.mark.parametrize("axcodes", [("L", "P", "S"), ("S", "L", "A")])
def test_rigid_register_handles_other_voxel_orientations(scene, axcodes):
    moving = _reorient(scene["moving"], axcodes)
    fixed = _lr_volume(_reorient(scene["truth"], axcodes))
    registered, record = rigid_register(moving, fixed)

    assert registered.shape == moving.shape
    np.testing.assert_array_equal(registered.affine, moving.affine)
    before = _mean_error_to(moving, scene["truth"])
    after = _mean_error_to(registered, scene["truth"])
    assert after < 0.5 * before, (before, after)
    assert _max_corner_error_mm(record, scene["motion_world"], scene["corners_world"]) < 1.0


@pytest.mark.parametrize(
    ("keyword", "value"), [("sampling_fraction", 0.0), ("sampling_fraction", 1.5), ("seed", -1), ("iterations", 0)]
)
def test_rigid_register_rejects_bad_settings(scene, keyword, value):
    with pytest.raises(ValueError, match=keyword):
        rigid_register(scene["moving"], scene["fixed"], **{keyword: value})
