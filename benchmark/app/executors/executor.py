"""The one interface of the three executors: ``run(request, matrix, console) -> RunSummary``.

An executor runs the unfinished cells of a matrix and says what happened.  The three built in:

* :class:`~benchmark.app.executors.inline.InlineExecutor`: one cell after another in this process;
* :class:`~benchmark.app.executors.local_queue.LocalExecutor`: a queue of cell processes over
  GPUs or CPU workers on this machine;
* :class:`~benchmark.app.executors.slurm_array.SlurmExecutor`: one Slurm job array, followed to
  its end or left to run (:attr:`~benchmark.app.cell_run.RunSummary.detached`).

``bench run --executor NAME`` builds one from its options and calls :meth:`Executor.run`; what it
prints afterwards (done, failed, diverged, held by another run) is the same for all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rich.console import Console

    from benchmark.app.cell_run import RunSummary
    from benchmark.app.executors.request import Matrix, RunRequest


@runtime_checkable
class Executor(Protocol):
    """Runs a matrix's unfinished cells; finished ones are skipped, failures recorded, and the run goes on."""

    name: str

    def run(self, request: RunRequest, matrix: Matrix, console: Console) -> RunSummary:
        """Run the cells of ``matrix`` as ``request`` asks; returns what happened.

        Raises:
            BenchError: what a user can cause (a full disk, a refused submission), in one sentence.
        """
        ...
