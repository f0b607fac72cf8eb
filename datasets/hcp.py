"""Dataset ``hcp``: Human Connectome Project T1w volumes, one folder per subject.

``--data-root`` holds one folder per subject (the folder name is the subject identifier).
Inside a subject folder the T1w volume is the first that exists of, in this order:

1. ``T1w/T1w_acpc_dc_restore.nii.gz`` (or ``.nii``), the HCP minimally preprocessed T1w;
2. ``unprocessed/3T/T1w_MPR1/*_3T_T1w_MPR1.nii.gz`` (or ``.nii``), the raw 0.7 mm MPRAGE,
   first in sorted order;
3. any ``*T1w*.nii`` / ``*T1w*.nii.gz`` below the subject folder, first in sorted order of
   its path relative to the subject folder.

Folders with none of these (and hidden folders) are skipped.  The brain mask is
``T1w/brainmask_fs.nii.gz`` (or ``.nii``), which fits ``T1w_acpc_dc_restore`` only: a subject read
from another file has no mask.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.api import DATASETS, BenchError, Dataset
from datasets.nifti import NIFTI_SUFFIXES, NiftiFileDataset, require_data_root

LAYOUT = "a folder holding one folder per HCP subject, each with its T1w NIfTI (e.g. T1w/T1w_acpc_dc_restore.nii.gz)"


def find_t1w(subject_dir: Path) -> Path | None:
    """The T1w NIfTI of one HCP subject folder by the module's order of preference, or ``None``."""
    for suffix in NIFTI_SUFFIXES:
        preprocessed = subject_dir / "T1w" / f"T1w_acpc_dc_restore{suffix}"
        if preprocessed.is_file():
            return preprocessed
    for suffix in NIFTI_SUFFIXES:
        raw = sorted((subject_dir / "unprocessed" / "3T" / "T1w_MPR1").glob(f"*_3T_T1w_MPR1{suffix}"))
        if raw:
            return raw[0]
    found = [path for path in subject_dir.rglob("*T1w*.nii*") if path.is_file() and path.name.endswith(NIFTI_SUFFIXES)]
    return min(found, key=lambda path: path.relative_to(subject_dir).as_posix()) if found else None


def find_mask(t1w: Path) -> Path | None:
    """``brainmask_fs`` beside ``T1w_acpc_dc_restore`` (on its grid), or ``None`` for any other T1w file."""
    if not t1w.name.startswith("T1w_acpc_dc_restore."):
        return None
    return next(
        (t1w.parent / f"brainmask_fs{s}" for s in NIFTI_SUFFIXES if (t1w.parent / f"brainmask_fs{s}").is_file()), None
    )


def scan_hcp(root: Path) -> dict[str, Path]:
    """Subject → T1w file for every subject folder of ``root``.

    Raises:
        BenchError: no subject folder holds a T1w NIfTI.
    """
    files: dict[str, Path] = {}
    for subject_dir in sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")):
        t1w = find_t1w(subject_dir)
        if t1w is not None:
            files[subject_dir.name] = t1w
    if not files:
        raise BenchError(f"no subject folder in {root} holds a T1w NIfTI; expected {LAYOUT}.")
    return files


@DATASETS.register("hcp", summary="HCP T1w, 0.7 mm isotropic; one folder per subject")
def hcp(data_root: Path | None = None, cache_dir: Path | None = None) -> Dataset:
    """HCP T1w volumes, one folder per subject; ``cache_dir`` is unused."""
    del cache_dir
    root = require_data_root(data_root, "hcp", LAYOUT)
    files = scan_hcp(root)
    masks = {subject: mask for subject, t1w in files.items() if (mask := find_mask(t1w)) is not None}
    return NiftiFileDataset(files, "hcp", masks=masks)
