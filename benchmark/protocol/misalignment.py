"""Simulated patient movement between the HR and the LR acquisitions (the misaligned setting).

The paper (Sec. III.A) moves each source HR volume by

* rotations, uniform in 0–2 degrees with a random sign, about the head–feet (SI) axis and
  about the left–right (LR) axis;
* translations, uniform in 0–2 voxels with a random sign, along SI and LR;
* a shrink of the whole volume by 0–2 voxels along anterior–posterior (AP) and LR, i.e. a
  scale factor ``(n - s) / n`` about the centre (``n`` voxels along that axis).

The array axes that run SI, LR and AP are read from the volume's affine (NIfTI
orientation), never assumed.  Rotations are made in millimetres (voxel sizes from the
affine), so an anisotropic grid is rotated without shear.  All moves are composed into one
affine and the volume is resampled once (cubic B-spline, zero outside, clipped to
``[0, 1]``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import affine_transform

from benchmark.data.volume import Volume


@dataclass(frozen=True)
class Misalignment:
    """Drawn movement of one volume.

    Attributes:
        rotation_si_deg: rotation about the SI (head–feet) axis, degrees.
        rotation_lr_deg: rotation about the LR (left–right) axis, degrees.
        translation_si_vox: translation along SI, voxels.
        translation_lr_vox: translation along LR, voxels.
        shrink_ap_vox: shrink along AP, voxels (scale factor ``(n - s) / n``).
        shrink_lr_vox: shrink along LR, voxels.
        axis_si: array axis that runs SI.
        axis_lr: array axis that runs LR.
        axis_ap: array axis that runs AP.
    """

    rotation_si_deg: float
    rotation_lr_deg: float
    translation_si_vox: float
    translation_lr_vox: float
    shrink_ap_vox: float
    shrink_lr_vox: float
    axis_si: int
    axis_lr: int
    axis_ap: int

    def as_dict(self) -> dict:
        """Plain JSON-ready dict of the fields."""
        return asdict(self)


def draw_misalignment(
    volume: Volume,
    rng: np.random.Generator,
    max_rotation_deg: float = 2.0,
    max_translation_vox: float = 2.0,
    max_shrink_vox: float = 2.0,
) -> Misalignment:
    """Draw one movement within the protocol's bounds for ``volume``'s orientation.

    Args:
        volume: the volume to be moved; only its affine is read.
        rng: seeded generator; the draws are, in order, rotation SI, rotation LR, translation
            SI, translation LR, shrink AP, shrink LR, then the signs.
        max_rotation_deg: largest rotation, degrees.
        max_translation_vox: largest translation, voxels.
        max_shrink_vox: largest shrink, voxels.

    Returns:
        The drawn :class:`Misalignment`.
    """
    magnitudes = rng.uniform(0.0, 1.0, size=6) * np.array(
        [max_rotation_deg] * 2 + [max_translation_vox] * 2 + [max_shrink_vox] * 2
    )
    signs = rng.choice([-1.0, 1.0], size=4)
    rot_si, rot_lr, trans_si, trans_lr = (magnitudes[:4] * signs).tolist()
    return Misalignment(
        rotation_si_deg=rot_si,
        rotation_lr_deg=rot_lr,
        translation_si_vox=trans_si,
        translation_lr_vox=trans_lr,
        shrink_ap_vox=float(magnitudes[4]),
        shrink_lr_vox=float(magnitudes[5]),
        axis_si=volume.anatomical_axis("SI"),
        axis_lr=volume.anatomical_axis("LR"),
        axis_ap=volume.anatomical_axis("AP"),
    )


def _rotation_about(axis: int, degrees: float) -> np.ndarray:
    """``(3, 3)`` right-handed rotation about array axis ``axis`` by ``degrees`` (array index frame)."""
    theta = np.deg2rad(degrees)
    a, b = (axis + 1) % 3, (axis + 2) % 3  # cyclic order keeps every axis right-handed
    rotation = np.eye(3)
    rotation[a, a] = rotation[b, b] = np.cos(theta)
    rotation[a, b] = -np.sin(theta)
    rotation[b, a] = np.sin(theta)
    return rotation


def misalignment_transform(
    params: Misalignment, shape: tuple[int, int, int], voxel_mm: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Pull-back transform of a movement, as :func:`scipy.ndimage.affine_transform` wants it.

    The forward movement of a voxel position ``x`` (array indices) is
    ``x' = c + A (x - c) + t`` with ``c`` the volume centre, ``A = D⁻¹ R D · S`` (``D`` the voxel
    sizes in mm, ``R`` the two rotations, ``S`` the shrink) and ``t`` the translation.

    Args:
        params: the movement.
        shape: ``(X, Y, Z)`` voxels.
        voxel_mm: voxel size along each array axis, mm.

    Returns:
        ``(matrix (3, 3), offset (3,))`` mapping output indices to input indices.
    """
    centre = (np.asarray(shape, dtype=float) - 1) / 2
    sizes = np.asarray(voxel_mm, dtype=float)
    shrink = np.ones(3)
    shrink[params.axis_ap] = (shape[params.axis_ap] - params.shrink_ap_vox) / shape[params.axis_ap]
    shrink[params.axis_lr] = (shape[params.axis_lr] - params.shrink_lr_vox) / shape[params.axis_lr]
    rotation = _rotation_about(params.axis_si, params.rotation_si_deg) @ _rotation_about(
        params.axis_lr, params.rotation_lr_deg
    )
    # D⁻¹ R D entry by entry, R_ij · s_j / s_i: the diagonal ratios are exactly 1, so no movement
    # gives exactly the identity (as a product, 1/1.9 · 1.9 ≠ 1 put a face just outside the grid).
    forward = (rotation * (sizes[None, :] / sizes[:, None])) @ np.diag(shrink)
    translation = np.zeros(3)
    translation[params.axis_si] = params.translation_si_vox
    translation[params.axis_lr] = params.translation_lr_vox
    matrix = np.linalg.inv(forward)
    offset = centre - matrix @ (centre + translation)
    return matrix, offset


def apply_misalignment(volume: Volume, params: Misalignment) -> Volume:
    """Move ``volume`` by ``params`` with one cubic resampling.

    Args:
        volume: ``(X, Y, Z)`` volume in ``[0, 1]``.
        params: the movement.

    Returns:
        The moved volume: same shape, same affine, same subject, float32 in ``[0, 1]``.
    """
    voxel_mm = tuple(np.linalg.norm(volume.affine[:3, :3], axis=0).tolist())
    matrix, offset = misalignment_transform(params, volume.shape, voxel_mm)
    moved = affine_transform(volume.data.astype(np.float64), matrix, offset=offset, order=3, mode="constant", cval=0.0)
    return Volume(np.clip(moved, 0.0, 1.0).astype(np.float32), volume.affine.copy(), volume.subject)


def misalign(
    volume: Volume,
    rng: np.random.Generator,
    max_rotation_deg: float = 2.0,
    max_translation_vox: float = 2.0,
    max_shrink_vox: float = 2.0,
) -> tuple[Volume, dict]:
    """Draw a movement within the protocol's bounds and apply it (the misaligned source HR).

    Args:
        volume: ``(X, Y, Z)`` HR volume in ``[0, 1]`` with a valid NIfTI affine.
        rng: seeded generator (one per subject, so a run repeats exactly).
        max_rotation_deg: largest rotation about SI and about LR, degrees.
        max_translation_vox: largest translation along SI and along LR, voxels.
        max_shrink_vox: largest shrink along AP and along LR, voxels.

    Returns:
        ``(moved volume, parameters)``: the moved volume has the input's shape and affine;
        the parameters (degrees, voxels, array axes) are a JSON-ready dict for the cell record.
    """
    params = draw_misalignment(volume, rng, max_rotation_deg, max_translation_vox, max_shrink_vox)
    return apply_misalignment(volume, params), params.as_dict()
