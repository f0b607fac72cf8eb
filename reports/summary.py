"""Mean ± standard deviation over test subjects, one row per cell (seeds pooled per subject).

Convention: each subject's metric is first averaged over the seeds that ran the cell, then the
mean and the *sample* standard deviation (``ddof=1``) are taken over the test subjects, as the
paper reports spread between subjects.  With a single subject the standard deviation is NaN
(the tables print it as "–").
"""

from __future__ import annotations

import pandas as pd

from benchmark.results.schema import CELL_COLUMNS, DIVERGED_STATE, STATE
from reports.results_store import metric_columns

DDOF = 1


def per_subject(results: pd.DataFrame) -> pd.DataFrame:
    """Average every subject's metrics over seeds.

    Args:
        results: the long results table (one row per cell × seed × subject).

    Returns:
        One row per (dataset, scale, setting, method, profile, subject) with the seed-averaged
        metrics, ``oracle`` and ``n_seeds`` (seeds that evaluated this subject).
    """
    metrics = metric_columns(results)
    keys = [*CELL_COLUMNS, "subject"]
    grouped = results.groupby(keys, sort=False, dropna=False)
    table = grouped[metrics].mean()
    table["oracle"] = grouped["oracle"].any()
    table["n_seeds"] = grouped["seed"].nunique()
    return table.reset_index()


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sample standard deviation (ddof=1) over test subjects, per cell.

    Args:
        results: the long results table as read by :func:`reports.results_store.read_results`.

    Returns:
        One row per (dataset, scale, setting, method, profile) with ``oracle``, ``n_subjects``,
        ``n_seeds`` (distinct seeds in the cell), ``n_diverged`` (of those, the seeds whose training
        diverged: they have no metrics, so the means are over the others, NaN when all diverged) and
        ``<metric>_mean``, ``<metric>_std`` for every metric column (``ssim`` and ``psnr`` first).
    """
    metrics = metric_columns(results)
    subjects = per_subject(results)
    grouped = subjects.groupby(list(CELL_COLUMNS), sort=False, dropna=False)
    summary = grouped["oracle"].any().to_frame()
    summary["n_subjects"] = grouped["subject"].nunique()
    summary["n_seeds"] = results.groupby(list(CELL_COLUMNS), sort=False, dropna=False)["seed"].nunique()
    diverged = results[results[STATE] == DIVERGED_STATE] if STATE in results.columns else results.iloc[:0]
    counts = diverged.groupby(list(CELL_COLUMNS), sort=False, dropna=False)["seed"].nunique()
    summary["n_diverged"] = counts.reindex(summary.index, fill_value=0).astype(int)
    for metric in metrics:
        summary[f"{metric}_mean"] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=DDOF)
    return summary.reset_index()
