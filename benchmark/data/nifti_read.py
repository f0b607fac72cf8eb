"""Reading one NIfTI scan with every check the harness needs, keeping what is needed to write a result like it.

Used by the file-based datasets (which scale each volume to ``[0, 1]``) and by ``bench infer``
(which also scales back to the scan's range and writes a header like the scan's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from benchmark.errors import BenchError

NIFTI_SUFFIXES = (".nii.gz", ".nii")
"""File name endings of NIfTI files, longest first."""
_SINGULAR_RATIO = 1e-6  # smallest / largest singular value of the affine's 3 × 3 part below this: singular


@dataclass
class NiftiScan:
    """A checked 3D scan as read from its file.

    Attributes:
        image: the nibabel image (header, on-disk data type, scaling).
        data: ``(X, Y, Z)`` float32 voxels in the file's units (scaling applied).
        affine: ``(4, 4)`` voxel-to-world matrix in mm.
        low: the smallest voxel value.
        high: the largest voxel value (``> low``).
    """

    image: nib.Nifti1Image
    data: np.ndarray
    affine: np.ndarray
    low: float
    high: float

    def unit_range(self) -> np.ndarray:
        """``(X, Y, Z)`` float32 voxels min–max scaled: ``(v - low) / (high - low)``, in ``[0, 1]``."""
        return np.ascontiguousarray((self.data - self.low) / (self.high - self.low), dtype=np.float32)


def read_nifti(path: Path) -> NiftiScan:
    """Read one 3D NIfTI volume; trailing singleton dimensions beyond the third (``(X, Y, Z, 1)``) are dropped.

    Raises:
        BenchError: the file cannot be read, is not one 3D volume (2D, or 4D with more than one
            volume), holds NaN or infinite values, is constant, or has an unusable affine
            (see :func:`check_affine`).
    """
    try:
        image = nib.load(str(path))
        data = image.get_fdata(dtype=np.float32, caching="unchanged")
    except Exception as error:  # nibabel raises many types for a bad file (ImageFileError, OSError, EOFError…)
        raise BenchError(f"cannot read NIfTI file {path}: {error}.") from error
    shape = data.shape
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3 or min(data.shape) < 2:
        raise BenchError(f"NIfTI file {path} has shape {shape}, but the harness needs one 3D volume per file.")
    if not np.isfinite(data).all():
        raise BenchError(f"NIfTI file {path} contains NaN or infinite values.")
    low, high = float(data.min()), float(data.max())
    if high <= low:
        raise BenchError(f"NIfTI file {path} is constant (every voxel is {low}), so it holds no image.")
    affine = np.asarray(image.affine, dtype=np.float64)
    check_affine(affine, path)
    return NiftiScan(image, data, affine, low, high)


def check_affine(affine: np.ndarray, path: Path) -> None:
    """Refuse a voxel-to-world matrix the protocol cannot use.

    The harness reads voxel sizes and anatomical axes from the affine (misalignment, LR
    affines, figure orientation), so it must be a finite ``(4, 4)`` matrix whose ``3 × 3``
    part is invertible.  An all-zero affine (``sform`` and ``qform`` unset or zeroed by a
    converter) is the common bad case.

    Args:
        affine: ``(4, 4)`` matrix as nibabel returns it.
        path: the file, for the message.

    Raises:
        BenchError: the affine is not ``(4, 4)``, holds NaN or infinite values, or its
            ``3 × 3`` part is singular (e.g. all zeros, or a zero voxel size).
    """
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise BenchError(f"NIfTI file {path} has an affine with NaN or infinite values, so its voxel size is unknown.")
    singular = np.linalg.svd(affine[:3, :3], compute_uv=False)
    if singular[0] == 0.0 or singular[-1] <= _SINGULAR_RATIO * singular[0]:
        raise BenchError(
            f"NIfTI file {path} has a singular affine (all zeros or a zero voxel size), "
            "so its voxel size is unknown; fix its sform/qform header."
        )
