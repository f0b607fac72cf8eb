"""`bench infer` on a real scan: nibabel's ``tests/data/anatomical.nii`` (33 × 41 × 25, 2 mm, LAS, int16).

The output's shape, affine and header; an LR voxel that keeps its world position; a round trip
through the degradation; a folder of inputs; the slab axis of anisotropic scans; the method
restored from a trained cell; and the mistakes a user can make, each in one sentence.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from rich.console import Console

from benchmark.app.executors.inline import run_matrix
from benchmark.app.executors.request import RunRequest
from benchmark.app.infer.scan_geometry import slab_axis, slab_axis_order
from benchmark.evaluation.metrics import psnr
from benchmark.inference.tiling import super_resolve_tiled
from benchmark.protocol.degradations import kspace_truncate
from benchmark.scale import Scale
from tests.conftest import smooth_volume
from tests.test_cli import assert_one_sentence, bench

ANATOMICAL = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
HALF = np.diag([0.5, 0.5, 0.5, 1.0])


def unit(data: np.ndarray, low: float, high: float) -> np.ndarray:
    return ((data - low) / (high - low)).astype(np.float32)


@pytest.fixture(scope="module")
def udean_cell(tmp_path_factory) -> Path:
    """A finished tiny UDEAN cell (demo-small, 2x2x2, misaligned): model.pt, config.json, DONE."""
    root = tmp_path_factory.mktemp("udean-cell")
    request = RunRequest(
        methods="udean",
        dataset="demo-small",
        setting="misaligned",
        profile="tiny",
        runs_dir=str(root / "runs"),
        cache_dir=str(root / "cache"),
        device="cpu",
    )
    matrix = request.matrix()
    summary = run_matrix(matrix.cells, matrix.runs_dir, matrix.device, matrix.cache_dir, Console(quiet=True))
    assert len(summary.done) == 1
    return matrix.cells[0].folder(matrix.runs_dir)


def test_the_scan_is_what_the_tests_say_it_is():
    image = nib.load(ANATOMICAL)
    assert image.shape == (33, 41, 25)
    assert nib.aff2axcodes(image.affine) == ("L", "A", "S")
    assert image.get_data_dtype() == np.dtype(">i2")


@pytest.mark.parametrize("method", ["tricubic", "zero-fill"])
def test_fixed_methods_output_has_half_the_voxel_size_and_the_scans_header(monkeypatch, capsys, tmp_path, method):
    out = tmp_path / "sr.nii.gz"
    code, stdout, err = bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--method", method)
    assert code == 0, err
    assert "66 × 82 × 50" in stdout
    given, written = nib.load(ANATOMICAL), nib.load(out)
    assert written.shape == (66, 82, 50)
    np.testing.assert_allclose(written.affine, given.affine @ HALF)
    np.testing.assert_allclose(written.header.get_zooms(), (1.0, 1.0, 1.0))
    assert nib.aff2axcodes(written.affine) == ("L", "A", "S")
    assert written.get_data_dtype() == given.get_data_dtype()
    assert int(written.header["sform_code"]) == int(given.header["sform_code"])
    assert int(written.header["qform_code"]) == int(given.header["qform_code"])
    assert written.header.get_xyzt_units() == given.header.get_xyzt_units()
    assert written.header["descrip"].tobytes().rstrip(b"\0") == f"bench infer {method} 2x2x2".encode()
    values, original = written.get_fdata(), given.get_fdata()
    assert original.min() <= values.min() and values.max() <= original.max()
    assert np.all(values == np.rint(values))  # int16 data stay integers


def test_an_lr_voxel_keeps_its_world_position(monkeypatch, capsys, tmp_path):
    """LR voxel j and SR voxel 2j are one world point, and tricubic's SR there is the LR value."""
    out = tmp_path / "sr.nii"
    assert bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--method", "tricubic")[0] == 0
    given, written = nib.load(ANATOMICAL), nib.load(out)
    lr, sr = given.get_fdata(), written.get_fdata()
    rng = np.random.default_rng(0)
    for j in rng.integers(0, np.array(lr.shape), size=(20, 3)):
        world_lr = given.affine @ np.array([*j, 1.0])
        world_sr = written.affine @ np.array([*(2 * j), 1.0])
        np.testing.assert_allclose(world_sr, world_lr, atol=1e-9)
        assert abs(sr[tuple(2 * j)] - lr[tuple(j)]) <= 1.0  # the interpolating spline passes through it (int16)


def test_degrading_the_output_gives_back_the_input(monkeypatch, capsys, tmp_path):
    """k-space truncation of the SR volume is within 40 dB of the scan; shifted by one SR voxel it is not."""
    out = tmp_path / "sr.nii.gz"
    assert bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--method", "tricubic")[0] == 0
    lr = nib.load(ANATOMICAL).get_fdata()
    low, high = lr.min(), lr.max()
    sr = unit(nib.load(out).get_fdata(), low, high)
    target = torch.from_numpy(unit(lr, low, high))
    aligned = psnr(torch.from_numpy(kspace_truncate(sr, Scale(2, 2, 2))), target)
    assert aligned > 40.0
    for axis in range(3):
        shifted = psnr(torch.from_numpy(kspace_truncate(np.roll(sr, 1, axis=axis), Scale(2, 2, 2))), target)
        assert aligned > shifted + 8.0


def test_a_trained_cell_super_resolves_the_scan(monkeypatch, capsys, tmp_path, udean_cell):
    out = tmp_path / "udean.nii.gz"
    code, stdout, err = bench(
        monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--run", str(udean_cell), "--device", "cpu"
    )
    assert code == 0, err
    assert "udean 2x2x2 (tiny profile)" in stdout
    given, written = nib.load(ANATOMICAL), nib.load(out)
    assert written.shape == (66, 82, 50)
    np.testing.assert_allclose(written.affine, given.affine @ HALF)
    assert written.get_data_dtype() == given.get_data_dtype()
    lr = given.get_fdata()
    low, high = lr.min(), lr.max()
    sr = unit(written.get_fdata(), low, high)
    target = torch.from_numpy(unit(lr, low, high))
    aligned = psnr(torch.from_numpy(kspace_truncate(sr, Scale(2, 2, 2))), target)
    shifted = max(
        psnr(torch.from_numpy(kspace_truncate(np.roll(sr, 1, axis=axis), Scale(2, 2, 2))), target) for axis in range(3)
    )
    assert aligned > 30.0 and aligned > shifted + 3.0


def test_a_folder_of_scans_gives_a_folder_of_outputs(monkeypatch, capsys, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    nib.save(nib.load(ANATOMICAL), inputs / "anatomical.nii")
    crop = np.asarray(nib.load(ANATOMICAL).dataobj, dtype=np.float32)[4:24, 6:30, 2:20]
    nib.save(nib.Nifti1Image(crop, np.diag([1.5, 1.5, 1.5, 1.0])), inputs / "crop.nii.gz")
    (inputs / "notes.txt").write_text("not a scan")
    code, _, err = bench(monkeypatch, capsys, "infer", str(inputs), str(tmp_path / "out"), "--method", "tricubic")
    assert code == 0, err
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["anatomical.nii", "crop.nii.gz"]
    written = nib.load(tmp_path / "out" / "crop.nii.gz")
    assert written.shape == (40, 48, 36)
    assert written.get_data_dtype() == np.float32
    np.testing.assert_allclose(written.affine, np.diag([0.75, 0.75, 0.75, 1.0]))


@pytest.mark.parametrize(
    ("sizes", "scale", "expected"),
    [
        ((1.0, 1.0, 1.0), Scale(2, 2, 2), 2),  # nothing stands out: the file's axis 2
        ((3.0, 1.0, 1.0), Scale(2, 2, 2), 0),  # thick sagittal slices: coarse axis
        ((1.0, 1.0, 5.0), Scale(1, 1, 4), 2),
        ((1.0, 4.0, 1.0), Scale(1, 1, 4), 1),
        ((0.7, 1.4, 1.4), Scale(2, 2, 1), 0),  # 2x2x1 LR: the fine axis is through-plane
        ((1.4, 1.4, 0.7), Scale(2, 2, 1), 2),
        ((1.0, 1.05, 1.0), Scale(2, 2, 2), 2),  # 5 % is not anisotropy
    ],
)
def test_the_slab_axis_follows_the_scale(sizes, scale, expected):
    assert slab_axis(sizes, scale) == expected
    order = slab_axis_order(sizes, scale)
    assert order[2] == expected and sorted(order) == [0, 1, 2]


def test_a_scan_with_thick_slices_along_axis_0_is_turned_and_turned_back(monkeypatch, capsys, tmp_path, udean_cell):
    scan = tmp_path / "sagittal.nii.gz"
    data = smooth_volume((8, 20, 18), 3) * 1000
    nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([3.0, 1.0, 1.0, 1.0])), scan)
    code, stdout, err = bench(
        monkeypatch, capsys, "infer", str(scan), str(tmp_path / "out.nii.gz"), "--run", str(udean_cell)
    )
    assert code == 0, err
    written = nib.load(tmp_path / "out.nii.gz")
    assert written.shape == (16, 40, 36)
    np.testing.assert_allclose(written.affine, np.diag([1.5, 0.5, 0.5, 1.0]))
    row = next(line for line in stdout.splitlines() if "out.nii.gz" in line)
    assert [cell.strip() for cell in row.split("│") if cell.strip()][-1] == "0"  # the slab axis column


def test_scale_2x2x1_keeps_the_fine_axis_and_slab_axis_overrides(monkeypatch, capsys, tmp_path):
    scan = tmp_path / "lr.nii"
    nib.save(nib.Nifti1Image(smooth_volume((6, 10, 12), 1), np.diag([0.7, 1.4, 1.4, 1.0])), scan)
    code, _, err = bench(
        monkeypatch, capsys, "infer", str(scan), str(tmp_path / "a.nii"), "--method", "tricubic", "--scale", "2x2x1"
    )
    assert code == 0, err
    assert nib.load(tmp_path / "a.nii").shape == (6, 20, 24)
    code, _, err = bench(
        monkeypatch,
        capsys,
        *["infer", str(scan), str(tmp_path / "b.nii"), "--method", "tricubic", "--scale", "2x2x1"],
        *["--slab-axis", "2"],
    )
    assert code == 0, err
    written = nib.load(tmp_path / "b.nii")
    assert written.shape == (12, 20, 12)
    np.testing.assert_allclose(written.affine, np.diag([0.35, 0.7, 1.4, 1.0]))


def test_zssr_trains_on_the_scan_itself(monkeypatch, capsys, tmp_path):
    scan = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(smooth_volume((12, 12, 8), 5) * 300, np.eye(4)), scan)
    code, _, err = bench(
        monkeypatch,
        capsys,
        *["infer", str(scan), str(tmp_path / "zssr.nii.gz"), "--method", "zssr", "--profile", "tiny"],
        *["--set", "zssr_steps=4"],
    )
    assert code == 0, err
    assert nib.load(tmp_path / "zssr.nii.gz").shape == (24, 24, 16)


def test_tiled_inference_reports_each_batch_of_tiles():
    seen: list[tuple[int, int]] = []
    super_resolve_tiled(
        lambda tiles: tiles.repeat_interleave(2, 2).repeat_interleave(2, 3).repeat_interleave(2, 4),
        torch.rand(10, 10, 6),
        Scale(2, 2, 2),
        tile=(4, 4, 3),
        step=(3, 3, 1),
        batch_size=5,
        on_tiles=lambda done, total: seen.append((done, total)),
    )
    totals = {total for _, total in seen}
    assert len(totals) == 1
    assert seen[-1][0] == seen[-1][1] and [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--method", "udean"], "learns from training data"),
        (["--method", "tricubic", "--run", "somewhere"], "exactly one of --run"),
        ([], "exactly one of --run"),
        (["--method", "nonexistent"], "nonexistent"),
        (["--method", "tricubic", "--slab-axis", "3"], "--slab-axis"),
        (["--run", "no-such-cell"], "is not a folder"),
    ],
)
def test_user_mistakes_end_in_one_sentence(monkeypatch, capsys, tmp_path, args, fragment):
    code, _, err = bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(tmp_path / "o.nii"), *args)
    assert code == 2
    assert fragment in assert_one_sentence(err)


def test_a_cell_of_another_revision_says_so(monkeypatch, capsys, tmp_path, udean_cell):
    from methods.udean import UDEAN

    monkeypatch.setattr(UDEAN, "revision", UDEAN.revision + 1)
    out = tmp_path / "udean.nii.gz"
    code, stdout, err = bench(
        monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--run", str(udean_cell), "--device", "cpu"
    )
    assert code == 0, err
    text = " ".join(stdout.split())
    assert f"trained by revision {UDEAN.revision - 1} of udean; this harness has revision {UDEAN.revision}" in text


def test_a_cell_without_weights_is_refused(monkeypatch, capsys, tmp_path, udean_cell):
    broken = tmp_path / "seed0"
    broken.mkdir()
    (broken / "config.json").write_text((udean_cell / "config.json").read_text())
    code, _, err = bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(tmp_path / "o.nii"), "--run", str(broken))
    assert code == 2
    assert "has no model.pt" in assert_one_sentence(err)


def test_outputs_are_not_overwritten_unless_asked(monkeypatch, capsys, tmp_path):
    out = tmp_path / "sr.nii"
    out.write_bytes(b"finished work")
    code, _, err = bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--method", "tricubic")
    assert code == 2 and "--overwrite" in assert_one_sentence(err)
    assert out.read_bytes() == b"finished work"
    code, _, err = bench(monkeypatch, capsys, "infer", str(ANATOMICAL), str(out), "--method", "tricubic", "--overwrite")
    assert code == 0, err
    assert nib.load(out).shape == (66, 82, 50)


def test_a_scan_that_cannot_be_handled_is_named_and_the_others_go_on(monkeypatch, capsys, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    nib.save(nib.Nifti1Image(smooth_volume((10, 10, 2), 0), np.eye(4)), inputs / "flat.nii")
    nib.save(nib.Nifti1Image(np.zeros((6, 6, 6, 3), np.float32), np.eye(4)), inputs / "series.nii")
    nib.save(nib.Nifti1Image(smooth_volume((8, 8, 6), 1), np.eye(4)), inputs / "good.nii")
    code, _, err = bench(monkeypatch, capsys, "infer", str(inputs), str(tmp_path / "out"), "--method", "tricubic")
    assert code == 1
    assert "flat.nii" in err and "at least 3 voxels" in err
    assert "series.nii" in err and "one 3D volume" in err
    assert "Traceback" not in err
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["good.nii"]
