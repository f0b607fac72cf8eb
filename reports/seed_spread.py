"""Spread over training seeds next to spread over test subjects: is a difference between two rows real?

Tables I and II average each subject over seeds and give the spread over test subjects, as
the paper does. A method trained with several seeds has a second spread, that of training: two
rows whose means differ by less than their seeds' spread are not told apart by the run.

For each cell (dataset, scale, setting, method, profile) and metric:

* ``<metric>_mean``: the mean over seeds of each seed's mean over the test subjects (equal to the
  tables' mean when every seed evaluated every subject);
* ``<metric>_seed_std``: the sample standard deviation (ddof = 1) over seeds of those per-seed
  means; NaN with one seed;
* ``<metric>_subject_std``: the tables' spread, over test subjects of the seed-averaged metric.
"""

from __future__ import annotations

import math

import pandas as pd

from benchmark.results.schema import CELL_COLUMNS
from reports.display import dataset_name, method_name, scale_text, setting_name
from reports.results_store import metric_columns
from reports.summary import DDOF, summarise

METRICS: tuple[str, ...] = ("psnr", "ssim")
DECIMALS: dict[str, int] = {"psnr": 2, "ssim": 4}


def seed_spread(results: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: ``n_seeds``, ``n_subjects``, ``oracle`` and, per metric, mean, seed spread, subject spread.

    Args:
        results: the long results table (one row per cell × seed × subject).
    """
    metrics = [m for m in metric_columns(results) if m in METRICS]
    keys = list(CELL_COLUMNS)
    per_seed = results.groupby([*keys, "seed"], sort=False, dropna=False)[metrics].mean().reset_index()
    grouped = per_seed.groupby(keys, sort=False, dropna=False)
    summary = summarise(results).set_index(keys)
    table = summary[["oracle", "n_subjects", "n_seeds"]].copy()
    for metric in metrics:
        table[f"{metric}_mean"] = grouped[metric].mean()
        table[f"{metric}_seed_std"] = grouped[metric].std(ddof=DDOF)
        table[f"{metric}_subject_std"] = summary[f"{metric}_std"]
    return table.reset_index()


def _number(value: float, digits: int) -> str:
    return "–" if value is None or pd.isna(value) or not math.isfinite(float(value)) else f"{float(value):.{digits}f}"


def seed_spread_markdown(table: pd.DataFrame, display_names: dict[str, str] | None = None) -> str:
    """The table of :func:`seed_spread` as Markdown, one table per dataset × scale × setting, then a note."""
    lines = [
        "**Seeds and subjects.** Mean over seeds ± its standard deviation over seeds, and the spread over "
        "test subjects of the seed-averaged metric."
    ]
    header = ["Method", "Seeds", "Subjects"]
    for metric in METRICS:
        header += [f"{metric.upper()} mean ± seed std", f"{metric.upper()} subject std"]
    for key, block in table.groupby(["dataset", "scale", "setting"], sort=False):
        dataset, scale, setting = (str(k) for k in key)
        lines += ["", f"#### {dataset_name(dataset)}, {scale_text(scale)}, {setting_name(setting)}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("| :--- | " + " | ".join("---:" for _ in header[1:]) + " |")
        for _, row in block.iterrows():
            name = method_name(str(row["method"]), display_names) + ("†" if row["oracle"] else "")
            cells = [name, str(int(row["n_seeds"])), str(int(row["n_subjects"]))]
            for metric in METRICS:
                digits = DECIMALS[metric]
                cells.append(f"{_number(row[f'{metric}_mean'], digits)} ± {_number(row[f'{metric}_seed_std'], digits)}")
                cells.append(_number(row[f"{metric}_subject_std"], digits))
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Standard deviations are sample ones (ddof = 1); – with one seed or one subject. † oracle."]
    return "\n".join(lines) + "\n"
