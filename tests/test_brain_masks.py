"""Brain masks per dataset: the folder's masks/, HCP's brainmask_fs, BraTS's non-zero voxels, none elsewhere."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from benchmark.errors import BenchError
from benchmark.plugins import DATASETS

SHAPE = (12, 10, 8)


def _write(path: Path, data: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(data, np.eye(4)).to_filename(path)
    return path


def _head(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A skull-stripped-looking volume (zero outside a box) and the box as its mask."""
    inside = np.zeros(SHAPE, bool)
    inside[2:10, 2:8, 1:7] = True
    volume = np.where(inside, np.random.default_rng(seed).uniform(0.2, 1.0, SHAPE), 0).astype(np.float32)
    return volume, inside


def test_a_folder_reads_masks_from_its_masks_folder_which_holds_no_subject(tmp_path):
    for name in ("sub-a", "sub-b"):
        _write(tmp_path / f"{name}.nii.gz", _head(1)[0])
    mask = np.zeros(SHAPE, np.uint8)
    mask[3:6, 3:6, 3:6] = 1
    _write(tmp_path / "masks" / "sub-a.nii.gz", mask)
    dataset = DATASETS.create("folder", data_root=tmp_path, cache_dir=tmp_path)
    assert dataset.subjects() == ["sub-a", "sub-b"]
    found = dataset.brain_mask("sub-a")
    assert found.dtype == bool and np.array_equal(found, mask > 0)
    assert dataset.brain_mask("sub-b") is None


def test_a_mask_of_another_shape_is_one_sentence(tmp_path):
    _write(tmp_path / "sub-a.nii.gz", _head(1)[0])
    _write(tmp_path / "masks" / "sub-a.nii", np.ones((12, 10, 7), np.uint8))
    dataset = DATASETS.create("folder", data_root=tmp_path, cache_dir=tmp_path)
    with pytest.raises(BenchError, match=r"has shape \(12, 10, 7\), but its volume has \(12, 10, 8\)"):
        dataset.brain_mask("sub-a")


def test_hcp_masks_fit_the_preprocessed_t1w_only(tmp_path):
    volume, inside = _head(2)
    _write(tmp_path / "100206" / "T1w" / "T1w_acpc_dc_restore.nii.gz", volume)
    _write(tmp_path / "100206" / "T1w" / "brainmask_fs.nii.gz", inside.astype(np.uint8))
    raw = tmp_path / "100307" / "unprocessed" / "3T" / "T1w_MPR1" / "100307_3T_T1w_MPR1.nii.gz"
    _write(raw, volume)
    _write(tmp_path / "100307" / "T1w" / "brainmask_fs.nii.gz", inside.astype(np.uint8))  # not on the raw grid
    dataset = DATASETS.create("hcp", data_root=tmp_path, cache_dir=tmp_path)
    assert np.array_equal(dataset.brain_mask("100206"), inside)
    assert dataset.brain_mask("100307") is None


def test_brats_masks_are_the_non_zero_voxels(tmp_path):
    volume, inside = _head(3)
    name = "BraTS20_Training_001"
    _write(tmp_path / name / f"{name}_t1ce.nii.gz", volume)
    dataset = DATASETS.create("brats", data_root=tmp_path, cache_dir=tmp_path)
    assert np.array_equal(dataset.brain_mask(name), inside)
    with pytest.raises(BenchError, match="no subject 'nobody'"):
        dataset.brain_mask("nobody")
