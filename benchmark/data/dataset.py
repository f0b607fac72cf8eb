"""The interface of a dataset plugin: a list of subjects and their HR volumes (and, where known, tissue maps)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from benchmark.data.volume import Volume

TISSUES: tuple[str, ...] = ("gm", "wm", "csf")
"""The tissue classes of :meth:`Dataset.tissue_maps`, in order: grey matter, white matter, CSF."""


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

    def tissue_maps(self, subject: str) -> np.ndarray | None:
        """The true tissue probabilities of ``subject`` on its HR grid, where the dataset knows them.

        Returns:
            ``(3, X, Y, Z)`` float32 in ``[0, 1]``, the classes of :data:`TISSUES`, summing to 1
            inside the brain and 0 outside; ``None`` (the default) where the dataset has none
            (real scans: only a synthetic cohort knows its truth).
        """
        del subject
        return None

    def brain_mask(self, subject: str) -> np.ndarray | None:
        """The brain mask of ``subject`` on its HR grid, for the metrics inside the brain.

        Returns:
            ``(X, Y, Z)`` boolean, ``True`` inside the brain; ``None`` (the default) where the
            dataset has no mask for this subject (its metrics are then whole-volume only).
        """
        del subject
        return None
