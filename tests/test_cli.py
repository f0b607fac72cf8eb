"""The `bench` command end to end on tiny data: listing, running, resuming, reporting and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from benchmark.app.cli import main
from tests.conftest import smooth_volume


def bench(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``bench *args`` in-process; returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    monkeypatch.setenv("COLUMNS", "1000")  # one sentence stays one line, however long the tmp path
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), out, err


def write_folder_dataset(root: Path, n: int = 10, shape=(24, 24, 16)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        data = smooth_volume(shape, index) * 800.0
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])), root / f"sub{index:02d}.nii.gz")
    return root


def assert_one_sentence(err: str) -> str:
    """Check that ``err`` is one line ``error: ….`` without a traceback; returns it."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and lines[0].rstrip().endswith(".")
    return lines[0]


def test_list_shows_methods_and_datasets(monkeypatch, capsys):
    code, out, _ = bench(monkeypatch, capsys, "list", "--verbose")
    assert code == 0
    for name in ("tricubic", "supervised", "demo", "hcp", "brats", "folder", "kspace", "quick", "TS-RCAN"):
        assert name in out


def test_run_resume_and_report(monkeypatch, capsys, tmp_path):
    data = write_folder_dataset(tmp_path / "data")
    runs = tmp_path / "runs"
    common = ["--dataset", "folder", "--data-root", str(data), "--runs-dir", str(runs), "--profile", "tiny"]
    args = ["run", "--methods", "tricubic", "--scale", "2x2x1,2x2x2", "--setting", "misaligned,unpaired", *common]
    code, out, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    cells = sorted(p.parent for p in runs.rglob("DONE"))
    assert [c.relative_to(runs).parts[:4] for c in cells] == [
        ("folder", "2x2x1", "na", "tricubic"),
        ("folder", "2x2x2", "na", "tricubic"),
    ]
    first = pd.read_csv(runs / "results.csv", keep_default_na=False)
    assert set(first["scale"]) == {"2x2x1", "2x2x2"} and (first["setting"] == "n/a").all()
    stamps = {c: (c / "DONE").stat().st_mtime_ns for c in cells}

    code, out, _ = bench(monkeypatch, capsys, *args)  # every cell is done: nothing runs again
    assert code == 0 and "done 0, already done 2" in out
    assert stamps == {c: (c / "DONE").stat().st_mtime_ns for c in cells}
    pd.testing.assert_frame_equal(first, pd.read_csv(runs / "results.csv", keep_default_na=False))

    code, out, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 0, err
    report = runs / "report"
    for name in ("table2.tex", "table2.md", "table2.csv", "paper_comparison.csv"):
        assert (report / name).is_file()
    assert list((report / "figures").glob("*axial*.png")) and list((report / "figures").glob("*sagittal*.png"))


def test_same_cell_twice_gives_identical_metrics(monkeypatch, capsys, tmp_path):
    data = write_folder_dataset(tmp_path / "data")
    frames = []
    for name in ("a", "b"):
        runs = tmp_path / name
        args = ["run", "--methods", "supervised", "--setting", "misaligned", "--dataset", "folder"]
        code, _, err = bench(
            monkeypatch, capsys, *args, "--data-root", str(data), "--runs-dir", str(runs), "--profile", "tiny"
        )
        assert code == 0, err
        frames.append(pd.read_csv(runs / "results.csv", keep_default_na=False))
    pd.testing.assert_frame_equal(frames[0], frames[1])


def bad_volume(tmp_path: Path, name: str, data: np.ndarray) -> Path:
    root = write_folder_dataset(tmp_path / "bad", n=9)
    nib.save(nib.Nifti1Image(data, np.eye(4)), root / f"{name}.nii.gz")
    return root


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--methods", "nope"], "unknown method 'nope'"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--scale", "2x2"], "scale '2x2'"),
        (["--scale", "0x2x2"], "scale '0x2x2'"),
        (["--scale", "1.5x2x2"], "scale '1.5x2x2'"),
        (["--setting", "aligned"], "unknown setting 'aligned'"),
        (["--profile", "huge"], "unknown profile 'huge'"),
        (["--device", "cuda:7"], "cuda:7"),
        (["--dataset", "hcp"], "needs --data-root"),
        (["--dataset", "brats", "--data-root", "/no/such/folder"], "/no/such/folder"),
    ],
)
def test_bad_arguments_end_in_one_sentence(monkeypatch, capsys, tmp_path, args, needle):
    code, _, err = bench(monkeypatch, capsys, "run", "--methods", "tricubic", "--runs-dir", str(tmp_path), *args)
    assert code == 2
    assert_one_sentence(err)
    assert needle in err


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("four_d", np.random.default_rng(0).random((24, 24, 16, 3)).astype(np.float32), "3D volume"),
        ("two_d", np.random.default_rng(0).random((24, 24)).astype(np.float32), "3D volume"),
        ("nans", np.full((24, 24, 16), np.nan, dtype=np.float32), "NaN"),
    ],
)
def test_bad_volumes_end_in_one_sentence_and_keep_results(monkeypatch, capsys, tmp_path, name, data, needle):
    good = write_folder_dataset(tmp_path / "good")
    runs = tmp_path / "runs"
    base = ["run", "--methods", "tricubic", "--dataset", "folder", "--profile", "tiny", "--runs-dir", str(runs)]
    assert bench(monkeypatch, capsys, *base, "--data-root", str(good))[0] == 0
    before = (runs / "results.csv").read_bytes()
    done = sorted(p.read_bytes() for p in runs.rglob("DONE"))

    root = bad_volume(tmp_path, name, data)
    code, _, err = bench(monkeypatch, capsys, *base, "--data-root", str(root))
    assert code == 2
    assert_one_sentence(err)
    assert needle in err and name in err
    assert (runs / "results.csv").read_bytes() == before
    assert sorted(p.read_bytes() for p in runs.rglob("DONE")) == done


def test_folder_without_nifti_and_volume_smaller_than_a_patch(monkeypatch, capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no volumes here")
    base = ["run", "--methods", "tricubic", "--dataset", "folder", "--runs-dir", str(tmp_path / "runs")]
    code, _, err = bench(monkeypatch, capsys, *base, "--data-root", str(empty))
    assert code == 2
    assert_one_sentence(err)

    small = write_folder_dataset(tmp_path / "small", shape=(12, 12, 12))
    code, _, err = bench(monkeypatch, capsys, *base, "--data-root", str(small), "--profile", "quick")
    assert code == 2
    assert_one_sentence(err)
    assert "patch" in err


def test_report_without_results_is_one_sentence(monkeypatch, capsys, tmp_path):
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(tmp_path / "nothing"))
    assert code == 2
    assert_one_sentence(err)


def test_cells_finished_by_another_commit_are_kept_with_a_note(monkeypatch, capsys, tmp_path):
    import json

    from benchmark.environment import harness_commit

    if harness_commit() is None:
        pytest.skip("the harness does not run from a git checkout here")
    data = write_folder_dataset(tmp_path / "data")
    runs = tmp_path / "runs"
    args = ["run", "--methods", "tricubic", "--dataset", "folder", "--data-root", str(data)]
    args += ["--runs-dir", str(runs), "--profile", "tiny"]
    assert bench(monkeypatch, capsys, *args)[0] == 0
    (cell,) = [p.parent for p in runs.rglob("DONE")]
    code, out, _ = bench(monkeypatch, capsys, *args)
    assert code == 0 and "note:" not in out  # same commit: nothing to say

    environment = json.loads((cell / "environment.json").read_text())
    environment["git_commit"] = "0123456789ab"
    (cell / "environment.json").write_text(json.dumps(environment))
    done = (cell / "DONE").read_bytes()
    code, out, _ = bench(monkeypatch, capsys, *args)
    assert code == 0 and "already done 1" in out
    assert "note: 1 finished cell(s) were made by harness commit 0123456789ab" in " ".join(out.split())
    assert (cell / "DONE").read_bytes() == done  # kept, not rerun


def test_same_commit_ignores_dirty_and_unknown():
    from benchmark.environment import same_commit

    assert same_commit("abc123-dirty", "abc123")
    assert same_commit(None, "abc123") and same_commit("abc123", None)
    assert not same_commit("abc123", "def456")
