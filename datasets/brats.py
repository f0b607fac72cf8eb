"""Dataset ``brats``: BraTS 2020 T1CE (contrast-enhanced T1) volumes.

``--data-root`` is the BraTS training folder holding one folder per subject,
``BraTS20_Training_NNN/BraTS20_Training_NNN_t1ce.nii.gz`` (``.nii`` also accepted).  Any
folder ``<name>/<name>_t1ce.nii[.gz]`` counts, so later BraTS releases with the same layout
work too; the subject identifier is the folder name.  Folders without that file are skipped.
The scans are skull-stripped: a subject's brain mask is its non-zero voxels.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.api import DATASETS, BenchError, Dataset
from datasets.nifti import NIFTI_SUFFIXES, NiftiFileDataset, require_data_root

LAYOUT = "the BraTS 2020 training folder (BraTS20_Training_NNN/BraTS20_Training_NNN_t1ce.nii.gz)"


def find_t1ce(subject_dir: Path) -> Path | None:
    """``<name>_t1ce.nii.gz`` (preferred) or ``<name>_t1ce.nii`` inside ``subject_dir``, or ``None``."""
    for suffix in NIFTI_SUFFIXES:
        path = subject_dir / f"{subject_dir.name}_t1ce{suffix}"
        if path.is_file():
            return path
    return None


def scan_brats(root: Path) -> dict[str, Path]:
    """Subject → T1CE file for every subject folder of ``root``.

    Raises:
        BenchError: no subject folder holds a T1CE NIfTI.
    """
    files: dict[str, Path] = {}
    for subject_dir in sorted(path for path in root.iterdir() if path.is_dir()):
        t1ce = find_t1ce(subject_dir)
        if t1ce is not None:
            files[subject_dir.name] = t1ce
    if not files:
        raise BenchError(f"no subject folder in {root} holds a T1CE NIfTI; expected {LAYOUT}.")
    return files


@DATASETS.register("brats", summary="BraTS 2020 T1CE, 1 mm isotropic; BraTS20_Training_NNN folders")
def brats(data_root: Path | None = None, cache_dir: Path | None = None) -> Dataset:
    """BraTS 2020 T1CE volumes, one folder per subject; ``cache_dir`` is unused."""
    del cache_dir
    root = require_data_root(data_root, "brats", LAYOUT)
    return NiftiFileDataset(scan_brats(root), "brats", nonzero_mask=True)
