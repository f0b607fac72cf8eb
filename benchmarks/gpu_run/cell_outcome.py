"""What one cell of the local queue did, read back from its folder: status, seconds, steps, peak GPU memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.app.cell_run import RunSummary
from benchmark.results.cell import Cell
from benchmark.results.cell_record import TIMING, read_done, read_environment


def training_record(cell_dir: Path) -> tuple[int, float]:
    """Training steps and seconds of a cell: the sums over every ``timing.csv`` under its folder.

    Methods with stages (DASR) or per-volume training (ZSSR) write one ``timing.csv`` per run
    of the trainer, in sub-folders.
    """
    steps, seconds = 0, 0.0
    for path in sorted(cell_dir.rglob(TIMING)):
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        if {"steps", "total_s"} <= set(table.columns):
            steps += int(table["steps"].sum())
            seconds += float(table["total_s"].sum())
    return steps, seconds


def cell_outcome(cell: Cell, runs_dir: Path, summary: RunSummary) -> dict[str, Any]:
    """One row of ``cells.csv`` (and of a method probe): what the queue's ``summary`` and the cell's files say.

    ``peak_mem_mib`` and ``peak_reserved_mib`` are the cell process's peak GPU memory, from its
    ``DONE`` (``None`` on the CPU or when it did not finish).
    """
    cell_dir = cell.folder(runs_dir)
    key = cell.folder(Path("."))  # a cell is its folder
    failed = {c.folder(Path(".")): reason for c, reason in summary.failed}
    unfinished = {c.folder(Path(".")): reason for c, reason in summary.unfinished}
    if any(c.folder(Path(".")) == key for c in summary.done):
        status, error = "done", ""
    elif key in failed:
        status, error = "failed", failed[key].splitlines()[0][:300]
    else:
        status, error = unfinished.get(key, "not run"), ""
    steps, train_s = training_record(cell_dir)
    done = read_done(cell_dir) or {}
    precision = read_environment(cell_dir).get("precision", cell.precision)
    return {
        "label": cell.label(),
        "method": cell.method,
        "setting": cell.setting,
        "status": status,
        "error": error,
        "wall_s": summary.wall_seconds.get(key, 0.0),
        "train_s": train_s,
        "steps": steps,
        "peak_mem_mib": done.get("peak_gpu_memory_mib"),
        "peak_reserved_mib": done.get("peak_gpu_reserved_mib"),
        "precision": precision,
        "cell_dir": str(cell_dir),
    }
