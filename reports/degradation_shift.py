"""The degradation-shift table: how much a method loses when the test LR is degraded unlike its training LR.

For each dataset × scale × setting (× profile × overrides × precision) the table has one row per method and
one column per (training degradation → test degradation) pair that ran, holding the mean SSIM
and PSNR over test subjects.  Statistics follow Table II: each subject's metric is first
averaged over the runs of its cell (training seeds, split and misalignment seeds), then the
mean (and, in the CSV, the sample standard deviation, ``ddof = 1``) is taken over subjects.

The *drop* of a row ``m`` and column ``a → b`` is ``metric(m, a → b) − metric(m, b → b)``: the
change against the *matched* case, the same method trained on the degradation it is tested on.
Negative is worse for SSIM and PSNR.  It is computed at full precision and is NaN ("–") when
the matched case did not run; the matched column itself has drop 0.

Rules of the layout, as in Table II: rows of setting ``n/a`` (tricubic, ZSSR) belong to every
setting block of their dataset × scale and are listed first; a block is shown only when some
method in it ran more than one (train, test) pair, since a single pair shifts nothing.  Rows
of different profile overrides or precisions are never mixed: each (overrides, precision) has its own blocks.
Stores without the degradation columns give no table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from benchmark.protocol.setting_names import NO_SETTING
from benchmark.results.schema import CELL_COLUMNS, DEFAULT_PRECISION
from reports.display import (
    dataset_sort_key,
    method_sort_key,
    ordered,
    scale_sort_key,
    setting_sort_key,
)
from reports.results_store import metric_columns
from reports.summary import DDOF
from reports.table_layout import DECIMALS, DEFAULT_DECIMALS, MISSING, TABLE_METRICS
from reports.variants import degradation_sort_key, with_variant_columns

PAIR_COLUMNS: tuple[str, ...] = ("train_degradation", "test_degradation")
GROUP_COLUMNS: tuple[str, ...] = (*CELL_COLUMNS, "overrides", "precision", *PAIR_COLUMNS)
RUN_COLUMNS: tuple[str, ...] = ("seed", "split_seed", "misalign_seed")

Pair = tuple[str, str]


def has_degradation_columns(results: pd.DataFrame) -> bool:
    """Whether the store records degradations (stores older than these columns do not)."""
    return all(name in results.columns for name in PAIR_COLUMNS)


def shift_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over test subjects per (cell, overrides, precision, training → test degradation), with the drops.

    Args:
        results: the long results table of one profile, with ``train_degradation`` and
            ``test_degradation`` (``overrides`` optional, empty when absent; ``precision``
            optional, fp32 when absent).

    Returns:
        One row per :data:`GROUP_COLUMNS` with ``oracle``, ``n_subjects``, ``n_runs`` (distinct
        (seed, split seed, misalignment seed) runs) and, per metric, ``<metric>_mean``,
        ``<metric>_std`` (ddof 1 over subjects), ``<metric>_matched`` (the mean of the same
        method trained on the test degradation) and ``<metric>_drop`` (mean − matched).
    """
    results = with_variant_columns(results)
    metrics = metric_columns(results)
    keys = list(GROUP_COLUMNS)
    runs = [name for name in RUN_COLUMNS if name in results.columns]
    subjects = results.groupby([*keys, "subject"], sort=False, dropna=False)
    per_subject = subjects[metrics].mean()
    per_subject["oracle"] = subjects["oracle"].any()
    grouped = per_subject.reset_index().groupby(keys, sort=False, dropna=False)
    summary = grouped["oracle"].any().to_frame()
    summary["n_subjects"] = grouped["subject"].nunique()
    summary["n_runs"] = results.drop_duplicates([*keys, *runs]).groupby(keys, sort=False, dropna=False).size()
    for metric in metrics:
        summary[f"{metric}_mean"] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=DDOF)
    summary = summary.reset_index()
    matched = summary[summary["train_degradation"] == summary["test_degradation"]]
    match_keys = [*CELL_COLUMNS, "overrides", "precision", "test_degradation"]
    matched = matched[match_keys + [f"{m}_mean" for m in metrics]].rename(
        columns={f"{m}_mean": f"{m}_matched" for m in metrics}
    )
    summary = summary.merge(matched, on=match_keys, how="left")
    for metric in metrics:
        summary[f"{metric}_drop"] = summary[f"{metric}_mean"] - summary[f"{metric}_matched"]
    return summary


@dataclass(frozen=True)
class ShiftValue:
    """One metric of one method under one (train → test) pair."""

    mean: float
    drop: float
    decimals: int
    matched: bool

    @property
    def mean_text(self) -> str:
        """The mean with its fixed decimals, or "–"."""
        return MISSING if math.isnan(self.mean) else f"{self.mean:.{self.decimals}f}"

    @property
    def drop_text(self) -> str:
        """``""`` in the matched column, "–" when the matched case is absent, else the signed change."""
        if self.matched:
            return ""
        if math.isnan(self.drop):
            return MISSING
        rounded = round(self.drop, self.decimals) + 0.0  # + 0.0: a change that rounds to zero prints +0, not -0
        return f"{rounded:+.{self.decimals}f}"


@dataclass(frozen=True)
class ShiftRow:
    """One method of a block: its values by (train, test) pair and metric (absent pairs left out)."""

    method: str
    setting: str
    oracle: bool
    values: dict[Pair, dict[str, ShiftValue]]


@dataclass(frozen=True)
class ShiftBlock:
    """One dataset × scale × setting × overrides × precision: the pairs (columns) and methods (rows)."""

    dataset: str
    scale: str
    setting: str
    overrides: str
    pairs: tuple[Pair, ...]
    rows: tuple[ShiftRow, ...]
    precision: str = DEFAULT_PRECISION


def pair_sort_key(pair: Pair) -> tuple:
    """Columns by test degradation (``kspace`` first), the matched case first, then by training degradation."""
    train, test = pair
    return (degradation_sort_key(test), train != test, degradation_sort_key(train))


def _rows(records: pd.DataFrame, metrics: tuple[str, ...]) -> list[ShiftRow]:
    rows = []
    for (method, setting), of_method in records.groupby(["method", "setting"], sort=False):
        values = {}
        for _, record in of_method.iterrows():
            pair = (str(record["train_degradation"]), str(record["test_degradation"]))
            values[pair] = {
                metric: ShiftValue(
                    mean=float(record.get(f"{metric}_mean", float("nan"))),
                    drop=float(record.get(f"{metric}_drop", float("nan"))),
                    decimals=DECIMALS.get(metric, DEFAULT_DECIMALS),
                    matched=pair[0] == pair[1],
                )
                for metric in metrics
            }
        rows.append(ShiftRow(str(method), str(setting), bool(of_method["oracle"].any()), values))
    rows.sort(key=lambda row: (setting_sort_key(row.setting), row.oracle, method_sort_key(row.method)))
    return rows


def _scale_blocks(records: pd.DataFrame, metrics: tuple[str, ...]) -> list[ShiftBlock]:
    """The blocks of one dataset × scale × overrides × precision: one per setting, ``n/a`` rows in each."""
    first = records.iloc[0]
    shared = records[records["setting"] == NO_SETTING]
    settings = [s for s in ordered(records["setting"], setting_sort_key) if s != NO_SETTING]
    blocks = []
    for setting in settings or [NO_SETTING]:
        chosen = pd.concat([shared, records[records["setting"] == setting]]) if settings else shared
        rows = _rows(chosen, metrics)
        if not any(len(row.values) > 1 for row in rows):
            continue  # one pair per method: nothing shifted
        pairs = tuple(sorted({pair for row in rows for pair in row.values}, key=pair_sort_key))
        where = (str(first["dataset"]), str(first["scale"]), str(setting), str(first["overrides"]))
        blocks.append(ShiftBlock(*where, pairs, tuple(rows), precision=str(first["precision"])))
    return blocks


def shift_blocks(summary: pd.DataFrame, metrics: tuple[str, ...] = TABLE_METRICS) -> list[ShiftBlock]:
    """The blocks of the table that show a shift, in the order of Table II.

    Args:
        summary: the output of :func:`shift_summary` for one profile.
        metrics: metrics to show (those absent from ``summary`` are skipped).

    Returns:
        Blocks where at least one method ran more than one (train, test) pair, ordered by
        overrides (none first), precision (fp32 first), dataset, scale (larger first) and setting;
        empty when none.
    """
    metrics = tuple(m for m in metrics if f"{m}_mean" in summary.columns)
    blocks = []
    variants = set(zip(summary["overrides"], summary["precision"]))
    for overrides, precision in sorted(variants, key=lambda v: (v[0], v[1] != DEFAULT_PRECISION, v[1])):
        of_overrides = summary[(summary["overrides"] == overrides) & (summary["precision"] == precision)]
        for dataset in ordered(of_overrides["dataset"], dataset_sort_key):
            of_dataset = of_overrides[of_overrides["dataset"] == dataset]
            for scale in ordered(of_dataset["scale"], scale_sort_key):
                blocks += _scale_blocks(of_dataset[of_dataset["scale"] == scale], metrics)
    return blocks
