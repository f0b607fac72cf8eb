"""Dataset plugins: NIfTI loading, folder / HCP / BraTS layouts and the embedded demo."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import datasets.demo as demo_module
from benchmark.errors import BenchError
from benchmark.plugins import DATASETS
from datasets.nifti import load_nifti_volume

AFFINE = np.diag([0.7, 0.7, 0.7, 1.0])


def write(path: Path, data: np.ndarray | None = None, affine: np.ndarray = AFFINE, seed: int = 0) -> Path:
    """Write a NIfTI file (random ``(6, 7, 5)`` volume in [10, 110] by default)."""
    if data is None:
        data = 10 + 100 * np.random.default_rng(seed).random((6, 7, 5))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine).to_filename(path)
    return path


def test_load_scales_to_unit_range_and_keeps_the_affine(tmp_path):
    path = write(tmp_path / "a.nii.gz")
    volume = load_nifti_volume(path, "a")
    assert volume.shape == (6, 7, 5) and volume.data.dtype == np.float32
    assert volume.data.min() == 0.0 and volume.data.max() == 1.0
    np.testing.assert_allclose(volume.affine, AFFINE)
    singleton = load_nifti_volume(write(tmp_path / "b.nii", np.ones((6, 7, 5, 1)) * np.arange(5)[:, None]), "b")
    assert singleton.shape == (6, 7, 5)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.random.default_rng(0).random((6, 7, 5, 2)), "one 3D volume"),
        (np.random.default_rng(0).random((6, 7)), "one 3D volume"),
        (np.where(np.eye(6)[:, :, None] > 0, np.nan, 1.0) * np.ones((6, 6, 4)), "NaN"),
        (np.full((6, 7, 5), 3.0), "constant"),
    ],
    ids=["4D", "2D", "NaN", "constant"],
)
def test_bad_volumes_are_one_sentence_errors(tmp_path, data, message):
    path = write(tmp_path / "bad.nii.gz", data)
    with pytest.raises(BenchError, match=message) as error:
        load_nifti_volume(path, "bad")
    assert str(path) in str(error.value)


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"not a nifti file")
    with pytest.raises(BenchError, match="cannot read NIfTI file"):
        load_nifti_volume(path, "broken")


def test_folder_dataset(tmp_path):
    for index, name in enumerate(["b.nii.gz", "a.nii", "c.nii.gz", "d.nii.gz"]):
        write(tmp_path / name, seed=index)
    (tmp_path / "notes.txt").write_text("not a volume")
    dataset = DATASETS.create("folder", data_root=tmp_path)
    assert dataset.subjects() == ["a", "b", "c", "d"]
    volume = dataset.load("c")
    assert volume.subject == "c" and volume.data.max() == 1.0


@pytest.mark.parametrize("name", ["folder", "hcp", "brats"])
def test_missing_or_bad_data_root(tmp_path, name):
    with pytest.raises(BenchError, match=f"dataset '{name}' needs --data-root pointing at"):
        DATASETS.create(name, data_root=None)
    with pytest.raises(BenchError, match="does not exist"):
        DATASETS.create(name, data_root=tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError, match="is not a folder"):
        DATASETS.create(name, data_root=tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchError, match="no"):
        DATASETS.create(name, data_root=empty)


def test_folder_without_nifti(tmp_path):
    (tmp_path / "readme.txt").write_text("")
    with pytest.raises(BenchError, match="holds no NIfTI"):
        DATASETS.create("folder", data_root=tmp_path)


def test_hcp_layout_and_order_of_preference(tmp_path):
    write(tmp_path / "100206" / "T1w" / "T1w_acpc_dc_restore.nii.gz", seed=1)
    write(tmp_path / "100206" / "unprocessed" / "3T" / "T1w_MPR1" / "100206_3T_T1w_MPR1.nii.gz", seed=2)
    write(tmp_path / "100307" / "unprocessed" / "3T" / "T1w_MPR1" / "100307_3T_T1w_MPR1.nii.gz", seed=3)
    write(tmp_path / "100408" / "MNINonLinear" / "T1w_restore.nii.gz", seed=4)
    write(tmp_path / "100408" / "T1w" / "T1w_acpc_dc.nii.gz", seed=5)
    write(tmp_path / "100509" / "T2w" / "T2w.nii.gz", seed=6)  # no T1w: skipped
    (tmp_path / "logs").mkdir()
    dataset = DATASETS.create("hcp", data_root=tmp_path)
    assert dataset.subjects() == ["100206", "100307", "100408"]
    assert dataset.files["100206"].name == "T1w_acpc_dc_restore.nii.gz"
    assert dataset.files["100307"].name == "100307_3T_T1w_MPR1.nii.gz"
    assert dataset.files["100408"].relative_to(tmp_path / "100408").as_posix() == "MNINonLinear/T1w_restore.nii.gz"
    expected = load_nifti_volume(tmp_path / "100206" / "T1w" / "T1w_acpc_dc_restore.nii.gz", "100206")
    np.testing.assert_array_equal(dataset.load("100206").data, expected.data)


def test_brats_layout(tmp_path):
    for number in (1, 2, 3):
        subject = f"BraTS20_Training_{number:03d}"
        suffix = ".nii" if number == 2 else ".nii.gz"
        write(tmp_path / subject / f"{subject}_t1ce{suffix}", seed=number)
        write(tmp_path / subject / f"{subject}_flair.nii.gz", seed=10 + number)
    write(tmp_path / "BraTS20_Training_004" / "BraTS20_Training_004_t1.nii.gz")  # no t1ce: skipped
    (tmp_path / "name_mapping.csv").write_text("")
    dataset = DATASETS.create("brats", data_root=tmp_path)
    assert dataset.subjects() == [f"BraTS20_Training_{n:03d}" for n in (1, 2, 3)]
    assert dataset.files["BraTS20_Training_002"].name == "BraTS20_Training_002_t1ce.nii"
    assert dataset.load("BraTS20_Training_003").shape == (6, 7, 5)
    with pytest.raises(BenchError, match="no subject"):
        dataset.load("BraTS20_Training_004")


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    DATASETS.create("demo-small", cache_dir=cache)
    return cache


def test_demo_small_subjects_are_distinct_and_in_unit_range(demo_cache):
    dataset = DATASETS.create("demo-small", cache_dir=demo_cache)
    subjects = dataset.subjects()
    assert len(subjects) == 10
    volumes = [dataset.load(subject) for subject in subjects[:3]]
    for volume in volumes:
        assert volume.data.dtype == np.float32
        assert volume.data.min() == 0.0 and volume.data.max() == 1.0
        assert volume.axcodes == ("R", "A", "S")
        np.testing.assert_allclose(np.abs(volume.affine[:3, :3]).sum(axis=0), [2.0, 2.0, 2.0])
        assert all(60 <= n <= 110 for n in volume.shape)
        assert volume.data.mean() > 0.1  # mostly head, not air
    assert volumes[0].shape == volumes[1].shape
    assert np.abs(volumes[0].data - volumes[1].data).mean() > 0.02
    assert np.abs(volumes[1].data - volumes[2].data).mean() > 0.02


def test_demo_second_construction_loads_from_cache(demo_cache, monkeypatch):
    folder = demo_cache / "demo" / "demo-small"
    before = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["generator_version"] == demo_module.GENERATOR_VERSION
    assert manifest["voxel_mm"] == 2 and manifest["n_subjects"] == 10

    def refuse(*args, **kwargs):
        raise AssertionError("the cached cohort was regenerated")

    monkeypatch.setattr(demo_module, "generate_cohort", refuse)
    DATASETS.create("demo-small", cache_dir=demo_cache)
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == before


def test_demo_cache_with_another_generator_version_is_not_used(demo_cache, tmp_path):
    folder = tmp_path / "demo" / "demo-small"
    folder.mkdir(parents=True)
    for path in (demo_cache / "demo" / "demo-small").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    assert demo_module.cached_files(folder, "demo-small") is not None
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["generator_version"] = -1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert demo_module.cached_files(folder, "demo-small") is None


# ---------------------------------------------------------------------------- unusable affines and symlink loops


def write_with_affine(path: Path, affine: np.ndarray, seed: int = 0) -> Path:
    """Write a NIfTI whose sform is ``affine`` as given (nibabel refuses to build a zero affine itself)."""
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header["sform_code"], header["qform_code"] = 1, 0
    header["srow_x"], header["srow_y"], header["srow_z"] = affine[0], affine[1], affine[2]
    data = (10 + 100 * np.random.default_rng(seed).random((6, 7, 5))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(data, None, header=header).to_filename(path)
    return path


NAN_AFFINE = np.diag([0.7, 0.7, 0.7, 1.0])
NAN_AFFINE[0, 3] = np.nan
ZERO_VOXEL_AFFINE = np.diag([0.7, 0.0, 0.7, 1.0])


@pytest.mark.parametrize(
    ("affine", "message"),
    [(np.zeros((4, 4)), "singular affine"), (ZERO_VOXEL_AFFINE, "singular affine"), (NAN_AFFINE, "NaN or infinite")],
    ids=["zeros", "zero-voxel", "nan"],
)
def test_unusable_affine_is_one_sentence_naming_the_file(tmp_path, affine, message):
    path = write_with_affine(tmp_path / "bad.nii.gz", affine)
    with pytest.raises(BenchError, match=message) as error:
        load_nifti_volume(path, "bad")
    assert str(path) in str(error.value) and str(error.value).endswith(".")


@pytest.mark.parametrize("name", ["folder", "hcp", "brats"])
def test_zero_affine_through_every_file_plugin(tmp_path, name):
    relative = {
        "folder": "sub01.nii.gz",
        "hcp": "100206/T1w/T1w_acpc_dc_restore.nii.gz",
        "brats": "BraTS20_Training_001/BraTS20_Training_001_t1ce.nii.gz",
    }[name]
    path = write_with_affine(tmp_path / relative, np.zeros((4, 4)))
    dataset = DATASETS.create(name, data_root=tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(BenchError, match="singular affine") as error:
        dataset.load(dataset.subjects()[0])
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["folder", "hcp", "brats"])
def test_symlink_loop_data_root_is_one_sentence(tmp_path, name):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")  # ln -s loop loop
    with pytest.raises(BenchError, match="symlink loop") as error:
        DATASETS.create(name, data_root=loop, cache_dir=tmp_path / "cache")
    assert str(loop) in str(error.value)
    with pytest.raises(BenchError, match="passes through a symlink loop"):
        DATASETS.create(name, data_root=loop / "inside", cache_dir=tmp_path / "cache")
