"""The Slurm executor against a real single-node Slurm (slow tier): munge, slurmctld, slurmd, and slurmdbd.

Each class starts its own cluster (:mod:`tests.slurm_cluster`, Debian's ``slurm-wlm`` 22.05) and
stops it at its end; ``make test`` installs the packages where it can (``tests/install_slurm.sh``).
Where Slurm cannot be started the tests fail in one sentence naming what is missing; they are
skipped only when asked, with ``BENCH_REAL_SLURM=0``.

* Without accounting, ``squeue`` lists ended tasks for 300 s (``MinJobAge``, Slurm's default):
  the tiny matrix, cancelled mid-fit and resumed, ends byte for byte as ``--executor inline``;
  a CPU-only node needs no GPU option; an sbatch refusal is one sentence.
* Without accounting and with ``MinJobAge=2``, an ended task leaves ``squeue`` at once and the
  harness knows it only from its log: an out-of-memory kill is still named.
* With accounting (``MinJobAge=2`` again, so that ``sacct`` is what answers): an out-of-memory
  kill and a cancellation are named.

Every ``--wait`` must end within :data:`WAIT_BOUND` seconds of the event that ends its task.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmark.app.executors.matrix_status import matrix_status
from tests.slurm_cluster import SlurmCluster, SlurmUnavailableError

pytestmark = pytest.mark.slow

WAIT_BOUND = 90.0
"""Seconds within which ``bench run --wait`` must end once Slurm has ended its last task."""

MATRIX = ["--methods", "supervised,tricubic", "--dataset", "demo-small", "--setting", "misaligned"]
LONG_FIT = ["--profile", "tiny", "--threads", "1", "--set", "steps_per_epoch=2400", "--set", "checkpoint_every=20"]
"""Supervised for 2,400 steps without validation on the way: long enough to be cancelled mid-fit.

A cancelled task ends only ``KillWait`` (2 s) after ``scancel``, as submitit's task ignores the
SIGTERM that comes first.  At 600 steps, a 2-core CI machine (about 5 ms a step) finished the fit
in that time; 2,400 steps leave it about 10 s after the first checkpoint.
"""
LONG_FIT += ["--set", "val_every=10000"]


def _cluster(tmp_path_factory: pytest.TempPathFactory, accounting: bool, min_job_age: int) -> Iterator[SlurmCluster]:
    if os.environ.get("BENCH_REAL_SLURM") == "0":
        pytest.skip("BENCH_REAL_SLURM=0 asked to leave out the real-Slurm tests.")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), accounting=accounting, min_job_age=min_job_age)
    try:
        cluster.start()
    except SlurmUnavailableError as error:
        pytest.fail(f"cannot start the test Slurm: {error}", pytrace=False)
    previous = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.environment())
    try:
        yield cluster
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def bench(cache: Path, *args: str, background: bool = False) -> subprocess.Popen | tuple[int, str]:
    """``bench`` in a process of its own (Slurm's tasks outlive any one call); ``(exit status, output)``."""
    code = "import sys; from benchmark.app.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
    env = {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "COLUMNS": "250"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if background:
        return process
    out, _ = process.communicate(timeout=600)
    return process.returncode, out


def _slurm_run(cache: Path, runs: Path, *extra: str, background: bool = False):
    return bench(
        cache,
        "run",
        *MATRIX,
        *LONG_FIT,
        "--runs-dir",
        str(runs),
        "--executor",
        "slurm",
        "--wait",
        *extra,
        background=background,
    )


def _first_checkpoint(runs: Path, process: subprocess.Popen, seconds: float = 300) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(runs.glob("demo-small/*/misaligned/supervised/*/*/seed0/checkpoints/last.pt"))
        if found:
            return found[0]
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint after {seconds} s")


def _cancel_mid_fit(cluster: SlurmCluster, runs: Path) -> None:
    """``scancel`` everything, then check that the supervised fit was really cut short."""
    cluster.cancel_all()
    finished = list(runs.glob("demo-small/*/misaligned/supervised/*/*/seed0/DONE"))
    assert not finished, "the fit ended before it was cancelled: lengthen LONG_FIT for this machine"


def _ended_within_bound(process: subprocess.Popen, since: float) -> tuple[int, str]:
    out, _ = process.communicate(timeout=WAIT_BOUND + 60)
    waited = time.monotonic() - since
    assert waited < WAIT_BOUND, f"--wait took {waited:.0f} s after its tasks ended:\n{out}"
    return process.returncode, out


def _error_file(runs: Path, method: str) -> Path:
    (found,) = runs.glob(f"demo-small/*/*/{method}/*/*/seed0/error.txt")
    return found


# ------------------------------------------------------------------------------------------------ no accounting
@pytest.fixture(scope="class")
def plain_slurm(tmp_path_factory) -> Iterator[SlurmCluster]:
    yield from _cluster(tmp_path_factory, accounting=False, min_job_age=300)


class TestWithoutAccounting:
    def test_cancelled_mid_fit_it_resumes_to_the_inline_results(self, plain_slurm, cache, tmp_path):
        code, out = bench(cache, "run", *MATRIX, *LONG_FIT, "--runs-dir", str(tmp_path / "inline"))
        assert code == 0, out
        runs = tmp_path / "slurm"
        # One task at a time: the second waits in the queue while the first trains.
        process = _slurm_run(cache, runs, "--slurm-parallelism", "1", background=True)
        _first_checkpoint(runs, process)
        rows = {row.label.split()[3]: row for row in matrix_status(runs)}  # bench status, during the run
        assert set(rows) == {"supervised", "tricubic"}
        assert rows["supervised"].state.state == "running" and rows["tricubic"].state.state == "pending"
        assert all(row.job_id for row in rows.values())
        _cancel_mid_fit(plain_slurm, runs)
        code, out = _ended_within_bound(process, time.monotonic())
        assert code == 1 and "CANCELLED" in out, out
        assert "CANCELLED" in _error_file(runs, "supervised").read_text()
        # The same command again: the cancelled fit resumes from its checkpoint.
        code, out = _slurm_run(cache, runs)
        assert code == 0 and "done 2" in out, out
        assert (runs / "results.csv").read_bytes() == (tmp_path / "inline" / "results.csv").read_bytes()
        scripts = list((runs / "_slurm").glob("*.sh"))
        assert scripts and not any("gpu" in path.read_text() for path in scripts)  # a CPU node needs no GPU option

    def test_an_sbatch_refusal_is_one_sentence_naming_the_option(self, plain_slurm, cache, tmp_path):
        code, out = bench(
            cache,
            "run",
            "--methods",
            "tricubic",
            "--dataset",
            "demo-small",
            "--profile",
            "tiny",
            "--runs-dir",
            str(tmp_path),
            "--executor",
            "slurm",
            "--slurm-gpus-per-task",
            "1",
        )
        assert code == 2, out
        error = out.strip().splitlines()[-1]
        assert "sbatch refused the array" in error and "generic resource" in error and "--slurm-gpus-per-task" in error
        assert "Traceback" not in out
        assert [row.state.state for row in matrix_status(tmp_path)] == ["pending"]  # recorded before submission


@pytest.fixture(scope="class")
def forgetful_slurm(tmp_path_factory) -> Iterator[SlurmCluster]:
    yield from _cluster(tmp_path_factory, accounting=False, min_job_age=2)


class TestWithoutAccountingForgetful:
    def test_out_of_memory_is_named_from_the_log(self, forgetful_slurm, cache, tmp_path):
        _out_of_memory_is_named(cache, tmp_path)


@pytest.fixture(scope="class")
def accounting_slurm(tmp_path_factory) -> Iterator[SlurmCluster]:
    yield from _cluster(tmp_path_factory, accounting=True, min_job_age=2)


class TestWithAccounting:
    def test_out_of_memory_is_named(self, accounting_slurm, cache, tmp_path):
        _out_of_memory_is_named(cache, tmp_path)

    def test_a_cancellation_is_named(self, accounting_slurm, cache, tmp_path):
        process = _slurm_run(cache, tmp_path, "--methods", "supervised", background=True)
        _first_checkpoint(tmp_path, process)
        _cancel_mid_fit(accounting_slurm, tmp_path)
        code, out = _ended_within_bound(process, time.monotonic())
        assert code == 1 and "CANCELLED" in out, out
        assert "srun: error" not in out.splitlines()[-1]
        assert "CANCELLED" in _error_file(tmp_path, "supervised").read_text()


def _out_of_memory_is_named(cache: Path, runs: Path) -> None:
    args = ["run", "--methods", "tricubic", "--dataset", "demo-small", "--profile", "tiny", "--runs-dir", str(runs)]
    process = bench(cache, *args, "--executor", "slurm", "--slurm-mem", "100M", "--wait", background=True)
    code, out = _ended_within_bound(process, time.monotonic())  # the task is killed within seconds of starting
    assert code == 1 and "OUT_OF_MEMORY" in out and "--slurm-mem" in out, out
    error = _error_file(runs, "tricubic")
    assert "OUT_OF_MEMORY" in error.read_text()
    (row,) = matrix_status(runs)
    assert row.state.state == "failed" and "OUT_OF_MEMORY" in row.state.reason
