"""``report.html``: one self-contained page of every table, figure and cell provenance of a report folder.

The page opens offline: styles and scripts are inline, figures are embedded as PNG data. It is
rendered with jinja2 from ``reports/templates/report.html.j2`` (autoescaped). Tables come from the
Markdown files the report wrote (:mod:`reports.markdown_blocks`), so the page shows exactly the
tables of ``bench report`` with their captions, bold and stars; each column sorts on a click, and
each figure opens enlarged on a click. Sections, in order: Table II and Table I beside the
paper's published tables; seeds; inside the brain; downstream; degradation shift; convergence;
learning curves and adversarial losses; error maps; the command, commit and environment of
every cell.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pandas as pd
from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from benchmark.folders import writable_folder
from reports.cell_provenance import cell_provenance
from reports.markdown_blocks import MarkdownBlock, MarkdownTable, markdown_blocks

REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class SectionKind:
    """Which Markdown files of a report folder make one section of the page."""

    key: str
    title: str
    prefixes: tuple[str, ...]
    excludes: tuple[str, ...] = ()

    def takes(self, name: str) -> bool:
        return name.startswith(self.prefixes) and not any(part in name for part in self.excludes)


SECTIONS: tuple[SectionKind, ...] = (
    SectionKind("table2", "Table II: comparison", ("table2",), ("_brain",)),
    SectionKind("table1", "Table I: ablation", ("table1",)),
    SectionKind("paper", "Against the paper's numbers", ("paper_comparison",)),
    SectionKind("seeds", "Spread across seeds", ("seeds",)),
    SectionKind("brain", "Inside the brain mask", ("table2",)),
    SectionKind("downstream", "Downstream: tissue segmentation", ("downstream",)),
    SectionKind("shift", "Degradation shift", ("degradation_shift",)),
    SectionKind("convergence", "Convergence", ("convergence",)),
)
"""The sections of tables, in page order; the brain section takes the ``table2*_brain`` files Table II leaves."""

FIGURE_GROUPS: tuple[tuple[str, str], ...] = (
    ("learning_curves", "Learning curves"),
    ("adversarial_losses", "Adversarial losses"),
    ("error_map", "Error maps"),
)
"""Figure file prefixes and their section titles, in page order."""


@dataclass
class Document:
    """One Markdown file of the report: its name and its paragraphs and tables."""

    name: str
    blocks: list[MarkdownBlock]


@dataclass
class Section:
    key: str
    title: str
    documents: list[Document] = field(default_factory=list)
    aside: list[Document] = field(default_factory=list)


@dataclass
class Figure:
    name: str
    data_uri: str


def frame_table(frame: pd.DataFrame, decimals: int = 4) -> MarkdownTable:
    """A data frame as a table of the page (numbers with ``decimals``, mean ± std pairs joined)."""
    columns = list(frame.columns)
    shown = []
    for column in columns:
        if column.endswith("_std") and column.removesuffix("_std") + "_mean" in columns:
            continue
        shown.append(column)
    header = [escape(column.removesuffix("_mean")) for column in shown]
    table = MarkdownTable(header=[Markup(text) for text in header], align=["left"] * len(shown))
    for _, record in frame.iterrows():
        cells = []
        for column in shown:
            value = record[column]
            text = f"{value:.{decimals}f}" if isinstance(value, float) else str(value)
            std = column.removesuffix("_mean") + "_std"
            if column.endswith("_mean") and std in columns:
                text += f" ± {record[std]:.{decimals}f}"
            cells.append(text)
        table.rows.append([escape(text) for text in cells])
        table.sort_keys.append(cells)
    return table


def _paper_documents(reference: pd.DataFrame | None, scales: Sequence[str] = ()) -> dict[str, Document]:
    """The paper's published Tables I and II as documents, to stand beside ours (only ``scales``, when given)."""
    if reference is None:
        return {}
    if scales and reference["scale"].isin(scales).any():
        reference = reference[reference["scale"].isin(scales)]
    documents = {}
    for key, label in (("table2", "II"), ("table1", "I")):
        rows = reference[reference["paper_table"] == label].drop(columns=["paper_table"])
        if rows.empty:
            continue
        intro = MarkdownBlock(paragraph=Markup(f"<strong>The paper's Table {label}</strong> (HCP and BraTS)."))
        documents[key] = Document(f"paper Table {label}", [intro, MarkdownBlock(table=frame_table(rows))])
    return documents


def _sections(out_dir: Path, paper: dict[str, Document]) -> list[Section]:
    sections = {kind.key: Section(kind.key, kind.title) for kind in SECTIONS}
    # The plain name (the paper's protocol) before its variants, which add suffixes to it.
    for path in sorted(out_dir.glob("*.md"), key=lambda path: (len(path.stem), path.stem)):
        name = path.stem
        if name.startswith("table2") and "_brain" in name:
            key = "brain"
        else:
            key = next((kind.key for kind in SECTIONS if kind.key != "brain" and kind.takes(name)), None)
        if key is not None:
            sections[key].documents.append(Document(name, markdown_blocks(path.read_text(encoding="utf-8"))))
    for key, document in paper.items():
        sections[key].aside.append(document)
    return [section for section in sections.values() if section.documents]


def _figures(out_dir: Path) -> list[tuple[str, list[Figure]]]:
    groups = []
    pictures = sorted((out_dir / "figures").glob("*.png"))
    for prefix, title in FIGURE_GROUPS:
        members = [
            Figure(path.stem, "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"))
            for path in pictures
            if path.name.startswith(prefix)
        ]
        if members:
            groups.append((title, members))
    return groups


def _environment() -> Environment:
    environment = Environment(autoescape=select_autoescape(default=True), undefined=StrictUndefined)
    environment.globals["enumerate"] = enumerate
    return environment


def write_html_report(
    out_dir: Path,
    runs_dir: Path,
    profile: str | None = None,
    reference: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    generated: datetime.datetime | None = None,
    scales: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/report.html`` from the tables and figures already written to ``out_dir``.

    Args:
        out_dir: the report folder (:func:`reports.build.write_reports` wrote it).
        runs_dir: the results store, for each cell's command, commit and environment.
        profile: the profile reported, or ``None`` for all.
        reference: the paper's tables (:func:`reports.paper_comparison.load_paper_tables`) or ``None``.
        scales: the scales of the results; the paper's rows of other scales are left out.
        notes: sentences about what the report left out, shown at the top.
        generated: the time printed on the page (now, by default).

    Returns:
        The path of the page.
    """
    out_dir = writable_folder(Path(out_dir), "report folder")
    template_text = files("reports").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")
    template = _environment().from_string(template_text)
    provenance = cell_provenance(Path(runs_dir), profile)
    page = template.render(
        title="UDEAN benchmark report",
        generated=(generated or datetime.datetime.now()).strftime("%Y-%m-%d %H:%M"),
        runs_dir=str(runs_dir),
        profile=profile or "all",
        notes=list(notes),
        sections=_sections(out_dir, _paper_documents(reference, scales)),
        figure_groups=_figures(out_dir),
        cells=frame_table(provenance) if not provenance.empty else None,
        n_cells=len(provenance),
    )
    path = out_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path
