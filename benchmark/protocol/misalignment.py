"""Simulated patient movement between the HR and the LR acquisitions (the misaligned setting).

The paper (Sec. III.A) moves each source HR volume by

* rotations, uniform in 0–2 degrees with a random sign, about the head–feet (SI) axis and
  about the left–right (LR) axis;
* translations, uniform in 0–2 voxels with a random sign, along SI and LR;
* a shrink of the whole volume by 0–2 voxels along anterior–posterior (AP) and LR, i.e. a
  scale factor ``(n - s) / n`` about the centre (``n`` voxels along that axis).

Followed: the moves are about the patient's anatomical axes, so they are made in world
coordinates (mm, RAS as nibabel: ``+x`` = right, ``+y`` = anterior, ``+z`` = superior) through
the volume's affine, not about array axes.  On an oblique scan (array axes tilted off the world
axes) a rotation about head–feet is a rotation about world ``z``, whatever the array axes do.

Choices where the paper is open:

* Signs follow the world axes: a positive rotation is right-handed about ``+z`` (SI) or ``+x``
  (LR); a positive translation moves toward superior (SI) or right (LR).
* Centre of the rotations and the shrink: the volume's centre, voxel index ``(shape - 1) / 2``
  mapped to world mm by the affine.
* Voxels stay the protocol's unit for translations and shrinks.  A translation of ``t`` voxels
  along SI is ``t`` times the voxel size (mm) of the array axis that runs nearest SI (read from
  the affine's orientation); a shrink of ``s`` voxels along AP scales world ``y`` by
  ``(n - s) / n`` with ``n`` the number of voxels along the array axis nearest AP.  On an
  axis-aligned grid these are exactly the paper's voxels.
* Order: the shrink, then the LR rotation, then the SI rotation, then the translation.

All moves are composed into one affine and the volume is resampled once (cubic B-spline, zero
outside, clipped to ``[0, 1]``).  On a volume whose affine's ``3 × 3`` part is diagonal with
positive entries (RAS, e.g. the embedded demo) this is bit for bit the array-axis version it
replaced; on flipped axes (e.g. LAS, LPS) a draw now turns or moves the other way about some
axes than it did there (same distribution), and on oblique scans it is about other axes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import affine_transform

from benchmark.data.volume import Volume

_WORLD_LR, _WORLD_AP, _WORLD_SI = 0, 1, 2
"""World (RAS) axes: ``x`` runs left → right, ``y`` posterior → anterior, ``z`` inferior → superior."""


@dataclass(frozen=True)
class Misalignment:
    """Drawn movement of one volume.

    Attributes:
        rotation_si_deg: rotation about the SI (head–feet, world ``z``) axis, degrees,
            right-handed about superior.
        rotation_lr_deg: rotation about the LR (left–right, world ``x``) axis, degrees,
            right-handed about right.
        translation_si_vox: translation along SI, voxels (positive toward superior).
        translation_lr_vox: translation along LR, voxels (positive toward right).
        shrink_ap_vox: shrink along AP, voxels (scale factor ``(n - s) / n``).
        shrink_lr_vox: shrink along LR, voxels.
        axis_si: array axis that runs nearest SI (its voxel size and count give the voxel unit).
        axis_lr: array axis that runs nearest LR.
        axis_ap: array axis that runs nearest AP.
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
    """``(3, 3)`` right-handed rotation about coordinate axis ``axis`` (0, 1, 2) by ``degrees``."""
    theta = np.deg2rad(degrees)
    a, b = (axis + 1) % 3, (axis + 2) % 3  # cyclic order keeps every axis right-handed
    rotation = np.eye(3)
    rotation[a, a] = rotation[b, b] = np.cos(theta)
    rotation[a, b] = -np.sin(theta)
    rotation[b, a] = np.sin(theta)
    return rotation


def _world_parts(params: Misalignment, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The movement in world (RAS) coordinates, in parts.

    Args:
        params: the movement.
        shape: ``(X, Y, Z)`` voxels.

    Returns:
        ``(R (3, 3), shrink (3,), translation (3,))``: ``R = R_z(rotation SI) · R_x(rotation LR)``;
        the scale factor along world ``x, y, z``; the translation along world ``x, y, z`` in
        voxels, each of the size (mm) ``world_voxel_mm`` names for that world axis.
    """
    rotation = _rotation_about(_WORLD_SI, params.rotation_si_deg) @ _rotation_about(_WORLD_LR, params.rotation_lr_deg)
    shrink = np.ones(3)
    shrink[_WORLD_AP] = (shape[params.axis_ap] - params.shrink_ap_vox) / shape[params.axis_ap]
    shrink[_WORLD_LR] = (shape[params.axis_lr] - params.shrink_lr_vox) / shape[params.axis_lr]
    translation = np.zeros(3)
    translation[_WORLD_SI] = params.translation_si_vox
    translation[_WORLD_LR] = params.translation_lr_vox
    return rotation, shrink, translation


def world_voxel_mm(params: Misalignment, sizes: np.ndarray) -> np.ndarray:
    """``(3,)`` mm in one voxel along world ``x, y, z``: the voxel size of the array axis nearest each."""
    return np.array([sizes[params.axis_lr], sizes[params.axis_ap], sizes[params.axis_si]], dtype=float)


def misalignment_transform(
    params: Misalignment, shape: tuple[int, int, int], affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pull-back transform of a movement, as :func:`scipy.ndimage.affine_transform` wants it.

    In world mm the movement is ``w' = c_w + R S (w - c_w) + t_w`` (``c_w`` the volume centre,
    ``R``, ``S``, ``t_w`` from the parameters, see the module docstring).  With the affine's
    linear part ``M = U D`` (``D`` the voxel sizes in mm, ``U`` the unit world direction of each
    array axis), in array indices it is ``x' = c + A (x - c) + M⁻¹ t_w`` with
    ``A = D⁻¹ (U⁻¹ R U) D · D⁻¹ (U⁻¹ S U) D`` and ``c = (shape - 1) / 2``.

    Args:
        params: the movement.
        shape: ``(X, Y, Z)`` voxels.
        affine: ``(4, 4)`` voxel-to-world matrix, mm (only its ``3 × 3`` part is read).

    Returns:
        ``(matrix (3, 3), offset (3,))`` mapping output indices to input indices.
    """
    linear = np.asarray(affine, dtype=float)[:3, :3]
    sizes = np.linalg.norm(linear, axis=0)
    directions = linear / sizes[None, :]  # U
    to_array = np.linalg.inv(directions)  # U⁻¹ (Uᵀ when the affine has no shear)
    ratio = sizes[None, :] / sizes[:, None]  # s_j / s_i

    def in_array_frame(world: np.ndarray) -> np.ndarray:
        # D⁻¹ (I + U⁻¹ (W − I) U) D entry by entry, K_ij · s_j / s_i: no movement is exactly the
        # identity on any affine (as a product, 1/1.9 · 1.9 ≠ 1 put a face just outside the grid),
        # and on a diagonal affine the entries are exactly those of W · s_j / s_i.
        return (np.eye(3) + to_array @ (world - np.eye(3)) @ directions) * ratio

    rotation, shrink, translation_vox = _world_parts(params, shape)
    forward = in_array_frame(rotation) @ in_array_frame(np.diag(shrink))
    # M⁻¹ t_w = D⁻¹ U⁻¹ (t_vox · world voxel mm), ratios first so a diagonal affine gives t_vox exactly.
    to_indices = to_array * (world_voxel_mm(params, sizes)[None, :] / sizes[:, None])
    translation = to_indices @ translation_vox
    centre = (np.asarray(shape, dtype=float) - 1) / 2
    matrix = np.linalg.inv(forward)
    offset = centre - matrix @ (centre + translation)
    return matrix, offset


def apply_misalignment(volume: Volume, params: Misalignment) -> Volume:
    """Move ``volume`` by ``params`` about the world's anatomical axes, with one cubic resampling.

    Args:
        volume: ``(X, Y, Z)`` volume in ``[0, 1]`` with an invertible ``(4, 4)`` affine (mm).
        params: the movement.

    Returns:
        The moved volume: same shape, same affine, same subject, float32 in ``[0, 1]``.
    """
    matrix, offset = misalignment_transform(params, volume.shape, volume.affine)
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
        volume: ``(X, Y, Z)`` HR volume in ``[0, 1]`` with a valid NIfTI affine (mm, RAS).
        rng: seeded generator (one per subject, so a run repeats exactly).
        max_rotation_deg: largest rotation about SI and about LR (world axes), degrees.
        max_translation_vox: largest translation along SI and along LR (world axes), voxels.
        max_shrink_vox: largest shrink along AP and along LR (world axes), voxels.

    Returns:
        ``(moved volume, parameters)``: the moved volume has the input's shape and affine;
        the parameters (degrees, voxels, array axes nearest SI, LR, AP) are a JSON-ready dict
        for the cell record.
    """
    params = draw_misalignment(volume, rng, max_rotation_deg, max_translation_vox, max_shrink_vox)
    return apply_misalignment(volume, params), params.as_dict()
