"""Run the matrix: build each cell's data once per (dataset, scale, setting), fit, evaluate, record.

Cells are independent and resumable.  A finished cell (an intact ``DONE`` matching its
configuration, whose input volumes have not changed) is skipped; a cell whose inputs changed
is rerun with a note; a cell that fails writes ``error.txt`` in its folder and the run goes on
with the next one, so a failure never loses results already written.  Each cell is run under
its lock (:mod:`benchmark.results.cell_lock`), so a second ``bench run`` on the same results folder
skips the cells the first one holds.  A full disk stops the run with one sentence: every
finished cell is intact, and the next run rebuilds the table.
"""

from __future__ import annotations

import errno
import io
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console
from rich.progress import Progress

from benchmark.data.dataset import Dataset
from benchmark.environment import environment_record, harness_commit, same_commit
from benchmark.errors import BenchError
from benchmark.evaluation.figure_slices import figure_slices
from benchmark.evaluation.metrics import METRICS
from benchmark.plugins import DATASETS, METHODS
from benchmark.precision import DEFAULT_PRECISION, Precision, inference_precision
from benchmark.profiles import Profile
from benchmark.progress_bar import counting_progress
from benchmark.protocol.groups import CellData, build_groups, cohort
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING, SOURCE_HR_SETTINGS
from benchmark.results.cell import Cell, ProtocolOptions, config_hash
from benchmark.results.cell_lock import LOCK, cell_lock, lock_holder
from benchmark.results.hash_cache import CACHE_FILE, HashCache
from benchmark.results.inputs import changed_inputs, input_record
from benchmark.results.no_follow import LinkInCellError, append_text, refuse_links, write_text
from benchmark.results.store import (
    CONFIG,
    DONE,
    DamagedCellError,
    check_finished,
    collect_results,
    mark_done,
    recorded_commit,
    remove_stale_table_temporaries,
    remove_temporaries,
    write_atomic,
    write_csv,
    write_json,
    write_npz,
)
from benchmark.scale import Scale
from benchmark.training.divergence import DIVERGED, TrainingDivergedError
from benchmark.training.run_context import RunContext
from benchmark.training.seeding import seed_everything

SETTINGS = SOURCE_HR_SETTINGS  # the settings `bench run --setting` accepts
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

CELL_FILES = (
    LOCK,
    "DONE",
    "config.json",
    "environment.json",
    "log.txt",
    "process.log",
    "error.txt",
    "model.pt",
    "metrics.csv",
    "slices.npz",
    "losses.csv",
    "timing.csv",
)
"""Files the harness writes in a cell folder: a symbolic link under one of these names is refused."""

__all__ = [
    "ProtocolOptions",
    "RunSummary",
    "build_matrix",
    "cell_identity",
    "open_datasets",
    "rebuild_table",
    "run_cell",
    "run_matrix",
    "sort_finished",
]


@dataclass
class RunSummary:
    """What :func:`run_matrix` did."""

    done: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    # Cells another bench run process held (it is running them): left to it.
    busy: list[tuple[Cell, str]] = field(default_factory=list)
    # Finished cells rerun because an input volume changed, with what changed.
    rerun_inputs: list[tuple[Cell, list[str]]] = field(default_factory=list)
    # Finished cells whose files disagree (cut metrics, edited config): rerun, with the reason.
    damaged: list[tuple[Path, str]] = field(default_factory=list)
    # Skipped cells whose results another commit of the harness made: kept, but worth a note.
    other_commit: dict[str, list[Cell]] = field(default_factory=dict)
    # Diverged cells that --retry-diverged trains again from step 0.
    retried: list[Cell] = field(default_factory=list)


def build_matrix(
    methods: Sequence[str],
    datasets: Sequence[str],
    scales: Sequence[Scale],
    settings: Sequence[str],
    seeds: Sequence[int],
    profile: Profile,
    protocol: ProtocolOptions | None = None,
    precision: Precision = DEFAULT_PRECISION,
) -> list[Cell]:
    """Every cell, ordered so that cells sharing data are adjacent; methods without source HR run once (``n/a``).

    A cell holds only what its method reads (:meth:`ProtocolOptions.as_read`): a method without
    training data (``needs_training_data = False``) runs once for every training degradation
    and misalignment seed, a cell outside the misaligned setting once for every misalignment
    seed, and a method with ``uses_seed = False`` once, as seed 0, for every seed.

    ``precision`` is the resolved one (:func:`benchmark.precision.resolve_precision`); it is part
    of every cell's identity.
    """
    protocol = protocol or ProtocolOptions()
    for setting in settings:
        if setting not in SETTINGS:
            raise BenchError(f"unknown setting '{setting}'; known: {', '.join(SETTINGS)}.")
    cells: list[Cell] = []
    for dataset in datasets:
        for scale in scales:
            for setting in settings:
                for method in methods:
                    cls = METHODS.factory(method)
                    if getattr(cls, "uses_source_hr", True) and setting not in getattr(cls, "settings", SETTINGS):
                        continue
                    cell_setting = setting if getattr(cls, "uses_source_hr", True) else NO_SETTING
                    read = protocol.as_read(
                        reads_training_lr=getattr(cls, "needs_training_data", True),
                        misaligned=cell_setting == MISALIGNED,
                    )
                    for seed in seeds:
                        cell_seed = seed if getattr(cls, "uses_seed", True) else 0
                        cell = Cell(
                            dataset, scale, cell_setting, method, cell_seed, profile.for_method(method), read, precision
                        )
                        if cell not in cells:
                            cells.append(cell)
    return cells


def cell_identity(cell: Cell) -> dict[str, Any]:
    """The configuration that identifies a cell's results (its DONE marker holds its hash)."""
    cls = METHODS.factory(cell.method)
    return {**cell.config(), "oracle": bool(getattr(cls, "oracle", False))}


def evaluate(method: Any, data: CellData, scale: Scale, cell_dir: Path, save_sr: bool) -> pd.DataFrame:
    """Super-resolve every test volume, compute the metrics, save figure slices (and SR volumes)."""
    rows = []
    for index, pair in enumerate(data.test):
        lr = torch.from_numpy(pair.lr.data)
        sr = method.super_resolve(lr)
        hr = torch.from_numpy(pair.hr.data)
        if tuple(sr.shape) != tuple(hr.shape):
            raise RuntimeError(f"super_resolve returned {tuple(sr.shape)} for an HR volume of {tuple(hr.shape)}")
        rows.append({"subject": pair.hr.subject, **{name: fn(sr, hr) for name, fn in METRICS.items()}})
        sr_array = sr.numpy()
        if index == 0:
            slices = figure_slices(pair.hr.data, pair.lr.data, sr_array, pair.hr.affine, scale)
            write_npz(cell_dir / "slices.npz", {**slices, "subject": pair.hr.subject})
        if save_sr:
            import gzip

            import nibabel as nib

            image = nib.Nifti1Image(sr_array, pair.hr.affine)
            write_atomic(cell_dir / "sr" / f"{pair.hr.subject}.nii.gz", gzip.compress(image.to_bytes(), mtime=0))
    return pd.DataFrame(rows)


def run_cell(
    cell: Cell,
    data: CellData,
    runs_dir: Path,
    device: torch.device,
    progress: Progress | None,
    inputs: dict[str, Any],
    save_sr: bool = False,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Fit and evaluate one cell; the caller holds its lock.  Writes its folder, ``DONE`` last.

    A ``DONE`` left from an earlier configuration or earlier inputs is removed before the new
    ``config.json`` is written, so a folder never shows one configuration beside another's metrics.

    Args:
        inputs: the record of the cell's input volumes (:func:`benchmark.results.inputs.input_record`).
        warn: shows a message to the user (also logged in the cell's ``log.txt``).
    """
    cell_dir = cell.folder(runs_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    refuse_links(cell_dir, CELL_FILES)
    (cell_dir / DONE).unlink(missing_ok=True)
    (cell_dir / "error.txt").unlink(missing_ok=True)
    remove_temporaries(cell_dir)
    cls = METHODS.factory(cell.method)
    identity = cell_identity(cell)
    write_json(cell_dir / CONFIG, {**identity, "data_records": data.records})
    write_json(cell_dir / "environment.json", environment_record(device, cell.precision))
    log_path = cell_dir / "log.txt"

    def log(message: str) -> None:
        append_text(log_path, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def warn_user(message: str) -> None:
        log(f"warning: {message}")
        if warn is not None:
            warn(f"{cell.label()}: {message}")

    seed_everything(cell.seed)
    method = cls(scale=cell.scale, profile=cell.profile)
    view = data.training.for_method(
        setting=cell.setting,
        uses_source_hr=bool(getattr(cls, "uses_source_hr", True)),
        uses_aligned_target_hr=bool(getattr(cls, "uses_aligned_target_hr", False)),
    )
    # Checkpoints belong to this configuration and these input bytes (not their time stamps).
    digests = {subject: (record or {}).get("sha256") for subject, record in inputs.get("files", {}).items()}
    run = RunContext(
        device=device,
        seed=cell.seed,
        profile=cell.profile,
        scale=cell.scale,
        cell_dir=cell_dir,
        checkpoint_dir=cell_dir / "checkpoints",
        progress=progress,
        log=log,
        precision=cell.precision,
        config_hash=config_hash({"identity": config_hash(identity), "inputs": digests}),
        warn=warn_user,
    )
    started = time.perf_counter()
    log(f"fit {cell.label()} in {cell.precision}")
    diverged: TrainingDivergedError | None = None
    with inference_precision(cell.precision):  # validation during fit and the test volumes alike
        try:
            method.fit(view, run)
        except TrainingDivergedError as error:  # a finding, recorded as the cell's result (divergence.py)
            diverged = error
        fit_seconds = time.perf_counter() - started
        if diverged is None:
            weights = io.BytesIO()
            torch.save(method.state_dict(), weights)
            write_atomic(cell_dir / "model.pt", weights.getvalue())
            log(f"evaluate on {len(data.test)} test subjects")
            metrics = evaluate(method, data, cell.scale, cell_dir, save_sr)
        else:
            warn_user(f"{diverged}; the cell is recorded as diverged, without metrics (--retry-diverged reruns it).")
            (cell_dir / "model.pt").unlink(missing_ok=True)
            nan = float("nan")
            metrics = pd.DataFrame([{"subject": p.hr.subject, "ssim": nan, "psnr": nan} for p in data.test])
    write_csv(cell_dir / "metrics.csv", metrics)
    total_seconds = time.perf_counter() - started
    mark_done(
        cell_dir,
        identity,
        {
            "fit_seconds": round(fit_seconds, 3),
            "total_seconds": round(total_seconds, 3),
            "reads": sorted(view.reads),
            "inputs": inputs,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **({DIVERGED: diverged.record()} if diverged is not None else {}),
        },
    )


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
) -> RunSummary:
    """Run every cell not yet done, with a progress bar; failures are recorded and the run goes on.

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
                            cached = build_cell_data(datasets[cell.dataset], cell, progress)
                            cached_key = key
                        assert cached is not None
                        _run_one(cell, cached, runs_dir, device, progress, inputs, save_sr, warn, summary)
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


def build_cell_data(dataset: Dataset, cell: Cell, progress: Progress) -> CellData:
    """Everything one cell needs from ``dataset`` (training view, test pairs, records), as its protocol says."""
    protocol = cell.protocol
    return build_groups(
        dataset,
        cell.scale,
        cell.setting,
        split_seed=protocol.split_seed,
        misalign_seed=protocol.misalign_seed,
        lr_patch=tuple(cell.profile["lr_patch"]),
        train_degradation=protocol.built_train_degradation,
        test_degradation=protocol.test_degradation,
        max_subjects=cell.profile.get("max_subjects"),
        progress=progress,
    )


def _run_one(
    cell: Cell,
    data: CellData,
    runs_dir: Path,
    device: torch.device,
    progress: Progress,
    inputs: _Inputs,
    save_sr: bool,
    warn: Callable[[str], None],
    summary: RunSummary,
) -> None:
    """Run one cell; a failure is written to its ``error.txt``, a full disk stops the run."""
    cell_dir = cell.folder(runs_dir)
    try:
        run_cell(cell, data, runs_dir, device, progress, inputs.record(cell, data), save_sr, warn)
    except BenchError as error:
        summary.failed.append((cell, str(error)))
        _record_failure(cell_dir, str(error))
        return
    except OSError as error:
        if error.errno in DISK_FULL:
            raise _disk_full(error, f"while running {cell.label()}") from None
        summary.failed.append((cell, f"{type(error).__name__}: {error}"))
        _record_failure(cell_dir, traceback.format_exc())
        return
    except Exception as error:  # a plugin bug must not lose the other cells' results
        summary.failed.append((cell, f"{type(error).__name__}: {error}"))
        _record_failure(cell_dir, traceback.format_exc())
        return
    summary.done.append(cell)
    rebuild_table(runs_dir, summary)  # the results table is current after every finished cell


def rebuild_table(runs_dir: Path, summary: RunSummary) -> None:
    try:
        collected = collect_results(runs_dir)
    except OSError as error:
        if error.errno in DISK_FULL:
            raise _disk_full(error, f"while writing {Path(runs_dir) / 'results.csv'}") from None
        raise
    known = {path for path, _ in summary.damaged}
    summary.damaged += [(path, reason) for path, reason in collected.damaged if path not in known]


def _disk_full(error: OSError, where: str) -> BenchError:
    return BenchError(
        f"the disk is full or read-only ({error.strerror}) {where}; finished cells are kept in their folders, "
        "and rerunning the same bench run command after freeing space resumes the rest and rebuilds results.csv."
    )


def _record_failure(cell_dir: Path, text: str) -> None:
    try:
        cell_dir.mkdir(parents=True, exist_ok=True)
        write_text(cell_dir / "error.txt", text + "\n")
    except LinkInCellError:
        return  # the failure (this link) is reported in its one sentence; nothing is written through it
    except OSError as error:
        if error.errno in DISK_FULL:
            raise _disk_full(error, f"while writing {cell_dir / 'error.txt'}") from None
        raise
