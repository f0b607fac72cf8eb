"""The ``local`` executor: a queue of cells over this machine's GPUs (``--gpus``) or CPU workers (``--workers``).

Each cell runs in its own subprocess (:mod:`benchmark.app.executors.one_cell`), one per slot:

- on a GPU slot with ``CUDA_VISIBLE_DEVICES`` set to that GPU, so the cell sees one device;
- with its CPU threads bounded (``--threads``, else the machine's cores divided by the slots),
  through ``torch.set_num_threads`` and ``OMP_NUM_THREADS``.

There are never more cells running than slots.  A cell's output goes to ``process.log`` in its
folder.  A failed cell writes ``error.txt`` (the runner writes it; when the process dies
without one, killed or out of memory, the queue writes it with the log's last lines) and the
queue goes on.  Finished cells are skipped before any process starts; interrupting the queue
stops its processes, and rerunning resumes every unfinished cell from its checkpoints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from benchmark.app.cell_run import RunSummary, merge_summary, record_failure
from benchmark.app.executors.cell_data_store import CellDataStore
from benchmark.app.executors.inline import rebuild_table, sort_finished
from benchmark.app.executors.one_cell import EXIT_BUSY, EXIT_DONE, EXIT_FAILED, EXIT_USER_ERROR, PARENT_ENV
from benchmark.app.executors.request import Matrix, RunRequest, split_list
from benchmark.data.dataset import Dataset
from benchmark.errors import BenchError
from benchmark.progress_bar import counting_progress
from benchmark.results.cell import Cell
from benchmark.results.cell_record import DONE, ERROR_FILE, PROCESS_LOG, last_error_line, write_error
from benchmark.results.no_follow import LinkInCellError, open_no_follow

POLL_SECONDS = 0.2
_LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class Slot:
    """One place a cell can run: a name for messages, the device its process asks for, and its environment."""

    name: str
    device: str
    environment: dict[str, str] = field(default_factory=dict)


def gpu_slots(indices: list[int], per_gpu: int = 1) -> list[Slot]:
    """``per_gpu`` slots on each GPU of ``indices`` (each process sees only its GPU, as ``cuda:0``).

    Named ``gpu 0`` with one slot per GPU, else ``gpu 0 #1``, ``gpu 0 #2``, …; GPU by GPU, so that a
    queue fills every GPU once before it doubles up on one.
    """
    unique = list(dict.fromkeys(indices))
    return [
        Slot(f"gpu {i}" if per_gpu == 1 else f"gpu {i} #{k + 1}", "cuda", {"CUDA_VISIBLE_DEVICES": str(i)})
        for k in range(per_gpu)
        for i in unique
    ]


def local_slots(gpus: str | None, workers: int | None, device_type: str, per_gpu: int = 1) -> list[Slot]:
    """The slots of ``--gpus 0,1,…`` (with ``--per-gpu N``) or ``--workers N``.

    Args:
        gpus: comma-separated GPU indices, or ``None``.
        workers: number of CPU processes, or ``None``.
        device_type: the type of the resolved ``--device`` (``"cuda"`` or ``"cpu"``).
        per_gpu: cell processes sharing each GPU at a time (several small cells keep a GPU busier
            than one); only with GPUs.

    Returns:
        ``per_gpu`` slots per GPU; else ``workers`` CPU slots; else ``per_gpu`` per visible GPU on
        a CUDA device, or 2 CPU workers on the CPU.

    Raises:
        BenchError: both or malformed options, an absent GPU, GPUs with ``--device cpu``, or
            ``--per-gpu`` without GPUs.
    """
    import torch

    if per_gpu < 1:
        raise BenchError(f"--per-gpu must be at least 1, got {per_gpu}.")
    if per_gpu > 1 and (device_type != "cuda" or workers is not None):
        raise BenchError("--per-gpu shares GPUs among cells; on the CPU give --workers instead.")
    if gpus is not None and workers is not None:
        raise BenchError("give --gpus or --workers, not both: --gpus runs one cell per GPU.")
    if gpus is not None:
        if device_type != "cuda":
            raise BenchError("--gpus needs a CUDA GPU and --device auto or cuda; this run is on the CPU.")
        try:
            indices = [int(part) for part in split_list(gpus)]
        except ValueError:
            raise BenchError(f"--gpus '{gpus}' must be comma-separated GPU indices, e.g. 0,1.") from None
        available = torch.cuda.device_count()
        missing = [index for index in indices if not 0 <= index < available]
        if not indices or missing:
            raise BenchError(f"--gpus '{gpus}' names GPUs this machine does not have (it has {available}).")
        return gpu_slots(indices, per_gpu)
    if workers is not None and workers < 1:
        raise BenchError(f"--workers must be at least 1, got {workers}.")
    if workers is None and device_type == "cuda":
        return gpu_slots(list(range(torch.cuda.device_count())), per_gpu)
    count = workers if workers is not None else 2
    return [
        Slot(f"worker {i}", device_type, {"CUDA_VISIBLE_DEVICES": ""} if device_type == "cpu" else {})
        for i in range(count)
    ]


def threads_per_slot(threads: int | None, slots: int) -> int:
    """``--threads`` if given, else this machine's cores shared evenly among the slots (at least 1)."""
    return threads if threads is not None else max(1, (os.cpu_count() or 1) // max(slots, 1))


@dataclass(frozen=True)
class _Queued:
    """A cell waiting for a slot: its index in its request's matrix, its folders, its request files by device."""

    cell: Cell
    index: int
    runs_dir: Path
    requests: dict[str, Path]
    datasets: dict[str, Dataset]


@dataclass
class _Running:
    cell: Cell
    runs_dir: Path
    slot: Slot
    process: subprocess.Popen
    log: Path
    started: float


@dataclass(frozen=True)
class QueuedCells:
    """One request's cells for the queue.

    Attributes:
        request: the request whose matrix the cell processes rebuild (:meth:`RunRequest.matrix`).
        matrix: that matrix, as built here.
        cells: the cells to run, a part of ``matrix.cells`` in the order to start them; ``None``: all.
    """

    request: RunRequest
    matrix: Matrix
    cells: Sequence[Cell] | None = None


def run_local(
    request: RunRequest,
    matrix: Matrix,
    slots: list[Slot],
    console: Console,
    data_dir: Path | None = None,
    deadline: float | None = None,
) -> RunSummary:
    """Run the matrix's unfinished cells, at most one per slot at a time; returns what happened.

    See :func:`run_queue` for ``data_dir`` and ``deadline``.

    Raises:
        BenchError: a cell's process refused the request (one sentence from it), or the disk is full.
    """
    return run_queue([QueuedCells(request, matrix)], slots, console, data_dir, deadline)


def run_queue(
    jobs: Sequence[QueuedCells],
    slots: list[Slot],
    console: Console,
    data_dir: Path | None = None,
    deadline: float | None = None,
) -> RunSummary:
    """Run the unfinished cells of ``jobs`` in their order, at most one per slot at a time.

    Args:
        jobs: the cells, by request; the threads per cell are the first request's ``threads``
            (else the cores shared among the slots).
        data_dir: where the cells' data are built, once per group, before the first cell of the
            group starts (:mod:`~benchmark.app.executors.cell_data_store`); a group already there is
            used as it is.  ``None``: a scratch folder removed when the queue ends.
        deadline: a ``time.monotonic()`` time: the cells still running then are stopped (they
            resume from their checkpoints on a rerun), and those not started are left; both are
            listed in :attr:`RunSummary.unfinished`.

    Raises:
        BenchError: a cell's process refused the request (one sentence from it), or the disk is full.
    """
    summary = RunSummary()
    threads = threads_per_slot(jobs[0].request.threads if jobs else None, len(slots))
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        store = CellDataStore(data_dir if data_dir is not None else Path(scratch) / "data")
        queue: deque[_Queued] = deque()
        total = 0
        for number, job in enumerate(jobs):
            cells = job.matrix.cells if job.cells is None else list(job.cells)
            datasets, _, pending, found = sort_finished(
                cells, job.matrix.runs_dir, job.matrix.cache_dir, console, job.request.retry_diverged
            )
            merge_summary(summary, found)
            total += len(cells)
            indices = {cell.folder(Path(".")): index for index, cell in enumerate(job.matrix.cells)}
            requests = {
                device: _write_request(Path(scratch), number, job.request, device, job.matrix.precision, threads)
                for device in dict.fromkeys(slot.device for slot in slots)
            }
            queue.extend(
                _Queued(cell, indices[cell.folder(Path("."))], job.matrix.runs_dir, requests, datasets)
                for cell in pending
            )
        free = list(slots)
        running: list[_Running] = []
        try:
            with _sigterm_as_exit(), counting_progress(console) as progress:
                overall = progress.add_task(
                    f"cells · {len(slots)} slot(s), {threads} thread(s) each",
                    total=total,
                    completed=len(summary.skipped),
                )
                while queue or running:
                    if deadline is not None and time.monotonic() >= deadline:
                        _leave_at_deadline(queue, running, summary, progress.console)
                        break
                    while queue and free:
                        item = queue.popleft()
                        slot = free.pop(0)
                        try:
                            data = _data_for(item, store, progress)
                            started = _start(item, slot, threads, data)
                        except (LinkInCellError, _DataBuildError) as error:  # nothing written through a planted link
                            free.append(slot)
                            summary.failed.append((item.cell, str(error)))
                            progress.console.print(f"[red]failed[/red] {item.cell.label()}: {error}")
                            progress.advance(overall)
                            continue
                        running.append(started)
                        progress.console.print(f"start {item.cell.label()} on {slot.name}")
                    time.sleep(POLL_SECONDS)
                    for done in [done for done in running if done.process.poll() is not None]:
                        running.remove(done)
                        free.append(done.slot)
                        _finish(done, summary, progress.console)
                        progress.advance(overall)
        finally:  # also on Ctrl-C: the cell processes stop, and resume from their checkpoints on a rerun
            _stop(running)
            for runs_dir in dict.fromkeys(job.matrix.runs_dir for job in jobs):
                rebuild_table(runs_dir, summary)
    return summary


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While the queue runs, SIGTERM ends it like Ctrl-C does: its ``finally`` stops the cell processes first.

    (Python's default SIGTERM ends the process at once, leaving the cells running and holding their locks.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_request(folder: Path, number: int, request: RunRequest, device: str, precision: str, threads: int) -> Path:
    path = folder / f"request-{number}-{device}.json"
    path.write_text(request.with_changes(device=device, precision=precision, threads=threads).to_json())
    return path


class _DataBuildError(Exception):
    """Building a cell's data failed with something other than a user's error: the cell fails, the queue goes on."""


def _data_for(item: _Queued, store: CellDataStore, progress: Progress) -> Path:
    """The file of the cell's data, built here first when its group is not stored yet.

    Raises:
        BenchError: what a user can cause (a volume smaller than the patch, …): the run stops, as inline.
        _DataBuildError: anything else (a dataset plugin's bug); the reason is in the cell's ``error.txt``.
    """
    try:
        return store.ensure(item.cell, item.datasets[item.cell.dataset], progress)
    except BenchError:
        raise
    except Exception as error:
        record_failure(item.cell.folder(item.runs_dir), traceback.format_exc())
        raise _DataBuildError(f"its data could not be built: {type(error).__name__}: {error}") from None


def _start(item: _Queued, slot: Slot, threads: int, data: Path) -> _Running:
    cell_dir = item.cell.folder(item.runs_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    log = cell_dir / PROCESS_LOG
    environment = {
        **os.environ,
        PARENT_ENV: str(os.getpid()),  # the cell process dies with this queue (one_cell.die_with_parent)
        **slot.environment,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "benchmark.app.executors.one_cell",
        str(item.requests[slot.device]),
        str(item.index),
        str(item.cell.folder(Path("."))),
        str(data),
    ]
    with os.fdopen(open_no_follow(log, os.O_WRONLY | os.O_TRUNC | os.O_CREAT), "w") as handle:
        handle.write(f"# {slot.name}: {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=environment)
    return _Running(item.cell, item.runs_dir, slot, process, log, time.perf_counter())


def _leave_at_deadline(queue: deque[_Queued], running: list[_Running], summary: RunSummary, console: Console) -> None:
    """At the deadline: the running cells are listed as stopped (the caller stops them), the queued as not started."""
    for item in running:
        summary.unfinished.append((item.cell, "stopped at the deadline"))
        summary.wall_seconds[item.cell.folder(Path("."))] = time.perf_counter() - item.started
        console.print(f"note: {item.cell.label()} stopped at the deadline; a rerun resumes it.")
    summary.unfinished += [(item.cell, "not started before the deadline") for item in queue]
    if queue:
        console.print(f"note: {len(queue)} cell(s) not started before the deadline.")
    queue.clear()


def _finish(item: _Running, summary: RunSummary, console: Console) -> None:
    code = item.process.returncode
    seconds = time.perf_counter() - item.started
    summary.wall_seconds[item.cell.folder(Path("."))] = seconds
    cell_dir = item.cell.folder(item.runs_dir)
    label = item.cell.label()
    if code == EXIT_DONE and (cell_dir / DONE).is_file():
        summary.done.append(item.cell)
        console.print(f"[green]done[/green] {label} on {item.slot.name} in {seconds:.0f} s")
        return
    if code == EXIT_BUSY:
        summary.busy.append((item.cell, "another bench run"))
        console.print(f"note: {label} is held by another bench run; left to it.")
        return
    tail = _tail(item.log)
    if code == EXIT_USER_ERROR:
        raise BenchError(f"the process of {label} refused the request: {tail[-1] if tail else 'no message'}")
    if code != EXIT_FAILED or not (cell_dir / ERROR_FILE).is_file():
        _write_error(cell_dir, code, item.log, tail)
    message = last_error_line(cell_dir) or "unknown error"
    summary.failed.append((item.cell, message))
    console.print(f"[red]failed[/red] {label} on {item.slot.name}: {message}")


def _write_error(cell_dir: Path, code: int, log: Path, tail: list[str]) -> None:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        why = f"its process was killed by signal {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    else:
        why = f"its process ended with exit status {code} without finishing the cell"
    text = "\n".join([f"last lines of {log}:", *tail, "", f"the cell did not finish: {why}."])
    write_error(cell_dir, text)


def _tail(log: Path) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()][-_LOG_TAIL_LINES:]


def _stop(running: list[_Running]) -> None:
    """Ask every running cell process to stop (SIGINT, as Ctrl-C), then kill those still alive after 10 s."""
    for item in running:
        if item.process.poll() is None:
            item.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    for item in running:
        try:
            item.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            item.process.kill()
            item.process.wait()


@dataclass(frozen=True)
class LocalExecutor:
    """``--executor local``: a queue of cell processes over ``slots`` (:func:`local_slots`, :func:`run_local`)."""

    slots: list[Slot]
    name: str = "local"

    def run(self, request: RunRequest, matrix: Matrix, console: Console) -> RunSummary:
        return run_local(request, matrix, self.slots, console)
