"""Paired Wilcoxon signed-rank tests of a reference method (UDEAN) against every other method.

A test compares the reference's per-subject metric (averaged over seeds) with another method's
on the same test subjects, within one block: same dataset, scale and profile, and either the
same setting as the reference or setting ``n/a`` (tricubic, ZSSR need no source HR, so they
are compared with the reference of every setting).

``scipy.stats.wilcoxon`` is called with its defaults (two-sided, ``zero_method="wilcox"``:
pairs whose difference is zero are dropped before ranking).  With fewer than
:data:`MIN_SUBJECTS` paired subjects *whose difference is not zero* the p-value is NaN: the
test only sees those pairs, and below six of them the exact two-sided test cannot reach
p < 0.05 at all (its smallest p-value is 2 / 2ⁿ), so a number would only suggest a test that
was never possible.  This includes the case where every difference is zero (identical values
on every subject): NaN, no test.

Multiple comparisons: a table marks many comparisons at once (every method against the
reference, in every block, for every metric shown), so the marks use Holm's step-down
correction (:func:`holm`) across that family (:func:`table_family`), not the raw p-values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from benchmark.protocol.setting_names import NO_SETTING
from reports.results_store import metric_columns
from reports.summary import per_subject

MIN_SUBJECTS = 6
DEFAULT_REFERENCE = "udean"
BLOCK_COLUMNS: tuple[str, ...] = ("dataset", "scale", "profile")
HOLM_PREFIX = "p_holm_"
"""Column prefix of the Holm-adjusted p-values (``p_holm_ssim``, …) next to the raw ``p_ssim``."""


def wilcoxon_p(reference: np.ndarray, other: np.ndarray, min_subjects: int = MIN_SUBJECTS) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value, NaN below ``min_subjects`` pairs.

    Args:
        reference: per-subject values of the reference method, ``(n,)``.
        other: the other method's values on the same subjects in the same order, ``(n,)``.
        min_subjects: fewest pairs for which a p-value is reported.

    Returns:
        The p-value; NaN when fewer than ``min_subjects`` finite pairs have a non-zero
        difference (the pairs the test ranks; all differences zero included).
    """
    reference = np.asarray(reference, dtype=float)
    other = np.asarray(other, dtype=float)
    finite = np.isfinite(reference) & np.isfinite(other)
    reference, other = reference[finite], other[finite]
    if np.count_nonzero(reference != other) < min_subjects:
        return float("nan")
    return float(wilcoxon(reference, other).pvalue)


def paired_tests(
    results: pd.DataFrame, reference: str = DEFAULT_REFERENCE, min_subjects: int = MIN_SUBJECTS
) -> pd.DataFrame:
    """p-values of the reference method against every other method in its blocks.

    Args:
        results: the long results table (one row per cell × seed × subject).
        reference: raw name of the reference method.
        min_subjects: fewest paired subjects with a non-zero difference for a p-value (see
            the module docstring).

    Returns:
        One row per (dataset, scale, profile, block setting, method) with ``setting`` (the
        block, i.e. the reference's setting), ``method_setting`` (the compared method's own
        setting: the block's or ``n/a``), ``reference``, ``n_pairs`` and ``p_<metric>`` for every
        metric.  Empty (with those columns) when the reference method is absent.
    """
    metrics = metric_columns(results)
    columns = [*BLOCK_COLUMNS, "setting", "method", "method_setting", "reference", "n_pairs"]
    columns += [f"p_{metric}" for metric in metrics]
    subjects = per_subject(results)
    rows = []
    for block_key, block in subjects.groupby(list(BLOCK_COLUMNS), sort=False):
        ref_rows = block[block["method"] == reference]
        for setting, ref in ref_rows.groupby("setting", sort=False):
            ref_by_subject = ref.set_index("subject")
            others = block[(block["method"] != reference) & block["setting"].isin([setting, NO_SETTING])]
            for (method, method_setting), other in others.groupby(["method", "setting"], sort=False):
                other_by_subject = other.set_index("subject")
                common = ref_by_subject.index.intersection(other_by_subject.index)
                row = dict(zip(BLOCK_COLUMNS, block_key))
                row.update(
                    setting=setting,
                    method=method,
                    method_setting=method_setting,
                    reference=reference,
                    n_pairs=len(common),
                )
                for metric in metrics:
                    row[f"p_{metric}"] = wilcoxon_p(
                        ref_by_subject.loc[common, metric].to_numpy(),
                        other_by_subject.loc[common, metric].to_numpy(),
                        min_subjects,
                    )
                rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979) of one family; NaNs are not in the family.

    The ``m`` finite p-values are sorted, ``p_(1) ≤ … ≤ p_(m)``; the ``k``-th becomes
    ``max_{j ≤ k} min(1, (m − j + 1) · p_(j))``.  Rejecting where the adjusted value is below α
    controls the family-wise error rate at α under any dependence between the tests.

    Args:
        p_values: raw p-values, any shape; NaN (no test) stays NaN and does not count in ``m``.

    Returns:
        The adjusted p-values, same shape, each at least its raw value and at most 1; ordered as
        the raw values are (a smaller raw p-value never gets a larger adjusted one).
    """
    raw = np.asarray(p_values, dtype=float)
    adjusted = np.full(raw.shape, np.nan)
    finite = np.isfinite(raw)
    values = raw[finite]
    m = values.size
    if m == 0:
        return adjusted
    order = np.argsort(values, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * values[order])
    in_order = np.empty(m)
    in_order[order] = np.minimum(stepped, 1.0)
    adjusted[finite] = in_order
    return adjusted


def _p_columns(p_values: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    """``p_<metric>`` for each of ``metrics`` that ``p_values`` holds, or every raw ``p_`` column."""
    if metrics is None:
        return [c for c in p_values.columns if c.startswith("p_") and not c.startswith(HOLM_PREFIX)]
    return [f"p_{metric}" for metric in metrics if f"p_{metric}" in p_values.columns]


def table_family(p_values: pd.DataFrame, shown: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The comparisons one table marks, with their Holm-adjusted p-values.

    The family is every finite p-value of ``p_values`` (each block's test of a method against
    the reference, one per metric) whose compared row is shown, for every metric shown: the
    rows of ``p_values`` whose block columns, ``method`` and ``method_setting`` match a row
    (``setting``) of ``shown``, times ``metrics``.  A method of setting ``n/a`` is compared in
    every block of its dataset × scale; each of those tests counts.  Holm's correction runs once
    over the whole family (all blocks and metrics together).

    Args:
        p_values: the output of :func:`paired_tests`.
        shown: the table's rows, with :data:`BLOCK_COLUMNS`, ``method`` and ``setting``.
        metrics: the metric columns the table shows; ``None``: every ``p_`` column.

    Returns:
        The matching rows of ``p_values`` with one ``p_holm_<metric>`` column per metric added.
    """
    keys = [*BLOCK_COLUMNS, "method", "method_setting"]
    rows = shown[[*BLOCK_COLUMNS, "method", "setting"]].drop_duplicates()
    rows = rows.rename(columns={"setting": "method_setting"})
    family = p_values.merge(rows, on=keys, how="inner")
    p_columns = _p_columns(p_values, metrics)
    raw = family[p_columns].to_numpy(dtype=float)
    adjusted = holm(raw.ravel()).reshape(raw.shape)
    for index, column in enumerate(p_columns):
        family[HOLM_PREFIX + column[2:]] = adjusted[:, index]
    return family


def family_size(family: pd.DataFrame) -> int:
    """The number of comparisons in a :func:`table_family` (its finite p-values)."""
    holm_columns = [column for column in family.columns if column.startswith(HOLM_PREFIX)]
    return int(np.isfinite(family[holm_columns].to_numpy(dtype=float)).sum())


def attach_p_values(
    summary: pd.DataFrame, p_values: pd.DataFrame | None, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Add ``p_<metric>`` and Holm-adjusted ``p_holm_<metric>`` columns to a summary, one value per row.

    The Holm family is the comparisons of ``summary``'s rows for ``metrics``
    (:func:`table_family`): for a table, the comparisons it marks.  A method with a setting
    gets the p-values of its own block.  A method of setting ``n/a`` belongs to several blocks;
    it gets the *largest* p-value over them (raw and adjusted alike), so p < 0.05 means the
    reference differs from it in every block where a test was possible (a conservative choice;
    every block's raw value is in the ``p_values`` table itself).  Rows without a test get NaN.

    Args:
        summary: the output of :func:`reports.summary.summarise`.
        p_values: the output of :func:`paired_tests`, or ``None``.
        metrics: the metrics of the family; ``None``: every metric of ``p_values``.

    Returns:
        A copy of ``summary`` with the p-value columns (none added when ``p_values`` is ``None``).
    """
    out = summary.copy()
    if p_values is None:
        return out
    family = table_family(p_values, summary, metrics)
    p_columns = _p_columns(p_values, metrics)
    columns = [*p_columns, *(HOLM_PREFIX + column[2:] for column in p_columns)]
    keys = [*BLOCK_COLUMNS, "method", "method_setting"]
    per_row = family.groupby(keys, sort=False)[columns].max().reset_index()
    per_row = per_row.rename(columns={"method_setting": "setting"})
    out = out.merge(per_row, on=[*BLOCK_COLUMNS, "method", "setting"], how="left")
    out[columns] = out[columns].astype(float)
    return out
