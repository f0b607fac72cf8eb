"""Tables I and II as GitHub Markdown: the same layout, bold and marks as the LaTeX tables.

Markdown has no row spans, so the dataset and scale are written on the first row of their
group only.  The caption sentences follow the table as a paragraph.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from benchmark.protocol.setting_names import MISALIGNED
from reports.display import dataset_name, method_name, metric_name, scale_text, setting_name
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

_MARKUP = NoteMarkup(pm="±", dagger="†", star=r"\*", dash="–", p_lt="<")


TABLE_II_TITLE = "**Table II.** SR quality per dataset, scale, setting and method."
"""The line above Table II in Markdown."""


def escape_markdown(text: str) -> str:
    """Escape the characters that would break a Markdown table cell or start emphasis."""
    out = str(text)
    for char in ("\\", "|", "*", "_", "`"):
        out = out.replace(char, "\\" + char)
    return out


def _value(cell: MetricCell) -> str:
    text = "–" if cell.mean_text == "–" else f"{cell.mean_text} ± {cell.std_text}"
    if cell.bold:
        text = f"**{text}**"
    if cell.significant:
        text += r"\*"
    return text


def _method(row: TableRow, names: Mapping[str, str] | None) -> str:
    text = escape_markdown(method_name(row.method, names) + (f" ({row.note})" if row.note else ""))
    return text + _MARKUP.dagger if row.oracle else text


def _header(metric: str) -> str:
    return escape_markdown(metric_name(metric) + METRIC_UNITS.get(metric, ""))


def _table(header: list[str], body: list[list[str]], align: list[str]) -> list[str]:
    rule = {"l": ":---", "c": ":---:", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule[a] for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return lines


def table_ii_markdown(
    summary: pd.DataFrame,
    p_values: pd.DataFrame | None = None,
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
    reference_method: str = "udean",
    alpha: float = ALPHA,
    title: str = TABLE_II_TITLE,
) -> str:
    """Table II as a Markdown table followed by its caption sentences.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        p_values: the output of :func:`reports.significance.paired_tests`, or ``None``.
        display_names: method display-name overrides (raw name → name).
        metrics: metric columns to show.
        reference_method: the method the p-values compare against.
        alpha: significance level for the stars.
        title: the line above the table, in Markdown (a table in Table II's layout, e.g. the
            downstream table, names itself).

    Returns:
        Markdown text ending with a newline.
    """
    groups = table_ii_layout(summary, p_values, metrics, alpha, reference_method)
    header = ["Dataset", "Scale", "Method", "Setting", *(_header(m) for m in metrics)]
    body = []
    previous_dataset = None
    for group in groups:
        for index, row in enumerate(group.rows):
            dataset_cell = escape_markdown(dataset_name(group.dataset)) if group.dataset != previous_dataset else ""
            previous_dataset = group.dataset
            body.append(
                [
                    dataset_cell,
                    scale_text(group.scale) if index == 0 else "",
                    _method(row, display_names),
                    escape_markdown(setting_name(row.setting)),
                    *(_value(row.cells[m]) for m in metrics),
                ]
            )
    rows = [row for group in groups for row in group.rows]
    reference_name = escape_markdown(method_name(reference_method, display_names))
    notes = table_notes(rows, _MARKUP, reference_name, p_values)
    lines = [title, ""]
    lines += _table(header, body, ["l", "l", "l", "l", *("c" * len(metrics))])
    return "\n".join([*lines, "", " ".join(notes), ""])


def table_i_markdown(
    summary: pd.DataFrame,
    dataset: str = "hcp",
    scale: str = "2x2x2",
    setting: str = MISALIGNED,
    display_names: Mapping[str, str] | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> str | None:
    """Table I (ablation) as Markdown: configurations as columns, metrics as rows.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        dataset: raw dataset name.
        scale: scale string, e.g. ``"2x2x2"``.
        setting: setting of the ablation (the paper: ``"misaligned"``).
        display_names: method display-name overrides.
        metrics: metric rows to show.

    Returns:
        Markdown text ending with a newline, or ``None`` when no ablation configuration is present.
    """
    columns = table_i_layout(summary, dataset, scale, setting, metrics)
    if columns is None:
        return None
    header = ["", *(_method(row, display_names) for row in columns)]
    body = [[_header(m), *(_value(row.cells[m]) for row in columns)] for m in metrics]
    where = f"{escape_markdown(dataset_name(dataset))}, {scale_text(scale)}, {setting_name(setting).lower()}"
    lines = [f"**Table I.** Ablation on {where}.", ""]
    lines += _table(header, body, ["l", *("c" * len(columns))])
    notes = table_notes(columns, _MARKUP, shared_rows=False)
    return "\n".join([*lines, "", " ".join(notes), ""])
