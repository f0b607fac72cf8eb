"""Run one cell of a request's matrix in this process: what a local-queue subprocess and a Slurm array task do.

The cell is named by its index in the matrix the request rebuilds, and checked by its folder,
so a request that rebuilt to another matrix (a plugin missing on a node, a changed profile)
fails with one sentence instead of running the wrong cell.

As a program, ``python -m benchmark.app.executors.one_cell REQUEST.json INDEX FOLDER [DATA.pkl]`` exits with
:data:`EXIT_DONE` (finished now or before), :data:`EXIT_FAILED` (the cell failed; its
``error.txt`` says why), :data:`EXIT_USER_ERROR` (one sentence on stderr) or :data:`EXIT_BUSY`
(another process holds the cell).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
from rich.console import Console

from benchmark.app.executors.request import RunRequest
from benchmark.errors import BenchError

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later

OUTCOMES = {EXIT_DONE: "done", EXIT_FAILED: "failed", EXIT_BUSY: "busy"}


def run_one_cell(
    request: RunRequest, index: int, folder: str, console: Console | None = None, data_file: Path | None = None
) -> int:
    """Run cell ``index`` of ``request``'s matrix unless it is finished; returns an exit code of this module.

    Args:
        request: the ``bench run`` request; its ``threads`` bound torch's CPU threads.
        index: the cell's index in the matrix (:meth:`RunRequest.matrix`).
        folder: the cell's folder relative to the runs folder, as the submitting process saw it.
        data_file: the cell's data as the local queue built it (:mod:`~benchmark.app.executors.cell_data_store`);
            ``None``: built here.

    Raises:
        BenchError: the request is invalid here, or rebuilds to a matrix without that cell.
    """
    from benchmark.app.executors.inline import run_matrix

    if request.threads is not None:
        torch.set_num_threads(request.threads)
    matrix = request.matrix()
    if not 0 <= index < len(matrix.cells):
        raise BenchError(f"cell index {index} is outside 0..{len(matrix.cells) - 1} of this matrix.")
    cell = matrix.cells[index]
    if str(cell.folder(Path("."))) != folder:
        raise BenchError(
            f"cell {index} of the matrix rebuilt here is {cell.folder(Path('.'))}, not {folder}; "
            "the harness, its plugins or the request differ from where the matrix was submitted."
        )
    summary = run_matrix(
        [cell],
        matrix.runs_dir,
        matrix.device,
        matrix.cache_dir,
        console,
        request.save_sr,
        request.retry_diverged,
        data_file,
        request.downstream,
    )
    if summary.failed:
        return EXIT_FAILED
    if summary.busy:
        return EXIT_BUSY
    return EXIT_DONE


PARENT_ENV = "BENCH_QUEUE_PID"
"""Set by the local queue to its process id: the cell process then dies with the queue (:func:`die_with_parent`)."""


def die_with_parent() -> None:
    """On Linux, end this process (SIGTERM) when the local queue that started it dies, even by SIGKILL.

    The queue stops its cells itself on Ctrl-C or SIGTERM; this covers a queue killed outright, whose
    cells would otherwise run on, holding their locks. ``PR_SET_PDEATHSIG`` fires when the parent
    dies; a parent already gone before the call is caught by comparing ``getppid`` with the id the
    queue passed in :data:`PARENT_ENV`. Elsewhere, or when not started by the queue, nothing happens.
    """
    parent = os.environ.get(PARENT_ENV)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if str(os.getppid()) != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmark.app.executors.one_cell REQUEST.json INDEX FOLDER [DATA.pkl]``."""
    die_with_parent()
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        print("usage: python -m benchmark.app.executors.one_cell REQUEST.json INDEX FOLDER [DATA.pkl]", file=sys.stderr)
        return EXIT_USER_ERROR
    console = Console(soft_wrap=True)
    try:
        request = RunRequest.from_json(Path(args[0]).read_text())
        data_file = Path(args[3]) if len(args) == 4 else None
        return run_one_cell(request, int(args[1]), args[2], console, data_file)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
