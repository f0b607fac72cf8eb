"""What ``bench status`` shows: every cell of a results folder with its state and wall time.

The cells are those of the matrices ``bench run`` recorded (:mod:`benchmark.app.executors.manifest`),
whichever executor ran them, plus any cell folder found on disk that no manifest names (made
before manifests existed, or by a copied results folder).  States are read from the cell
folders (:mod:`benchmark.results.cell_state`), so the view is the same for all executors.
A pending cell of a Slurm array also gets what Slurm says of its task (``squeue``, then
``sacct`` where the cluster keeps accounting; :mod:`benchmark.app.executors.slurm_states`): a task
Slurm ended badly, or one that left the queue without finishing its cell, is failed, with the
cause and its log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from benchmark.app.executors.manifest import planned_cells
from benchmark.app.executors.slurm_states import ENDED_BADLY, GONE, cause, refined_state, slurm_states
from benchmark.results.cell_record import CONFIG, DONE, ERROR_FILE, DamagedCellError, read_config
from benchmark.results.cell_state import CellState, cell_state

_MARKERS = (CONFIG, DONE, ERROR_FILE)
SLURM_FOLDER = "_slurm"
"""Where the Slurm executor's submitit scripts and task logs go, in the results folder."""


@dataclass(frozen=True)
class StatusRow:
    """One cell: its folder, label, executor (``""`` when unknown), job id, and state."""

    folder: Path
    label: str
    executor: str
    job_id: str | None
    state: CellState


def _label_from_config(cell_dir: Path, runs_dir: Path) -> str:
    try:
        return read_config(cell_dir).label()
    except DamagedCellError:
        return str(cell_dir.relative_to(runs_dir))


def _cell_folders_on_disk(runs_dir: Path) -> list[Path]:
    """Folders ``…/seed<k>`` below ``runs_dir`` that hold a cell's files."""
    found = set()
    for marker in _MARKERS:
        for path in runs_dir.rglob(marker):
            if path.parent.name.startswith("seed"):
                found.add(path.parent)
    return sorted(found)


def matrix_status(runs_dir: Path, now: float | None = None) -> list[StatusRow]:
    """Every known cell of ``runs_dir``: the manifests' cells in their order, then the others found on disk."""
    now = time.time() if now is None else now
    rows = [
        StatusRow(planned.folder, planned.label, planned.executor, planned.job_id, cell_state(planned.folder, now))
        for planned in planned_cells(runs_dir)
    ]
    known = {row.folder for row in rows}
    for cell_dir in _cell_folders_on_disk(Path(runs_dir)):
        if cell_dir not in known:
            label = _label_from_config(cell_dir, runs_dir)
            rows.append(StatusRow(cell_dir, label, "", None, cell_state(cell_dir, now)))
    return with_slurm_states(rows, Path(runs_dir))


def with_slurm_states(rows: list[StatusRow], runs_dir: Path) -> list[StatusRow]:
    """Pending Slurm cells with what Slurm says: failed when their task ended badly or is gone, else why they wait."""
    waiting = [row.job_id for row in rows if row.executor == "slurm" and row.job_id and row.state.state == "pending"]
    states = slurm_states(job for job in waiting if job)
    if not states:
        return rows
    updated = []
    for row in rows:
        state = states.get(row.job_id or "") if row.state.state == "pending" and row.executor == "slurm" else None
        if state in ENDED_BADLY or state == GONE:
            log = Path(runs_dir, SLURM_FOLDER, f"{row.job_id}_0_log.err")
            reason = f"Slurm ended the task: {cause(refined_state(state, log))} (log: {log})"
            row = replace(row, state=CellState("failed", None, reason))
        elif state is not None:
            reason = "queued in Slurm" if state == "PENDING" else f"Slurm: {state}"
            row = replace(row, state=replace(row.state, reason=reason))
        updated.append(row)
    return updated


def wall_time_text(seconds: float | None) -> str:
    """``None`` → ``"–"``; else ``"42 s"``, ``"12 min 5 s"`` or ``"3 h 04 min"``."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
