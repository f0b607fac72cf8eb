"""The downstream score: does SR help tissue segmentation?  Dice and tissue-volume error, SR vs HR.

Each test subject's SR volume and its HR volume are segmented separately, with the same
segmenter (:func:`~benchmark.evaluation.tissue_segmentation.segment_tissues`, inside the
subject's brain mask), and compared per tissue (``<t>`` is ``gm``, ``wm`` or ``csf``):

* ``dice_<t>``: Dice overlap of the SR and HR labels of tissue ``t`` (1 = the same voxels);
* ``volume_error_<t>``: the SR tissue volume minus the HR one, in % of the HR one (signed);
* ``dice_<t>_true``, ``hr_dice_<t>_true``: where the dataset knows its true tissue maps (the
  demo), the Dice of the SR and of the HR segmentation against them; the HR one is what
  segmentation reaches on the HR volume itself, the same in every cell of a subject.

The HR segmentation of a subject is cached (keyed by the HR and mask bytes and the segmenter),
so the cells of a run segment each HR volume once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from benchmark.data.dataset import TISSUES
from benchmark.evaluation.tissue_segmentation import SEGMENTER, segment_tissues
from benchmark.results.atomic_files import write_npz

CACHE_FOLDER = "_downstream"
"""The folder of the runs directory that caches HR segmentations."""


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap ``2|A∩B| / (|A| + |B|)`` of two boolean volumes; 1 when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int(np.logical_and(a, b).sum()) / total if total else 1.0


def volume_error(sr: np.ndarray, hr: np.ndarray) -> float:
    """``(|SR| − |HR|) / |HR|`` in % for two boolean volumes (NaN when HR is empty)."""
    reference = int(hr.sum())
    return 100.0 * (int(sr.sum()) - reference) / reference if reference else float("nan")


def tissue_scores(sr_labels: np.ndarray, hr_labels: np.ndarray, truth: np.ndarray | None = None) -> dict[str, float]:
    """The downstream columns of one test subject from its label volumes.

    Args:
        sr_labels, hr_labels: ``(X, Y, Z)`` int8 tissue labels (index into ``TISSUES``, -1 outside).
        truth: the true labels on the same grid, or ``None`` (no ``*_true`` columns).

    Returns:
        ``dice_<t>``, ``volume_error_<t>`` and, with ``truth``, ``dice_<t>_true`` and ``hr_dice_<t>_true``.
    """
    if sr_labels.shape != hr_labels.shape:
        raise ValueError(f"the SR labels are {sr_labels.shape}, the HR labels {hr_labels.shape}")
    scores: dict[str, float] = {}
    for index, tissue in enumerate(TISSUES):
        sr, hr = sr_labels == index, hr_labels == index
        scores[f"dice_{tissue}"] = dice(sr, hr)
        scores[f"volume_error_{tissue}"] = volume_error(sr, hr)
    if truth is not None:
        for index, tissue in enumerate(TISSUES):
            scores[f"dice_{tissue}_true"] = dice(sr_labels == index, truth == index)
            scores[f"hr_dice_{tissue}_true"] = dice(hr_labels == index, truth == index)
    return scores


class DownstreamScorer:
    """Segments SR volumes, and their HR volumes once (cached on disk), and scores them.

    Args:
        cache_dir: where HR segmentations are cached (``<runs>/_downstream``); ``None``: not cached.
    """

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir

    def _hr_labels(self, hr: np.ndarray, mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
        digest = hashlib.sha256()
        for part in (SEGMENTER.encode(), repr((hr.shape, spacing)).encode(), hr.tobytes(), mask.tobytes()):
            digest.update(part)
        path = None if self.cache_dir is None else self.cache_dir / f"hr-{digest.hexdigest()[:32]}.npz"
        if path is not None and path.is_file():
            try:
                with np.load(path) as stored:
                    labels = stored["labels"]
                if labels.shape == hr.shape:
                    return labels
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is segmented again and rewritten
        labels = segment_tissues(hr, mask, spacing)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_npz(path, {"labels": labels})
        return labels

    def score(
        self,
        sr: np.ndarray,
        hr: np.ndarray,
        mask: np.ndarray,
        truth: np.ndarray | None = None,
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ) -> dict[str, float]:
        """Segment ``sr`` (and ``hr``, or read its cached labels) inside ``mask`` and score them.

        Args:
            sr, hr: ``(X, Y, Z)`` volumes on the HR grid (``sr`` is clipped to ``[0, 1]``).
            mask: ``(X, Y, Z)`` boolean brain mask.
            truth: the true labels (:func:`~benchmark.evaluation.tissue_segmentation.true_labels`) or ``None``.
            spacing: voxel size in mm.
        """
        hr_labels = self._hr_labels(np.ascontiguousarray(hr, dtype=np.float32), mask, spacing)
        sr_labels = segment_tissues(sr, mask, spacing)
        return tissue_scores(sr_labels, hr_labels, truth)
