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
        """``(X, Y, Z)`` float32 voxels min–max scaled: ``(v - low) / (high - low)``, in ``[0, 1]``.

        Computed in float64: a finite float32 scan whose range exceeds float32's (one voxel at
        +3e38, one at −3e38) would otherwise overflow ``high - low`` to infinity and give NaN.
        """
        span = float(self.high) - float(self.low)  # Python floats are float64
        unit = (self.data.astype(np.float64) - float(self.low)) / span
        return np.ascontiguousarray(np.clip(unit, 0.0, 1.0), dtype=np.float32)


def read_nifti(path: Path) -> NiftiScan:
    """Read one 3D NIfTI volume; trailing singleton dimensions beyond the third (``(X, Y, Z, 1)``) are dropped.

    Raises:
        BenchError: the file cannot be read, holds complex voxels, is not one 3D volume (2D, or 4D
            with more than one volume), holds NaN or infinite values, is constant, or has an unusable affine
            (see :func:`check_affine`).
    """
    try:
        image = nib.load(str(path))
        if np.dtype(image.get_data_dtype()).kind == "c":
            raise BenchError(
                f"NIfTI file {path} holds complex voxels; give the magnitude image (the protocol's LR is a magnitude)."
            )
        check_claimed_size(image, Path(path))
        data = image.get_fdata(dtype=np.float32, caching="unchanged")
    except BenchError:
        raise
    except Exception as error:  # nibabel raises many types for a bad file (ImageFileError, OSError, EOFError…)
        reason = str(error).strip().rstrip(".") or type(error).__name__
        raise BenchError(f"cannot read NIfTI file {path}: {reason}.") from error
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


def check_claimed_size(image: nib.Nifti1Image, path: Path) -> None:
    """Refuse a header whose voxel count the file cannot hold, before its voxels are allocated.

    An uncompressed ``.nii`` must hold ``vox_offset + voxels × bytes per voxel`` bytes; a ``.nii.gz``
    records its uncompressed size (modulo 2³²) in its last four bytes. A header claiming 1000³
    voxels in a small file otherwise allocated gigabytes before nibabel failed.

    Raises:
        BenchError: the file is shorter than its header says.
    """
    header = image.header
    voxels = int(np.prod([int(n) for n in image.shape], dtype=object))
    claimed = int(header.get_data_offset()) + voxels * np.dtype(header.get_data_dtype()).itemsize
    size = path.stat().st_size
    if path.name.endswith(".gz"):
        if size < 18:
            raise BenchError(f"NIfTI file {path} is not a complete gzip file.")
        with path.open("rb") as handle:
            handle.seek(-4, 2)
            size = int.from_bytes(handle.read(4), "little")  # ISIZE: the uncompressed size modulo 2**32
        if claimed >= 2**32:
            return  # ISIZE wrapped around: nibabel's own read decides
    if claimed > size:
        shape = " × ".join(str(int(n)) for n in image.shape)
        raise BenchError(
            f"NIfTI file {path} claims {shape} voxels ({claimed} bytes) but holds {size} bytes; it is cut or its "
            "header is wrong."
        )


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
