"""Reading the results store (files only): ``results.csv`` and the cells' ``slices.npz``.

The reports never import methods or datasets; this module is their only door to the runs.

``results.csv`` is one long table, one row per (cell, test subject), whose columns and types
are those of :mod:`benchmark.results.schema`, the schema the runner writes with: at least
:data:`~benchmark.results.schema.REQUIRED_COLUMNS` and the metrics (and ``oracle``) and, in
stores written since the degradation options were recorded, the protocol columns
:data:`~benchmark.results.schema.PROTOCOL_COLUMNS`.
It is read with pandas' default missing-value markers switched off, because the setting of
methods that need no source HR is the literal string ``n/a`` (which pandas would otherwise turn
into NaN).

The runner writes the file atomically and rebuilds it from the cell folders on every
``bench run``, so a file cut short, with bytes that are not UTF-8, or with rows of the wrong
length was damaged afterwards (a full disk, a copy cut off, an editor); :func:`read_results`
refuses it in one sentence that says how to rebuild it instead of reading a wrong table.
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.errors import BenchError
from benchmark.results.cell_record import DONE, SLICES, DamagedCellError, read_config
from benchmark.results.schema import (
    DEFAULT_DEGRADATION,
    DEFAULT_PRECISION,
    DIVERGED_STATE,
    INTEGER_COLUMNS,
    INTEGER_DEFAULTS,
    METRIC_COLUMNS,
    NON_METRIC_COLUMNS,
    ORACLE,
    REQUIRED_COLUMNS,
    RESULTS_FILE,
    STATE,
    TEXT_DEFAULTS,
    UNREAD_DEGRADATION,
)
from reports.revisions import newest_revision_items, newest_revisions
from reports.shared_cells import place_shared_cells

REBUILD_HINT = (
    "rerun your `bench run` command, which skips finished cells and rewrites results.csv from the cell folders"
)
_TRUE_STRINGS = frozenset({"true", "1", "yes"})


def metric_columns(results: pd.DataFrame) -> list[str]:
    """The metric columns of a results table: ``ssim``, ``psnr`` first (when present), then any other.

    Any numeric column that is none of the schema's non-metric columns (key, protocol,
    ``oracle``) counts as a metric, so metrics the runner adds later are summarised without a
    change here; text columns (notes, degradation names) are not metrics.
    """
    known = [name for name in METRIC_COLUMNS if name in results.columns]
    others = [
        name
        for name in results.columns
        if name not in NON_METRIC_COLUMNS
        and name not in METRIC_COLUMNS
        and pd.api.types.is_numeric_dtype(results[name])
        and not pd.api.types.is_bool_dtype(results[name])
    ]
    return [*known, *others]


def _as_bool(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value).strip().lower() in _TRUE_STRINGS


def _read_text(path: Path) -> str:
    """The file as text; refuses bytes that are not UTF-8 (pandas would raise a traceback)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BenchError(f"{path} cannot be read ({error.strerror or error}).") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BenchError(
            f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); {REBUILD_HINT}."
        ) from None


def _check_complete(path: Path, text: str) -> None:
    """Refuse a table whose last line is cut off or whose rows do not match the header.

    The runner always ends the file with a newline and writes every field of every row, so
    a missing final newline or a short last row means the file was cut mid-line, and a row of
    another length elsewhere means it was damaged.

    Raises:
        BenchError: the file is truncated or has a row with the wrong number of fields.
    """
    if text and not text.endswith("\n"):
        raise BenchError(f"{path} is truncated (its last line is cut off); {REBUILD_HINT}.")
    reader = csv.reader(io.StringIO(text))
    try:
        records = [(reader.line_num, row) for row in reader if row]  # (last physical line of the row, fields)
    except csv.Error as error:
        raise BenchError(f"{path} cannot be read as CSV ({error}); {REBUILD_HINT}.") from None
    if not records:
        return
    width = len(records[0][1])
    for index, (line, row) in enumerate(records[1:], start=1):
        if len(row) == width:
            continue
        if index == len(records) - 1 and len(row) < width:
            raise BenchError(f"{path} is truncated (its last row has {len(row)} of {width} fields); {REBUILD_HINT}.")
        raise BenchError(f"{path} is damaged (line {line} has {len(row)} fields, the header {width}); {REBUILD_HINT}.")


def _parse(path: Path, text: str) -> pd.DataFrame:
    """The CSV text as a table of strings (empty fields as NaN); parser errors in one sentence."""
    try:
        return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""], dtype=str)
    except pd.errors.EmptyDataError:
        raise BenchError(f"no results in {path.parent}; run `bench run` first.") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as error:
        reason = " ".join(str(error).split()).rstrip(".")
        raise BenchError(f"{path} cannot be read as CSV ({reason}); {REBUILD_HINT}.") from None


def _integers(path: Path, results: pd.DataFrame, name: str, nullable: bool) -> pd.Series:
    """Column ``name`` as integers (``Int64`` with missing values when ``nullable``)."""
    numbers = pd.to_numeric(results[name], errors="coerce")
    bad = numbers.isna() & (results[name].notna() | (not nullable))
    bad |= numbers.notna() & (numbers != numbers.round())
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        value = results[name].iloc[row]
        raise BenchError(f"{path} has '{value}' in column {name} on line {row + 2}, not an integer; {REBUILD_HINT}.")
    return numbers.astype("Int64") if nullable else numbers.astype(int)


def read_results(runs_dir: Path) -> pd.DataFrame:
    """Read ``runs_dir/results.csv`` into a DataFrame with typed columns.

    Args:
        runs_dir: the results store written by ``bench run``.

    Returns:
        The long table; key columns as ``str`` (``seed`` as ``int``), ``ssim``/``psnr`` and any
        other all-numeric column as ``float`` (the metrics), other columns as text, ``oracle`` as
        ``bool`` (``False`` when the column is absent).  Protocol columns, when present, are never
        metrics: ``split_seed``/``misalign_seed`` as nullable ``Int64``, ``data_root`` and
        ``config_hash`` as text (``""`` when empty),
        ``train_degradation``/``test_degradation`` as text with an empty field read as
        ``"kspace"`` (the harness default), ``overrides`` as text with an empty field read as
        ``""`` (no override).  A row of a method that reads no training data (training
        degradation ``n/a``) appears once per training degradation of its block
        (:func:`reports.shared_cells.place_shared_cells`).

    Raises:
        BenchError: when the file is missing, empty, has no rows, is truncated, is not UTF-8,
            cannot be parsed as CSV, lacks a key column, or has a seed that is not an integer.
    """
    path = Path(runs_dir) / RESULTS_FILE
    message = f"no results in {runs_dir}; run `bench run` first."
    if not path.is_file():
        raise BenchError(message)
    text = _read_text(path)
    _check_complete(path, text)
    results = _parse(path, text)
    if results.empty:
        raise BenchError(message)
    missing = [name for name in REQUIRED_COLUMNS if name not in results.columns]
    if missing:
        raise BenchError(f"{path} lacks the column(s) {', '.join(missing)}; rebuild it with `bench run`.")
    for name, default in INTEGER_DEFAULTS.items():  # absent or empty: the meaning older stores had
        results[name] = results[name].fillna(str(default)) if name in results.columns else str(default)
    for name in INTEGER_COLUMNS:  # required ones (the seed) first, then those older stores lack
        if name in results.columns:
            nullable = name not in REQUIRED_COLUMNS and name not in INTEGER_DEFAULTS
            results[name] = _integers(path, results, name, nullable=nullable)
    for name, default in TEXT_DEFAULTS.items():
        if name in results.columns:
            results[name] = results[name].fillna(default).astype(str)
    results[ORACLE] = results[ORACLE].map(_as_bool) if ORACLE in results.columns else False
    results[ORACLE] = results[ORACLE].astype(bool)
    missing = [name for name in METRIC_COLUMNS if name not in results.columns]
    if missing:
        raise BenchError(f"{path} lacks the metric column(s) {', '.join(missing)}; {REBUILD_HINT}.")
    diverged = results[STATE] == DIVERGED_STATE if STATE in results.columns else pd.Series(False, index=results.index)
    for name in results.columns:
        if name in METRIC_COLUMNS:
            values = pd.to_numeric(results[name], errors="coerce").astype(float)
            bad = (values.isna() | ~np.isfinite(values)) & ~diverged  # only a diverged cell's rows are empty
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise BenchError(
                    f"{path} has '{results[name].iloc[row]}' in column {name} on line {row + 2}, not a number; "
                    f"{REBUILD_HINT}."
                )
            results[name] = values
        elif name not in NON_METRIC_COLUMNS:
            with contextlib.suppress(ValueError, TypeError):  # a text column stays text, not a metric
                results[name] = pd.to_numeric(results[name]).astype(float)
    return place_shared_cells(results)


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
    train_degradation: str = DEFAULT_DEGRADATION
    test_degradation: str = DEFAULT_DEGRADATION
    overrides: str = ""
    precision: str = DEFAULT_PRECISION
    revision: int = 0

    @property
    def is_default_variant(self) -> bool:
        """Trained and tested on the default degradation, without ``--set`` overrides (what Table I/II show).

        Any precision: a store run on a GPU (bf16) has figures too; where a cell ran in several,
        the figures prefer fp32 (:func:`reports.error_maps.write_error_maps`).
        """
        trained_by_default = self.train_degradation in (DEFAULT_DEGRADATION, UNREAD_DEGRADATION)
        return trained_by_default and (self.test_degradation, self.overrides) == (DEFAULT_DEGRADATION, "")

    def load(self) -> dict[str, np.ndarray]:
        """All arrays of the ``slices.npz`` (``{plane}_{hr|lr|sr}`` float32 2D, ``subject``)."""
        with np.load(self.path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}


def _cell_from_config(path: Path) -> SliceCell | None:
    try:
        recorded = read_config(path.parent)
    except DamagedCellError:
        return None
    return SliceCell(
        dataset=recorded.dataset,
        scale=recorded.scale,
        setting=recorded.setting,
        method=recorded.method,
        profile=recorded.profile,
        seed=recorded.seed,
        path=path,
        train_degradation=recorded.protocol.train_degradation,
        test_degradation=recorded.protocol.test_degradation,
        overrides=recorded.overrides,
        precision=recorded.precision,
        revision=recorded.revision,
    )


def finished_cell(folder: Path) -> SliceCell | None:
    """The identity of the finished cell in ``folder``, read from its ``config.json``.

    ``None`` when the folder has no ``DONE`` marker or an unreadable ``config.json``.  The
    returned :attr:`SliceCell.path` is the folder's ``slices.npz``, which may be absent.
    """
    if not (Path(folder) / DONE).is_file():
        return None
    return _cell_from_config(Path(folder) / SLICES)


def store_revisions(runs_dir: Path) -> dict[str, int]:
    """The newest revision of each method among the finished cells under ``runs_dir`` (from their ``config.json``)."""
    pairs = []
    for marker in Path(runs_dir).rglob(DONE):
        try:
            recorded = read_config(marker.parent)
        except DamagedCellError:
            continue
        pairs.append((recorded.method, recorded.revision))
    return newest_revisions(pairs)


def find_slice_cells(runs_dir: Path) -> list[SliceCell]:
    """Every finished default-variant cell under ``runs_dir`` with ``slices.npz`` and a readable ``config.json``.

    The folders are ``<dataset>/<scale>/<setting>/<method>/<profile>/<variant>/seed<k>/`` (older
    stores lack ``<variant>``); the cell's identity is read from its ``config.json``.  Cells
    without a ``DONE`` marker, whose config cannot be read, or of another degradation or
    override set than the default (:attr:`SliceCell.is_default_variant`), or of a method revision that a
    newer one in the store superseded (:mod:`reports.revisions`), are skipped, so the figures show
    the same cells as Table I/II.
    """
    cells = []
    for path in sorted(Path(runs_dir).rglob(SLICES)):
        if not (path.parent / DONE).is_file():
            continue
        cell = _cell_from_config(path)
        if cell is not None and cell.is_default_variant:
            cells.append(cell)
    return newest_revision_items(cells, lambda c: c.method, lambda c: c.revision, store_revisions(runs_dir))
