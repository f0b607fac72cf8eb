"""Paired Wilcoxon signed-rank tests of a reference method (UDEAN) against every other method.

A test compares the reference's per-subject metric (averaged over seeds) with another method's
on the same test subjects, within one block: same dataset, scale and profile, and either the
same setting as the reference or setting ``n/a`` (tricubic, ZSSR need no source HR, so they
are compared with the reference of every setting).

``scipy.stats.wilcoxon`` is called with its defaults (two-sided, ``zero_method="wilcox"``).
With fewer than :data:`MIN_SUBJECTS` paired subjects the p-value is NaN: below six pairs the
exact two-sided test cannot reach p < 0.05 at all (its smallest p-value is 2 / 2ⁿ), so a
number would only suggest a test that was never possible.  When every difference is zero the
methods are indistinguishable and p = 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from benchmark.protocol.setting_names import NO_SETTING
from reports.results_store import metric_columns
from reports.summary import per_subject

MIN_SUBJECTS = 6
DEFAULT_REFERENCE = "udean"
BLOCK_COLUMNS: tuple[str, ...] = ("dataset", "scale", "profile")


def wilcoxon_p(reference: np.ndarray, other: np.ndarray, min_subjects: int = MIN_SUBJECTS) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value, NaN below ``min_subjects`` pairs.

    Args:
        reference: per-subject values of the reference method, ``(n,)``.
        other: the other method's values on the same subjects in the same order, ``(n,)``.
        min_subjects: fewest pairs for which a p-value is reported.

    Returns:
        The p-value; 1.0 when all differences are zero; NaN when too few finite pairs.
    """
    reference = np.asarray(reference, dtype=float)
    other = np.asarray(other, dtype=float)
    finite = np.isfinite(reference) & np.isfinite(other)
    reference, other = reference[finite], other[finite]
    if reference.size < min_subjects:
        return float("nan")
    if np.all(reference == other):
        return 1.0
    return float(wilcoxon(reference, other).pvalue)


def paired_tests(
    results: pd.DataFrame, reference: str = DEFAULT_REFERENCE, min_subjects: int = MIN_SUBJECTS
) -> pd.DataFrame:
    """p-values of the reference method against every other method in its blocks.

    Args:
        results: the long results table (one row per cell × seed × subject).
        reference: raw name of the reference method.
        min_subjects: fewest paired subjects for a p-value (see the module docstring).

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


def attach_p_values(summary: pd.DataFrame, p_values: pd.DataFrame | None) -> pd.DataFrame:
    """Add one ``p_<metric>`` column per metric to a summary, one value per row.

    A method with a setting gets the p-value of its own block.  A method of setting ``n/a``
    belongs to several blocks; it gets the *largest* p-value over them, so p < 0.05 means the
    reference differs from it in every block where a test was possible (a conservative choice;
    every block's value is in the ``p_values`` table itself).  Rows without a test get NaN.

    Args:
        summary: the output of :func:`reports.summary.summarise`.
        p_values: the output of :func:`paired_tests`, or ``None``.

    Returns:
        A copy of ``summary`` with the p-value columns (none added when ``p_values`` is ``None``).
    """
    out = summary.copy()
    if p_values is None:
        return out
    p_columns = [column for column in p_values.columns if column.startswith("p_")]
    keys = [*BLOCK_COLUMNS, "method", "method_setting"]
    per_row = p_values.groupby(keys, sort=False)[p_columns].max().reset_index()
    per_row = per_row.rename(columns={"method_setting": "setting"})
    out = out.merge(per_row, on=[*BLOCK_COLUMNS, "method", "setting"], how="left")
    out[p_columns] = out[p_columns].astype(float)
    return out
