"""One cell's run: build its data, fit, evaluate, record; a failure is written to its ``error.txt``.

A full disk stops the run with one sentence: every finished cell is intact, and the next run
rebuilds the table.  :class:`RunSummary` is what an executor did with its cells.
"""

from __future__ import annotations

import errno
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.progress import Progress

from benchmark.app.infer.scan_geometry import voxel_sizes
from benchmark.app.matrix import cell_identity
from benchmark.data.dataset import Dataset
from benchmark.environment import environment_record
from benchmark.errors import BenchError
from benchmark.evaluation.downstream import CACHE_FOLDER as DOWNSTREAM_CACHE
from benchmark.evaluation.downstream import DownstreamScorer
from benchmark.evaluation.figure_slices import figure_slices
from benchmark.evaluation.masked_metrics import BRAIN_METRICS, SLICE_METRICS
from benchmark.evaluation.metrics import METRICS
from benchmark.plugins import METHODS
from benchmark.protocol.groups import CellData, build_groups
from benchmark.results.atomic_files import remove_temporaries, write_atomic, write_csv, write_json, write_npz
from benchmark.results.cell import Cell, config_hash
from benchmark.results.cell_record import (
    CELL_FILES,
    CHECKPOINTS,
    ENVIRONMENT,
    ERROR_FILE,
    LOG,
    MODEL,
    SLICES,
    clear_outcome,
    mark_done,
    write_config,
    write_error,
)
from benchmark.results.cell_record import METRICS as METRICS_FILE
from benchmark.results.no_follow import LinkInCellError, append_text, refuse_links
from benchmark.scale import Scale
from benchmark.training.divergence import DIVERGED, TrainingDivergedError
from benchmark.training.run_context import RunContext
from benchmark.training.seeding import seed_everything

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


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
    # The cells were handed to something that runs on after this call (a Slurm array not waited for).
    detached: bool = False
    # Cells a deadline left unfinished (the local queue's ``deadline``), with why: stopped or not started.
    unfinished: list[tuple[Cell, str]] = field(default_factory=list)
    # Seconds each cell's process ran, by cell folder relative to the runs folder (the local queue).
    wall_seconds: dict[Path, float] = field(default_factory=dict)


def merge_summary(into: RunSummary, other: RunSummary) -> None:
    """Add what ``other`` recorded to ``into`` (lists extended, mappings updated)."""
    for name, value in vars(other).items():
        mine = getattr(into, name)
        if isinstance(mine, list):
            mine.extend(value)
        elif isinstance(mine, dict):
            for key, items in value.items():
                if isinstance(items, list):
                    mine.setdefault(key, []).extend(items)
                else:
                    mine[key] = items
        else:
            setattr(into, name, mine or value)


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


def evaluate(
    method: Any,
    data: CellData,
    scale: Scale,
    cell_dir: Path,
    save_sr: bool,
    downstream: DownstreamScorer | None = None,
) -> pd.DataFrame:
    """Super-resolve every test volume, compute the metrics, save figure slices (and SR volumes).

    Args:
        downstream: scores tissue segmentation of each SR volume against its HR volume's
            (:mod:`benchmark.evaluation.downstream`), on the subjects that have a brain mask;
            ``None``: no downstream columns.
    """
    rows = []
    for index, pair in enumerate(data.test):
        lr = torch.from_numpy(pair.lr.data)
        sr = method.super_resolve(lr)
        hr = torch.from_numpy(pair.hr.data)
        if tuple(sr.shape) != tuple(hr.shape):
            raise RuntimeError(f"super_resolve returned {tuple(sr.shape)} for an HR volume of {tuple(hr.shape)}")
        sr_array = sr.numpy()
        row = {"subject": pair.hr.subject, **{name: fn(sr, hr) for name, fn in METRICS.items()}}
        row.update({name: fn(sr, hr) for name, fn in SLICE_METRICS.items()})
        if pair.mask is not None:
            row.update({name: fn(sr, hr, pair.mask) for name, fn in BRAIN_METRICS.items()})
            if downstream is not None:
                spacing = tuple(float(size) for size in voxel_sizes(pair.hr.affine))
                row.update(downstream.score(sr_array, pair.hr.data, pair.mask, pair.tissues, spacing))
        rows.append(row)
        if index == 0:
            slices = figure_slices(pair.hr.data, pair.lr.data, sr_array, pair.hr.affine, scale)
            write_npz(cell_dir / SLICES, {**slices, "subject": pair.hr.subject})
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
    downstream: bool = False,
) -> None:
    """Fit and evaluate one cell; the caller holds its lock.  Writes its folder, ``DONE`` last.

    A ``DONE`` left from an earlier configuration or earlier inputs is removed before the new
    ``config.json`` is written, so a folder never shows one configuration beside another's metrics.

    Args:
        inputs: the record of the cell's input volumes (:func:`benchmark.results.inputs.input_record`).
        warn: shows a message to the user (also logged in the cell's ``log.txt``).
        downstream: also compute the downstream tissue score (``bench run --downstream``); its
            HR segmentations are cached in ``runs_dir/_downstream``.
    """
    cell_dir = cell.folder(runs_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    refuse_links(cell_dir, CELL_FILES)
    clear_outcome(cell_dir)
    remove_temporaries(cell_dir)
    cls = METHODS.factory(cell.method)
    identity = cell_identity(cell)
    write_config(cell_dir, identity, data.records)
    write_json(cell_dir / ENVIRONMENT, environment_record(device, cell.precision))
    log_path = cell_dir / LOG

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
        checkpoint_dir=cell_dir / CHECKPOINTS,
        progress=progress,
        log=log,
        precision=cell.precision,
        config_hash=config_hash({"identity": config_hash(identity), "inputs": digests}),
        warn=warn_user,
    )
    if device.type == "cuda":  # this cell's own peak, also where one process runs several cells
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    log(f"fit {cell.label()} in {cell.precision}")
    diverged: TrainingDivergedError | None = None
    # The method reads its precision from run, in fit (validation) and in super_resolve (the test) alike.
    try:
        method.fit(view, run)
    except TrainingDivergedError as error:  # a finding, recorded as the cell's result (divergence.py)
        diverged = error
    fit_seconds = time.perf_counter() - started
    if diverged is None:
        weights = io.BytesIO()
        torch.save(method.state_dict(), weights)
        write_atomic(cell_dir / MODEL, weights.getvalue())
        log(f"evaluate on {len(data.test)} test subjects")
        scorer = DownstreamScorer(Path(runs_dir) / DOWNSTREAM_CACHE) if downstream else None
        metrics = evaluate(method, data, cell.scale, cell_dir, save_sr, scorer)
    else:
        warn_user(f"{diverged}; the cell is recorded as diverged, without metrics (--retry-diverged reruns it).")
        (cell_dir / MODEL).unlink(missing_ok=True)
        nan = float("nan")
        metrics = pd.DataFrame([{"subject": p.hr.subject, "ssim": nan, "psnr": nan} for p in data.test])
    write_csv(cell_dir / METRICS_FILE, metrics)
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
            **peak_gpu_memory(device),
            **({DIVERGED: diverged.record()} if diverged is not None else {}),
        },
    )


def peak_gpu_memory(device: torch.device) -> dict[str, float]:
    """``peak_gpu_memory_mib`` and ``peak_gpu_reserved_mib`` since the cell started (MiB), on CUDA; else nothing."""
    if device.type != "cuda":
        return {}
    return {
        "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1),
        "peak_gpu_reserved_mib": round(torch.cuda.max_memory_reserved(device) / 2**20, 1),
    }


def disk_full_error(error: OSError, where: str) -> BenchError:
    return BenchError(
        f"the disk is full or read-only ({error.strerror}) {where}; finished cells are kept in their folders, "
        "and rerunning the same bench run command after freeing space resumes the rest and rebuilds results.csv."
    )


def record_failure(cell_dir: Path, text: str) -> None:
    try:
        cell_dir.mkdir(parents=True, exist_ok=True)
        write_error(cell_dir, text)
    except LinkInCellError:
        return  # the failure (this link) is reported in its one sentence; nothing is written through it
    except OSError as error:
        if error.errno in DISK_FULL:
            raise disk_full_error(error, f"while writing {cell_dir / ERROR_FILE}") from None
        raise
