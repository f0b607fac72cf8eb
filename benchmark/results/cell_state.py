"""Where a cell stands: done, diverged, running, failed or pending, read from its folder alone.

- **done**: an intact ``DONE`` marker that agrees with ``config.json`` and ``metrics.csv``
  (:func:`benchmark.results.store.check_finished`); wall time from the marker.
- **diverged**: the same, for a cell whose training loss stopped being finite; the reason says
  at which step and which loss (:mod:`benchmark.training.divergence`).
- **running**: a process holds the cell's lock (:func:`benchmark.results.cell_lock.is_locked`);
  wall time since its ``config.json`` was written, when the cell started.
- **failed**: ``error.txt`` and no lock; its last non-empty line is the reason, the wall time
  runs from the start to the error.
- **pending**: none of these (not started, or interrupted: it resumes from its checkpoint).

A damaged finished cell (its files disagree) is *failed*, with the reason, since ``bench run``
must redo it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.results.cell_lock import is_locked
from benchmark.results.cell_record import (
    CHECKPOINTS,
    DamagedCellError,
    check_finished,
    failed_at,
    last_error_line,
    started_at,
)
from benchmark.training.divergence import DIVERGED, describe

STATES = ("done", DIVERGED, "running", "failed", "pending")


@dataclass(frozen=True)
class CellState:
    """A cell's state, its wall time in seconds (``None`` when not started) and, when failed, why."""

    state: str
    seconds: float | None = None
    reason: str = ""
    started_checkpoint: bool = False


def cell_state(cell_dir: Path, now: float | None = None) -> CellState:
    """The state of the cell in ``cell_dir`` (see the module docstring)."""
    now = time.time() if now is None else now
    started = started_at(cell_dir)
    try:
        finished = check_finished(cell_dir)
    except DamagedCellError as error:
        return CellState("failed", None, f"damaged finished cell: {error}")
    if finished is not None:
        done = finished[0]
        seconds = done.get("total_seconds")
        seconds = float(seconds) if isinstance(seconds, (int, float)) else None
        if isinstance(done.get(DIVERGED), dict):
            return CellState(DIVERGED, seconds, describe(done[DIVERGED]))
        return CellState("done", seconds)
    if is_locked(cell_dir):
        return CellState("running", now - started if started is not None else None)
    error_time = failed_at(cell_dir)
    if error_time is not None:
        seconds = error_time - started if started is not None and started <= error_time else None
        return CellState("failed", seconds, last_error_line(cell_dir) or "unknown error")
    checkpoints = cell_dir / CHECKPOINTS
    has_checkpoint = any(checkpoints.glob("*")) if checkpoints.is_dir() else False
    return CellState("pending", None, started_checkpoint=has_checkpoint)
