"""CycleGAN (Zhu et al., ICCV 2017) used for unpaired 3D MRI super-resolution, on the thin-slab backbone.

Two domains: LR slabs ``(B, 3, h, w)`` cut from the target LR volumes and HR slabs
``(B, 3·sz, sx·h, sy·w)`` cut from the source HR volumes, sampled independently (unpaired).

Networks: ``g_up`` (LR → HR, the SR network), the shared TS-RCAN; ``g_down`` (HR → LR), the shared
:class:`~methods.networks.DownsamplingGenerator`, adding the decimated HR slab when
``cyclegan_down_skip`` (default: ``global_skip``) is on; ``d_hr`` and ``d_lr``, the shared slab
discriminator on HR and LR slabs. Followed from the original (``junyanz/pytorch-CycleGAN-and-pix2pix``):
LSGAN losses, L1 cycle losses of weight 10 per direction, a pool of 50 fakes per discriminator
(:class:`methods.image_pool.ImagePool`, kept in ``networks`` as ``pool_hr``/``pool_lr`` so checkpoints
hold it), generators then discriminators each step (the shared
:class:`~methods.adversarial.AdversarialPlan`), ``g_up`` alone at test time. Departures: no identity
loss (input and output shapes differ across scales), the shared discriminator and training set-up.

Design notes and measurements: docs/methods/cyclegan.md
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
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
    TrainingPlan,
    boolean,
    declare,
    hr_slab_depth,
    integer,
    number,
    optional,
)
from methods.adversarial import AdversarialPlan, Batch, Judgement
from methods.adversarial_diagnostics import high_frequency_energy
from methods.image_pool import ImagePool
from methods.losses import l1_loss, lsgan_generator_loss
from methods.networks import downsampling_generator_from_profile, slab_discriminator, ts_rcan_from_profile
from methods.thin_slab import ThinSlabMethod

CYCLE_WEIGHT = 10.0
POOL_SIZE = 50

declare(
    ProfileKey("cyclegan_cycle_lr_weight", number(0), "LR cycle loss weight", owner="cyclegan", default=CYCLE_WEIGHT),
    ProfileKey("cyclegan_cycle_hr_weight", number(0), "HR cycle loss weight", owner="cyclegan", default=CYCLE_WEIGHT),
    ProfileKey(
        "cyclegan_pool_size", integer(0), "fake-image pool size (0: no pool)", owner="cyclegan", default=POOL_SIZE
    ),
    ProfileKey(
        "cyclegan_down_skip",
        optional(boolean()),
        "G_down adds the decimated HR (None: as global_skip)",
        owner="cyclegan",
        default=None,
    ),
)


class CycleGANPlan(AdversarialPlan):
    """CycleGAN's losses on the shared adversarial plan; the pools join the checkpointed ``networks``."""

    optimised: ClassVar[dict[str, list[str]]] = {
        "generator": ["g_up", "g_down"],
        "discriminator": ["d_hr", "d_lr"],
    }

    def __init__(self, method: ThinSlabMethod, data: TrainingData, run: RunContext) -> None:
        super().__init__(method, data, run)
        self.cycle_lr_weight = self.profile["cyclegan_cycle_lr_weight"]
        self.cycle_hr_weight = self.profile["cyclegan_cycle_hr_weight"]
        pool_size = self.profile["cyclegan_pool_size"]
        px, py, _ = self.sampler.lr_patch
        hx, hy, _ = self.sampler.hr_patch
        pools = {
            "pool_hr": ImagePool(pool_size, (hr_slab_depth(self.scale), hx, hy)),
            "pool_lr": ImagePool(pool_size, (SLAB_DEPTH, px, py)),
        }
        # Pools are saved and restored with the networks (buffers only, no optimiser touches them).
        self.networks.update({k: p.to(self.device) for k, p in pools.items()})

    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """Independent, unpaired patches as slabs.

        Returns:
            ``(lr, hr)``: ``(B, 3, px, py)`` from random target LR volumes and
            ``(B, 3·sz, sx·px, sy·py)`` from random source HR volumes, on the CPU.
        """
        n = self.batch_size
        return self.sampler.lr_slabs(self.target_lr, n, rng), self.sampler.hr_slabs(self.source_hr, n, rng)

    def generator_losses(
        self, batch: Batch, trainer: Trainer
    ) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Generator losses (float32 scalars) and the fakes, with the graph through both generators.

        Args:
            batch: ``(lr, hr)``, real LR slabs ``(B, 3, h, w)`` and real HR slabs ``(B, 3·sz, sx·h, sy·w)``.
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            ``(losses, (fake_hr, fake_lr))``: losses ``adv_hr``, ``adv_lr``, ``cycle_lr``, ``cycle_hr``
            and their weighted sum ``g_total``; ``fake_hr = G_up(lr)`` ``(B, 3·sz, sx·h, sy·w)`` and
            ``fake_lr = G_down(hr)`` ``(B, 3, h, w)``, float32, still attached.
        """
        lr, hr = batch
        g_up, g_down = self.networks["g_up"], self.networks["g_down"]
        with trainer.autocast():
            fake_hr = g_up(lr)
            fake_lr = g_down(hr)
            rec_lr = g_down(fake_hr)
            rec_hr = g_up(fake_lr)
            score_hr = self.judge("d_hr", fake_hr)
            score_lr = self.judge("d_lr", fake_lr)
        losses = {
            "adv_hr": lsgan_generator_loss(score_hr.float()),
            "adv_lr": lsgan_generator_loss(score_lr.float()),
            "cycle_lr": l1_loss(rec_lr.float(), lr),
            "cycle_hr": l1_loss(rec_hr.float(), hr),
        }
        losses["g_total"] = (
            losses["adv_hr"]
            + losses["adv_lr"]
            + self.cycle_lr_weight * losses["cycle_lr"]
            + self.cycle_hr_weight * losses["cycle_hr"]
        )
        return losses, (fake_hr.float(), fake_lr.float())

    def judgements(
        self, batch: Batch, generated: tuple[torch.Tensor, torch.Tensor], trainer: Trainer
    ) -> dict[str, Judgement]:
        """Real slabs against pooled fakes (the HR pool draws first, with the trainer's seeded generator)."""
        lr, hr = batch
        fake_hr, fake_lr = generated
        pooled_hr = self.networks["pool_hr"].query(fake_hr, trainer.rng)
        pooled_lr = self.networks["pool_lr"].query(fake_lr, trainer.rng)
        return {"d_hr": Judgement("d_hr", hr, pooled_hr), "d_lr": Judgement("d_lr", lr, pooled_lr)}

    def probe_statistics(self, batch: Batch, generated: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        """Mean and high-frequency energy of each generator's fakes against the real slabs of their domain."""
        lr, hr = batch
        fake_hr, fake_lr = generated
        return {
            "fake_hr_mean": float(fake_hr.mean()),
            "hr_mean": float(hr.mean()),
            "fake_lr_mean": float(fake_lr.mean()),
            "lr_mean": float(lr.mean()),
            "fake_hr_hf": high_frequency_energy(fake_hr.detach()),
            "hr_hf": high_frequency_energy(hr),
            "fake_lr_hf": high_frequency_energy(fake_lr.detach()),
            "lr_hf": high_frequency_energy(lr),
        }

    def probe_judgements(self, batch: Batch, generated: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Judgement]:
        """Real slabs against this batch's fakes, unpooled: the instruments leave the image pools as they are."""
        lr, hr = batch
        fake_hr, fake_lr = generated
        return {"d_hr": Judgement("d_hr", hr, fake_hr), "d_lr": Judgement("d_lr", lr, fake_lr)}


@METHODS.register(
    "cyclegan",
    summary="CycleGAN for SR: LR→HR and HR→LR generators, LSGAN per domain, cycle L1 ×10, image pool 50.",
)
class CycleGAN(ThinSlabMethod):
    """CycleGAN between target LR and source HR slabs; the LR → HR generator super-resolves."""

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        # Built in this order (discriminators first) so that initial weights stay those of earlier versions.
        d_hr = slab_discriminator(profile, hr_slab_depth(scale), (scale.sx, scale.sy))
        d_lr = slab_discriminator(profile, SLAB_DEPTH)
        down_skip = profile["cyclegan_down_skip"]
        return {
            "g_up": ts_rcan_from_profile(profile, scale),
            "g_down": downsampling_generator_from_profile(
                profile, scale, skip=profile["global_skip"] if down_skip is None else down_skip
            ),
            "d_hr": d_hr,
            "d_lr": d_lr,
        }

    def inference_network(self) -> nn.Module:
        return self.networks["g_up"]

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        return CycleGANPlan(self, data, run)
