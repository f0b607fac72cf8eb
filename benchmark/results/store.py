"""The results store: cell folders with atomic writes, DONE markers, and the long results table.

A cell folder holds ``config.json``, ``environment.json``, ``metrics.csv`` (one row per test
subject), ``slices.npz`` (figure slices), optional ``sr/`` volumes, checkpoints, and ``DONE``,
written last and atomically.  ``DONE`` holds the hash of the configuration the cell finished,
the SHA-256 and row count of its ``metrics.csv`` and the record of its input volumes
(:mod:`benchmark.results.inputs`).

Nothing in a cell folder is trusted: :func:`check_finished` accepts a cell only when its
``DONE``, ``config.json`` and ``metrics.csv`` agree with each other, and
:func:`collect_results` skips, with one line each, the cells that do not, so one damaged cell
never stops the table of the others.  ``results.csv`` at the top of the store is rebuilt from
every finished cell, one row per (cell, test subject); its columns and their types are those of
:mod:`benchmark.results.schema`, which the reports read with.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.results.cell import config_hash
from benchmark.results.cell_lock import LOCK
from benchmark.results.inputs import file_sha256
from benchmark.results.schema import (
    COLUMNS,
    CONFIG_HASH,
    DEFAULT_DEGRADATION,
    DEFAULT_PRECISION,
    DONE_STATE,
    IDENTITY_COLUMNS,
    INTEGER_COLUMNS,
    KEY_COLUMNS,
    METRIC_COLUMNS,
    ORACLE,
    RESULTS_FILE,
    STATE,
    SUBJECT,
)
from benchmark.training.divergence import DIVERGED

DONE = "DONE"
METRICS = "metrics.csv"
CONFIG = "config.json"
RECORD_ONLY_KEYS = ("data_records",)
"""Keys of ``config.json`` that describe the cell's data but are not hashed into its identity."""
TEMPORARY_PREFIX = "."
"""Temporary files of atomic writes are ``.<name>.<random>`` beside their target."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file.

    The rename replaces ``path`` itself, so a symbolic link planted there is replaced, never
    written through; the file gets the mode a plain ``open`` would (0666 less the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from a shared folder's group
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_through(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Have ``write`` fill a temporary file beside ``path``, then rename it onto ``path``: never half a file.

    For writers that need a path of their own (``nib.save``, an archive): the temporary file is
    ``.<name>.<random><suffix>`` (keep ``suffix`` when the writer reads the format from it), gets
    the mode a plain ``open`` would (0666 less the umask) and is removed if ``write`` fails.  As
    :func:`write_atomic`, the rename replaces a link planted at ``path``, never its target.

    Raises:
        OSError: the folder cannot be written, or ``write`` failed to; ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and back: there is no other portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Atomically write a DataFrame as CSV without its index."""
    write_atomic(path, frame.to_csv(index=False).encode())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write compressed arrays."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def remove_temporaries(cell_dir: Path) -> list[Path]:
    """Delete the temporary files that killed atomic writes left in a cell folder (``.last.pt.*``, ``.DONE.*``).

    Every ``.``-file below the cell is one (:func:`write_atomic` names them so), except the
    cell's lock.  Call it only while holding that lock (:mod:`benchmark.results.cell_lock`):
    then no write of this cell is in flight.  Returns the removed paths.
    """
    removed = []
    for path in sorted(cell_dir.rglob(f"{TEMPORARY_PREFIX}*")):
        if path.is_file() and path.name != LOCK:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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


# --------------------------------------------------------------------------- DONE markers
def identity_of(config: dict[str, Any]) -> dict[str, Any]:
    """The hashed part of a ``config.json``: everything but the data records."""
    return {key: value for key, value in config.items() if key not in RECORD_ONLY_KEYS}


def mark_done(cell_dir: Path, config: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write the DONE marker last, atomically, with the digest of the cell's ``metrics.csv``."""
    metrics = cell_dir / METRICS
    rows = len(pd.read_csv(metrics, keep_default_na=False))
    record = {"config_hash": config_hash(config), "metrics_sha256": file_sha256(metrics), "metrics_rows": rows}
    write_json(cell_dir / DONE, {**record, **extra})


def read_done(cell_dir: Path) -> dict[str, Any] | None:
    """The parsed ``DONE`` marker, or ``None`` when it is missing or unreadable."""
    try:
        record = json.loads((cell_dir / DONE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config_hash"), str) else None


class DamagedCellError(Exception):
    """A finished cell whose files disagree; the message names what is wrong."""


def _read_config(cell_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((cell_dir / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DamagedCellError("config.json is missing") from None
    except (OSError, ValueError):
        raise DamagedCellError("config.json is not valid JSON") from None
    required = ("dataset", "scale", "setting", "method", "seed", "profile")
    if not isinstance(config, dict) or any(key not in config for key in required):
        raise DamagedCellError("config.json lacks the cell's identity")
    if not isinstance(config["profile"], dict) or "name" not in config["profile"]:
        raise DamagedCellError("config.json lacks the profile name")
    return config


def _read_metrics(cell_dir: Path, done: dict[str, Any]) -> pd.DataFrame:
    path = cell_dir / METRICS
    if not path.is_file():
        raise DamagedCellError("metrics.csv is missing")
    recorded = done.get("metrics_sha256")
    if recorded is not None and file_sha256(path) != recorded:
        raise DamagedCellError("metrics.csv differs from the one its DONE marker recorded (cut or edited)")
    try:
        metrics = pd.read_csv(path, keep_default_na=False, dtype={SUBJECT: str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise DamagedCellError("metrics.csv cannot be parsed") from None
    if any(name not in metrics.columns for name in (SUBJECT, *METRIC_COLUMNS)):
        raise DamagedCellError(f"metrics.csv lacks its columns {', '.join((SUBJECT, *METRIC_COLUMNS))}")
    recorded_rows = _recorded_rows(done)
    if metrics.empty or (recorded_rows is not None and len(metrics) != recorded_rows):
        raise DamagedCellError("metrics.csv has fewer rows than its DONE marker recorded")
    diverged = DIVERGED in done
    for name in METRIC_COLUMNS:
        values = pd.to_numeric(metrics[name], errors="coerce")
        if diverged:  # a diverged cell records its test subjects without metrics
            if values.notna().any():
                raise DamagedCellError(f"metrics.csv of a diverged cell has a {name} value")
        elif values.isna().any() or not all(math.isfinite(v) for v in values):
            raise DamagedCellError(f"metrics.csv has a missing or non-numeric {name}")
        metrics[name] = values.astype(float)
    return metrics


def _recorded_rows(done: dict[str, Any]) -> int | None:
    """The ``metrics_rows`` of a ``DONE`` marker (its metrics.csv's row count; ``None`` in markers older than it).

    Raises:
        DamagedCellError: it is there but not a positive integer (before, it stopped every ``bench run``).
    """
    if "metrics_rows" not in done:
        return None
    value = done["metrics_rows"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DamagedCellError("its DONE marker's metrics_rows is not a positive integer")
    return value


def check_finished(cell_dir: Path, expected_hash: str | None = None) -> tuple[dict, dict, pd.DataFrame] | None:
    """A finished cell's ``(done, config, metrics)``, or ``None`` when it has no DONE marker.

    Args:
        cell_dir: the cell's folder.
        expected_hash: the configuration hash the caller wants; ``None`` accepts any that the
            cell's own ``config.json`` agrees with.

    Raises:
        DamagedCellError: the marker, the configuration and the metrics do not agree, or one cannot be read.
    """
    if not (cell_dir / DONE).is_file():
        return None
    done = read_done(cell_dir)
    if done is None:
        raise DamagedCellError("its DONE marker cannot be read")
    if expected_hash is not None and done["config_hash"] != expected_hash:
        return None
    config = _read_config(cell_dir)
    if config_hash(identity_of(config)) != done["config_hash"]:
        raise DamagedCellError("config.json does not match the configuration its DONE marker finished")
    return done, config, _read_metrics(cell_dir, done)


def is_done(cell_dir: Path, config: dict[str, Any]) -> bool:
    """Whether the cell finished with exactly this configuration and its files are intact."""
    try:
        return check_finished(cell_dir, config_hash(config)) is not None
    except DamagedCellError:
        return False


def recorded_commit(cell_dir: Path) -> str | None:
    """The harness commit a finished cell recorded in its ``environment.json``, or ``None``."""
    try:
        return json.loads((cell_dir / "environment.json").read_text()).get("git_commit")
    except (ValueError, OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- results table
def _identity_columns(config: dict[str, Any]) -> dict[str, Any]:
    """A cell's values of :data:`~benchmark.results.schema.IDENTITY_COLUMNS`, typed as the schema says.

    A ``config.json`` written before the protocol was recorded means the default protocol; one
    without ``precision`` (every fp32 cell) means fp32.
    """
    protocol = config.get("protocol") or {}
    values = {
        "dataset": config["dataset"],
        "scale": config["scale"],
        "setting": config["setting"],
        "method": config["method"],
        "profile": config["profile"]["name"],
        "overrides": config.get("overrides", ""),
        "train_degradation": protocol.get("train_degradation", DEFAULT_DEGRADATION),
        "test_degradation": protocol.get("test_degradation", DEFAULT_DEGRADATION),
        "split_seed": protocol.get("split_seed", 0),
        "misalign_seed": protocol.get("misalign_seed", 0),
        "data_root": protocol.get("data_root") or "",
        "precision": config.get("precision", DEFAULT_PRECISION),
        "seed": config["seed"],
    }
    return {name: int(values[name]) if name in INTEGER_COLUMNS else str(values[name]) for name in IDENTITY_COLUMNS}


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
            identity = _identity_columns(config)
        except DamagedCellError as error:
            damaged.append((cell_dir, str(error)))
            continue
        except (KeyError, TypeError, ValueError):
            damaged.append((cell_dir, "config.json holds values of the wrong type"))
            continue
        for position, (name, value) in enumerate(identity.items()):
            metrics.insert(position, name, value)
        metrics[ORACLE] = bool(config.get("oracle", False))
        metrics[CONFIG_HASH] = done["config_hash"]
        metrics[STATE] = DIVERGED if DIVERGED in done else DONE_STATE
        frames.append(metrics)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    table = table.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    write_csv(Path(runs_dir) / RESULTS_FILE, table)
    return Collected(table, damaged)
