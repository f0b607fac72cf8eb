"""Method revisions in a results store: the reports show each method's newest revision only.

A method bumps its revision when a change alters what its cells compute without changing their
identity, such as a changed default (``Method.revision`` in the harness). Cells of the older revision
keep their folders and their rows of ``results.csv``, but they measured another configuration:
averaging them with the new cells, or setting them beside the other methods in Table I or II as
if they were current, would mix two methods under one name. So every table, figure and list of
``bench report`` keeps, per method, the rows of the newest revision present in the store, and
the report says in one sentence per method what it left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import pandas as pd

from benchmark.results.schema import IDENTITY_COLUMNS

REVISION = "revision"
"""The results column that holds a cell's revision."""

T = TypeVar("T")


def newest_revision_rows(results: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows of each method's newest revision, and one sentence per method with older rows left out.

    Args:
        results: the long table (:func:`reports.results_store.read_results`), with ``method`` and
            ``revision`` columns (a table without ``revision`` is returned whole).

    Returns:
        ``(kept, notes)``: ``kept`` with its index reset; ``notes`` e.g. ``"udean: 25 cells of
        revision 0 left out, superseded by revision 1 (their folders and rows of results.csv are
        kept)."``
    """
    if REVISION not in results.columns or results.empty:
        return results, []
    current = newest_revisions(zip(results["method"], results[REVISION]))
    newest = results["method"].map(current)
    old = results[results[REVISION] < newest]
    notes = []
    identity = [name for name in IDENTITY_COLUMNS if name in old.columns]
    for method, rows in old.groupby("method", sort=True):
        cells = len(rows.drop_duplicates(identity))
        revisions = ", ".join(str(int(r)) for r in sorted(rows[REVISION].unique()))
        word = "revision" if rows[REVISION].nunique() == 1 else "revisions"
        notes.append(
            f"{method}: {cells} cell{'s' if cells != 1 else ''} of {word} {revisions} left out, superseded by "
            f"revision {current[method]} (their folders and rows of results.csv are kept)."
        )
    return results[results[REVISION] >= newest].reset_index(drop=True), notes


def newest_revision_items(
    items: Iterable[T], method: Callable[[T], str], revision: Callable[[T], int], newest: dict[str, int]
) -> list[T]:
    """The items (cells read from their folders) of each method's newest revision, in their order.

    Args:
        items: cell records.
        method, revision: read an item's method and revision.
        newest: the newest revision per method in the whole store (:func:`newest_revisions`).
    """
    return [item for item in items if revision(item) >= newest.get(method(item), 0)]


def newest_revisions(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The newest revision of each method among ``(method, revision)`` pairs."""
    newest: dict[str, int] = {}
    for method, revision in pairs:
        newest[method] = max(newest.get(method, 0), int(revision))
    return newest
