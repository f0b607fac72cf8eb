"""Validation of a learned method, scored exactly as the test is.

A validation super-resolves whole validation volumes with the same slab inference as the test
(:func:`benchmark.inference.slabs.super_resolve_slabs` with the profile's ``infer_tile`` and
``infer_batch``, as :meth:`methods.thin_slab.ThinSlabMethod.super_resolve` does) and scores them
with the test's metrics (:data:`benchmark.evaluation.metrics.METRICS`: whole-volume PSNR and 3D
SSIM). The reference lines of the learning curves, ``tricubic`` and ``zero-fill``, are those
methods' own whole-volume SR scored the same way, so a validation score minus a reference line
means what the same difference means on the test volumes.

Cost is bounded by the profile's ``val_volumes``: the first that many validation pairs (by
subject) are used, the same ones at every validation. On a demo volume (LR 80×98×81 at 2×2×2)
one volume took 2.2 s on one busy CPU thread with the quick network (1.2–1.7 s of inference,
0.8 s of 3D SSIM). The references are computed once per plan, at its first validation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from benchmark.api import METRICS, Precision, Profile, Scale, VolumePair, super_resolve_slabs
from methods.tricubic import Tricubic
from methods.zero_fill import ZeroFill

REFERENCES = {"tricubic": Tricubic, "zero_fill": ZeroFill}
"""Prefix of the reference columns (``tricubic_psnr``, ``zero_fill_ssim`` …) → the method drawn as that line."""


def validation_subset(pairs: Sequence[VolumePair], count: int) -> list[VolumePair]:
    """The first ``count`` validation pairs by subject: the fixed volumes every validation scores."""
    return sorted(pairs, key=lambda pair: pair.hr.subject)[: max(int(count), 0)]


def volume_scores(sr: torch.Tensor, hr: np.ndarray) -> dict[str, float]:
    """The test metrics (``{"ssim", "psnr"}``) of an SR volume ``(X, Y, Z)`` against its HR volume."""
    target = torch.from_numpy(np.ascontiguousarray(hr))
    sr = sr.float().cpu()
    return {name: float(fn(sr, target)) for name, fn in METRICS.items()}


def _means(scores: list[dict[str, float]], prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}{name}": float(np.mean([s[name] for s in scores])) if scores else float("nan") for name in METRICS
    }


class ValidationSet:
    """The validation volumes of one plan, with their reference scores computed once.

    Args:
        pairs: the cell's validation pairs (LR ``(X/sx, Y/sy, Z/sz)``, HR ``(X, Y, Z)``).
        scale: the cell's scale.
        profile: ``val_volumes`` (how many pairs), ``infer_tile`` and ``infer_batch`` (the test's inference).
        device: where the network runs.
    """

    def __init__(
        self,
        pairs: Sequence[VolumePair],
        scale: Scale,
        profile: Profile,
        device: torch.device,
        precision: Precision | None = None,
    ) -> None:
        self.pairs = validation_subset(pairs, int(profile["val_volumes"]))
        self.scale, self.profile, self.device, self.precision = scale, profile, device, precision
        self._references: dict[str, float] | None = None

    def network_scores(self, network: nn.Module) -> dict[str, float]:
        """``{"ssim", "psnr", "seconds"}``: mean test metrics of a slab network's whole-volume SR, and the wall time."""
        started = time.perf_counter()
        scores = []
        for pair in self.pairs:
            sr = super_resolve_slabs(
                network,
                torch.from_numpy(pair.lr.data),
                self.scale,
                int(self.profile["infer_tile"]),
                int(self.profile["infer_batch"]),
                self.device,
                precision=self.precision,
            )
            scores.append(volume_scores(sr, pair.hr.data))
        return {**_means(scores), "seconds": time.perf_counter() - started}

    def references(self) -> dict[str, float]:
        """``{"tricubic_ssim", "tricubic_psnr", "zero_fill_ssim", "zero_fill_psnr"}`` on the same volumes (cached)."""
        if self._references is None:
            self._references = {}
            for prefix, cls in REFERENCES.items():
                method = cls(self.scale, self.profile)
                scores = [
                    volume_scores(method.super_resolve(torch.from_numpy(p.lr.data)), p.hr.data) for p in self.pairs
                ]
                self._references.update(_means(scores, prefix=f"{prefix}_"))
        return self._references

    def score(self, network: nn.Module) -> dict[str, float]:
        """:meth:`network_scores` and :meth:`references`: what a plan's ``validate`` returns."""
        return {**self.network_scores(network), **self.references()}


def validate_network(
    network: nn.Module,
    pairs: Sequence[VolumePair],
    scale: Scale,
    profile: Profile,
    device: torch.device,
    precision: Precision | None = None,
) -> dict[str, float]:
    """One validation of a slab network: :meth:`ValidationSet.score` of a new set (references computed anew)."""
    return ValidationSet(pairs, scale, profile, device, precision).score(network)
