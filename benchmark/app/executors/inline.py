"""Run the matrix: build each cell's data once per (dataset, scale, setting), fit, evaluate, record.

Cells are independent and resumable.  A finished cell (an intact ``DONE`` matching its
configuration, whose input volumes have not changed) is skipped; a cell whose inputs changed
is rerun with a note; a cell that fails writes ``error.txt`` in its folder and the run goes on
with the next one, so a failure never loses results already written.  Each cell is run under
its lock (:mod:`benchmark.results.cell_lock`), so a second ``bench run`` on the same results folder
skips the cells the first one holds.  A full disk stops the run with one sentence: every
finished cell is intact, and the next run rebuilds the table.

This is the ``inline`` executor: the cells one after another in this process (the local
queue and the Slurm array run one cell per process through :mod:`benchmark.app.executors.one_cell`).
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from rich.console import Console
from rich.progress import Progress

from benchmark.app.cell_run import DISK_FULL, RunSummary, build_cell_data, disk_full_error, record_failure, run_cell
from benchmark.app.executors.cell_data_store import load_cell_data
from benchmark.app.matrix import cell_identity
from benchmark.data.dataset import Dataset
from benchmark.environment import harness_commit, same_commit
from benchmark.errors import BenchError
from benchmark.plugins import DATASETS
from benchmark.progress_bar import counting_progress
from benchmark.protocol.groups import CellData, cohort
from benchmark.protocol.setting_names import NO_SETTING
from benchmark.results.cell import Cell, config_hash
from benchmark.results.cell_lock import LOCK, cell_lock, lock_holder
from benchmark.results.cell_record import DamagedCellError, check_finished, recorded_commit
from benchmark.results.hash_cache import CACHE_FILE, HashCache
from benchmark.results.inputs import changed_inputs, input_record
from benchmark.results.no_follow import LinkInCellError, refuse_links
from benchmark.results.store import collect_results, remove_stale_table_temporaries
from benchmark.scale import Scale
from benchmark.training.divergence import DIVERGED

if TYPE_CHECKING:
    from benchmark.app.executors.request import Matrix, RunRequest


@dataclass
class _Inputs:
    """The datasets of a run and what is needed to check a cell's inputs against them."""

    datasets: dict[str, Dataset]
    max_subjects: int | None
    hashes: HashCache = field(default_factory=HashCache)

    def subjects(self, dataset: str) -> list[str]:
        return cohort(self.datasets[dataset], self.max_subjects)

    def changes(self, cell: Cell, done: dict[str, Any]) -> list[str]:
        recorded = done.get("inputs")
        if not isinstance(recorded, dict):
            return []  # finished before inputs were recorded: nothing to compare with
        changes = changed_inputs(self.datasets[cell.dataset], recorded, self.subjects(cell.dataset), self.hashes)
        self.hashes.save()
        return changes

    def record(self, cell: Cell, data: CellData) -> dict[str, Any]:
        used = data.records.get("hr_shapes", {}).keys()
        record = input_record(self.datasets[cell.dataset], used, self.subjects(cell.dataset), self.hashes)
        self.hashes.save()
        return record


def _finished(cell: Cell, runs_dir: Path, inputs: _Inputs, summary: RunSummary, retry_diverged: bool = False) -> bool:
    """Whether ``cell`` is finished and current; records a note when it was damaged or its inputs changed.

    A diverged cell is finished (its divergence is its result) unless ``retry_diverged``: then its
    checkpoints are removed, so that it trains again from step 0.
    """
    cell_dir = cell.folder(runs_dir)
    try:
        found = check_finished(cell_dir, config_hash(cell_identity(cell)))
    except DamagedCellError as error:
        summary.damaged.append((cell_dir, str(error)))
        return False
    if found is None:
        return False
    if retry_diverged and DIVERGED in found[0]:
        shutil.rmtree(cell_dir / "checkpoints", ignore_errors=True)
        summary.retried.append(cell)
        return False
    changes = inputs.changes(cell, found[0])
    if changes:
        summary.rerun_inputs.append((cell, changes))
        return False
    return True


def run_matrix(
    cells: Sequence[Cell],
    runs_dir: Path,
    device: torch.device,
    cache_dir: Path,
    console: Console | None = None,
    save_sr: bool = False,
    retry_diverged: bool = False,
    data_file: Path | None = None,
    downstream: bool = False,
) -> RunSummary:
    """Run every cell not yet done, with a progress bar; failures are recorded and the run goes on.

    Args:
        downstream: also compute the downstream tissue score of each test subject (``--downstream``).
        data_file: the cells' data, built once by the local queue
            (:mod:`~benchmark.app.executors.cell_data_store`); ``None``: built here, once per group.

    Raises:
        BenchError: the disk is full (or read-only) while writing; finished cells are kept.
    """
    console = console or Console()
    datasets, inputs, pending, summary = sort_finished(cells, runs_dir, cache_dir, console, retry_diverged)
    cached_key: tuple[str, Scale, str] | None = None
    cached: CellData | None = None
    try:
        with counting_progress(console) as progress:
            overall = progress.add_task("cells", total=len(cells), completed=len(summary.skipped))

            def warn(message: str) -> None:
                progress.console.print(f"[yellow]warning[/yellow] {message}", soft_wrap=True)

            for cell in pending:
                progress.update(overall, description=f"cells · {cell.label()}")
                cell_dir = cell.folder(runs_dir)
                try:
                    refuse_links(cell_dir, (LOCK,))
                except LinkInCellError as error:  # never lock (or write) through a planted link
                    summary.failed.append((cell, str(error)))
                    progress.advance(overall)
                    continue
                with cell_lock(cell_dir) as held:
                    if not held:
                        summary.busy.append((cell, lock_holder(cell_dir)))
                    elif _finished(cell, runs_dir, inputs, RunSummary(), retry_diverged):  # finished meanwhile
                        summary.skipped.append(cell)
                    else:
                        key = (cell.dataset, cell.scale, cell.setting)
                        # Cells without source HR (n/a) share the test group of any setting of their dataset and scale.
                        reusable = (
                            cached_key is not None
                            and cached_key[:2] == key[:2]
                            and key[2] in (cached_key[2], NO_SETTING)
                        )
                        if not reusable:
                            cached = None  # release the previous group's volumes before loading the next
                            if data_file is not None:
                                cached = load_cell_data(data_file)
                            else:
                                cached = build_cell_data(datasets[cell.dataset], cell, progress)
                            cached_key = key
                        assert cached is not None
                        _run_one(cell, cached, runs_dir, device, progress, inputs, warn, summary, save_sr, downstream)
                progress.advance(overall)
    finally:
        rebuild_table(runs_dir, summary)
    return summary


def open_datasets(cells: Sequence[Cell], cache_dir: Path) -> dict[str, Dataset]:
    """Every dataset of ``cells``, opened (generated into the cache when it is the demo) before any cell starts.

    Raises:
        BenchError: a dataset's data root is missing or unusable.
    """
    options = {cell.dataset: cell.protocol for cell in cells}
    return {
        name: DATASETS.create(name, data_root=protocol.data_root, cache_dir=cache_dir)
        for name, protocol in options.items()
    }


def sort_finished(
    cells: Sequence[Cell], runs_dir: Path, cache_dir: Path, console: Console, retry_diverged: bool = False
) -> tuple[dict[str, Dataset], _Inputs, list[Cell], RunSummary]:
    """Open the datasets and split ``cells`` into finished (in the summary) and pending, printing why any reruns.

    Diverged cells are finished unless ``retry_diverged`` (:func:`_finished`).

    Returns:
        ``(datasets, inputs, pending, summary)``; ``summary.skipped`` holds the finished cells.
    """
    summary = RunSummary()
    remove_stale_table_temporaries(runs_dir)
    current_commit = harness_commit()
    # Open every dataset first, so a bad data root stops the run before any training starts.
    datasets = open_datasets(cells, cache_dir)
    hashes = HashCache(cache_dir / CACHE_FILE if Path(cache_dir).is_dir() else None)
    inputs = _Inputs(datasets, cells[0].profile.get("max_subjects") if cells else None, hashes)
    pending = []
    for cell in cells:
        if _finished(cell, runs_dir, inputs, summary, retry_diverged):
            summary.skipped.append(cell)
            recorded = recorded_commit(cell.folder(runs_dir))
            if not same_commit(recorded, current_commit):
                summary.other_commit.setdefault(str(recorded), []).append(cell)
        else:
            pending.append(cell)
    if pending:
        for name, dataset in datasets.items():
            subjects = dataset.subjects()
            if subjects and dataset.brain_mask(subjects[0]) is None:
                console.print(
                    f"note: dataset '{name}' has no brain masks, so its metrics are whole-volume only "
                    "(no psnr_brain or ssim_brain column, and no downstream score)."
                )
    for cell, changes in summary.rerun_inputs:
        console.print(
            f"note: input volume(s) of {cell.label()} changed since it finished, so it reruns: "
            f"{', '.join(changes[:3])}{' …' if len(changes) > 3 else ''}"
        )
    for cell_dir, reason in summary.damaged:
        console.print(f"note: finished cell {cell_dir} is damaged ({reason}), so it reruns.")
    for cell in summary.retried:
        console.print(f"note: {cell.label()} diverged before; --retry-diverged trains it again from step 0.")
    return datasets, inputs, pending, summary


def _run_one(
    cell: Cell,
    data: CellData,
    runs_dir: Path,
    device: torch.device,
    progress: Progress,
    inputs: _Inputs,
    warn: Callable[[str], None],
    summary: RunSummary,
    save_sr: bool,
    downstream: bool,
) -> None:
    """Run one cell; a failure is written to its ``error.txt``, a full disk stops the run."""
    cell_dir = cell.folder(runs_dir)
    try:
        run_cell(cell, data, runs_dir, device, progress, inputs.record(cell, data), save_sr, warn, downstream)
    except BenchError as error:
        summary.failed.append((cell, str(error)))
        record_failure(cell_dir, str(error))
        return
    except OSError as error:
        if error.errno in DISK_FULL:
            raise disk_full_error(error, f"while running {cell.label()}") from None
        summary.failed.append((cell, f"{type(error).__name__}: {error}"))
        record_failure(cell_dir, traceback.format_exc())
        return
    except Exception as error:  # a plugin bug must not lose the other cells' results
        summary.failed.append((cell, f"{type(error).__name__}: {error}"))
        record_failure(cell_dir, traceback.format_exc())
        return
    summary.done.append(cell)
    rebuild_table(runs_dir, summary)  # the results table is current after every finished cell


def rebuild_table(runs_dir: Path, summary: RunSummary) -> None:
    try:
        collected = collect_results(runs_dir)
    except OSError as error:
        if error.errno in DISK_FULL:
            raise disk_full_error(error, f"while writing {Path(runs_dir) / 'results.csv'}") from None
        raise
    known = {path for path, _ in summary.damaged}
    summary.damaged += [(path, reason) for path, reason in collected.damaged if path not in known]


@dataclass(frozen=True)
class InlineExecutor:
    """``--executor inline``: the cells one after another in this process (:func:`run_matrix`).

    Attributes:
        cells: the cells to run, a part of the matrix (``--cell-index``); ``None``: all of them.
    """

    cells: Sequence[Cell] | None = None
    name: str = "inline"

    def run(self, request: RunRequest, matrix: Matrix, console: Console) -> RunSummary:
        cells = matrix.cells if self.cells is None else self.cells
        device, cache_dir = matrix.device, matrix.cache_dir
        return run_matrix(
            cells,
            matrix.runs_dir,
            device,
            cache_dir,
            console,
            request.save_sr,
            request.retry_diverged,
            downstream=request.downstream,
        )
