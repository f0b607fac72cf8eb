"""The harness's one progress-bar layout: description, bar, done / total, elapsed time."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def counting_progress(console: Console) -> Progress:
    """A rich ``Progress`` showing each task's description, bar, ``done/total`` and elapsed time."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
