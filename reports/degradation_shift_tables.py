"""The degradation-shift table (see :mod:`reports.degradation_shift`) as Markdown and booktabs LaTeX.

Both renderers draw from :func:`reports.degradation_shift.shift_blocks`, so they agree.  A value
is written ``0.8812 (−0.0123)``: the mean, then its change from the matched case (same method
trained on the test degradation); the matched column shows the mean alone, and ``(–)`` marks a
pair whose matched case did not run.  Metrics are column groups (SSIM, then PSNR), each with one
column per training → test pair.

Markdown gets one table per block under a heading.  LaTeX gets one ``tabular`` whose columns
are the pairs of every block, each block introduced by a spanning row (``–`` where a block
lacks a pair).
"""

from __future__ import annotations

from collections.abc import Mapping

from benchmark.results.schema import DEFAULT_PRECISION
from reports.degradation_shift import Pair, ShiftBlock, ShiftRow, pair_sort_key
from reports.display import dataset_name, method_name, metric_name, scale_text, setting_name
from reports.latex import escape_latex
from reports.markdown import escape_markdown
from reports.table_layout import METRIC_UNITS, MISSING, TABLE_METRICS

CAPTION = (
    "Mean over test subjects (each averaged over its runs first) per training → test degradation; "
    "in parentheses the change from the matched case, the same method trained on the test degradation "
    "(negative: worse), – where the matched case did not run or the pair did not run."
)
LATEX_NOTES: tuple[str, ...] = (
    "Mean over test subjects (each averaged over its runs first) per training $\\to$ test degradation.",
    "In parentheses: the change from the same method trained on the test degradation (negative: worse).",
    "-- where the matched case or the pair did not run.",
)


def _metrics(blocks: list[ShiftBlock], metrics: tuple[str, ...]) -> tuple[str, ...]:
    present = {m for block in blocks for row in block.rows for values in row.values.values() for m in values}
    return tuple(m for m in metrics if m in present)


def _value(row: ShiftRow, pair: Pair, metric: str, minus: str) -> str:
    value = row.values.get(pair, {}).get(metric)
    if value is None or value.mean_text == MISSING:
        return MISSING
    drop = value.drop_text.replace("-", minus)
    return value.mean_text if not drop else f"{value.mean_text} ({drop})"


def _where(block: ShiftBlock) -> str:
    return f"{dataset_name(block.dataset)}, {scale_text(block.scale)}, {setting_name(block.setting)}"


def shift_markdown(
    blocks: list[ShiftBlock],
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> str:
    """The table as Markdown: a title, one table per block, the caption.

    Args:
        blocks: the output of :func:`reports.degradation_shift.shift_blocks` (not empty).
        display_names: method display-name overrides (raw name → name).
        metrics: metric column groups, in order.

    Returns:
        Markdown text ending with a newline.
    """
    metrics = _metrics(blocks, metrics)
    lines = ["**Degradation shift.** SR quality when the test degradation differs from the training one.", ""]
    for block in blocks:
        heading = escape_markdown(_where(block))
        if block.overrides:
            heading += f", overrides `{block.overrides}`"
        if block.precision != DEFAULT_PRECISION:
            heading += f", {block.precision}"
        header = ["Method"] + [
            escape_markdown(f"{metric_name(m)}{METRIC_UNITS.get(m, '')}, {train} → {test}")
            for m in metrics
            for train, test in block.pairs
        ]
        lines += [f"#### {heading}", "", "| " + " | ".join(header) + " |"]
        lines.append("| " + " | ".join([":---", *(":---:" for _ in header[1:])]) + " |")
        for row in block.rows:
            name = escape_markdown(method_name(row.method, display_names)) + ("†" if row.oracle else "")
            cells = [_value(row, pair, m, "−") for m in metrics for pair in block.pairs]
            lines.append("| " + " | ".join([name, *cells]) + " |")
        lines.append("")
    notes = [CAPTION]
    if any(row.oracle for block in blocks for row in block.rows):
        notes.append("† Oracle (upper bound).")
    return "\n".join([*lines, " ".join(notes), ""])


def shift_latex(
    blocks: list[ShiftBlock],
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> str:
    """The table as one booktabs ``tabular`` (wrap it with :func:`reports.latex.standalone_document`).

    Args:
        blocks: the output of :func:`reports.degradation_shift.shift_blocks` (not empty).
        display_names: method display-name overrides (raw name → name).
        metrics: metric column groups, in order.

    Returns:
        The ``tabular`` environment, without a trailing newline.
    """
    metrics = _metrics(blocks, metrics)
    pairs = sorted({pair for block in blocks for pair in block.pairs}, key=pair_sort_key)
    k = len(pairs)
    n_columns = 1 + k * len(metrics)
    lines = [
        f"\\begin{{tabular}}{{l{('c' * k) * len(metrics)}}}",
        r"\toprule",
        " & ".join(["", *(f"\\multicolumn{{{k}}}{{c}}{{{_latex_metric(m)}}}" for m in metrics)]) + r" \\",
        " ".join(f"\\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(len(metrics))),
        " & ".join(["Method", *(_latex_pair(pair) for _ in metrics for pair in pairs)]) + r" \\",
    ]
    for block in blocks:
        lines.append(r"\midrule")
        where = escape_latex(_where(block)).replace("×", r"$\times$")
        if block.overrides:
            where += f", overrides \\texttt{{{escape_latex(block.overrides)}}}"
        if block.precision != DEFAULT_PRECISION:
            where += f", {escape_latex(block.precision)}"
        lines.append(f"\\multicolumn{{{n_columns}}}{{l}}{{\\textit{{{where}}}}} \\\\")
        for row in block.rows:
            name = escape_latex(method_name(row.method, display_names)) + (r"$^{\dagger}$" if row.oracle else "")
            cells = [_value(row, pair, m, "$-$").replace(MISSING, "--") for m in metrics for pair in pairs]
            lines.append(" & ".join([name, *cells]) + r" \\")
    lines.append(r"\bottomrule")
    notes = list(LATEX_NOTES)
    if any(row.oracle for block in blocks for row in block.rows):
        notes.append(r"$^{\dagger}$ Oracle (upper bound).")
    lines += [f"\\multicolumn{{{n_columns}}}{{l}}{{\\footnotesize {note}}} \\\\" for note in notes]
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def _latex_metric(metric: str) -> str:
    return escape_latex(metric_name(metric) + METRIC_UNITS.get(metric, ""))


def _latex_pair(pair: Pair) -> str:
    return f"{escape_latex(pair[0])} $\\to$ {escape_latex(pair[1])}"
