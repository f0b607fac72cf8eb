"""The interface of a dataset plugin: a list of subjects and their HR volumes."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from benchmark.data.volume import Volume


def default_cache_dir() -> Path:
    """Where dataset plugins cache generated data: ``$BENCH_CACHE``, else ``~/.cache/udean-bench``."""
    return Path(os.environ.get("BENCH_CACHE", "~/.cache/udean-bench")).expanduser()


class Dataset(ABC):
    """A collection of HR volumes, one per subject.

    Factories are called as ``factory(data_root=Path | None, cache_dir=Path)``; a dataset that
    needs a data root and gets none, or gets a bad one, raises :class:`BenchError`.
    """

    @abstractmethod
    def subjects(self) -> list[str]:
        """Subject identifiers, sorted; at least 4 (one per group)."""

    @abstractmethod
    def load(self, subject: str) -> Volume:
        """The HR volume of ``subject``: ``(X, Y, Z)`` float32, intensities scaled to ``[0, 1]``."""

    def source_file(self, subject: str) -> Path | None:
        """The file ``subject``'s volume is read from, or ``None`` (then a change to it goes unnoticed).

        The runner records each used file's size, modification time and SHA-256 in the cell's
        ``DONE`` marker, and reruns the cell when one of them changes.
        """
        del subject
        return None
