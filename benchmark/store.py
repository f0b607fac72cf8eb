"""The results store: cell folders with atomic writes, DONE markers, and the long results table.

A cell folder holds ``config.json``, ``environment.json``, ``metrics.csv`` (one row per test
subject), ``slices.npz`` (figure slices), optional ``sr/`` volumes, checkpoints, and ``DONE``,
written last and atomically with the hash of the configuration it finished.  ``results.csv``
at the top of the store is rebuilt from every finished cell.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.cell import config_hash

DONE = "DONE"
RESULTS = "results.csv"
KEY_COLUMNS = ["dataset", "scale", "setting", "method", "profile", "seed", "subject"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Atomically write a DataFrame as CSV without its index."""
    write_atomic(path, frame.to_csv(index=False).encode())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write compressed arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_done(cell_dir: Path, config: dict[str, Any]) -> bool:
    """Whether the cell finished with exactly this configuration."""
    marker = cell_dir / DONE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("config_hash") == config_hash(config)
    except (json.JSONDecodeError, OSError):
        return False


def recorded_commit(cell_dir: Path) -> str | None:
    """The harness commit a finished cell recorded in its ``environment.json``, or ``None``."""
    try:
        return json.loads((cell_dir / "environment.json").read_text()).get("git_commit")
    except (json.JSONDecodeError, OSError, AttributeError):
        return None


def mark_done(cell_dir: Path, config: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write the DONE marker last, atomically."""
    write_json(cell_dir / DONE, {"config_hash": config_hash(config), **extra})


def finished_cells(runs_dir: Path) -> Iterator[Path]:
    """Folders of every finished cell under ``runs_dir``, sorted."""
    for marker in sorted(runs_dir.rglob(DONE)):
        if (marker.parent / "metrics.csv").is_file():
            yield marker.parent


def collect_results(runs_dir: Path) -> pd.DataFrame:
    """Rebuild and write ``runs_dir/results.csv`` from every finished cell; returns it (long format)."""
    frames = []
    for cell_dir in finished_cells(runs_dir):
        config = json.loads((cell_dir / "config.json").read_text())
        metrics = pd.read_csv(cell_dir / "metrics.csv")
        metrics.insert(0, "dataset", config["dataset"])
        metrics.insert(1, "scale", config["scale"])
        metrics.insert(2, "setting", config["setting"])
        metrics.insert(3, "method", config["method"])
        metrics.insert(4, "profile", config["profile"]["name"])
        metrics.insert(5, "seed", config["seed"])
        metrics["oracle"] = bool(config.get("oracle", False))
        frames.append(metrics)
    columns = [*KEY_COLUMNS, "ssim", "psnr", "oracle"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    table = table.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)
    write_csv(runs_dir / RESULTS, table)
    return table
