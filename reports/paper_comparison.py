"""Our numbers next to the paper's (Tables I and II of the UDEAN paper), with the differences.

The reference tables are ``paper_table2.csv`` (keys dataset, scale, setting, method; tricubic
and ZSSR have setting ``n/a``, as in our results) and ``paper_table1.csv`` (the ablation, whose
``configuration`` column is mapped to our method names by :data:`ABLATION_CONFIGURATIONS`).
UDEAN on HCP 2×2×2 misaligned appears in both tables with the same numbers; Table II's row is
kept.  Differences are ours − paper.

Both tables ship as package data of ``reports`` (``reference/*.csv``, declared in
``pyproject.toml``); :func:`packaged_reference` finds them wherever the package is installed.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from benchmark.errors import BenchError
from reports.display import dataset_name, method_name, metric_name, scale_text, setting_name
from reports.markdown import escape_markdown
from reports.table_layout import DECIMALS, DEFAULT_DECIMALS

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TABLE1_FILE = "paper_table1.csv"
TABLE2_FILE = "paper_table2.csv"
KEYS: tuple[str, ...] = ("dataset", "scale", "setting", "method")
PAPER_METRICS: tuple[str, ...] = ("ssim", "psnr")
ABLATION_CONFIGURATIONS: dict[str, str] = {
    "supervised (no registration)": "supervised",
    "supervised (rigid registration)": "supervised-rigid",
    "udean (feature-space DA only)": "udean-feature-da",
    "udean (image-space DA only)": "udean-image-da",
    "udean (both spaces)": "udean",
}
NO_MATCH = "Nothing to compare: no cell matches a published row (the paper reports hcp and brats only)."


def packaged_reference() -> Traversable:
    """The folder of the paper's tables shipped with the ``reports`` package (``reports/reference``)."""
    return files("reports").joinpath("reference")


def _read(path: Path | Traversable) -> pd.DataFrame:
    if not path.is_file():
        raise BenchError(f"the paper's reference table {path} is missing.")
    with path.open("r", encoding="utf-8") as handle:  # a Traversable may live in a zip, not on disk
        return pd.read_csv(handle, keep_default_na=False, na_values=[""], dtype={"scale": str})


def load_paper_tables(reference_dir: str | os.PathLike[str] | Traversable) -> pd.DataFrame:
    """The published numbers of Tables I and II as one table.

    Args:
        reference_dir: folder holding ``paper_table1.csv`` and ``paper_table2.csv``: a path, or
            :func:`packaged_reference` (the tables shipped with the package).

    Returns:
        Columns dataset, scale, setting, method, ``<metric>_mean``, ``<metric>_std`` for SSIM and
        PSNR, and ``paper_table`` ("II" or "I"); one row per key.

    Raises:
        BenchError: when a reference file is missing or a configuration is unknown.
    """
    folder = Path(reference_dir) if isinstance(reference_dir, (str, os.PathLike)) else reference_dir
    table2 = _read(folder / TABLE2_FILE).assign(paper_table="II")
    table1 = _read(folder / TABLE1_FILE)
    unknown = sorted(set(table1["configuration"]) - set(ABLATION_CONFIGURATIONS))
    if unknown:
        raise BenchError(f"{TABLE1_FILE} has configuration(s) this harness cannot map: {', '.join(unknown)}.")
    table1 = table1.assign(method=table1["configuration"].map(ABLATION_CONFIGURATIONS), paper_table="I")
    values = [f"{m}_{s}" for m in PAPER_METRICS for s in ("mean", "std")]
    columns = [*KEYS, *values, "paper_table"]
    paper = pd.concat([table2[columns], table1[columns]], ignore_index=True)
    paper[values] = paper[values].astype(float)
    return paper.drop_duplicates(subset=list(KEYS), keep="first").reset_index(drop=True)


def compare_with_paper(summary: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Our summary rows that have a published counterpart, side by side with it.

    Args:
        summary: the output of :func:`reports.summary.summarise` (any number of profiles).
        paper: the output of :func:`load_paper_tables`.

    Returns:
        Columns dataset, scale, setting, method, profile, n_subjects, paper_table and, for SSIM
        then PSNR, ``<m>_ours_mean``, ``<m>_ours_std``, ``<m>_paper_mean``, ``<m>_paper_std``,
        ``<m>_diff`` (ours − paper).  Empty (same columns) when nothing matches.
    """
    ours = summary.rename(columns={f"{m}_{s}": f"{m}_ours_{s}" for m in PAPER_METRICS for s in ("mean", "std")})
    theirs = paper.rename(columns={f"{m}_{s}": f"{m}_paper_{s}" for m in PAPER_METRICS for s in ("mean", "std")})
    merged = ours.merge(theirs, on=list(KEYS), how="inner")
    columns = [*KEYS, "profile", "n_subjects", "paper_table"]
    for metric in PAPER_METRICS:
        merged[f"{metric}_diff"] = merged[f"{metric}_ours_mean"] - merged[f"{metric}_paper_mean"]
        columns += [f"{metric}_ours_mean", f"{metric}_ours_std", f"{metric}_paper_mean", f"{metric}_paper_std"]
        columns.append(f"{metric}_diff")
    return merged[columns].reset_index(drop=True)


def _pm(mean: float, std: float, decimals: int) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{decimals}f} ± " + ("–" if pd.isna(std) else f"{std:.{decimals}f}")


def comparison_markdown(comparison: pd.DataFrame) -> str:
    """The comparison as a Markdown table, or the sentence :data:`NO_MATCH` when it is empty.

    Args:
        comparison: the output of :func:`compare_with_paper`.

    Returns:
        Markdown text ending with a newline.
    """
    title = "**Comparison with the paper** (ours − paper; ours: mean ± sample std over test subjects)."
    if comparison.empty:
        return f"{title}\n\n{NO_MATCH}\n"
    header = ["Dataset", "Scale", "Setting", "Method", "Profile", "Paper table"]
    for metric in PAPER_METRICS:
        name = metric_name(metric)
        header += [f"{name} ours", f"{name} paper", f"Δ {name}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in comparison.iterrows():
        cells = [
            escape_markdown(dataset_name(row["dataset"])),
            scale_text(row["scale"]),
            setting_name(row["setting"]),
            escape_markdown(method_name(row["method"])),
            escape_markdown(row["profile"]),
            row["paper_table"],
        ]
        for metric in PAPER_METRICS:
            decimals = DECIMALS.get(metric, DEFAULT_DECIMALS)
            cells.append(_pm(row[f"{metric}_ours_mean"], row[f"{metric}_ours_std"], decimals))
            cells.append(_pm(row[f"{metric}_paper_mean"], row[f"{metric}_paper_std"], decimals))
            diff = row[f"{metric}_diff"]
            cells.append("–" if pd.isna(diff) else f"{diff:+.{decimals}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([title, "", *lines, ""])
