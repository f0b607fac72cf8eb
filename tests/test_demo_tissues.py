"""The demo cohort's true tissue maps: moved with each subject's own deformation, cached, the T1 unchanged."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from benchmark.errors import BenchError
from benchmark.plugins import DATASETS
from datasets.demo_cohort import load_template, make_subject, make_tissues, prepare_splines, tissue_folder

T1_SHA256_AT_VERSION_2 = {
    0: "faf64e6c9fc6542c61ed538a9bf48a26b392311318120d926d8b853982876126",
    1: "94fcb15fd2cbc0ce0a2ea6117bb83380ae9d61a79d02b5aee9bbb67cfbd3249c",
}
"""SHA-256 of demo-small's first two T1 arrays, recorded with the generator before the tissue maps existed."""


@pytest.fixture(scope="module")
def template():
    return load_template(2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return DATASETS.create("demo-small", data_root=None, cache_dir=tmp_path_factory.mktemp("cache"))


def test_the_t1_volumes_are_byte_identical_to_the_generator_before_the_tissue_maps(template):
    splines = prepare_splines(template)
    for index, digest in T1_SHA256_AT_VERSION_2.items():
        assert hashlib.sha256(make_subject(template, splines, index).tobytes()).hexdigest() == digest


def _contrast(t1: np.ndarray, tissues: np.ndarray) -> float:
    """Mean T1 of the voxels that are mostly WM minus that of the voxels that are mostly GM."""
    label = tissues.argmax(0)
    brain = tissues.sum(0) > 0.5
    return float(t1[brain & (label == 1)].mean() - t1[brain & (label == 0)].mean())


def test_the_maps_are_probabilities_on_the_subjects_own_grid(dataset):
    t1 = dataset.load("sub-01").data
    tissues = dataset.tissue_maps("sub-01")
    assert tissues.shape == (3, *t1.shape) and tissues.dtype == np.float32
    assert tissues.min() >= 0 and tissues.max() <= 1 and tissues.sum(0).max() <= 1 + 3 / 255
    brain = tissues.sum(0) > 0.5
    assert 0.2 < brain.mean() < 0.8
    assert np.array_equal(dataset.brain_mask("sub-01"), tissues.sum(0) >= 0.5)
    assert t1[brain].mean() > 5 * t1[~brain].mean()
    # Moved with this subject's deformation: its own maps separate its WM from its GM better than
    # another subject's maps do (T1: white matter is brighter than grey).
    own, other = _contrast(t1, tissues), _contrast(t1, dataset.tissue_maps("sub-02"))
    assert own > 0.1 and own > other + 0.02


def test_the_maps_are_made_per_subject_cached_and_equal_to_the_generator(dataset, template):
    folder = tissue_folder(dataset.folder)
    assert not (folder / "sub-03.nii.gz").exists()
    first = dataset.tissue_maps("sub-03")  # made now, for this subject only
    written = (folder / "sub-03.nii.gz").stat().st_mtime_ns
    assert not (folder / "sub-04.nii.gz").exists()
    again = dataset.tissue_maps("sub-03")
    assert (folder / "sub-03.nii.gz").stat().st_mtime_ns == written and np.array_equal(first, again)
    assert np.abs(first - make_tissues(template, 2)).max() <= 0.5 / 255 + 1e-6  # uint8 storage


def test_an_unknown_subject_is_one_sentence(dataset):
    with pytest.raises(BenchError, match="no subject 'sub-99'"):
        dataset.tissue_maps("sub-99")


def test_a_subjects_mask_and_maps_read_its_file_once(dataset, monkeypatch):
    import datasets.demo as demo

    dataset.tissue_maps("sub-05")  # made and read
    dataset.tissue_maps("sub-06")  # another subject in between
    reads = []
    real_load = demo.nib.load
    monkeypatch.setattr(demo.nib, "load", lambda path, *a, **k: reads.append(path) or real_load(path, *a, **k))
    mask = dataset.brain_mask("sub-05")
    maps = dataset.tissue_maps("sub-05")
    assert len(reads) == 1  # before: the mask and the maps each read the file
    assert np.array_equal(mask, maps.sum(0) >= 0.5)
    with pytest.raises(ValueError):
        maps[0, 0, 0, 0] = 1.0  # kept maps are read-only, so no caller can change another's
