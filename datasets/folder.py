"""Dataset ``folder``: a folder of NIfTI volumes, one subject per file.

``--data-root`` holds ``*.nii`` and ``*.nii.gz`` files (not searched recursively); the
subject identifier is the file name without its extension (``sub-01.nii.gz`` → ``sub-01``).
An optional ``masks/<subject>.nii.gz`` (or ``.nii``), non-zero inside the brain and on the
subject's grid, is its brain mask; the ``masks`` folder is not searched for subjects.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.api import DATASETS, BenchError, Dataset
from datasets.nifti import NIFTI_SUFFIXES, NiftiFileDataset, nifti_stem, require_data_root

LAYOUT = "a folder of NIfTI files (*.nii or *.nii.gz), one subject per file"


def scan_masks(root: Path, subjects: list[str]) -> dict[str, Path]:
    """Subject → ``root/masks/<subject>.nii.gz`` (or ``.nii``) for the subjects that have one."""
    found = {}
    for subject in subjects:
        for suffix in NIFTI_SUFFIXES:
            path = root / "masks" / f"{subject}{suffix}"
            if path.is_file():
                found[subject] = path
                break
    return found


def scan_folder(root: Path) -> dict[str, Path]:
    """Subject → file for every ``*.nii`` / ``*.nii.gz`` directly inside ``root``.

    Raises:
        BenchError: no NIfTI file, or two files for one subject (``a.nii`` and ``a.nii.gz``).
    """
    files: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if not path.is_file() or nifti_stem(path) == path.name or path.name.startswith("."):
            continue
        subject = nifti_stem(path)
        if subject in files:
            raise BenchError(
                f"folder {root} holds two NIfTI files for subject '{subject}': {files[subject].name} and {path.name}."
            )
        files[subject] = path
    if not files:
        raise BenchError(f"folder {root} holds no NIfTI file (*.nii or *.nii.gz).")
    return files


@DATASETS.register("folder", summary="a folder of NIfTI volumes (*.nii, *.nii.gz), one subject per file")
def folder(data_root: Path | None = None, cache_dir: Path | None = None) -> Dataset:
    """A folder of NIfTI volumes, one subject per file; ``cache_dir`` is unused."""
    del cache_dir
    root = require_data_root(data_root, "folder", LAYOUT)
    files = scan_folder(root)
    return NiftiFileDataset(files, "folder", masks=scan_masks(root, list(files)))
