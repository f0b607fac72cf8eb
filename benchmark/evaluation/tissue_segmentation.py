"""Grey matter, white matter and CSF of a T1-weighted volume, by ANTs Atropos (the downstream score's segmenter).

Atropos (Avants et al., 2011, the segmenter of ANTs' cortical-thickness pipeline) fits a
three-class Gaussian mixture to the intensities inside a brain mask.  The harness calls it
through ``antspyx``, an optional extra (``pip install 'udean-bench[downstream]'``), with
settings chosen for speed on a CPU and measured (README, "Downstream score"):

* initialisation ``Otsu[3]`` (thresholds between the three intensity classes);
* no Markov-random-field prior (``m=[0,0x0x0]``: weight 0 on an empty neighbourhood, which gives the
  same labels as weight 0 on Atropos's 1-voxel one, in 35 % less time), one EM iteration (``c=[1,0]``);
* one ITK thread, so that a volume gives the same labels on every run.

On the demo's 1 mm HR volume of sub-02 this takes 5.0 s on one core and scores Dice 0.814 (GM),
0.846 (WM), 0.584 (CSF) against the true maps; Atropos's usual k-means start, MRF weight 0.2 and
three iterations take 46.9 s and score 0.798 / 0.838 / 0.575
(``benchmarks/tissue_segmentation_probe.py``).

The classes come out in order of mean intensity, which on T1-weighted contrast (every dataset of
this harness: demo, HCP T1w, BraTS T1CE) is CSF, GM, WM.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping

import numpy as np

from benchmark.data.dataset import TISSUES
from benchmark.errors import BenchError

ATROPOS_SETTINGS: dict[str, str] = {"i": "Otsu[3]", "m": "[0.0,0x0x0]", "c": "[1,0]"}
"""The arguments of ``ants.atropos`` (initialisation, MRF prior, convergence) the harness uses."""

SEGMENTER = "atropos(i=Otsu[3], m=[0.0,0x0x0], c=[1,0]) antspyx"
"""Names the segmentation and its settings; part of the key of cached HR segmentations."""

T1_ORDER: tuple[str, ...] = ("csf", "gm", "wm")
"""The tissues in order of increasing T1-weighted intensity: Atropos's classes 1, 2, 3."""

OUTSIDE = -1
"""The label of voxels outside the mask."""

INSTALL_HINT = "pip install 'udean-bench[downstream]' (or: pip install antspyx)"


def segmentation_available() -> bool:
    """Whether ``antspyx`` (the module ``ants``) is installed."""
    return importlib.util.find_spec("ants") is not None


def require_segmentation() -> None:
    """Raise one sentence when the downstream score cannot run here.

    Raises:
        BenchError: ``antspyx`` is not installed.
    """
    if not segmentation_available():
        raise BenchError(f"the downstream score (--downstream) needs antspyx, which is not installed: {INSTALL_HINT}.")


def _ants():
    # One ITK thread: Atropos's sums then run in one order, and a volume gets the same labels every time.
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")
    require_segmentation()
    import ants

    return ants


def segment_tissues(
    volume: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    settings: Mapping[str, str] = ATROPOS_SETTINGS,
) -> np.ndarray:
    """Label each voxel of ``mask`` as grey matter, white matter or CSF.

    Args:
        volume: ``(X, Y, Z)`` T1-weighted intensities (any scale; SR output is clipped to
            ``[0, 1]`` first, as the metrics do).
        mask: ``(X, Y, Z)`` boolean brain mask; only its voxels are classified.
        spacing: voxel size in mm.
        settings: the arguments of ``ants.atropos`` (the harness's unless a probe compares others).

    Returns:
        ``(X, Y, Z)`` int8: the index of the tissue in :data:`~benchmark.data.dataset.TISSUES`
        (0 GM, 1 WM, 2 CSF), :data:`OUTSIDE` (-1) outside the mask.

    Raises:
        BenchError: ``antspyx`` is not installed.
        ValueError: the shapes differ, or the mask is empty or not boolean.
    """
    if volume.shape != mask.shape:
        raise ValueError(f"the volume is {volume.shape}, the mask {mask.shape}")
    if mask.dtype != np.bool_ or not mask.any():
        raise ValueError("the mask must be a non-empty boolean volume")
    ants = _ants()
    image = ants.from_numpy(np.clip(np.asarray(volume, dtype=np.float32), 0.0, 1.0), spacing=spacing)
    region = ants.from_numpy(mask.astype(np.float32), spacing=spacing)
    classes = ants.atropos(a=image, x=region, **settings)["segmentation"].numpy().astype(np.int16)
    labels = np.full(volume.shape, OUTSIDE, dtype=np.int8)
    for atropos_class, tissue in enumerate(T1_ORDER, start=1):
        labels[(classes == atropos_class) & mask] = TISSUES.index(tissue)
    return labels


def true_labels(tissue_maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The most probable tissue of each voxel of ``mask``, from a dataset's true maps.

    Args:
        tissue_maps: ``(3, X, Y, Z)`` probabilities of :data:`~benchmark.data.dataset.TISSUES`.
        mask: ``(X, Y, Z)`` boolean.

    Returns:
        ``(X, Y, Z)`` int8 labels as :func:`segment_tissues` gives, :data:`OUTSIDE` outside the mask.
    """
    return np.where(mask, tissue_maps.argmax(axis=0), OUTSIDE).astype(np.int8)
