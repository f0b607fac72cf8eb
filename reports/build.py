"""Write every report of a results store: tables (LaTeX, Markdown, CSV), paper comparison, figures.

Reports read the results store only (``results.csv`` and the cells' ``slices.npz`` and
``config.json``); they never import a method or a dataset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from benchmark.errors import BenchError
from reports.display import dataset_sort_key, method_sort_key, scale_sort_key, setting_sort_key
from reports.error_maps import write_error_maps
from reports.latex import standalone_document, table_i_latex, table_ii_latex
from reports.markdown import table_i_markdown, table_ii_markdown
from reports.paired_test import attach_p_values, paired_tests
from reports.paper_comparison import compare_with_paper, comparison_markdown, load_paper_tables
from reports.results_store import read_results
from reports.summary import summarise
from reports.table_layout import ABLATION_METHODS, ablation_blocks

KINDS: tuple[str, ...] = ("latex", "markdown", "csv", "figures")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def _in_table_order(summary: pd.DataFrame) -> pd.DataFrame:
    keys = [
        (dataset_sort_key(d), scale_sort_key(sc), setting_sort_key(se), o, method_sort_key(m))
        for d, sc, se, o, m in zip(
            summary["dataset"], summary["scale"], summary["setting"], summary["oracle"], summary["method"]
        )
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return summary.iloc[order].reset_index(drop=True)


def _write(path: Path, text: str, kind: str, written: dict[str, list[Path]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    written[kind].append(path)


def _write_profile(
    results: pd.DataFrame,
    runs_dir: Path,
    out_dir: Path,
    paper: pd.DataFrame | None,
    profile: str,
    suffix: str,
    reference_method: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
) -> None:
    summary = _in_table_order(summarise(results))
    p_values = paired_tests(results, reference_method) if (results["method"] == reference_method).any() else None

    table2 = table_ii_latex(summary, p_values, display_names, reference_method=reference_method)
    _write(out_dir / f"table2{suffix}.tex", standalone_document(table2), "latex", written)
    markdown = table_ii_markdown(summary, p_values, display_names, reference_method=reference_method)
    _write(out_dir / f"table2{suffix}.md", markdown, "markdown", written)
    _write(out_dir / f"table2{suffix}.csv", attach_p_values(summary, p_values).to_csv(index=False), "csv", written)
    if p_values is not None:
        _write(out_dir / f"paired_tests{suffix}.csv", p_values.to_csv(index=False), "csv", written)

    blocks = ablation_blocks(summary)
    for dataset, scale, setting in blocks:
        stem = "table1" if len(blocks) == 1 else f"table1_{_safe(dataset)}_{_safe(scale)}_{_safe(setting)}"
        stem += suffix
        tex = table_i_latex(summary, dataset, scale, setting, display_names)
        md = table_i_markdown(summary, dataset, scale, setting, display_names)
        if tex is None or md is None:
            continue
        _write(out_dir / f"{stem}.tex", standalone_document(tex), "latex", written)
        _write(out_dir / f"{stem}.md", md, "markdown", written)
        rows = summary[
            (summary["dataset"] == dataset)
            & (summary["scale"] == scale)
            & (summary["setting"] == setting)
            & summary["method"].isin(ABLATION_METHODS)
        ]
        _write(out_dir / f"{stem}.csv", rows.to_csv(index=False), "csv", written)

    if paper is not None:
        comparison = compare_with_paper(summary, paper)
        _write(out_dir / f"paper_comparison{suffix}.csv", comparison.to_csv(index=False), "csv", written)
        _write(out_dir / f"paper_comparison{suffix}.md", comparison_markdown(comparison), "markdown", written)

    oracles = frozenset(summary.loc[summary["oracle"], "method"])
    written["figures"] += write_error_maps(runs_dir, out_dir / "figures", profile, oracles, display_names, suffix)


def write_reports(
    runs_dir: Path,
    out_dir: Path,
    reference_dir: Path | None,
    profile: str | None = None,
    reference_method: str = "udean",
    display_names: Mapping[str, str] | None = None,
) -> dict[str, list[Path]]:
    """Read ``runs_dir/results.csv`` and write every report into ``out_dir``.

    Files (``<suffix>`` is empty unless several profiles are reported, see below):

    * ``table2<suffix>.tex`` (standalone document), ``.md``, ``.csv`` — the summary of every
      cell plus ``p_ssim``/``p_psnr`` of the reference method against it (no p columns when the
      reference method is absent); ``paired_tests<suffix>.csv`` — every block's p-values;
    * ``table1<suffix>.tex/.md/.csv`` — the ablation, for each dataset × scale × setting that
      holds supervised, supervised-rigid, udean-feature-da or udean-image-da; named
      ``table1_<dataset>_<scale>_<setting><suffix>`` when there is more than one such block;
    * ``paper_comparison<suffix>.csv/.md`` — when ``reference_dir`` is given;
    * ``figures/error_map_<dataset>_<scale>_<setting>_<plane><suffix>.png/.pdf``.

    Profiles: with ``profile`` given, only that profile is reported and file names carry no
    suffix.  Otherwise every profile in the results is reported separately (numbers of
    different profiles are never mixed); the suffix ``_<profile>`` is added only when there is
    more than one, so the common single-profile store gives plain ``table2.tex``.

    Args:
        runs_dir: the results store (``bench run``'s output folder).
        out_dir: where to write (created).
        reference_dir: folder with ``paper_table1.csv`` and ``paper_table2.csv``, or ``None`` to
            skip the comparison with the paper.
        profile: the profile to report, or ``None`` for all.
        reference_method: the method tested against the others and starred against (UDEAN).
        display_names: method display-name overrides (raw name → name).

    Returns:
        The written paths by kind: ``"latex"``, ``"markdown"``, ``"csv"``, ``"figures"``.

    Raises:
        BenchError: when there are no results, the profile is absent, or a reference file is missing.
    """
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    results = read_results(runs_dir)
    profiles = sorted(results["profile"].unique())
    if profile is not None:
        if profile not in profiles:
            raise BenchError(f"no results for profile '{profile}' in {runs_dir}; it holds: {', '.join(profiles)}.")
        profiles = [profile]
    paper = load_paper_tables(Path(reference_dir)) if reference_dir is not None else None
    written: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for name in profiles:
        suffix = f"_{_safe(name)}" if len(profiles) > 1 else ""
        subset = results[results["profile"] == name].reset_index(drop=True)
        _write_profile(subset, runs_dir, out_dir, paper, name, suffix, reference_method, display_names, written)
    return written
