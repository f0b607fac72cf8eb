"""Following a submitted array to its end (``bench run --executor slurm --wait``), with or without accounting.

A task that ends normally leaves submitit's result file (its outcome or its exception).  A task
that Slurm ends (cancelled, killed for memory, timed out with no requeue left, node failure)
leaves none, and submitit alone would wait for it for ever where there is no ``sacct``.  So the
follower also asks Slurm (:func:`benchmark.app.executors.slurm_states.slurm_states`: ``squeue``,
then ``sacct``) every :data:`QUERY_SECONDS`: a task that has left the live states for
:data:`GRACE_SECONDS` without a result file is over.  Its cell is done if its folder says so
(it finished just before the end), else failed: the follower writes the cell's ``error.txt``
with the cause Slurm gives (``OUT_OF_MEMORY``, ``CANCELLED``, ``TIMEOUT``, ``NODE_FAIL``…) and
the path of the task's log, so the message points to files that exist.  Where Slurm's state
hides the cause (a task killed for memory inside its ``srun`` step is ``FAILED``), the log's
own words name it (:func:`benchmark.app.executors.slurm_states.refined_state`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmark.app.cell_run import RunSummary
from benchmark.app.executors.request import Matrix
from benchmark.app.executors.slurm_states import ENDED_BADLY, ENDED_WELL, GONE, cause, refined_state, slurm_states
from benchmark.progress_bar import counting_progress
from benchmark.results.cell import Cell
from benchmark.results.cell_record import last_error_line, write_error
from benchmark.results.cell_state import cell_state

POLL_SECONDS = 0.5
"""How often the result files are looked for."""
QUERY_SECONDS = 5.0
"""How often Slurm is asked about the tasks still waiting."""
GRACE_SECONDS = 15.0
"""How long a task may be out of the live states before its missing result counts (a result file
written at the task's last moment may take a while to show on a shared file system; a requeued
task comes back to PENDING within it)."""

_OVER = ENDED_BADLY | ENDED_WELL | {GONE}


def task_log(job: Any) -> Path:
    """The task's standard-error log as submitit writes it (``<folder>/<job id>_0_log.err``)."""
    return Path(job.paths.stderr)


def has_result(job: Any, cluster: str) -> bool:
    """Whether the task left its outcome: submitit's result file (slurm) or its finished process (local)."""
    if cluster == "slurm":
        return Path(job.paths.result_pickle).exists()
    return bool(job.done())


def record_slurm_end(cell_dir: Path, job_id: str, state: str, log: Path) -> str:
    """Write the cell's ``error.txt`` for a task Slurm ended without finishing it; returns its last line."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    line = f"Slurm ended task {job_id} before its cell finished: {cause(state)} (log: {log})"
    write_error(cell_dir, line)
    return line


def follow_array(
    jobs: list[tuple[Cell, Any]],
    matrix: Matrix,
    summary: RunSummary,
    console: Console,
    cluster: str,
    states: Callable[[list[str]], dict[str, str]] = slurm_states,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait for every task, recording each cell's outcome in ``summary`` as it ends.

    Args:
        jobs: each cell with its submitit job.
        cluster: ``"slurm"`` (asks Slurm about tasks without a result) or ``"local"``.
        states: how Slurm is asked (a test may give its own).
        clock: monotonic seconds.
    """
    waiting = list(jobs)
    left_queue: dict[str, float] = {}
    asked = -float("inf")
    with counting_progress(console) as progress:
        overall = progress.add_task("array tasks", total=len(jobs))
        while waiting:
            for cell, job in [item for item in waiting if has_result(item[1], cluster)]:
                waiting.remove((cell, job))
                _record_result(cell, job, matrix, summary, progress.console)
                progress.advance(overall)
            if waiting and cluster == "slurm" and clock() - asked >= QUERY_SECONDS:
                asked = clock()
                known = states([str(job.job_id) for _, job in waiting])
                for cell, job in list(waiting):
                    job_id = str(job.job_id)
                    state = known.get(job_id)
                    if state not in _OVER:
                        left_queue.pop(job_id, None)
                        continue
                    if clock() - left_queue.setdefault(job_id, clock()) < GRACE_SECONDS or has_result(job, cluster):
                        continue
                    waiting.remove((cell, job))
                    _record_end(cell, job, state, matrix, summary, progress.console)
                    progress.advance(overall)
            if waiting:
                time.sleep(POLL_SECONDS)


def _record_result(cell: Cell, job: Any, matrix: Matrix, summary: RunSummary, console: Console) -> None:
    from benchmark.app.executors.slurm_array import task_error_line

    error = job.exception()
    if error is None:
        outcome = job.result()
        if outcome == "busy":
            summary.busy.append((cell, "another bench run"))
        else:
            summary.done.append(cell)
        console.print(f"[green]{outcome}[/green] {cell.label()} (job {job.job_id})")
        return
    cell_dir = cell.folder(matrix.runs_dir)
    line = last_error_line(cell_dir)
    if not line:  # the task raised before its cell could write error.txt
        line = record_slurm_end(cell_dir, str(job.job_id), "FAILED", task_log(job))
        line = f"{line}: {task_error_line(str(error))}"
        write_error(cell_dir, line)
    summary.failed.append((cell, line))
    console.print(f"[red]failed[/red] {cell.label()} (job {job.job_id}): {line}")


def _record_end(cell: Cell, job: Any, state: str, matrix: Matrix, summary: RunSummary, console: Console) -> None:
    cell_dir = cell.folder(matrix.runs_dir)
    found = cell_state(cell_dir).state
    if found in ("done", "diverged"):  # it finished, then Slurm ended the task (e.g. a cancel at its very end)
        summary.done.append(cell)
        console.print(f"[green]{found}[/green] {cell.label()} (job {job.job_id}; Slurm then said {state})")
        return
    line = record_slurm_end(cell_dir, str(job.job_id), refined_state(state, task_log(job)), task_log(job))
    summary.failed.append((cell, line))
    console.print(f"[red]failed[/red] {cell.label()} (job {job.job_id}): {line}")
