"""Executors: `local` and `slurm` (through submitit's local executor) give the results of `inline`; `bench status`.

The tiny matrix (tricubic, supervised, UDEAN on demo-small, misaligned) runs once per executor,
and its ``results.csv`` must be byte-identical to the inline run's.  A local queue interrupted
mid-way and rerun ends in the same table.  A cell killed under the queue gets an ``error.txt``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from rich.console import Console

from benchmark.app.cell_run import RunSummary
from benchmark.app.executors.local_queue import Slot, _finish, _Running, gpu_slots, local_slots, threads_per_slot
from benchmark.app.executors.manifest import planned_cells, write_manifest
from benchmark.app.executors.matrix_status import matrix_status, wall_time_text
from benchmark.app.executors.request import RunRequest
from benchmark.app.executors.slurm_array import (
    CellJob,
    SlurmOptions,
    make_executor,
    memory_mib,
    planned_device,
    sbatch_refusal,
    slurm_options,
    task_error_line,
)
from benchmark.errors import BenchError
from benchmark.results.cell_lock import cell_lock, is_locked
from benchmark.results.cell_state import cell_state
from tests.test_cli import assert_one_sentence, bench

MATRIX = ["--methods", "tricubic,supervised,udean", "--dataset", "demo-small", "--setting", "misaligned"]
TINY = ["--profile", "tiny", "--threads", "1"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


def run_bench(runs: Path, cache: Path, *extra: str, wait: bool = True) -> subprocess.Popen | int:
    """``bench run`` of the tiny matrix as a separate process (executors start processes of their own)."""
    # Ctrl-C as a terminal gives it: a test run started in the background of a non-interactive shell
    # (nohup, `make test &`) passes SIGINT down as ignored, and Python then keeps ignoring it.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from benchmark.app.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
    )
    env = {**os.environ, "BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-c", code, "run", *MATRIX, *TINY, "--runs-dir", str(runs), *extra]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return process
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out
    return 0


@pytest.fixture(scope="module")
def inline_results(tmp_path_factory, cache) -> bytes:
    runs = tmp_path_factory.mktemp("inline")
    run_bench(runs, cache)
    return (runs / "results.csv").read_bytes()


def test_local_workers_give_the_inline_results(tmp_path, cache, inline_results):
    run_bench(tmp_path, cache, "--executor", "local", "--workers", "2")
    assert (tmp_path / "results.csv").read_bytes() == inline_results
    logs = sorted(tmp_path.rglob("process.log"))
    assert len(logs) == 3  # one process per cell
    assert all(state.state.state == "done" for state in matrix_status(tmp_path))


def test_slurm_array_through_submitit_local_gives_the_inline_results(tmp_path, cache, inline_results):
    run_bench(tmp_path, cache, "--executor", "slurm", "--slurm-cluster", "local", "--wait")
    assert (tmp_path / "results.csv").read_bytes() == inline_results
    rows = matrix_status(tmp_path)
    assert len(rows) == 3 and all(row.job_id and row.executor == "slurm" for row in rows)


def test_an_interrupted_local_queue_resumes_to_the_same_results(tmp_path, cache, inline_results):
    runs = tmp_path / "runs"
    process = run_bench(runs, cache, "--executor", "local", "--workers", "2", wait=False)
    # Interrupt once the first cell is done (tricubic), while supervised trains and UDEAN waits.
    deadline = time.monotonic() + 300
    while not list(runs.glob("**/DONE")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert "done 3" not in out, f"the queue finished before it could be interrupted: {out}"
    assert process.returncode == 130, out
    run_bench(tmp_path / "runs", cache, "--executor", "local", "--workers", "2")
    assert (tmp_path / "runs" / "results.csv").read_bytes() == inline_results


def test_a_killed_cell_process_gets_an_error_file_and_the_queue_records_it(tmp_path):
    from benchmark.profiles import load_profile
    from benchmark.results.cell import Cell
    from benchmark.scale import Scale

    cell = Cell("demo-small", Scale(2, 2, 2), "misaligned", "udean", 0, load_profile("tiny"))
    cell_dir = cell.folder(tmp_path)
    cell_dir.mkdir(parents=True)
    log = cell_dir / "process.log"
    log.write_text("training step 3 of 4\n")
    process = subprocess.Popen(["sleep", "30"])
    process.kill()
    process.wait()
    summary = RunSummary()
    item = _Running(cell, tmp_path, Slot("worker 0", "cpu"), process, log, time.perf_counter())
    _finish(item, summary, Console(quiet=True))
    assert [failed for failed, _ in summary.failed] == [cell]
    text = (cell_dir / "error.txt").read_text()
    assert "training step 3 of 4" in text and "SIGKILL" in text
    state = cell_state(cell_dir)
    assert state.state == "failed" and "SIGKILL" in state.reason


def test_slots_are_gpus_or_workers():
    assert [slot.name for slot in local_slots(None, 3, "cpu")] == ["worker 0", "worker 1", "worker 2"]
    assert all(slot.environment["CUDA_VISIBLE_DEVICES"] == "" for slot in local_slots(None, None, "cpu"))
    assert threads_per_slot(None, 2) == max(1, (os.cpu_count() or 1) // 2)
    assert threads_per_slot(3, 2) == 3
    with pytest.raises(BenchError, match="not both"):
        local_slots("0", 2, "cuda")
    with pytest.raises(BenchError, match="needs a CUDA GPU"):
        local_slots("0", None, "cpu")
    with pytest.raises(BenchError, match="at least 1"):
        local_slots(None, 0, "cpu")


def test_several_cells_share_a_gpu_with_per_gpu():
    """``--per-gpu 2`` on GPUs 0 and 1: four slots, each GPU filled once before either doubles up."""
    slots = gpu_slots([0, 1, 0], per_gpu=2)
    assert [slot.name for slot in slots] == ["gpu 0 #1", "gpu 1 #1", "gpu 0 #2", "gpu 1 #2"]
    assert [slot.environment["CUDA_VISIBLE_DEVICES"] for slot in slots] == ["0", "1", "0", "1"]
    assert all(slot.device == "cuda" for slot in slots)
    assert [slot.name for slot in gpu_slots([3])] == ["gpu 3"]
    with pytest.raises(BenchError, match="on the CPU give --workers"):
        local_slots(None, None, "cpu", per_gpu=2)
    with pytest.raises(BenchError, match="--per-gpu must be at least 1"):
        local_slots(None, None, "cuda", per_gpu=0)


def test_per_gpu_belongs_to_the_local_executor(monkeypatch, capsys, tmp_path):
    code, _, err = bench(monkeypatch, capsys, "run", *MATRIX, *TINY, "--runs-dir", str(tmp_path), "--per-gpu", "2")
    assert code == 2 and "belong to --executor local" in err
    assert_one_sentence(err)


def test_status_shows_done_running_failed_and_pending(monkeypatch, capsys, tmp_path, cache, inline_results):
    from benchmark.app.executors.request import RunRequest

    runs = tmp_path / "runs"
    run_bench(runs, cache)
    request = RunRequest(
        methods="tricubic,supervised,udean,cyclegan,dasr",
        dataset="demo-small",
        setting="misaligned",
        profile="tiny",
        runs_dir=str(runs),
        cache_dir=str(cache),
        device="cpu",
    )
    cells = request.matrix().cells
    write_manifest(runs, cells, "local", ["bench", "run"])
    failed_dir = cells[3].folder(runs)  # cyclegan
    failed_dir.mkdir(parents=True)
    (failed_dir / "config.json").write_text("{}")
    (failed_dir / "error.txt").write_text("Traceback …\nRuntimeError: CUDA out of memory\n")
    running_dir = cells[4].folder(runs)  # dasr
    with cell_lock(running_dir) as held:
        assert held and is_locked(running_dir)
        (running_dir / "config.json").write_text("{}")
        states = {row.label.split()[3]: row.state for row in matrix_status(runs)}
        code, out, err = bench(monkeypatch, capsys, "status", "--runs-dir", str(runs))
    assert not is_locked(running_dir)
    assert {name: state.state for name, state in states.items()} == {
        "tricubic": "done",
        "supervised": "done",
        "udean": "done",
        "cyclegan": "failed",
        "dasr": "running",
    }
    assert states["cyclegan"].reason == "RuntimeError: CUDA out of memory"
    assert states["dasr"].seconds is not None
    assert code == 0, err
    assert "RuntimeError: CUDA out of memory" in out
    assert "done 3, running 1, failed 1, pending 0 (of 5 cells)" in out
    (failed_dir / "error.txt").unlink()
    assert cell_state(failed_dir).state == "pending"
    code, out, _ = bench(monkeypatch, capsys, "status", "--runs-dir", str(runs), "--state", "pending")
    assert "cyclegan" in out and "tricubic" not in out


def test_status_of_a_missing_folder_is_one_sentence(monkeypatch, capsys, tmp_path):
    code, _, err = bench(monkeypatch, capsys, "status", "--runs-dir", str(tmp_path / "nothing"))
    assert code == 2 and "does not exist" in assert_one_sentence(err)


def test_manifests_are_kept_per_matrix(tmp_path, cache):
    request = RunRequest(methods="tricubic", dataset="demo-small", profile="tiny", runs_dir=str(tmp_path))
    cells = request.matrix(make_folders=False).cells
    write_manifest(tmp_path, cells, "inline", ["bench"])
    write_manifest(tmp_path, cells, "slurm", ["bench"], {0: "123_0"})
    planned = planned_cells(tmp_path)
    assert len(planned) == 1 and planned[0].executor == "slurm" and planned[0].job_id == "123_0"


def test_wall_times_read_as_people_write_them():
    assert wall_time_text(None) == "–"
    assert wall_time_text(42.4) == "42 s"
    assert wall_time_text(725) == "12 min 5 s"
    assert wall_time_text(3 * 3600 + 240) == "3 h 04 min"


def test_slurm_options_come_from_a_file_and_the_command_line_wins(tmp_path):
    config = tmp_path / "slurm.toml"
    config.write_text('partition = "gpu"\ntime = 120\narray_parallelism = 4\n[sbatch]\naccount = "lab"\n')
    options = slurm_options(config, {"time": 300, "partition": None}, ["qos=high"])
    assert options == SlurmOptions(
        partition="gpu", time=300, array_parallelism=4, sbatch={"account": "lab", "qos": "high"}
    )
    (tmp_path / "bad.toml").write_text("partitoin = 'gpu'\n")
    with pytest.raises(BenchError, match="unknown option"):
        slurm_options(tmp_path / "bad.toml", {}, [])
    with pytest.raises(BenchError, match="at least 1"):
        slurm_options(None, {"time": 0}, [])
    with pytest.raises(BenchError, match="key=value"):
        slurm_options(None, {}, ["account"])
    (tmp_path / "options.json").write_text('{"gpus_per_task": 2}')
    assert slurm_options(tmp_path / "options.json", {}, []).gpus_per_task == 2


def test_the_sbatch_script_carries_the_options(tmp_path, monkeypatch):
    """There is no Slurm here: a stand-in ``srun`` on PATH lets submitit build the script it would submit."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    options = SlurmOptions(
        partition="gpu",
        time=90,
        gpus_per_task=1,
        cpus_per_task=8,
        mem="32G",
        array_parallelism=4,
        sbatch={"account": "my-lab"},
    )
    executor = make_executor(options, tmp_path / "slurm", threads=8, gpus=True)
    script = executor._executor._make_submission_file_text("python -m x", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --account=my-lab",
        "export OMP_NUM_THREADS=8",
    ):
        assert line in script, script
    assert executor._executor.max_num_timeout == 3
    assert executor._executor.parameters["array_parallelism"] == 4
    # CPU tasks (the default on a node without GPUs): no GPU option at all, memory in sbatch's units.
    cpu = make_executor(SlurmOptions(mem="500M"), tmp_path / "cpu", threads=None, gpus=False)
    script = cpu._executor._make_submission_file_text("python -m x", "uid")
    assert "gpu" not in script.lower() and "#SBATCH --mem=500MB" in script, script


def test_gpus_follow_the_device_unless_asked():
    assert planned_device(SlurmOptions(), torch.device("cpu"), "auto").type == "cpu"
    assert planned_device(SlurmOptions(), torch.device("cpu"), "cuda").type == "cuda"
    assert planned_device(SlurmOptions(gpus_per_task=2), torch.device("cpu"), "auto").type == "cuda"
    assert planned_device(SlurmOptions(gpus_per_task=0), torch.device("cpu"), "cuda").type == "cpu"
    with pytest.raises(BenchError, match="disagree"):
        planned_device(SlurmOptions(gpus_per_task=1), torch.device("cpu"), "cpu")


@pytest.mark.parametrize(("text", "mib"), [("500M", 500), ("0.1G", 102.4), ("2g", 2048), ("64", 64), ("1T", 2**20)])
def test_slurm_memory_reads_sbatch_units(text, mib):
    assert memory_mib(text) == pytest.approx(mib)


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "512K", "5X"])
def test_slurm_memory_that_sbatch_would_refuse_is_one_sentence(text):
    with pytest.raises(BenchError, match=r"sbatch|below 1M"):
        SlurmOptions(mem=text).check()


def test_an_sbatch_refusal_quotes_the_reason_and_names_the_option():
    text = sbatch_refusal("sbatch: error: Invalid generic resource (gres) specification\n")
    assert text == (
        "sbatch refused the array: Invalid generic resource (gres) specification; change --slurm-gpus-per-task "
        "(0 on a cluster without GPUs)."
    )
    assert "--slurm-partition" in sbatch_refusal("sbatch: error: invalid partition specified: gpu")
    assert "check the --slurm-*" in sbatch_refusal("sbatch: error: something new")


def one_tricubic_cell(tmp_path: Path, cache: Path) -> list[str]:
    """``bench run`` arguments of a one-cell matrix (tiny tricubic on demo-small) in ``tmp_path / "runs"``."""
    matrix = ["--methods", "tricubic", "--dataset", "demo-small", "--profile", "tiny"]
    return ["run", *matrix, "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(cache)]


def test_slurm_without_slurm_is_one_sentence(monkeypatch, capsys, tmp_path, cache):
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun
    code, _, err = bench(monkeypatch, capsys, *one_tricubic_cell(tmp_path, cache), "--executor", "slurm")
    assert code == 2 and "--slurm-cluster local" in assert_one_sentence(err)


def test_a_requeued_task_runs_the_same_cell_again():
    """On a timeout or pre-emption submitit calls ``checkpoint``: the same job with the same cell."""
    job = CellJob(RunRequest(methods="tricubic", dataset="demo-small", profile="tiny"))
    delayed = job.checkpoint(2, "demo-small/2x2x2/na/tricubic/tiny/x/seed0")
    assert delayed.function is job
    assert delayed.args == (2, "demo-small/2x2x2/na/tricubic/tiny/x/seed0")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--executor", "cluster"], "--executor"),
        (["--workers", "2"], "--executor local"),
        (["--executor", "local", "--workers", "0"], "at least 1"),
        (["--executor", "local", "--cell-index", "0"], "--executor inline"),
    ],
)
def test_executor_mistakes_end_in_one_sentence(monkeypatch, capsys, tmp_path, cache, args, fragment):
    code, _, err = bench(monkeypatch, capsys, *one_tricubic_cell(tmp_path, cache), *args)
    assert code == 2 and fragment in assert_one_sentence(err)


def test_an_array_task_runs_its_cell_on_the_cpus_slurm_gave_it(tmp_path, cache, monkeypatch):
    import torch

    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    request = RunRequest(
        methods="tricubic", dataset="demo-small", profile="tiny", runs_dir=str(tmp_path), cache_dir=str(cache)
    )
    cell = request.matrix().cells[0]
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert CellJob(request)(0, str(cell.folder(Path(".")))) == "done"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(saved)
    assert cell_state(cell.folder(tmp_path)).state == "done"
    with pytest.raises(BenchError, match="the harness, its plugins or the request differ"):
        CellJob(request)(0, "demo-small/2x2x2/na/other/tiny/x/seed0")


def test_status_asks_slurm_about_cells_that_have_not_started(monkeypatch, capsys, tmp_path):
    """A task Slurm killed before its cell could write error.txt is failed, not pending for ever.

    There is no Slurm here: a stand-in ``sacct`` on PATH answers as sacct does (``--parsable2``).
    """
    request = RunRequest(
        methods="tricubic,supervised,udean",
        dataset="demo-small",
        setting="misaligned",
        profile="tiny",
        runs_dir=str(tmp_path / "runs"),
    )
    cells = request.matrix(make_folders=False).cells
    write_manifest(tmp_path / "runs", cells, "slurm", ["bench"], {0: "77_0", 1: "77_1", 2: "77_2"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sacct").write_text(
        "#!/bin/sh\nprintf '77_0|OUT_OF_MEMORY\\n77_0.batch|OUT_OF_MEMORY\\n77_1|PENDING\\n77_2|CANCELLED by 501\\n'\n"
    )
    (bin_dir / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    states = {row.job_id: row.state for row in matrix_status(tmp_path / "runs")}
    assert states["77_0"].state == "failed" and "OUT_OF_MEMORY" in states["77_0"].reason
    assert "77_0_0_log.err" in states["77_0"].reason
    assert states["77_1"].state == "pending" and states["77_1"].reason == "queued in Slurm"
    assert states["77_2"].state == "failed" and "CANCELLED" in states["77_2"].reason
    code, out, _ = bench(monkeypatch, capsys, "status", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0 and "done 0, running 0, failed 2, pending 1 (of 3 cells)" in out
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))  # no sacct: the cell folders alone
    assert {row.state.state for row in matrix_status(tmp_path / "runs")} == {"pending"}


def test_a_data_root_reached_through_a_symlink_names_the_same_cells_on_the_node(tmp_path):
    """The array task rebuilds the matrix from an absolute data root; resolving the symlink would rename every cell."""
    from tests.test_cli import write_folder_dataset

    data = write_folder_dataset(tmp_path / "data", n=4, shape=(16, 16, 12))
    (tmp_path / "link").symlink_to(data)
    runs = tmp_path / "runs"
    code = "import sys; from benchmark.app.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
    args = ["run", "--methods", "tricubic", "--dataset", "folder", "--data-root", "link", "--profile", "tiny"]
    args += ["--runs-dir", "runs", "--executor", "slurm", "--slurm-cluster", "local", "--wait", "--threads", "1"]
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [row.state.state for row in matrix_status(runs)] == ["done"]


def test_a_failed_task_is_reported_by_its_exception_not_by_its_log_paths():
    report = (
        "Job (task=0) failed during processing with trace:\n----------------------\n"
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "benchmark.errors.BenchError: cell 0 of the matrix rebuilt here is a, not b\n"
        "\n----------------------\nYou can check full logs with 'job.stderr(0)' and 'job.stdout(0)'or at paths:\n"
        "  - /runs/_slurm/11507_0_log.err\n  - /runs/_slurm/11507_0_log.out"
    )
    assert task_error_line(report) == "benchmark.errors.BenchError: cell 0 of the matrix rebuilt here is a, not b"
    assert task_error_line("killed\n") == "killed"


def _cell_processes(queue_pid: int) -> list[int]:
    """Process ids of the cell processes a local queue started (their environment names the queue)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"BENCH_QUEUE_PID={queue_pid}".encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_cell_processes_die_with_their_local_queue(tmp_path, cache, signum):
    """Before issue 24, SIGTERM or SIGKILL to a local queue left its cells running and holding their locks."""
    process = run_bench(
        tmp_path / "runs", cache, "--executor", "local", "--workers", "2", "--set", "steps_per_epoch=400", wait=False
    )
    deadline = time.monotonic() + 120
    while not _cell_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _cell_processes(process.pid), "no cell process started"
    process.send_signal(signum)
    process.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while _cell_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _cell_processes(process.pid)
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM


def test_the_three_executors_share_one_interface(tmp_path, cache):
    """``bench run`` calls ``run(request, matrix, console)`` on whichever executor it built."""
    from benchmark.app.executors.executor import Executor
    from benchmark.app.executors.inline import InlineExecutor
    from benchmark.app.executors.local_queue import LocalExecutor
    from benchmark.app.executors.slurm_array import SlurmExecutor

    executors = [
        InlineExecutor(),
        LocalExecutor(local_slots(None, 1, "cpu")),
        SlurmExecutor(slurm_options(None, {}, []), wait=True),
    ]
    assert all(isinstance(executor, Executor) for executor in executors)
    assert [executor.name for executor in executors] == ["inline", "local", "slurm"]
    request = RunRequest(
        methods="tricubic",
        dataset="demo-small",
        setting="misaligned",
        profile="tiny",
        runs_dir=str(tmp_path),
        device="cpu",
        precision="fp32",
    )
    matrix = request.matrix(make_folders=True)
    summary = InlineExecutor().run(request, matrix, Console(quiet=True))
    assert [cell.method for cell in summary.done] == ["tricubic"] and not summary.detached
