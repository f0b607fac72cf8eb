"""Tables I and II as LaTeX (booktabs, multirow), in the paper's layout.

Values are written ``0.9247 $\\pm$ 0.0097``: SSIM with 4 decimals, PSNR (dB) with 2 (see
:data:`reports.table_layout.DECIMALS`).  The functions return a ``tabular``; wrap it with
:func:`standalone_document` for a file that compiles on its own.  Because a standalone
document has no floats, the caption sentences (statistics, bold rule, marks) are written as
footnote rows under ``\\bottomrule``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from benchmark.protocol.setting_names import MISALIGNED
from reports.display import dataset_name, method_name, metric_name, scale_factors, setting_name
from reports.table_layout import (
    ALPHA,
    METRIC_UNITS,
    TABLE_METRICS,
    MetricCell,
    NoteMarkup,
    TableRow,
    table_i_layout,
    table_ii_layout,
    table_notes,
)

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_MARKUP = NoteMarkup(pm=r"$\pm$", dagger=r"$^{\dagger}$", star=r"$^{*}$", dash="--", p_lt="$<$")


def escape_latex(text: str) -> str:
    """Escape LaTeX's special characters in plain text (``_`` → ``\\_``, ``&`` → ``\\&``, …)."""
    return "".join(_SPECIALS.get(char, char) for char in str(text))


def _scale(scale: str) -> str:
    return "$" + r" \times ".join(escape_latex(f) for f in scale_factors(scale)) + "$"


def _value(cell: MetricCell) -> str:
    text = f"{cell.mean_text} $\\pm$ {cell.std_text}".replace("–", "--")
    if cell.mean_text == "–":
        text = "--"
    if cell.bold:
        text = f"\\textbf{{{text}}}"
    if cell.significant:
        text += "$^{*}$"
    return text


def _method(row: TableRow, names: Mapping[str, str] | None) -> str:
    text = escape_latex(method_name(row.method, names) + (f" ({row.note})" if row.note else ""))
    return text + _MARKUP.dagger if row.oracle else text


def _header(metric: str) -> str:
    return escape_latex(metric_name(metric) + METRIC_UNITS.get(metric, ""))


def _notes(notes: list[str], n_columns: int) -> list[str]:
    return [f"\\multicolumn{{{n_columns}}}{{l}}{{\\footnotesize {note}}} \\\\" for note in notes]


def table_ii_latex(
    summary: pd.DataFrame,
    p_values: pd.DataFrame | None = None,
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
    reference_method: str = "udean",
    alpha: float = ALPHA,
) -> str:
    """Table II (methods × settings per dataset and scale) as a booktabs ``tabular``.

    Columns Dataset | Scale | Method | Setting | one per metric.  Dataset and scale cells span
    their rows with ``\\multirow``; ``\\cmidrule`` separates setting blocks and scales,
    ``\\midrule`` datasets.  Bold, daggers and stars follow :mod:`reports.table_layout`.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        p_values: the output of :func:`reports.significance.paired_tests`, or ``None``.
        display_names: method display-name overrides (raw name → name), merged over the defaults.
        metrics: metric columns to show.
        reference_method: the method the p-values compare against.
        alpha: significance level for the stars.

    Returns:
        The ``tabular`` environment, without a trailing newline.
    """
    groups = table_ii_layout(summary, p_values, metrics, alpha, reference_method)
    n_columns = 4 + len(metrics)
    lines = [
        f"\\begin{{tabular}}{{llll{'c' * len(metrics)}}}",
        r"\toprule",
        " & ".join(["Dataset", "Scale Factor", "Method", "Setting", *(_header(m) for m in metrics)]) + r" \\",
        r"\midrule",
    ]
    previous = None
    for group in groups:
        if previous is not None:
            lines.append(r"\midrule" if group.dataset != previous.dataset else f"\\cmidrule(l){{2-{n_columns}}}")
        dataset_rows = sum(len(g.rows) for g in groups if g.dataset == group.dataset)
        first_of_dataset = previous is None or group.dataset != previous.dataset
        for index, row in enumerate(group.rows):
            if index > 0 and row.setting != group.rows[index - 1].setting:
                lines.append(f"\\cmidrule(l){{3-{n_columns}}}")
            dataset_cell = scale_cell = ""
            if index == 0 and first_of_dataset:
                dataset_cell = f"\\multirow{{{dataset_rows}}}{{*}}{{{escape_latex(dataset_name(group.dataset))}}}"
            if index == 0:
                scale_cell = f"\\multirow{{{len(group.rows)}}}{{*}}{{{_scale(group.scale)}}}"
            cells = [
                dataset_cell,
                scale_cell,
                _method(row, display_names),
                escape_latex(setting_name(row.setting)),
                *(_value(row.cells[m]) for m in metrics),
            ]
            lines.append(" & ".join(cells) + r" \\")
        previous = group
    lines.append(r"\bottomrule")
    rows = [row for group in groups for row in group.rows]
    reference_name = escape_latex(method_name(reference_method, display_names))
    lines += _notes(table_notes(rows, _MARKUP, reference_name, p_values), n_columns)
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def table_i_latex(
    summary: pd.DataFrame,
    dataset: str = "hcp",
    scale: str = "2x2x2",
    setting: str = MISALIGNED,
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> str | None:
    """Table I (ablation) as a booktabs ``tabular``: configurations as columns, metrics as rows.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        dataset: raw dataset name.
        scale: scale string, e.g. ``"2x2x2"``.
        setting: setting of the ablation (the paper: ``"misaligned"``).
        display_names: method display-name overrides.
        metrics: metric rows to show.

    Returns:
        The ``tabular``, or ``None`` when no ablation configuration is present (see
        :func:`reports.table_layout.table_i_layout`).
    """
    columns = table_i_layout(summary, dataset, scale, setting, metrics)
    if columns is None:
        return None
    n_columns = 1 + len(columns)
    lines = [
        f"\\begin{{tabular}}{{l{'c' * len(columns)}}}",
        r"\toprule",
        " & ".join(["", *(_method(row, display_names) for row in columns)]) + r" \\",
        r"\midrule",
    ]
    for metric in metrics:
        lines.append(" & ".join([_header(metric), *(_value(row.cells[metric]) for row in columns)]) + r" \\")
    lines.append(r"\bottomrule")
    where = f"{escape_latex(dataset_name(dataset))}, {_scale(scale)}, {escape_latex(setting_name(setting).lower())}."
    notes = [f"Ablation on {where}", *table_notes(columns, _MARKUP, shared_rows=False)]
    lines += _notes(notes, n_columns)
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def standalone_document(table_tex: str) -> str:
    """Wrap a ``tabular`` in a ``standalone`` document (booktabs, multirow) that compiles by itself.

    Args:
        table_tex: a ``tabular`` as returned by :func:`table_ii_latex` or :func:`table_i_latex`.

    Returns:
        The complete document, ending with a newline.
    """
    return "\n".join(
        [
            r"\documentclass[border=4pt]{standalone}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage{booktabs}",
            r"\usepackage{multirow}",
            r"\begin{document}",
            table_tex,
            r"\end{document}",
            "",
        ]
    )
