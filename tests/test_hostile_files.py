"""Hostile files (issue 24): links planted in a cell folder, scans that overflow float32, complex scans,
an SR with non-finite voxels, a DONE marker with a bad row count, the mode of atomically written files.

Each test failed before its fix: ``bench run`` wrote through planted links (truncating, overwriting
or appending to their targets outside the results folder), ``bench infer`` wrote NaN voxels with
exit 0, a complex scan lost its imaginary part silently, a ``metrics_rows`` of ``"x"`` stopped
``bench run`` and ``bench status`` with a traceback, and atomically written files were mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from benchmark.data.nifti_read import read_nifti
from benchmark.results.atomic_files import write_atomic
from tests.test_cli import assert_one_sentence, bench, write_folder_dataset


def _run_args(data: Path, runs: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--methods",
        "supervised",
        "--dataset",
        "folder",
        "--data-root",
        str(data),
        "--setting",
        "misaligned",
        "--profile",
        "tiny",
        "--runs-dir",
        str(runs),
        *extra,
    ]


@pytest.fixture
def finished_cell(monkeypatch, capsys, tmp_path: Path) -> tuple[list[str], Path]:
    """A finished tiny supervised cell: the run's arguments and the cell's folder."""
    args = _run_args(write_folder_dataset(tmp_path / "data"), tmp_path / "runs")
    code, _, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    (done,) = (tmp_path / "runs").rglob("DONE")
    return args, done.parent


@pytest.mark.parametrize("name", [".lock", "model.pt", "log.txt", "error.txt"])
def test_bench_run_never_writes_through_a_link_in_a_cell_folder(monkeypatch, capsys, tmp_path, finished_cell, name):
    args, cell = finished_cell
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (cell / "DONE").unlink()  # the cell must run again
    (cell / name).unlink(missing_ok=True)
    (cell / name).symlink_to(outside)
    code, out, err = bench(monkeypatch, capsys, *args)
    assert outside.read_text() == "keep me\n"
    assert code == 1
    assert f"{cell / name} is a symbolic link" in out + err
    assert (cell / name).is_symlink()


def test_the_local_queue_never_writes_through_a_linked_process_log(monkeypatch, capsys, tmp_path, finished_cell):
    args, cell = finished_cell
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    (cell / "DONE").unlink()
    (cell / "process.log").symlink_to(outside)
    code, out, err = bench(monkeypatch, capsys, *args, "--executor", "local", "--workers", "1")
    assert outside.read_text() == "keep me\n"
    assert code == 1 and "process.log is a symbolic link" in out + err


def test_a_done_marker_with_a_bad_row_count_is_a_damaged_cell_not_a_traceback(monkeypatch, capsys, finished_cell):
    args, cell = finished_cell
    done = json.loads((cell / "DONE").read_text())
    (cell / "DONE").write_text(json.dumps({**done, "metrics_rows": "x"}))
    code, out, err = bench(monkeypatch, capsys, "status", "--runs-dir", str(cell.parents[6]))
    assert code == 0 and "Traceback" not in out + err and "metrics_rows" in out
    code, out, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "damaged" in out and json.loads((cell / "DONE").read_text())["metrics_rows"] != "x"  # it reran


def test_atomic_files_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "results.csv", b"a\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "results.csv").stat().st_mode) == 0o644


# ------------------------------------------------------------------------ scans that bench infer is given
def _scan(path: Path, data: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def _extreme(shape=(16, 16, 12)) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.random(shape).astype(np.float32)
    data[0, 0, 0], data[-1, -1, -1] = 3e38, -3e38
    return data


def test_a_scan_whose_range_overflows_float32_scales_to_finite_unit_values(tmp_path: Path) -> None:
    unit = read_nifti(_scan(tmp_path / "extreme.nii", _extreme())).unit_range()
    assert unit.dtype == np.float32 and np.isfinite(unit).all()
    assert unit.min() == 0.0 and unit.max() == 1.0


def test_bench_infer_of_an_extreme_scan_writes_only_finite_voxels(monkeypatch, capsys, tmp_path: Path) -> None:
    source = _scan(tmp_path / "extreme.nii", _extreme())
    out = tmp_path / "sr.nii"
    code, _, err = bench(monkeypatch, capsys, "infer", str(source), str(out), "--method", "tricubic")
    assert code == 0, err
    values = np.asarray(nib.load(out).dataobj)
    assert np.isfinite(values).all()
    assert values.min() >= -3e38 and values.max() <= 3e38


def test_bench_infer_outputs_follow_the_umask(monkeypatch, capsys, tmp_path: Path) -> None:
    """Its temporary file came from mkstemp (0600) and nib.save kept that mode: others could not read the SR."""
    source = _scan(tmp_path / "scan.nii.gz", np.random.default_rng(1).random((16, 16, 12)).astype(np.float32))
    previous = os.umask(0o022)
    try:
        code, _, err = bench(
            monkeypatch, capsys, "infer", str(source), str(tmp_path / "sr.nii.gz"), "--method", "tricubic"
        )
    finally:
        os.umask(previous)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "sr.nii.gz").stat().st_mode) == 0o644


def test_a_complex_scan_is_refused_in_one_sentence(monkeypatch, capsys, tmp_path: Path) -> None:
    data = (np.random.default_rng(0).random((16, 16, 12)) * (1 + 1j)).astype(np.complex64)
    source = _scan(tmp_path / "complex.nii", data)
    out = tmp_path / "sr.nii"
    code, _, err = bench(monkeypatch, capsys, "infer", str(source), str(out), "--method", "tricubic")
    assert code != 0 and not out.exists()
    assert "complex" in err and "Traceback" not in err


def test_an_sr_with_non_finite_voxels_is_never_written(monkeypatch, capsys, tmp_path: Path) -> None:
    from methods.tricubic import Tricubic

    def broken(self, lr: torch.Tensor) -> torch.Tensor:
        sr = torch.zeros(tuple(2 * n for n in lr.shape))
        sr[1, 1, 1] = float("nan")
        return sr

    monkeypatch.setattr(Tricubic, "super_resolve", broken)
    source = _scan(tmp_path / "scan.nii", np.random.default_rng(0).random((16, 16, 12)).astype(np.float32))
    out = tmp_path / "sr.nii"
    code, out_text, err = bench(monkeypatch, capsys, "infer", str(source), str(out), "--method", "tricubic")
    assert code != 0 and not out.exists()
    assert "1 NaN or infinite voxels" in out_text + err
    assert_one_sentence_somewhere(out_text + err)


def assert_one_sentence_somewhere(text: str) -> None:
    """No traceback, and the reason is one line."""
    assert "Traceback" not in text
    assert any(line.strip().endswith(".") and "NaN" in line for line in text.splitlines())


def test_the_complex_refusal_is_one_sentence_for_a_dataset_too(tmp_path: Path) -> None:
    from benchmark.errors import BenchError

    data = (np.random.default_rng(0).random((16, 16, 12)) * (1 + 1j)).astype(np.complex64)
    with pytest.raises(BenchError) as refused:
        read_nifti(_scan(tmp_path / "complex.nii", data))
    assert_one_sentence(f"error: {refused.value}")


# ------------------------------------------------------------------------ command-line mistakes
@pytest.mark.parametrize("seeds", ["-1", str(2**64), "", "0,-3"])
def test_bad_seeds_are_refused_before_any_cell_starts(monkeypatch, capsys, tmp_path: Path, seeds: str) -> None:
    runs = tmp_path / "runs"
    code, _, err = bench(monkeypatch, capsys, "run", "--methods", "tricubic", "--seed", seeds, "--runs-dir", str(runs))
    assert code == 2
    assert "seed" in assert_one_sentence(err)
    assert not list(runs.rglob("seed*"))


@pytest.mark.parametrize(
    "option", [["--scale", "2x2x1"], ["--profile", "quick"], ["--set", "zssr_steps=4"], ["--seed", "3"]]
)
def test_bench_infer_refuses_method_options_with_a_cell(monkeypatch, capsys, tmp_path: Path, option) -> None:
    source = _scan(tmp_path / "scan.nii", np.random.default_rng(0).random((16, 16, 12)).astype(np.float32))
    code, _, err = bench(
        monkeypatch, capsys, "infer", str(source), str(tmp_path / "o.nii"), "--run", str(tmp_path), *option
    )
    assert code == 2
    assert f"{option[0]} belong to --method" in assert_one_sentence(err)


# ------------------------------------------------------------------------ bench report on damaged stores
def _edit_results(runs: Path, edit) -> None:
    import pandas as pd

    table = pd.read_csv(runs / "results.csv", keep_default_na=False, dtype=str)
    edit(table).to_csv(runs / "results.csv", index=False)


def test_bench_report_refuses_a_non_numeric_metric(monkeypatch, capsys, finished_cell) -> None:
    _, cell = finished_cell
    runs = cell.parents[6]

    def spoil(table):
        table.loc[0, "psnr"] = "fast"
        return table

    _edit_results(runs, spoil)
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 2 and "'fast' in column psnr" in assert_one_sentence(err)


def test_bench_report_refuses_a_missing_metric_column(monkeypatch, capsys, finished_cell) -> None:
    _, cell = finished_cell
    runs = cell.parents[6]
    _edit_results(runs, lambda table: table.drop(columns=["psnr"]))
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 2 and "lacks the metric column(s) psnr" in assert_one_sentence(err)


def test_bench_report_leaves_out_a_damaged_slices_file_and_says_so(monkeypatch, capsys, finished_cell) -> None:
    _, cell = finished_cell
    runs = cell.parents[6]
    (cell / "slices.npz").write_bytes(b"not a zip file")
    code, out, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 0, err
    assert f"{cell / 'slices.npz'} cannot be read" in out
    assert (runs / "report" / "table2.md").is_file()


# ------------------------------------------------------------------------ bench infer checks before work
def test_an_output_under_a_file_is_refused_before_inference(monkeypatch, capsys, tmp_path: Path) -> None:
    source = _scan(tmp_path / "scan.nii", np.random.default_rng(0).random((16, 16, 12)).astype(np.float32))
    (tmp_path / "file").write_text("x")
    called = []
    monkeypatch.setattr("benchmark.app.infer.scan_infer_command.super_resolve_scan", lambda *a, **k: called.append(1))
    code, _, err = bench(
        monkeypatch, capsys, "infer", str(source), str(tmp_path / "file" / "o.nii"), "--method", "tricubic"
    )
    assert code == 2 and not called
    assert f"{tmp_path / 'file'} is a file" in assert_one_sentence(err)


def test_an_sr_larger_than_memory_is_refused_before_allocating(monkeypatch, capsys, tmp_path: Path) -> None:
    source = _scan(tmp_path / "scan.nii", np.random.default_rng(0).random((33, 41, 25)).astype(np.float32))
    code, out, err = bench(
        monkeypatch,
        capsys,
        "infer",
        str(source),
        str(tmp_path / "o.nii"),
        "--method",
        "tricubic",
        "--scale",
        "64x64x64",
    )
    assert code == 1 and not (tmp_path / "o.nii").exists()
    assert "GiB of memory" in out + err and "Traceback" not in out + err


@pytest.mark.parametrize("side", [1000, 30000])
def test_a_header_claiming_more_voxels_than_the_file_holds_is_refused(tmp_path: Path, side: int) -> None:
    import struct

    from benchmark.errors import BenchError

    image = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    raw = bytearray(image.to_bytes())
    struct.pack_into("<4h", raw, 40, 3, side, side, side)  # dim[0..3] of the NIfTI-1 header
    path = tmp_path / "liar.nii"
    path.write_bytes(bytes(raw))
    with pytest.raises(BenchError) as refused:
        read_nifti(path)
    message = str(refused.value)
    assert f"claims {side} × {side} × {side} voxels" in message and "holds" in message


@pytest.mark.parametrize(("key", "value"), [("method", "tricubic"), ("precision", "fp8")])
def test_bench_infer_refuses_a_cell_whose_config_was_edited(monkeypatch, capsys, tmp_path, finished_cell, key, value):
    _, cell = finished_cell
    config = json.loads((cell / "config.json").read_text())
    (cell / "config.json").write_text(json.dumps({**config, key: value}))
    source = _scan(tmp_path / "scan.nii", np.random.default_rng(0).random((16, 16, 12)).astype(np.float32))
    code, _, err = bench(monkeypatch, capsys, "infer", str(source), str(tmp_path / "o.nii"), "--run", str(cell))
    assert code == 2 and not (tmp_path / "o.nii").exists()
    assert "cannot be trusted" in assert_one_sentence(err)


def test_a_method_setting_changes_only_that_methods_cells(monkeypatch, capsys, tmp_path: Path) -> None:
    args = ["run", "--methods", "tricubic,supervised,udean,udean-image-da", "--setting", "misaligned", "--list-cells"]
    code, out, _ = bench(monkeypatch, capsys, *args, "--set", "udean_lambda5=0.3", "--runs-dir", str(tmp_path))
    assert code == 0
    labels = {line.split("\t")[1].split()[3]: line for line in out.strip().splitlines()}
    assert "udean_lambda5=0.3" in labels["udean"] and "udean_lambda5=0.3" in labels["udean-image-da"]
    assert "udean_lambda5" not in labels["tricubic"] and "udean_lambda5" not in labels["supervised"]


def test_a_setting_given_twice_is_refused(monkeypatch, capsys, tmp_path: Path) -> None:
    code, _, err = bench(
        monkeypatch,
        capsys,
        "run",
        "--methods",
        "tricubic",
        "--set",
        "batch_size=2",
        "--set",
        "batch_size=3",
        "--runs-dir",
        str(tmp_path),
        "--list-cells",
    )
    assert code == 2 and "batch_size is given twice" in assert_one_sentence(err)


def test_a_killed_rewrite_of_the_results_table_leaves_nothing_for_good(monkeypatch, capsys, finished_cell) -> None:
    import time

    args, cell = finished_cell
    runs = cell.parents[6]
    stale, fresh = runs / ".results.csv.killed", runs / ".results.csv.writing"
    for path in (stale, fresh):
        path.write_text("dataset,scale\n")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    code, _, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    assert not stale.exists() and fresh.exists()  # another bench run may be writing a fresh one


# ------------------------------------------------------------------------ the persistent input-hash cache
def test_input_hashes_persist_across_processes_and_a_changed_file_is_hashed_again(tmp_path: Path, monkeypatch) -> None:
    from benchmark.results import inputs
    from benchmark.results.hash_cache import HashCache

    volume = tmp_path / "sub01.nii.gz"
    volume.write_bytes(b"first bytes")
    cache = tmp_path / "cache" / "input-hashes.json"
    cache.parent.mkdir()
    first = HashCache(cache)
    digest = inputs.file_record(volume, first)["sha256"]
    first.save()

    hashed: list[Path] = []
    real = inputs.file_sha256
    monkeypatch.setattr(inputs, "file_sha256", lambda path: hashed.append(path) or real(path))
    second = HashCache(cache)  # another process: reads the digest, hashes nothing
    assert inputs.file_record(volume, second)["sha256"] == digest and hashed == []
    volume.write_bytes(b"other bytes")  # edited in place: new mtime and ctime
    third = HashCache(cache)
    assert inputs.file_record(volume, third)["sha256"] != digest and hashed == [volume]
