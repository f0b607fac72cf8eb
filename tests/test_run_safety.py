"""Concurrent runs, full disks, bad folders and seeds, and kills at random moments never lose or fake results."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import benchmark.app.cell_run
import benchmark.app.executors.inline
import benchmark.results.atomic_files
import benchmark.results.cell_record
from benchmark.results.cell_lock import cell_lock
from tests.test_cli import assert_one_sentence, bench, write_folder_dataset


def _args(data: Path, runs: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--methods",
        "tricubic",
        "--setting",
        "misaligned",
        "--dataset",
        "folder",
        "--profile",
        "tiny",
        "--data-root",
        str(data),
        "--runs-dir",
        str(runs),
        *extra,
    ]


def test_a_cell_held_by_another_run_is_skipped_and_said(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    code, out, _ = bench(monkeypatch, capsys, *_args(data, runs, "--list-cells"))
    assert code == 0
    # Where the cell will live: run once in another folder to learn the relative path.
    assert bench(monkeypatch, capsys, *_args(data, tmp_path / "probe"))[0] == 0
    relative = next((tmp_path / "probe").rglob("DONE")).parent.relative_to(tmp_path / "probe")
    with cell_lock(runs / relative) as held:
        assert held
        code, out, _ = bench(monkeypatch, capsys, *_args(data, runs))
    assert code == 0
    assert "another bench run" in out and "is running it" in out
    assert not (runs / relative / "DONE").exists()
    code, out, _ = bench(monkeypatch, capsys, *_args(data, runs))  # the lock is free again
    assert code == 0 and "done 1" in out


def test_lock_is_exclusive_and_released(tmp_path):
    with cell_lock(tmp_path / "cell") as first, cell_lock(tmp_path / "cell") as second:
        assert first and not second
    with cell_lock(tmp_path / "cell") as again:
        assert again


def _disk_full(path: Path, data: bytes) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_full_disk_writing_results_csv_is_one_sentence_and_keeps_the_cell(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    original = benchmark.results.atomic_files.write_atomic

    def write(path: Path, payload: bytes) -> None:
        (_disk_full if path.name == "results.csv" else original)(path, payload)

    monkeypatch.setattr(benchmark.results.atomic_files, "write_atomic", write)
    code, _, err = bench(monkeypatch, capsys, *_args(data, runs))
    assert code == 2
    assert_one_sentence(err)
    assert "disk is full" in err and "results.csv" in err
    assert len(list(runs.rglob("DONE"))) == 1  # the finished cell is kept
    monkeypatch.setattr(benchmark.results.atomic_files, "write_atomic", original)
    code, out, _ = bench(monkeypatch, capsys, *_args(data, runs))
    assert code == 0 and "already done 1" in out
    assert len(pd.read_csv(runs / "results.csv")) == 1


def test_full_disk_writing_error_txt_is_one_sentence(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"

    def failing_cell(*args, **kwargs):
        raise RuntimeError("a plugin bug")

    def full(path, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(benchmark.app.executors.inline, "run_cell", failing_cell)
    monkeypatch.setattr(benchmark.results.cell_record, "write_text", full)  # error.txt's writer (never through a link)
    code, _, err = bench(monkeypatch, capsys, *_args(data, runs))
    assert code == 2
    assert_one_sentence(err)
    assert "disk is full" in err and "error.txt" in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--split-seed", "-1"], "--split-seed must be 0 or more"),
        (["--misalign-seed", "-3"], "--misalign-seed must be 0 or more"),
        (["--set", "steps_per_epoch=0"], "steps_per_epoch must be an integer ≥ 1"),
        (["--set", "step_per_epoch=2"], "did you mean 'steps_per_epoch'"),
        (["--set", "lr_max=fast"], "lr_max must be a number > 0"),
    ],
)
def test_bad_seeds_and_settings_end_in_one_sentence(monkeypatch, capsys, tmp_path, extra, needle):
    data = write_folder_dataset(tmp_path / "data", n=4)
    code, _, err = bench(monkeypatch, capsys, *_args(data, tmp_path / "runs", *extra))
    assert code == 2
    assert_one_sentence(err)
    assert needle in err
    assert not (tmp_path / "runs").exists()  # refused before any cell started


@pytest.mark.parametrize("which", ["--runs-dir", "--cache-dir"])
def test_runs_or_cache_folder_that_is_a_file_is_one_sentence(monkeypatch, capsys, tmp_path, which):
    data = write_folder_dataset(tmp_path / "data", n=4)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    args = _args(data, tmp_path / "runs")
    if which == "--runs-dir":
        args[args.index("--runs-dir") + 1] = str(a_file)
    else:
        args += ["--cache-dir", str(a_file)]
    code, _, err = bench(monkeypatch, capsys, *args)
    assert code == 2
    assert_one_sentence(err)
    assert which in err and "is a file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_runs_folder_that_cannot_be_written_is_one_sentence(monkeypatch, capsys, tmp_path):
    data = write_folder_dataset(tmp_path / "data", n=4)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = bench(monkeypatch, capsys, *_args(data, locked))
    assert code == 2
    assert_one_sentence(err)
    assert "cannot be written" in err


# ----------------------------------------------------------------------------- kill and resume
def _bench_process(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    code = "import sys; from benchmark.app.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_kills_at_random_moments_end_in_the_uninterrupted_results(tmp_path):
    """SIGKILL a run at random moments, rerun until it finishes: the table equals an uninterrupted run's."""
    data = write_folder_dataset(tmp_path / "data", n=8, shape=(24, 24, 12))
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}

    def args(runs: Path) -> list[str]:
        return [
            *["run", "--methods", "supervised,tricubic", "--setting", "misaligned", "--scale", "2x2x1,2x2x2"],
            *["--dataset", "folder", "--data-root", str(data), "--profile", "tiny", "--threads", "1"],
            *["--set", "steps_per_epoch=30", "--set", "checkpoint_every=4", "--runs-dir", str(runs)],
        ]

    reference, killed = tmp_path / "reference", tmp_path / "killed"
    started = time.perf_counter()
    assert _bench_process(args(reference), env).wait(timeout=300) == 0
    duration = time.perf_counter() - started
    rng = random.Random(20261126)
    kills = 0
    for _ in range(4):
        process = _bench_process(args(killed), env)
        time.sleep(rng.uniform(0.3, 0.9) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=300)
    assert kills >= 2
    assert _bench_process(args(killed), env).wait(timeout=300) == 0
    expected = pd.read_csv(reference / "results.csv", keep_default_na=False)
    got = pd.read_csv(killed / "results.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(got, expected)
    assert not [path for path in killed.rglob(".*") if path.name != ".lock"]  # no temporaries left behind
