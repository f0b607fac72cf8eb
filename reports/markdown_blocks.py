"""Read back the Markdown the report writes: paragraphs and pipe tables, for the HTML page.

The Markdown renderers (:mod:`reports.markdown` and the other ``*_markdown`` functions) are the
one place where a table's layout is decided (order, bold, stars, daggers, captions); the HTML
report shows those same tables, so it reads their Markdown rather than laying them out again.
Only what those renderers write is understood: ``| a | b |`` rows with a ``| :--- |`` rule,
``**bold**`` and ``*emphasis*``, and backslash escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")
_SPLIT = re.compile(r"(?<!\\)\|")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\\*])\*(?!\*)(.+?)(?<!\\)\*")
_ESCAPED = re.compile(r"\\([\\|*_`])")


def inline_html(text: str) -> Markup:
    """One Markdown line or cell as safe HTML: escaped, ``**…**`` → ``<strong>``, ``*…*`` → ``<em>``."""
    html = str(escape(text.strip()))
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _EMPHASIS.sub(r"<em>\1</em>", html)
    return Markup(_ESCAPED.sub(r"\1", html))


def plain_text(text: str) -> str:
    """A Markdown cell without its markup: what a sort compares."""
    return _ESCAPED.sub(r"\1", text.replace("**", "")).strip()


@dataclass
class MarkdownTable:
    """A pipe table: header cells, body rows (HTML), and each body cell's plain text for sorting."""

    header: list[Markup]
    rows: list[list[Markup]] = field(default_factory=list)
    sort_keys: list[list[str]] = field(default_factory=list)
    align: list[str] = field(default_factory=list)


@dataclass
class MarkdownBlock:
    """A paragraph (``paragraph`` set) or a table (``table`` set)."""

    paragraph: Markup | None = None
    table: MarkdownTable | None = None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in _SPLIT.split(line.strip().strip("|"))]


def _alignment(rule: str) -> list[str]:
    aligned = []
    for cell in _cells(rule):
        right, left = cell.endswith(":"), cell.startswith(":")
        aligned.append("center" if left and right else "right" if right else "left")
    return aligned


def markdown_blocks(text: str) -> list[MarkdownBlock]:
    """The paragraphs and tables of ``text``, in order; blank lines separate paragraphs; headings are paragraphs."""
    lines = text.splitlines()
    blocks: list[MarkdownBlock] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(MarkdownBlock(paragraph=inline_html(" ".join(part.lstrip("#") for part in paragraph))))
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("|") and index + 1 < len(lines) and _RULE.match(lines[index + 1].strip()):
            flush()
            table = MarkdownTable(header=[inline_html(cell) for cell in _cells(line)])
            table.align = _alignment(lines[index + 1])
            index += 2
            while index < len(lines) and lines[index].startswith("|"):
                cells = _cells(lines[index])
                table.rows.append([inline_html(cell) for cell in cells])
                table.sort_keys.append([plain_text(cell) for cell in cells])
                index += 1
            blocks.append(MarkdownBlock(table=table))
            continue
        if line.strip():
            paragraph.append(line.strip())
        else:
            flush()
        index += 1
    flush()
    return blocks
