"""Write every report of a results store: tables (LaTeX, Markdown, CSV), paper comparison, figures.

Reports read the results store only (``results.csv`` and the cells' ``slices.npz``,
``losses.csv`` and ``config.json``); they never import a method or a dataset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from benchmark.data.dataset import TISSUES
from benchmark.errors import BenchError
from benchmark.folders import writable_folder
from benchmark.results.schema import VARIANT_COLUMNS
from reports.convergence import convergence_latex, convergence_markdown, convergence_table
from reports.degradation_shift import has_degradation_columns, shift_blocks, shift_summary
from reports.degradation_shift_tables import shift_latex, shift_markdown
from reports.display import dataset_sort_key, method_sort_key, scale_sort_key, setting_sort_key
from reports.error_maps import write_error_maps
from reports.html_report import write_html_report
from reports.latex import escape_latex, standalone_document, table_i_latex, table_ii_latex
from reports.learning_curves import write_learning_curves
from reports.markdown import TABLE_II_TITLE, escape_markdown, table_i_markdown, table_ii_markdown
from reports.paper_comparison import compare_with_paper, comparison_markdown, load_paper_tables
from reports.results_store import read_results
from reports.revisions import newest_revision_rows
from reports.seed_spread import seed_spread, seed_spread_markdown
from reports.significance import attach_p_values, paired_tests
from reports.summary import summarise
from reports.table_layout import (
    ABLATION_METHODS,
    BRAIN_METRICS,
    DICE_METRICS,
    TRUE_DICE_METRICS,
    VOLUME_ERROR_METRICS,
    ablation_blocks,
)
from reports.training_histories import find_training_histories
from reports.variants import Variant, split_variants

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

KINDS: tuple[str, ...] = ("latex", "markdown", "csv", "figures", "html")


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


def _with_variant(frame: pd.DataFrame, variant: Variant, recorded: bool) -> pd.DataFrame:
    """A CSV table with its variant's columns appended, when the store records variants."""
    if not recorded:
        return frame
    return frame.assign(**variant.columns())


def _latex_with_caption(tabular: str, caption: str | None) -> str:
    """``tabular`` with ``caption`` (already LaTeX) above it, nested so a standalone document keeps one box."""
    if caption is None:
        return tabular
    return "\n".join([r"\begin{tabular}{@{}l@{}}", f"\\footnotesize {caption} \\\\", tabular, r"\end{tabular}"])


def _markdown_with_caption(markdown: str, caption: str | None) -> str:
    return markdown if caption is None else f"*{escape_markdown(caption)}*\n\n{markdown}"


def _write_metric_table(
    summary: pd.DataFrame,
    p_values: pd.DataFrame | None,
    stem: Path,
    metrics: tuple[str, ...],
    caption: str,
    variant: Variant,
    reference_method: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
    title: str = TABLE_II_TITLE,
) -> None:
    """A Table II layout of ``metrics`` (``stem.tex/.md/.csv``) over the rows whose cells have them all."""
    columns = [f"{metric}_mean" for metric in metrics]
    if not set(columns) <= set(summary.columns):
        return
    rows = summary[summary[columns].notna().all(axis=1)]
    if rows.empty:
        return
    if not variant.is_default:
        caption += f" {variant.description()}"
    layout = {"metrics": metrics, "reference_method": reference_method}
    tex = table_ii_latex(rows, p_values, display_names, **layout)
    _write(
        stem.with_suffix(".tex"), standalone_document(_latex_with_caption(tex, escape_latex(caption))), "latex", written
    )
    markdown = table_ii_markdown(rows, p_values, display_names, **layout, title=title)
    _write(stem.with_suffix(".md"), _markdown_with_caption(markdown, caption), "markdown", written)
    table = attach_p_values(rows, p_values, metrics) if p_values is not None else rows
    _write(stem.with_suffix(".csv"), table.to_csv(index=False), "csv", written)


def _hr_ceiling(summary: pd.DataFrame) -> str:
    """The sentence giving the HR segmentation's own Dice against the truth (the same in every cell)."""
    parts = []
    for tissue in TISSUES:
        column = f"hr_dice_{tissue}_true_mean"
        if column in summary.columns and summary[column].notna().any():
            parts.append(f"{tissue.upper()} {summary[column].mean():.3f}")
    return f" The HR volumes' own segmentation scores {', '.join(parts)}." if parts else ""


def _write_masked_and_downstream(
    summary: pd.DataFrame,
    p_values: pd.DataFrame | None,
    out_dir: Path,
    variant: Variant,
    suffix: str,
    reference_method: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
) -> None:
    """Table II inside the brain mask (``table2<suffix>_brain``) and the downstream tables, where cells have them.

    ``downstream<suffix>``: Dice of each tissue and tissue-volume error (%), SR vs HR segmentation;
    ``downstream<suffix>_truth``: Dice against the true tissue maps (the demo).
    """
    shared = (variant, reference_method, display_names, written)
    caption = "Inside the brain mask of each test subject (rows whose cells computed it)."
    _write_metric_table(summary, p_values, out_dir / f"table2{suffix}_brain", BRAIN_METRICS, caption, *shared)
    caption = (
        "Downstream: grey matter, white matter and CSF segmented by ANTs Atropos in each SR volume and in its "
        "HR volume; Dice of SR vs HR, and the SR tissue volume's error in % of the HR one (best: closest to 0)."
    )
    metrics = DICE_METRICS + VOLUME_ERROR_METRICS
    title = "**Downstream.** Tissue segmentation of the SR volumes per dataset, scale, setting and method."
    _write_metric_table(summary, None, out_dir / f"downstream{suffix}", metrics, caption, *shared, title=title)
    caption = "Downstream: Dice of each SR volume's segmentation against the true tissue maps." + _hr_ceiling(summary)
    stem = out_dir / f"downstream{suffix}_truth"
    _write_metric_table(summary, None, stem, TRUE_DICE_METRICS, caption, *shared, title=title)


def _write_variant(
    results: pd.DataFrame,
    out_dir: Path,
    paper: pd.DataFrame | None,
    variant: Variant,
    suffix: str,
    reference_method: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
) -> None:
    """Tables I and II, paired tests and the paper comparison of one profile × variant."""
    recorded = any(name in results.columns for name in VARIANT_COLUMNS)
    caption = None if variant.is_default else variant.description()
    latex_caption = None if caption is None else escape_latex(caption)
    summary = _in_table_order(summarise(results))
    p_values = paired_tests(results, reference_method) if (results["method"] == reference_method).any() else None

    table2 = table_ii_latex(summary, p_values, display_names, reference_method=reference_method)
    _write(
        out_dir / f"table2{suffix}.tex",
        standalone_document(_latex_with_caption(table2, latex_caption)),
        "latex",
        written,
    )
    markdown = table_ii_markdown(summary, p_values, display_names, reference_method=reference_method)
    _write(out_dir / f"table2{suffix}.md", _markdown_with_caption(markdown, caption), "markdown", written)
    table2_csv = _with_variant(attach_p_values(summary, p_values), variant, recorded)
    _write(out_dir / f"table2{suffix}.csv", table2_csv.to_csv(index=False), "csv", written)
    _write_masked_and_downstream(summary, p_values, out_dir, variant, suffix, reference_method, display_names, written)
    if p_values is not None:
        _write(
            out_dir / f"paired_tests{suffix}.csv",
            _with_variant(p_values, variant, recorded).to_csv(index=False),
            "csv",
            written,
        )

    blocks = ablation_blocks(summary)
    for dataset, scale, setting in blocks:
        stem = "table1" if len(blocks) == 1 else f"table1_{_safe(dataset)}_{_safe(scale)}_{_safe(setting)}"
        stem += suffix
        tex = table_i_latex(summary, dataset, scale, setting, display_names)
        md = table_i_markdown(summary, dataset, scale, setting, display_names)
        if tex is None or md is None:
            continue
        _write(out_dir / f"{stem}.tex", standalone_document(_latex_with_caption(tex, latex_caption)), "latex", written)
        _write(out_dir / f"{stem}.md", _markdown_with_caption(md, caption), "markdown", written)
        rows = summary[
            (summary["dataset"] == dataset)
            & (summary["scale"] == scale)
            & (summary["setting"] == setting)
            & summary["method"].isin(ABLATION_METHODS)
        ]
        _write(out_dir / f"{stem}.csv", _with_variant(rows, variant, recorded).to_csv(index=False), "csv", written)

    if (summary["n_seeds"] > 1).any():
        spread = _in_table_order(seed_spread(results))
        spread_csv = _with_variant(spread, variant, recorded).to_csv(index=False)
        _write(out_dir / f"seeds{suffix}.csv", spread_csv, "csv", written)
        _write(out_dir / f"seeds{suffix}.md", seed_spread_markdown(spread, display_names), "markdown", written)

    if paper is not None and variant.paper_degradations:
        comparison = _with_variant(compare_with_paper(summary, paper), variant, recorded)
        _write(out_dir / f"paper_comparison{suffix}.csv", comparison.to_csv(index=False), "csv", written)
        markdown = _markdown_with_caption(comparison_markdown(comparison), caption)
        _write(out_dir / f"paper_comparison{suffix}.md", markdown, "markdown", written)


def _write_degradation_shift(
    results: pd.DataFrame,
    out_dir: Path,
    suffix: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
) -> None:
    """The degradation-shift table of one profile, when its store records degradations and some shift ran."""
    if not has_degradation_columns(results):
        return
    summary = shift_summary(results)
    blocks = shift_blocks(summary)
    if not blocks:
        return
    tex = standalone_document(shift_latex(blocks, display_names))
    _write(out_dir / f"degradation_shift{suffix}.tex", tex, "latex", written)
    _write(out_dir / f"degradation_shift{suffix}.md", shift_markdown(blocks, display_names), "markdown", written)
    _write(out_dir / f"degradation_shift{suffix}.csv", summary.to_csv(index=False), "csv", written)


def _write_training(
    results: pd.DataFrame,
    runs_dir: Path,
    out_dir: Path,
    profile: str,
    suffix: str,
    display_names: Mapping[str, str] | None,
    written: dict[str, list[Path]],
) -> None:
    """Learning curves and the convergence table of one profile, per variant (nothing without training histories)."""
    histories = find_training_histories(runs_dir, profile)
    recorded = any(name in results.columns for name in VARIANT_COLUMNS)
    oracles = frozenset(results.loc[results["oracle"], "method"])
    for variant, _ in split_variants(results):
        members = [h for h in histories if h.variant == variant]
        stem_suffix = suffix + variant.suffix()
        written["figures"] += write_learning_curves(members, out_dir / "figures", stem_suffix, display_names, oracles)
        table = convergence_table(members, oracles)
        if table.empty:
            continue
        caption = None if variant.is_default else variant.description()
        tex = standalone_document(convergence_latex(table, display_names, caption))
        _write(out_dir / f"convergence{stem_suffix}.tex", tex, "latex", written)
        markdown = convergence_markdown(table, display_names, caption)
        _write(out_dir / f"convergence{stem_suffix}.md", markdown, "markdown", written)
        csv = _with_variant(table, variant, recorded).to_csv(index=False)
        _write(out_dir / f"convergence{stem_suffix}.csv", csv, "csv", written)


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
    notes: list[str] | None = None,
) -> None:
    for variant, rows in split_variants(results):
        _write_variant(
            rows, out_dir, paper, variant, suffix + variant.suffix(), reference_method, display_names, written
        )
    _write_degradation_shift(results, out_dir, suffix, display_names, written)
    oracles = frozenset(results.loc[results["oracle"], "method"])
    written["figures"] += write_error_maps(
        runs_dir, out_dir / "figures", profile, oracles, display_names, suffix, notes
    )
    _write_training(results, runs_dir, out_dir, profile, suffix, display_names, written)


def write_reports(
    runs_dir: Path,
    out_dir: Path,
    reference_dir: Path | Traversable | None,
    profile: str | None = None,
    reference_method: str = "udean",
    display_names: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
) -> dict[str, list[Path]]:
    """Read ``runs_dir/results.csv`` and write every report into ``out_dir``.

    Files (``<suffix>`` is empty unless several profiles are reported, see below):

    * ``table2<suffix>.tex`` (standalone document), ``.md``, ``.csv`` — the summary of every
      cell plus ``p_ssim``/``p_psnr`` of the reference method against it (no p columns when the
      reference method is absent); ``paired_tests<suffix>.csv`` — every block's p-values;
    * ``table1<suffix>.tex/.md/.csv`` — the ablation, for each dataset × scale × setting that
      holds supervised, supervised-rigid, udean-feature-da or udean-image-da; named
      ``table1_<dataset>_<scale>_<setting><suffix>`` when there is more than one such block;
    * ``table2<suffix>_brain.tex/.md/.csv`` — Table II inside the brain mask, and
      ``downstream<suffix>.tex/.md/.csv`` (Dice and tissue-volume error, SR vs HR segmentation)
      and ``downstream<suffix>_truth.*`` (Dice against the true tissue maps), over the cells
      that computed them (``bench run --downstream``);
    * ``report.html`` — one self-contained page of all of the above, with each cell's command,
      commit and environment (:mod:`reports.html_report`);
    * ``paper_comparison<suffix>.csv/.md`` — when ``reference_dir`` is given, for the variants
      whose training and test degradations are both ``kspace`` (the paper's);
    * ``degradation_shift<profile suffix>.tex/.md/.csv`` — method × (training → test
      degradation) with the change from the matched case (:mod:`reports.degradation_shift`),
      when the store records degradations and some method ran more than one pair; the CSV
      holds every (cell, overrides, pair) of the profile;
    * ``figures/error_map_<dataset>_<scale>_<setting>_<plane><profile suffix>.png/.pdf``;
    * ``convergence<suffix>.tex/.md/.csv`` — each learned cell's best and final validation PSNR,
      tricubic's on the same crops, and where the curve flattened (:mod:`reports.convergence`);
      ``figures/learning_curves_<dataset>_<scale>_<setting><suffix>.png/.pdf`` and
      ``figures/adversarial_losses_…`` (:mod:`reports.learning_curves`); per variant, written
      when the store's cells hold training histories (``losses.csv``).

    Profiles: with ``profile`` given, only that profile is reported and file names carry no
    profile suffix.  Otherwise every profile in the results is reported separately (numbers of
    different profiles are never mixed); the suffix ``_<profile>`` is added only when there is
    more than one, so the common single-profile store gives plain ``table2.tex``.

    Revisions (:mod:`reports.revisions`): of each method, only the newest revision in the store is
    reported; one note per method says how many cells of older revisions were left out.

    Variants (:mod:`reports.variants`): rows of different (training degradation, test
    degradation, overrides) are never averaged together.  Tables I and II, the paired tests and
    the paper comparison are written once per variant; the default variant (``kspace`` →
    ``kspace``, no override, and every row of a store without these columns) keeps the plain
    names, any other variant adds its own suffix after the profile's, e.g.
    ``table2_kspace-to-kspace-noise.md`` or ``table2_quick_epochs-2.md``, and its tables open
    with a line naming the variant.  So ``table2.*`` always holds the paper's protocol and
    nothing else.  When the store records variants, the CSV tables carry
    ``train_degradation``, ``test_degradation`` and ``overrides`` columns.

    Args:
        runs_dir: the results store (``bench run``'s output folder).
        out_dir: where to write (created).
        reference_dir: folder with ``paper_table1.csv`` and ``paper_table2.csv`` (a path, or
            :func:`reports.paper_comparison.packaged_reference` for the tables shipped with
            the package, as ``bench report`` passes), or ``None`` to
            skip the comparison with the paper.
        profile: the profile to report, or ``None`` for all.
        reference_method: the method tested against the others and starred against (UDEAN).
        display_names: method display-name overrides (raw name → name).
        notes: where to add one sentence per thing left out (e.g. a cell whose ``slices.npz``
            cannot be read; its error map is skipped, the rest is written).

    Returns:
        The written paths by kind: ``"latex"``, ``"markdown"``, ``"csv"``, ``"figures"``, ``"html"``.

    Raises:
        BenchError: when there are no results, ``results.csv`` is damaged (see
            :func:`reports.results_store.read_results`), the profile is absent, a reference file
            is missing, or ``out_dir`` is a file or cannot be created or written.
    """
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    notes = [] if notes is None else notes
    results, superseded = newest_revision_rows(read_results(runs_dir))
    notes.extend(superseded)
    profiles = sorted(results["profile"].unique())
    if profile is not None:
        if profile not in profiles:
            raise BenchError(f"no results for profile '{profile}' in {runs_dir}; it holds: {', '.join(profiles)}.")
        profiles = [profile]
    paper = load_paper_tables(reference_dir) if reference_dir is not None else None
    out_dir = writable_folder(out_dir, "report folder")
    written: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for name in profiles:
        suffix = f"_{_safe(name)}" if len(profiles) > 1 else ""
        subset = results[results["profile"] == name].reset_index(drop=True)
        _write_profile(subset, runs_dir, out_dir, paper, name, suffix, reference_method, display_names, written, notes)
    scales = sorted(results["scale"].unique())
    written["html"].append(write_html_report(out_dir, runs_dir, profile, paper, notes or (), scales=scales))
    return written
