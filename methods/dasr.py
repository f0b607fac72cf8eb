"""DASR (Wei, Gu, Li, Timofte, Jin, Song, CVPR 2021), on the shared thin-slab backbone.

Two stages (reference ``ShuhangGu/DASR``). Stage 1 (:class:`DownsamplingPlan`) trains a
down-sampling network ``G_d`` (HR slab ``(B, 3·sz, H, W)`` → LR slab ``(B, 3, h, w)``) on
``1·L1(LF(G_d(y)), LF(y↓)) + 0.005·adversarial``, its discriminator ``D_lr`` judging high
frequencies per pixel. Stage 2 (:class:`SuperResolutionPlan`) freezes both and trains the SR
network on ``G_d``'s pairs: a pixel L1 weighted by the domain-distance map
(:func:`domain_distance_map`), a low-frequency L1, and ``0.01·adversarial`` from ``D_hr`` on the
high frequencies of SR of real target LR. Inference uses the SR network only.

Here: ``G_d`` is the shared HR → LR generator
(:class:`~methods.networks.DownsamplingGenerator`, with a sampling skip ``dasr_down_skip`` that
follows ``global_skip``), the SR network the shared TS-RCAN, ``D_lr`` the reference's per-pixel
discriminator (:class:`~methods.networks.pixel_discriminator.PixelDiscriminator`), ``D_hr`` the
shared slab discriminator. The plain down-scaling is the protocol's k-space truncation of each
whole source HR volume (:func:`~methods.thin_slab.clean_lr_volumes`). The map is ``D_lr``'s raw
score clamped to ``[0, 1]`` and averaged over its 13-pixel receptive field
(:func:`spread_over_receptive_field`). Both stages are the shared
:class:`~methods.adversarial.AdversarialPlan` (LSGAN; discriminators see ``x − LF(x)`` through
:meth:`HighFrequencyPlan.discriminator_input`), each a :class:`~methods.thin_slab.TrainingStage`
of the full budget, in folders ``stage1`` and ``stage2``. Departures from the reference: no
perceptual (LPIPS) terms (no pretrained weights offline), LSGAN instead of the vanilla GAN, the
shared schedule, and a gradient penalty γ = 0.001 on ``D_hr`` (``dasr_hr_gradient_penalty``).

Design notes and measurements: docs/methods/dasr.md
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import (
    METHODS,
    SLAB_DEPTH,
    Profile,
    ProfileKey,
    RunContext,
    Scale,
    Trainer,
    TrainingData,
    boolean,
    declare,
    hr_slab_depth,
    integer,
    number,
    optional,
)
from methods.adversarial import AdversarialPlan, Batch, Judgement
from methods.losses import LF_KERNEL, high_pass, l1_loss, low_pass, lsgan_generator_loss
from methods.networks import downsampling_generator_from_profile, slab_discriminator, ts_rcan_from_profile
from methods.networks.pixel_discriminator import PixelDiscriminator
from methods.thin_slab import ThinSlabMethod, TrainingStage, clean_lr_volumes, downsampling_psnr

STAGE1_LF_WEIGHT = 1.0
STAGE1_ADV_WEIGHT = 0.005
PIXEL_WEIGHT = 1.0
LF_WEIGHT = 1.0
ADV_WEIGHT = 0.01
HR_GRADIENT_PENALTY_DEFAULT = 0.001

declare(
    ProfileKey("dasr_lf_kernel", integer(1), "taps of the Gaussian low-pass (pixels)", owner="dasr", default=LF_KERNEL),
    ProfileKey(
        "dasr_stage1_lf_weight", number(0), "stage 1 low-frequency weight", owner="dasr", default=STAGE1_LF_WEIGHT
    ),
    ProfileKey(
        "dasr_stage1_adv_weight", number(0), "stage 1 adversarial weight", owner="dasr", default=STAGE1_ADV_WEIGHT
    ),
    ProfileKey("dasr_pixel_weight", number(0), "stage 2 pixel weight", owner="dasr", default=PIXEL_WEIGHT),
    ProfileKey("dasr_lf_weight", number(0), "stage 2 low-frequency weight", owner="dasr", default=LF_WEIGHT),
    ProfileKey("dasr_adv_weight", number(0), "stage 2 adversarial weight", owner="dasr", default=ADV_WEIGHT),
    ProfileKey("dasr_use_ddm", boolean(), "weight stage 2 by the domain-distance map", owner="dasr", default=True),
    ProfileKey(
        "dasr_down_skip",
        optional(boolean()),
        "down-sampling network adds a sampling skip (None: as global_skip)",
        owner="dasr",
        default=None,
    ),
    ProfileKey(
        "dasr_hr_gradient_penalty",
        number(0),
        "γ, stage-2 HR discriminator gradient penalty",
        owner="dasr",
        default=HR_GRADIENT_PENALTY_DEFAULT,
    ),
)


@dataclasses.dataclass(frozen=True)
class DASRWeights:
    """Loss weights and filter size of both stages, read from the profile (defaults: the reference code)."""

    lf_kernel: int
    stage1_lf: float
    stage1_adv: float
    pixel: float
    lf: float
    adv: float
    use_ddm: bool

    @classmethod
    def from_profile(cls, profile: Profile) -> DASRWeights:
        """Weights from the ``dasr_*`` profile keys (their declared defaults where a key is not set)."""
        return cls(
            lf_kernel=profile["dasr_lf_kernel"],
            stage1_lf=profile["dasr_stage1_lf_weight"],
            stage1_adv=profile["dasr_stage1_adv_weight"],
            pixel=profile["dasr_pixel_weight"],
            lf=profile["dasr_lf_weight"],
            adv=profile["dasr_adv_weight"],
            use_ddm=profile["dasr_use_ddm"],
        )


def spread_over_receptive_field(scores: torch.Tensor, window: int) -> torch.Tensor:
    """Each pixel's mean of the per-pixel scores whose ``window × window`` receptive field covers it.

    The reference's ``getWeights`` for a stride-1 discriminator: every score is spread over the
    square of side ``window`` centred on its pixel, and each pixel divides the sum by the number
    of scores that reach it (fewer at the border; no padding counted).

    Args:
        scores: ``(B, 1, h, w)`` per-pixel scores.
        window: odd side of the receptive field; 1 returns ``scores`` unchanged.

    Returns:
        ``(B, 1, h, w)``.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the receptive-field window must be odd and positive, got {window}")
    if window == 1:
        return scores
    return F.avg_pool2d(scores, window, stride=1, padding=window // 2, count_include_pad=False)


def domain_distance_map(
    discriminator: nn.Module,
    lr_fake: torch.Tensor,
    size: Sequence[int] | None = None,
    lf_kernel: int = LF_KERNEL,
    window: int = 1,
) -> torch.Tensor:
    """DASR's domain-distance map of generated LR slabs: one weight per LR pixel, optionally on the HR grid.

    The per-pixel stage-1 discriminator scores the high frequencies of each generated LR slab;
    the raw LSGAN scores (target 1 = real target domain, 0 = generated) are clamped to
    ``[0, 1]``, averaged over each pixel's receptive field
    (:func:`spread_over_receptive_field`), and, for another ``size``, up-sampled bilinearly
    with half-pixel centres (``align_corners=False``), as the reference up-samples the LR map
    to the HR patch. Computed without gradients.

    Args:
        discriminator: the stage-1 LR discriminator, per pixel: ``(B, 3, h, w) → (B, 1, h, w)``.
        lr_fake: generated LR slabs ``(B, 3, h, w)``.
        size: ``(H, W)`` of the map; None (default) or ``(h, w)``: the LR grid; ``(sx·h, sy·w)``:
            the HR patch.
        lf_kernel: taps of the Gaussian low-pass.
        window: the discriminator's receptive field (odd), default 1 (scores as they are).

    Returns:
        ``(B, 1, H, W)`` float32 in ``[0, 1]``; higher = closer to the target domain.

    Raises:
        ValueError: if the discriminator's score map is not ``(B, 1, h, w)``.
    """
    with torch.no_grad():
        scores = discriminator(high_pass(lr_fake.float(), lf_kernel)).float()
        expected = (lr_fake.shape[0], 1, *lr_fake.shape[-2:])
        if tuple(scores.shape) != expected:
            raise ValueError(
                f"the domain-distance map needs one score per LR pixel {expected}, got {tuple(scores.shape)}"
            )
        ddm = spread_over_receptive_field(scores.clamp(0, 1), window)
        size = tuple(int(s) for s in size) if size is not None else tuple(ddm.shape[-2:])
        if size == tuple(ddm.shape[-2:]):
            return ddm
        return F.interpolate(ddm, size=size, mode="bilinear", align_corners=False)


class HighFrequencyPlan(AdversarialPlan):
    """Both stages' discriminators see only the high frequencies ``x − LF(x)`` of what they judge."""

    def __init__(
        self, method: ThinSlabMethod, data: TrainingData, run: RunContext, networks: tuple[str, ...] | None = None
    ) -> None:
        super().__init__(method, data, run, networks)
        self.weights = DASRWeights.from_profile(self.profile)

    def discriminator_input(self, x: torch.Tensor) -> torch.Tensor:
        return high_pass(x, self.weights.lf_kernel)


class DownsamplingPlan(HighFrequencyPlan):
    """Stage 1: train ``G_d`` (``"down"``) against the LR discriminator ``D_lr`` (``"d_lr"``)."""

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["down"], "discriminator": ["d_lr"]}

    def __init__(self, method: ThinSlabMethod, data: TrainingData, run: RunContext) -> None:
        # Every network is checkpointed (only down and d_lr are optimised): a run killed in stage 2
        # before its first checkpoint then resumes sr and d_hr from stage 1's last checkpoint, not
        # from whatever the new process initialises.
        super().__init__(method, data, run)
        self.clean_lr, self.source_hr = clean_lr_volumes(self.source_hr, self.scale)

    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """HR slabs ``(B, 3·sz, H, W)``, their clean LR ``(B, 3, h, w)``, target LR slabs ``(B, 3, h, w)``."""
        clean, hr = self.sampler.paired_slabs(self.clean_lr, self.source_hr, self.batch_size, rng)
        return hr, clean, self.sampler.lr_slabs(self.target_lr, self.batch_size, rng)

    def generator_losses(self, batch: Batch, trainer: Trainer) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``G_d``'s loss terms ``lf``, ``adv``, ``g_total`` (float32 scalars) and the generated LR ``(B, 3, h, w)``."""
        hr, clean, _ = batch
        w = self.weights
        with trainer.autocast():
            fake = self.networks["down"](hr)
            d_fake = self.judge("d_lr", fake)
        fake = fake.float()
        lf = l1_loss(low_pass(fake, w.lf_kernel), low_pass(clean.float(), w.lf_kernel))
        adv = lsgan_generator_loss(d_fake.float())
        return {"lf": lf, "adv": adv, "g_total": w.stage1_lf * lf + w.stage1_adv * adv}, fake

    def judgements(self, batch: Batch, generated: torch.Tensor, trainer: Trainer) -> dict[str, Judgement]:
        """``D_lr``: real target LR against the generated LR."""
        return {"d_lr": Judgement("d_lr", batch[2], generated)}

    def validate(self) -> dict[str, float]:
        """``{"lr_psnr"}``: PSNR of ``G_d`` on the validation HR crops against their LR."""
        crop_size = tuple(self.profile["val_crop"])
        return {
            "lr_psnr": downsampling_psnr(self.networks["down"], self.validation, self.scale, crop_size, self.device)
        }


class SuperResolutionPlan(HighFrequencyPlan):
    """Stage 2: train the SR network (``"sr"``) and the HR discriminator (``"d_hr"``); ``G_d``, ``D_lr`` frozen.

    ``G_d`` and ``D_lr`` run without gradients and in whatever mode they are in (neither has
    batch norm or dropout, and ``D_lr``'s instance norm keeps no running statistics); building
    this plan changes nothing in them.
    """

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["sr"], "discriminator": ["d_hr"]}

    def __init__(self, method: ThinSlabMethod, data: TrainingData, run: RunContext) -> None:
        super().__init__(method, data, run, ("sr", "d_hr"))
        # Frozen: they run only under no_grad here and belong to no optimiser of this plan.
        self.down, self.d_lr = method.networks["down"], method.networks["d_lr"]
        gamma = self.profile["dasr_hr_gradient_penalty"]
        if gamma > 0:
            self.gradient_penalties["d_hr"] = gamma

    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """Source HR slabs ``(B, 3·sz, H, W)`` to degrade, target LR ``(B, 3, h, w)``, unpaired HR slabs."""
        n = self.batch_size
        hr = self.sampler.hr_slabs(self.source_hr, n, rng)
        real = self.sampler.lr_slabs(self.target_lr, n, rng)
        return hr, real, self.sampler.hr_slabs(self.source_hr, n, rng)

    def generated_pairs(self, hr: torch.Tensor, trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated LR ``G_d(hr)`` ``(B, 3, h, w)`` and its domain-distance map on the HR grid ``(B, 1, H, W)``."""
        with torch.no_grad(), trainer.autocast():
            fake = self.down(hr).float()
        window = int(self.d_lr.receptive_field)
        return fake, domain_distance_map(self.d_lr, fake, hr.shape[-2:], self.weights.lf_kernel, window)

    def generator_losses(self, batch: Batch, trainer: Trainer) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The SR network's loss terms on one batch, and ``SR(real)``.

        Args:
            batch: source HR slabs ``(B, 3·sz, H, W)`` (degraded here by the frozen ``G_d``),
                target LR slabs ``(B, 3, h, w)``, unpaired HR slabs (unused here).
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            ``({"pixel", "lf", "adv", "ddm", "g_total"}, SR(real) (B, 3·sz, H, W))``; ``ddm`` is
            the batch's mean domain-distance weight (a number to log, no gradient).
        """
        hr, real, _ = batch
        w = self.weights
        fake_lr, ddm = self.generated_pairs(hr, trainer)
        n = fake_lr.shape[0]
        with trainer.autocast():
            sr = self.networks["sr"](torch.cat([fake_lr, real], dim=0))
            sr_fake, sr_real = sr[:n], sr[n:]
            d_sr = self.judge("d_hr", sr_real)
        sr_fake, sr_real = sr_fake.float(), sr_real.float()
        hr = hr.float()
        error = (sr_fake - hr).abs()
        pixel = (ddm * error).mean() if w.use_ddm else error.mean()
        lf = l1_loss(low_pass(sr_fake, w.lf_kernel), low_pass(hr, w.lf_kernel))
        adv = lsgan_generator_loss(d_sr.float())
        total = w.pixel * pixel + w.lf * lf + w.adv * adv
        return {"pixel": pixel, "lf": lf, "adv": adv, "ddm": ddm.mean(), "g_total": total}, sr_real

    def judgements(self, batch: Batch, generated: torch.Tensor, trainer: Trainer) -> dict[str, Judgement]:
        """``D_hr``: unpaired real HR against SR of the target LR."""
        return {"d_hr": Judgement("d_hr", batch[2], generated)}


@METHODS.register(
    "dasr",
    summary="DASR (Wei et al., CVPR 2021): learned down-sampling, then domain-distance weighted SR training.",
)
class DASR(ThinSlabMethod):
    """DASR: stage 1 learns the target degradation ``G_d``, stage 2 trains TS-RCAN on ``G_d``'s pairs."""

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        """``sr`` (TS-RCAN), ``down`` (``G_d``), ``d_lr`` (per-pixel FSD) and ``d_hr`` (slab discriminator)."""
        down_skip = profile["global_skip"] if profile["dasr_down_skip"] is None else profile["dasr_down_skip"]
        return {
            "sr": ts_rcan_from_profile(profile, scale),
            "down": downsampling_generator_from_profile(profile, scale, skip=down_skip),
            "d_lr": PixelDiscriminator(SLAB_DEPTH, int(profile["disc_feats"])),
            "d_hr": slab_discriminator(profile, hr_slab_depth(scale), (scale.sx, scale.sy)),
        }

    def inference_network(self) -> nn.Module:
        return self.networks["sr"]

    def stage1_plan(self, data: TrainingData, run: RunContext) -> DownsamplingPlan:
        """The stage-1 plan on the cell's source HR and target LR."""
        return DownsamplingPlan(self, data, run)

    def stage2_plan(self, data: TrainingData, run: RunContext) -> SuperResolutionPlan:
        """The stage-2 plan; ``down`` and ``d_lr`` only run under ``no_grad`` in it."""
        return SuperResolutionPlan(self, data, run)

    def stages(self, steps: int) -> list[TrainingStage]:
        """Stage 1, then stage 2, each for the whole budget of ``steps``, in folders ``stage1`` and ``stage2``."""
        return [
            TrainingStage(self.stage1_plan, steps, "DASR stage 1 (down-sampling)", folder="stage1"),
            TrainingStage(self.stage2_plan, steps, "DASR stage 2 (SR)", folder="stage2"),
        ]
