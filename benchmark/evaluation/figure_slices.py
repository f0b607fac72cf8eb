"""Axial and sagittal slices of HR, LR and SR volumes, for the reports' error maps.

The slices are cut through the centre of the volume in anatomical planes taken from the
affine (not assumed from the array order) and oriented for display: axial slices with
anterior up and the subject's right on the right of the image (neurological convention),
sagittal slices with superior up and anterior on the right.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

from benchmark.scale import Scale

PLANES = ("axial", "sagittal")


def to_ras(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Reorder and flip the axes of ``data`` ``(X, Y, Z)`` to RAS+.

    The axes then run left→right, posterior→anterior, inferior→superior.
    """
    orientation = nib.orientations.io_orientation(affine)
    return nib.orientations.apply_orientation(data, orientation)


def plane_slice(ras: np.ndarray, plane: str) -> np.ndarray:
    """Centre slice of a RAS+ volume in ``plane``, oriented for display (rows top to bottom)."""
    if plane == "axial":
        image = ras[:, :, ras.shape[2] // 2]  # (R, A)
        return np.flipud(image.T)  # rows: anterior at the top; columns: left to right
    if plane == "sagittal":
        image = ras[ras.shape[0] // 2, :, :]  # (A, S)
        return np.flipud(image.T)  # rows: superior at the top; columns: posterior to anterior
    raise ValueError(f"unknown plane '{plane}'; known: {PLANES}")


def upsample_nearest(lr: np.ndarray, scale: Scale) -> np.ndarray:
    """Nearest-neighbour copy of an LR volume ``(X/sx, Y/sy, Z/sz)`` onto the HR grid ``(X, Y, Z)``."""
    out = lr
    for axis, factor in enumerate(scale.factors):
        out = np.repeat(out, factor, axis=axis)
    return out


def figure_slices(
    hr: np.ndarray, lr: np.ndarray, sr: np.ndarray, affine: np.ndarray, scale: Scale
) -> dict[str, np.ndarray]:
    """``{plane}_{hr|lr|sr}`` float32 2D slices on the HR grid for every plane in :data:`PLANES`."""
    volumes = {"hr": hr, "lr": upsample_nearest(lr, scale), "sr": np.clip(sr, 0.0, 1.0)}
    slices = {}
    for kind, volume in volumes.items():
        ras = to_ras(np.asarray(volume, dtype=np.float32), affine)
        for plane in PLANES:
            slices[f"{plane}_{kind}"] = np.ascontiguousarray(plane_slice(ras, plane), dtype=np.float32)
    return slices
