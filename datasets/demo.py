"""Datasets ``demo`` and ``demo-small``: the embedded demo, made offline on first use and cached.

These are synthetic subjects made from a population template, not scans of people: the MNI
ICBM152 nonlinear 2009 T1 template (Fonov et al., "Unbiased average age-appropriate atlases
for pediatric studies", NeuroImage 54(1), 2011; Fonov et al., NeuroImage 47 S102, 2009),
which nilearn ships, deformed, re-contrasted, bias-corrupted and made noisy per subject
(see :mod:`datasets.demo_cohort`).

* ``demo``: 20 subjects at 1 mm isotropic.
* ``demo-small``: 10 subjects at 2 mm isotropic (the head is ~80–100 voxels wide), for tests
  and fast tries.

The cohort is written under ``cache_dir / "demo" / <variant>`` as NIfTI with a
``manifest.json``; a later construction whose manifest matches (generator version, number of
subjects, voxel size) and whose files are all there loads them instead of regenerating.

Each subject's true GM, WM and CSF maps (the template's, moved by the subject's own
deformation) are made the first time :meth:`DemoDataset.tissue_maps` asks for them, subject by
subject (a run needs its test subjects' only), and cached in ``tissues-v<version>/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
from rich.progress import Progress

from benchmark.api import DATASETS, BenchError, Dataset, default_cache_dir
from datasets.demo_cohort import (
    GENERATOR_VERSION,
    Template,
    generate_cohort,
    load_template,
    tissue_folder,
    write_tissues,
)
from datasets.nifti import NiftiFileDataset

VARIANTS: dict[str, tuple[int, int]] = {"demo": (20, 1), "demo-small": (10, 2)}
"""Variant name → (number of subjects, voxel size in mm)."""


def cached_files(folder: Path, variant: str) -> dict[str, Path] | None:
    """Subject → file of a complete cached cohort matching this generator, or ``None``."""
    n_subjects, voxel_mm = VARIANTS[variant]
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    expected = {
        "generator_version": GENERATOR_VERSION,
        "variant": variant,
        "n_subjects": n_subjects,
        "voxel_mm": voxel_mm,
    }
    if any(manifest.get(key) != value for key, value in expected.items()):
        return None
    files = {subject: folder / name for subject, name in manifest.get("files", {}).items()}
    if len(files) != n_subjects or not all(path.is_file() for path in files.values()):
        return None
    return files


class DemoDataset(NiftiFileDataset):
    """The demo cohort: NIfTI files of the cache, and the true tissue maps they were made from."""

    def __init__(self, files: dict[str, Path], variant: str, folder: Path) -> None:
        super().__init__(files, variant)
        self.folder = folder
        self._template: Template | None = None
        self._last_maps: tuple[str, np.ndarray] | None = None  # the brain mask and the labels read one subject's maps

    def tissue_maps(self, subject: str) -> np.ndarray:
        """``(3, X, Y, Z)`` float32 GM, WM, CSF probabilities of ``subject`` (made and cached on first use).

        The last subject's maps are kept, read-only, so that its brain mask and its true labels read
        the file once.
        """
        if subject not in self.files:
            raise BenchError(f"dataset '{self.name}' has no subject '{subject}'.")
        if self._last_maps is not None and self._last_maps[0] == subject:
            return self._last_maps[1]
        path = tissue_folder(self.folder) / f"{subject}.nii.gz"
        if not path.is_file():
            if self._template is None:
                self._template = load_template(VARIANTS[self.name][1])
            path = write_tissues(self.folder, self._template, subject)
        maps = np.moveaxis(nib.load(path).get_fdata(dtype=np.float32), -1, 0)
        maps.setflags(write=False)
        self._last_maps = (subject, maps)
        return maps

    def brain_mask(self, subject: str) -> np.ndarray:
        """``(X, Y, Z)`` boolean: where ``subject``'s tissue probabilities sum to at least 0.5 (the brain)."""
        return self.tissue_maps(subject).sum(axis=0) >= 0.5


def demo_dataset(variant: str, cache_dir: Path | None = None, progress: Progress | None = None) -> Dataset:
    """The demo cohort ``variant``, loaded from the cache or generated into it.

    Args:
        variant: ``"demo"`` or ``"demo-small"``.
        cache_dir: cache root; ``None`` uses :func:`default_cache_dir`.
        progress: rich progress display for the generation; ``None`` shows a transient bar.

    Returns:
        A dataset of ``(X, Y, Z)`` float32 volumes in ``[0, 1]`` (min–max), RAS, isotropic voxels.
    """
    folder = Path(cache_dir or default_cache_dir()) / "demo" / variant
    files = cached_files(folder, variant)
    if files is None:
        n_subjects, voxel_mm = VARIANTS[variant]
        generate_cohort(folder, variant, n_subjects, voxel_mm, progress)
        files = cached_files(folder, variant)
        assert files is not None, f"the demo cohort just written to {folder} does not read back"
    return DemoDataset(files, variant, folder)


@DATASETS.register("demo", summary="embedded demo: 20 synthetic subjects from the MNI152 2009 template, 1 mm")
def demo(data_root: Path | None = None, cache_dir: Path | None = None, progress: Progress | None = None) -> Dataset:
    """Embedded demo, 20 subjects at 1 mm; ``data_root`` is ignored."""
    del data_root
    return demo_dataset("demo", cache_dir, progress)


@DATASETS.register("demo-small", summary="embedded demo: 10 synthetic subjects from the MNI152 2009 template, 2 mm")
def demo_small(
    data_root: Path | None = None, cache_dir: Path | None = None, progress: Progress | None = None
) -> Dataset:
    """Embedded demo, 10 subjects at 2 mm; ``data_root`` is ignored."""
    del data_root
    return demo_dataset("demo-small", cache_dir, progress)
