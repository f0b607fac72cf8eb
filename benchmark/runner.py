"""Run the matrix: build each cell's data once per (dataset, scale, setting), fit, evaluate, record.

Cells are independent and resumable.  A finished cell (``DONE`` matching its configuration)
is skipped; a cell that fails writes ``error.txt`` in its folder and the run goes on with the
next one, so a failure never loses results already written.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmark.cell import NO_SETTING, Cell
from benchmark.environment import environment_record, harness_commit, same_commit
from benchmark.errors import BenchError
from benchmark.figure_slices import figure_slices
from benchmark.metrics import METRICS
from benchmark.plugins import DATASETS, METHODS
from benchmark.profiles import Profile
from benchmark.protocol.groups import CellData, build_groups
from benchmark.run_context import RunContext
from benchmark.scale import Scale
from benchmark.seeding import seed_everything
from benchmark.store import collect_results, is_done, mark_done, recorded_commit, write_csv, write_json, write_npz
from benchmark.training_data import TrainingData

SETTINGS = ("misaligned", "unpaired")


@dataclass(frozen=True)
class ProtocolOptions:
    """Options of the data protocol shared by every cell of a run (recorded in each cell's config)."""

    data_root: Path | None = None
    split_seed: int = 0
    misalign_seed: int = 0
    train_degradation: str = "kspace"
    test_degradation: str = "kspace"

    def record(self) -> dict[str, Any]:
        """JSON-ready form; the data root is part of the identity of the results."""
        return {
            "data_root": str(self.data_root.resolve()) if self.data_root else None,
            "split_seed": self.split_seed,
            "misalign_seed": self.misalign_seed,
            "train_degradation": self.train_degradation,
            "test_degradation": self.test_degradation,
        }


@dataclass
class RunSummary:
    """What :func:`run_matrix` did."""

    done: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    # Skipped cells whose results another commit of the harness made: kept, but worth a note.
    other_commit: dict[str, list[Cell]] = field(default_factory=dict)


def build_matrix(
    methods: Sequence[str],
    datasets: Sequence[str],
    scales: Sequence[Scale],
    settings: Sequence[str],
    seeds: Sequence[int],
    profile: Profile,
) -> list[Cell]:
    """Every cell, ordered so that cells sharing data are adjacent; methods without source HR run once (``n/a``)."""
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
                    for seed in seeds:
                        cell = Cell(dataset, scale, cell_setting, method, seed, profile)
                        if cell not in cells:
                            cells.append(cell)
    return cells


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
            import nibabel as nib

            path = cell_dir / "sr" / f"{pair.hr.subject}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(sr_array, pair.hr.affine), path)
    return pd.DataFrame(rows)


def run_cell(
    cell: Cell,
    data: CellData,
    runs_dir: Path,
    options: ProtocolOptions,
    device: torch.device,
    progress: Progress | None,
    save_sr: bool = False,
) -> None:
    """Fit and evaluate one cell; writes its folder, ``DONE`` last."""
    cell_dir = cell.folder(runs_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    cls = METHODS.factory(cell.method)
    identity = cell_identity(cell, options)
    write_json(cell_dir / "config.json", {**identity, "data_records": data.records})
    write_json(cell_dir / "environment.json", environment_record(device))
    (cell_dir / "error.txt").unlink(missing_ok=True)
    log_path = cell_dir / "log.txt"

    def log(message: str) -> None:
        with log_path.open("a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    seed_everything(cell.seed)
    method = cls(scale=cell.scale, profile=cell.profile)
    training = data.training
    view = TrainingData(
        scale=training.scale,
        setting=cell.setting,
        _source_hr=training._source_hr if cell.setting != NO_SETTING else [],
        _target_lr=training._target_lr,
        _validation=training._validation,
        _target_hr=training._target_hr,
        allow_source_hr=bool(getattr(cls, "uses_source_hr", True)),
        allow_target_hr=bool(getattr(cls, "uses_aligned_target_hr", False)),
    )
    run = RunContext(
        device=device,
        seed=cell.seed,
        profile=cell.profile,
        scale=cell.scale,
        cell_dir=cell_dir,
        checkpoint_dir=cell_dir / "checkpoints",
        progress=progress,
        log=log,
        amp=device.type == "cuda",
    )
    started = time.perf_counter()
    log(f"fit {cell.label()}")
    method.fit(view, run)
    fit_seconds = time.perf_counter() - started
    torch.save(method.state_dict(), cell_dir / "model.pt")
    log(f"evaluate on {len(data.test)} test subjects")
    metrics = evaluate(method, data, cell.scale, cell_dir, save_sr)
    write_csv(cell_dir / "metrics.csv", metrics)
    total_seconds = time.perf_counter() - started
    mark_done(
        cell_dir,
        identity,
        {
            "fit_seconds": round(fit_seconds, 3),
            "total_seconds": round(total_seconds, 3),
            "reads": sorted(view.reads),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )


def run_matrix(
    cells: Sequence[Cell],
    runs_dir: Path,
    options: ProtocolOptions,
    device: torch.device,
    cache_dir: Path,
    console: Console | None = None,
    save_sr: bool = False,
) -> RunSummary:
    """Run every cell not yet done, with a progress bar; failures are recorded and the run goes on."""
    console = console or Console()
    summary = RunSummary()
    pending = []
    current_commit = harness_commit()
    for cell in cells:
        if is_done(cell.folder(runs_dir), cell_identity(cell, options)):
            summary.skipped.append(cell)
            recorded = recorded_commit(cell.folder(runs_dir))
            if not same_commit(recorded, current_commit):
                summary.other_commit.setdefault(str(recorded), []).append(cell)
        else:
            pending.append(cell)
    # Open every dataset first, so a bad data root stops the run before any training starts.
    datasets = {
        name: DATASETS.create(name, data_root=options.data_root, cache_dir=cache_dir)
        for name in dict.fromkeys(cell.dataset for cell in pending)
    }
    cached_key: tuple[str, Scale, str] | None = None
    cached: CellData | None = None
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            overall = progress.add_task("cells", total=len(cells), completed=len(summary.skipped))
            for cell in pending:
                progress.update(overall, description=f"cells · {cell.label()}")
                key = (cell.dataset, cell.scale, cell.setting)
                # Cells without source HR (n/a) share the test group of any setting of their dataset and scale.
                reusable = (
                    cached_key is not None and cached_key[:2] == key[:2] and key[2] in (cached_key[2], NO_SETTING)
                )
                if not reusable:
                    cached = None  # release the previous group's volumes before loading the next
                    cached = build_groups(
                        datasets[cell.dataset],
                        cell.scale,
                        cell.setting,
                        split_seed=options.split_seed,
                        misalign_seed=options.misalign_seed,
                        lr_patch=tuple(cell.profile["lr_patch"]),
                        train_degradation=options.train_degradation,
                        test_degradation=options.test_degradation,
                        max_subjects=cell.profile.get("max_subjects"),
                        progress=progress,
                    )
                    cached_key = key
                assert cached is not None
                try:
                    run_cell(cell, cached, runs_dir, options, device, progress, save_sr)
                    summary.done.append(cell)
                    collect_results(runs_dir)  # the results table is current after every finished cell
                except BenchError as error:
                    summary.failed.append((cell, str(error)))
                    _record_failure(cell.folder(runs_dir), str(error))
                except Exception as error:  # a plugin bug must not lose the other cells' results
                    summary.failed.append((cell, f"{type(error).__name__}: {error}"))
                    _record_failure(cell.folder(runs_dir), traceback.format_exc())
                progress.advance(overall)
    finally:
        collect_results(runs_dir)
    return summary


def cell_identity(cell: Cell, options: ProtocolOptions) -> dict[str, Any]:
    """The configuration that identifies a cell's results (its DONE marker holds its hash)."""
    cls = METHODS.factory(cell.method)
    return {**cell.config(options.record()), "oracle": bool(getattr(cls, "oracle", False))}


def _record_failure(cell_dir: Path, text: str) -> None:
    cell_dir.mkdir(parents=True, exist_ok=True)
    (cell_dir / "error.txt").write_text(text + "\n")
