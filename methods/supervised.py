"""Supervised baselines of Table I: the TS-RCAN decoder trained pixel-wise on (target LR, HR) pairs.

* ``supervised``: pairs of each target LR volume with its subject's *misaligned* source HR
  volume, as the paper trains it (Table I, "without rigid registration"); the pairs are not
  voxel-aligned, which is the point of the experiment.
* ``supervised-rigid``: the same after rigid registration (6 DOF, Mattes mutual information,
  SimpleITK) of each source HR volume to its target LR volume; the rigid part of the
  misalignment is removed, the shrinking is not.  The registration record of each subject
  (metric before/after, recovered angles and shifts) goes to ``registration.json``.
* ``supervised-aligned``: pairs with the truly aligned HR of the target subjects, the upper
  bound that the unsupervised methods try to reach; an oracle in the reports.

Loss: L1 + α·SSIM with α = 0.5 (the UDEAN paper's α; TS-RCAN's own 100·L1 + 50·SSIM has the
same ratio).  Patch pairs are cut at the same corner (LR corner × scale) of the LR and HR volumes.

Design notes and measurements: docs/methods/supervised.md
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from benchmark.api import (
    METHODS,
    MISALIGNED,
    SOURCE_HR_SETTINGS,
    Precision,
    Profile,
    ProfileKey,
    RunContext,
    Scale,
    Trainer,
    TrainingData,
    TrainingPlan,
    Volume,
    VolumePair,
    declare,
    number,
    write_json,
)
from methods.losses import l1_loss, ssim_loss
from methods.networks import ts_rcan_from_profile
from methods.thin_slab import PatchSampler, ThinSlabMethod
from methods.validation import ValidationSet

declare(
    ProfileKey("ssim_weight", number(0, 1), "supervised loss: α·(1−SSIM) + (1−α)·L1", owner="supervised", default=0.5)
)


class PairedSlabPlan:
    """Training plan: random aligned patch pairs from (LR, HR) volume pairs, L1 + α·SSIM on slabs."""

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["sr"]}

    def __init__(
        self,
        network: nn.Module,
        lr_volumes: list[Volume],
        hr_volumes: list[Volume],
        validation: list[VolumePair],
        scale: Scale,
        profile: Profile,
        device: torch.device,
        precision: Precision | None = None,
    ) -> None:
        self.networks = {"sr": network}
        self.lr_volumes = [v.data for v in lr_volumes]
        self.hr_volumes = [v.data for v in hr_volumes]
        self.validation = ValidationSet(validation, scale, profile, device, precision)
        self.scale = scale
        self.profile = profile
        self.device = device
        self.sampler = PatchSampler(profile["lr_patch"], scale)
        self.alpha = profile["ssim_weight"]

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """LR slabs ``(B, 3, px, py)`` and HR slabs ``(B, 3·sz, sx·px, sy·py)`` on the CPU."""
        return self.sampler.paired_slabs(self.lr_volumes, self.hr_volumes, int(self.profile["batch_size"]), rng)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], trainer: Trainer) -> dict[str, float]:
        """One Adam step on L1 + α·SSIM."""
        lr, hr = (t.to(self.device, non_blocking=True) for t in batch)
        with trainer.autocast():
            sr = self.networks["sr"](lr)
        sr = sr.float()
        l1 = l1_loss(sr, hr)
        ssim = ssim_loss(sr, hr)
        loss = l1 + self.alpha * ssim
        trainer.update("generator", loss)
        return {"loss": loss.item(), "l1": l1.item(), "ssim": ssim.item()}

    def validate(self) -> dict[str, float]:
        """Whole-volume PSNR and SSIM of the validation volumes and the reference lines (:mod:`methods.validation`)."""
        return self.validation.score(self.networks["sr"])


class SupervisedBase(ThinSlabMethod):
    """TS-RCAN trained on paired patches; subclasses choose the HR volumes of the pairs."""

    settings: ClassVar[tuple[str, ...]] = (MISALIGNED,)

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        return {"sr": ts_rcan_from_profile(profile, scale)}

    def inference_network(self) -> nn.Module:
        return self.networks["sr"]

    def training_pairs(self, data: TrainingData, run: RunContext) -> tuple[list[Volume], list[Volume]]:
        """``(LR volumes, HR volumes)`` to train on, index-aligned."""
        raise NotImplementedError

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        lr_volumes, hr_volumes = self.training_pairs(data, run)
        return PairedSlabPlan(
            self.networks["sr"],
            lr_volumes,
            hr_volumes,
            data.validation,
            self.scale,
            self.profile,
            run.device,
            run.precision,
        )


def _check_same_subjects(lr: list[Volume], hr: list[Volume]) -> None:
    if [v.subject for v in lr] != [v.subject for v in hr]:
        raise ValueError("supervised training needs the HR and LR volumes of the same subjects in the same order")


@METHODS.register("supervised", summary="TS-RCAN trained on misaligned source HR / target LR pairs, no registration.")
class Supervised(SupervisedBase):
    """Supervised TS-RCAN on the misaligned pairs, without registration (Table I)."""

    def training_pairs(self, data: TrainingData, run: RunContext) -> tuple[list[Volume], list[Volume]]:
        _check_same_subjects(data.target_lr, data.source_hr)
        return data.target_lr, data.source_hr


@METHODS.register(
    "supervised-rigid", summary="TS-RCAN trained on pairs after rigid (6-DOF, mutual information) registration."
)
class SupervisedRigid(SupervisedBase):
    """Supervised TS-RCAN after rigid registration of each source HR to its target LR (Table I)."""

    def training_pairs(self, data: TrainingData, run: RunContext) -> tuple[list[Volume], list[Volume]]:
        from methods.registration import rigid_register

        _check_same_subjects(data.target_lr, data.source_hr)
        registered, records = [], {}
        for moving, fixed in zip(data.source_hr, data.target_lr):
            volume, record = rigid_register(moving, fixed, seed=run.seed)
            registered.append(volume)
            records[moving.subject] = record
            run.log(f"registered {moving.subject}: residual {record['residual']}")
        write_json(run.cell_dir / "registration.json", records)
        return data.target_lr, registered


@METHODS.register(
    "supervised-aligned", summary="Oracle: TS-RCAN trained on truly aligned target HR / LR pairs (upper bound)."
)
class SupervisedAligned(SupervisedBase):
    """Supervised TS-RCAN on perfectly aligned pairs: the oracle upper bound."""

    uses_aligned_target_hr = True
    oracle = True
    settings: ClassVar[tuple[str, ...]] = SOURCE_HR_SETTINGS

    def training_pairs(self, data: TrainingData, run: RunContext) -> tuple[list[Volume], list[Volume]]:
        return data.target_lr, data.target_hr
