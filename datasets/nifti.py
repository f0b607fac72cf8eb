"""Reading NIfTI volumes and checking data roots, shared by the file-based dataset plugins (folder, hcp, brats)."""

from __future__ import annotations

import stat
from pathlib import Path

import nibabel as nib
import numpy as np

from benchmark.data.dataset import Dataset
from benchmark.data.volume import Volume
from benchmark.errors import BenchError
from benchmark.folders import path_stat

NIFTI_SUFFIXES = (".nii.gz", ".nii")
_SINGULAR_RATIO = 1e-6  # smallest / largest singular value of the affine's 3 × 3 part below this: singular


def nifti_stem(path: Path) -> str:
    """File name without ``.nii.gz`` or ``.nii``: ``sub-01.nii.gz`` → ``sub-01``."""
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def require_data_root(data_root: Path | None, dataset: str, layout: str) -> Path:
    """Check that ``data_root`` is an existing folder.

    Args:
        data_root: the ``--data-root`` the user gave, or ``None``.
        dataset: the dataset's registered name, for the message.
        layout: what the folder should hold, e.g. ``"one folder per HCP subject"``.

    Returns:
        ``data_root`` as an absolute path.

    Raises:
        BenchError: ``data_root`` is ``None``, missing, not a folder, or a symlink loop.
    """
    if data_root is None:
        raise BenchError(f"dataset '{dataset}' needs --data-root pointing at {layout}.")
    root = Path(data_root).expanduser()
    status = path_stat(root, "--data-root")  # a symlink loop or unreadable parent ends here, in one sentence
    if status is None:
        raise BenchError(f"dataset '{dataset}' needs --data-root pointing at {layout}, but {root} does not exist.")
    if not stat.S_ISDIR(status.st_mode):
        raise BenchError(f"dataset '{dataset}' needs --data-root pointing at {layout}, but {root} is not a folder.")
    return root.resolve()


def load_nifti_volume(path: Path, subject: str) -> Volume:
    """Read one 3D NIfTI volume and scale its intensities to ``[0, 1]``.

    Trailing singleton dimensions beyond the third (``(X, Y, Z, 1)``) are dropped.  Intensities
    are scaled by a per-volume min–max: ``(v - min) / (max - min)``, so the darkest voxel is 0
    and the brightest 1.

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
        subject: subject identifier stored in the volume.

    Returns:
        ``Volume`` with ``(X, Y, Z)`` float32 data in ``[0, 1]`` and the file's affine (mm).

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
    data = (data - low) / (high - low)
    return Volume(np.ascontiguousarray(data, dtype=np.float32), affine, subject)


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


class NiftiFileDataset(Dataset):
    """A dataset whose subjects are NIfTI files found by a plugin's scan of its data root.

    Args:
        files: subject identifier → NIfTI file of its HR volume.
        name: the dataset's registered name, for messages.
    """

    def __init__(self, files: dict[str, Path], name: str) -> None:
        self.files = dict(sorted(files.items()))
        self.name = name

    def subjects(self) -> list[str]:
        """Subject identifiers, sorted."""
        return list(self.files)

    def load(self, subject: str) -> Volume:
        """HR volume ``(X, Y, Z)`` float32 in ``[0, 1]`` (per-volume min–max) of ``subject``."""
        if subject not in self.files:
            raise BenchError(f"dataset '{self.name}' has no subject '{subject}'.")
        return load_nifti_volume(self.files[subject], subject)

    def source_file(self, subject: str) -> Path | None:
        """The NIfTI file of ``subject``."""
        return self.files.get(subject)
