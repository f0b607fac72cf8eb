"""The results store's table: ``results.csv``, rebuilt from every finished cell.

``results.csv`` at the top of a runs folder has one row per (cell, test subject); its columns and
their types are those of :mod:`benchmark.results.schema`, which the reports read with.  The
cells' own files are read through :mod:`benchmark.results.cell_record`, so a damaged cell is
left out with one line and never stops the table of the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.results.atomic_files import TEMPORARY_PREFIX, write_csv
from benchmark.results.cell_record import DONE, DamagedCellError, check_finished, recorded_cell
from benchmark.results.schema import COLUMNS, CONFIG_HASH, DONE_STATE, KEY_COLUMNS, ORACLE, RESULTS_FILE, STATE
from benchmark.training.divergence import DIVERGED

STALE_SECONDS = 600
"""Age after which a temporary file of the results table is a killed write's leftover, not one in flight."""


def remove_stale_table_temporaries(runs_dir: Path, now: float | None = None) -> list[Path]:
    """Delete the ``.results.csv.*`` files that killed rewrites of the results table left behind.

    Another ``bench run`` on the same folder may be writing one right now (a rewrite takes well
    under a second), so only those older than :data:`STALE_SECONDS` go. Returns the removed paths.
    """
    now = time.time() if now is None else now
    removed = []
    for path in Path(runs_dir).glob(f"{TEMPORARY_PREFIX}{RESULTS_FILE}.*"):
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


# --------------------------------------------------------------------------- results table
@dataclass
class Collected:
    """What :func:`collect_results` found: the table, and the damaged cells it left out."""

    table: pd.DataFrame
    damaged: list[tuple[Path, str]] = field(default_factory=list)


def collect_results(runs_dir: Path) -> Collected:
    """Rebuild and write ``runs_dir/results.csv`` from every intact finished cell.

    Columns: :data:`~benchmark.results.schema.COLUMNS` (identity and subject, ``ssim``,
    ``psnr``, ``oracle``, ``config_hash``), any further metric after ``psnr``.  A damaged cell is left out and listed in
    :attr:`Collected.damaged` with the reason; it never stops the others.

    Raises:
        OSError: ``results.csv`` cannot be written (a full disk); every cell folder is intact.
    """
    frames = []
    damaged: list[tuple[Path, str]] = []
    for marker in sorted(Path(runs_dir).rglob(DONE)):
        cell_dir = marker.parent
        try:
            found = check_finished(cell_dir)
            if found is None:
                continue
            done, config, metrics = found
            recorded = recorded_cell(config)
        except DamagedCellError as error:
            damaged.append((cell_dir, str(error)))
            continue
        identity = recorded.identity_columns()
        for position, (name, value) in enumerate(identity.items()):
            metrics.insert(position, name, value)
        metrics[ORACLE] = recorded.oracle
        metrics[CONFIG_HASH] = done["config_hash"]
        metrics[STATE] = DIVERGED if DIVERGED in done else DONE_STATE
        frames.append(metrics)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    table = table.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    write_csv(Path(runs_dir) / RESULTS_FILE, table)
    return Collected(table, damaged)
