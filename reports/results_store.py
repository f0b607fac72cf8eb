"""Reading the results store (files only): ``results.csv`` and the cells' ``slices.npz``.

The reports never import methods or datasets; this module is their only door to the runs.

``results.csv`` is one long table, one row per (cell, test subject), with the columns
``dataset, scale, setting, method, profile, seed, subject, <metrics...>, oracle``.  It is read
with pandas' default missing-value markers switched off, because the setting of methods that
need no source HR is the literal string ``n/a`` (which pandas would otherwise turn into NaN).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import BenchError

RESULTS_FILE = "results.csv"
CELL_COLUMNS: tuple[str, ...] = ("dataset", "scale", "setting", "method", "profile")
KEY_COLUMNS: tuple[str, ...] = (*CELL_COLUMNS, "seed", "subject")
KNOWN_METRICS: tuple[str, ...] = ("ssim", "psnr")
NON_METRIC_COLUMNS: frozenset[str] = frozenset({*KEY_COLUMNS, "oracle"})
_TRUE_STRINGS = frozenset({"true", "1", "yes"})


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The metric columns of a results table: ``ssim``, ``psnr`` first (when present), then any other.

    Any numeric column that is neither a key column nor ``oracle`` counts as a metric, so
    metrics the runner adds later are summarised without a change here; text columns (notes,
    degradation names) are not metrics.
    """
    known = [name for name in KNOWN_METRICS if name in results.columns]
    others = [
        name
        for name in results.columns
        if name not in NON_METRIC_COLUMNS
        and name not in KNOWN_METRICS
        and pd.api.types.is_numeric_dtype(results[name])
        and not pd.api.types.is_bool_dtype(results[name])
    ]
    return [*known, *others]


def _as_bool(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in _TRUE_STRINGS


def read_results(runs_dir: Path) -> pd.DataFrame:
    """Read ``runs_dir/results.csv`` into a DataFrame with typed columns.

    Args:
        runs_dir: the results store written by ``bench run``.

    Returns:
        The long table; key columns as ``str`` (``seed`` as ``int``), ``ssim``/``psnr`` and any
        other all-numeric column as ``float`` (the metrics), other columns as text, ``oracle`` as
        ``bool`` (``False`` when the column is absent).

    Raises:
        BenchError: when the file is missing, empty, or has no rows.
    """
    path = Path(runs_dir) / RESULTS_FILE
    message = f"no results in {runs_dir}; run `bench run` first."
    if not path.is_file():
        raise BenchError(message)
    try:
        results = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=str)
    except pd.errors.EmptyDataError:
        raise BenchError(message) from None
    if results.empty:
        raise BenchError(message)
    missing = [name for name in KEY_COLUMNS if name not in results.columns]
    if missing:
        raise BenchError(f"{path} lacks the column(s) {', '.join(missing)}; rebuild it with `bench run`.")
    results["seed"] = results["seed"].astype(int)
    results["oracle"] = results["oracle"].map(_as_bool) if "oracle" in results.columns else False
    results["oracle"] = results["oracle"].astype(bool)
    for name in results.columns:
        if name in KNOWN_METRICS:
            results[name] = pd.to_numeric(results[name], errors="coerce").astype(float)
        elif name not in NON_METRIC_COLUMNS:
            with contextlib.suppress(ValueError, TypeError):  # a text column stays text, not a metric
                results[name] = pd.to_numeric(results[name]).astype(float)
    return results


@dataclass(frozen=True)
class SliceCell:
    """One cell's figure slices: where they are and which cell they belong to."""

    dataset: str
    scale: str
    setting: str
    method: str
    profile: str
    seed: int
    path: Path

    def load(self) -> dict[str, np.ndarray]:
        """All arrays of the ``slices.npz`` (``{plane}_{hr|lr|sr}`` float32 2D, ``subject``)."""
        with np.load(self.path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def _cell_from_config(path: Path) -> SliceCell | None:
    config_path = path.parent / "config.json"
    if not config_path.is_file():
        return None
    try:
        config = json.loads(config_path.read_text())
        profile = config["profile"]
        return SliceCell(
            dataset=str(config["dataset"]),
            scale=str(config["scale"]),
            setting=str(config["setting"]),
            method=str(config["method"]),
            profile=str(profile["name"] if isinstance(profile, dict) else profile),
            seed=int(config["seed"]),
            path=path,
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def find_slice_cells(runs_dir: Path) -> list[SliceCell]:
    """Every cell under ``runs_dir`` with a ``slices.npz`` and a readable ``config.json``.

    The folders are ``<dataset>/<scale>/<setting>/<method>/<profile>/seed<k>/``; the cell's
    identity is read from its ``config.json`` (the folder name of setting ``n/a`` is ``na``).
    Cells whose config cannot be read are skipped.
    """
    cells = []
    for path in sorted(Path(runs_dir).glob("*/*/*/*/*/seed*/slices.npz")):
        cell = _cell_from_config(path)
        if cell is not None:
            cells.append(cell)
    return cells
