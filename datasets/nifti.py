"""Reading NIfTI volumes and checking data roots, shared by the file-based dataset plugins (folder, hcp, brats)."""

from __future__ import annotations

import stat
from pathlib import Path

import nibabel as nib
import numpy as np

from benchmark.api import NIFTI_SUFFIXES as NIFTI_SUFFIXES  # re-exported for hcp and brats
from benchmark.api import BenchError, Dataset, Volume, path_stat, read_nifti


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

    Intensities are scaled by a per-volume min–max: ``(v - min) / (max - min)``, so the darkest
    voxel is 0 and the brightest 1.  What is refused is :func:`benchmark.data.nifti_read.read_nifti`'s.

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
        subject: subject identifier stored in the volume.

    Returns:
        ``Volume`` with ``(X, Y, Z)`` float32 data in ``[0, 1]`` and the file's affine (mm).

    Raises:
        BenchError: the file cannot be read or is not a usable 3D volume.
    """
    scan = read_nifti(path)
    return Volume(scan.unit_range(), scan.affine, subject)


def read_mask(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A mask NIfTI as a boolean ``(X, Y, Z)`` array (its non-zero voxels), checked against the volume's ``shape``.

    Raises:
        BenchError: the file cannot be read, or its shape is not the volume's.
    """
    try:
        data = np.asanyarray(nib.load(str(path)).dataobj)
    except Exception as error:  # nibabel raises many types for a bad file
        raise BenchError(
            f"cannot read mask {path}: {str(error).strip().rstrip('.') or type(error).__name__}."
        ) from error
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if tuple(data.shape) != tuple(shape):
        raise BenchError(f"mask {path} has shape {tuple(data.shape)}, but its volume has {tuple(shape)}.")
    return np.asarray(data != 0)


class NiftiFileDataset(Dataset):
    """A dataset whose subjects are NIfTI files found by a plugin's scan of its data root.

    Args:
        files: subject identifier → NIfTI file of its HR volume.
        name: the dataset's registered name, for messages.
        masks: subject identifier → NIfTI file of its brain mask (non-zero inside), for those that have one.
        nonzero_mask: the brain is the volume's non-zero voxels (skull-stripped scans); ``masks`` wins.
    """

    def __init__(
        self, files: dict[str, Path], name: str, masks: dict[str, Path] | None = None, nonzero_mask: bool = False
    ) -> None:
        self.files = dict(sorted(files.items()))
        self.name = name
        self.masks = dict(masks or {})
        self.nonzero_mask = nonzero_mask

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

    def brain_mask(self, subject: str) -> np.ndarray | None:
        """``subject``'s mask file, else its non-zero voxels where the scans are skull-stripped, else ``None``."""
        if subject not in self.files:
            raise BenchError(f"dataset '{self.name}' has no subject '{subject}'.")
        if subject in self.masks:
            return read_mask(self.masks[subject], read_nifti(self.files[subject]).data.shape)
        if self.nonzero_mask:
            return np.asarray(read_nifti(self.files[subject]).data != 0)
        return None
