"""CycleGAN (Zhu et al., ICCV 2017) used for unpaired 3D MRI super-resolution, on the thin-slab backbone.

Two domains: LR slabs ``(B, 3, h, w)`` cut from the target LR volumes and HR slabs
``(B, 3·sz, sx·h, sy·w)`` cut from the source HR volumes, sampled independently (unpaired).

Networks (all from the shared parts, so that only the pipeline differs from the other methods,
UDEAN paper Sec. III.B):

* ``g_up`` (LR → HR, the SR network): TS-RCAN, ``ts_rcan_from_profile(profile, scale)``, with the
  profile's global linear skip when ``global_skip`` is on.
* ``g_down`` (HR → LR): :class:`DownsamplingGenerator`, the degradation network UDEAN uses: the
  down-sampling encoder (HR slab → ``encoder_feats`` features on the LR grid, the through-plane
  reduction by taking the ``3·sz`` HR slices as input channels) followed by a TS-RCAN decoder at
  1×1 to the 3 LR slices.
* ``d_hr`` and ``d_lr``: the shared VGG-style discriminator on HR slabs (``3·sz`` channels) and on
  LR slabs (3 channels), each with its stride-2 stages chosen from its patch side.

Followed from the original (``junyanz/pytorch-CycleGAN-and-pix2pix``, ``models/cycle_gan_model.py``
and its defaults):

* Least-squares adversarial losses (``--gan_mode lsgan``): a generator minimises
  ``mean (D(fake) − 1)²``; a discriminator minimises ``0.5·(mean (D(real) − 1)² + mean D(fake)²)``,
  which is the original's "discriminator loss × 0.5"
  (:func:`methods.losses.lsgan_discriminator_loss` includes the 0.5).
* Cycle losses, L1 with weight 10 per direction: ``‖G_down(G_up(x)) − x‖₁`` (LR → HR → LR) and
  ``‖G_up(G_down(y)) − y‖₁`` (HR → LR → HR); profile keys ``cyclegan_cycle_lr_weight`` and
  ``cyclegan_cycle_hr_weight``.
* A pool of 50 generated images per discriminator (:class:`methods.image_pool.ImagePool`;
  profile key ``cyclegan_pool_size``); the discriminators see the real batch and the pooled fakes.
* Per iteration: both generators in one update (one optimiser over both, the discriminators
  frozen), then both discriminators in one update (one optimiser over both).
* Test time: the LR → HR generator alone.

Adapted to thin-slab MRI, and choices where the original is open:

* Identity loss: omitted. The original's ``‖G_A(b) − b‖₁`` needs a generator whose input and
  output domains have one shape, which does not hold across scales (``G_up`` takes 3 LR slices
  and returns ``3·sz`` HR slices). Feeding a generator a re-sampled image of the other domain
  (e.g. ``G_down`` of a linearly up-sampled LR slab) would only be an identity loss if the
  re-sampling were the inverse of the degradation, and making an LR slab out of an HR one needs a
  chosen degradation, which would turn the method into one that knows the degradation (that is
  PseudoSR's and ZSSR's premise, not CycleGAN's). The original's identity weight exists to keep
  colour composition in photo translation; here the intensities are already tied by both cycle
  losses at weight 10.
* The shared VGG-style discriminator replaces the 70×70 PatchGAN, as the UDEAN paper does; both
  are fully convolutional patch discriminators without a sigmoid.
* The shared training set-up replaces the original's schedule: Adam β = (0.9, 0.99), ε = 1e-8,
  cosine decay ``lr_max → lr_min`` over the whole run, the profile's batch size (the original:
  β1 = 0.5, lr 2e-4, linear decay in the second half, batch 1).
* The pools live in the training plan's ``networks`` (as ``pool_hr`` and ``pool_lr``, buffers,
  no parameters) so checkpoints keep their contents; their random draws use the trainer's seeded
  generator.
* Mixed precision: forwards under :meth:`benchmark.trainer.Trainer.autocast`, every loss in float32.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from benchmark.plugins import METHODS
from benchmark.profiles import Profile
from benchmark.run_context import RunContext
from benchmark.scale import Scale
from benchmark.settings import Setting, declare, integer, number
from benchmark.trainer import Trainer, TrainingPlan
from benchmark.training_data import TrainingData, VolumePair
from methods.frozen import frozen
from methods.image_pool import ImagePool
from methods.losses import l1_loss, lsgan_discriminator_loss, lsgan_generator_loss
from methods.networks import (
    DownsamplingEncoder,
    VGGDiscriminator,
    ts_rcan_decoder_from_profile,
    ts_rcan_from_profile,
)
from methods.thin_slab import PatchSampler, ThinSlabMethod, validate_network

CYCLE_WEIGHT = 10.0
POOL_SIZE = 50
SLAB = 3

declare(
    Setting("cyclegan_cycle_lr_weight", number(0), "weight of the LR cycle loss", owner="cyclegan"),
    Setting("cyclegan_cycle_hr_weight", number(0), "weight of the HR cycle loss", owner="cyclegan"),
    Setting("cyclegan_pool_size", integer(0), "fake-image pool size (0: no pool)", owner="cyclegan"),
)


class DownsamplingGenerator(nn.Module):
    """HR slab → LR slab: the down-sampling encoder followed by a TS-RCAN decoder on the LR grid.

    Args:
        encoder: :class:`methods.networks.DownsamplingEncoder`, ``(B, 3·sz, sx·h, sy·w) -> (B, C, h, w)``.
        decoder: :class:`methods.networks.TSRCANDecoder` at scale 1×1, ``(B, C, h, w) -> (B, 3, h, w)``.

    Shapes:
        ``(B, 3·sz, sx·h, sy·w) -> (B, 3, h, w)``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(hr))


def downsampling_generator_from_profile(profile: Profile, scale: Scale) -> DownsamplingGenerator:
    """The HR → LR generator sized by a profile (``encoder_feats`` and the TS-RCAN sizes)."""
    feats = int(profile["encoder_feats"])
    encoder = DownsamplingEncoder(in_slices=SLAB * scale.sz, scale=(scale.sx, scale.sy), feats=feats)
    return DownsamplingGenerator(encoder, ts_rcan_decoder_from_profile(profile, feats, SLAB))


def slab_discriminators(profile: Profile, scale: Scale) -> tuple[VGGDiscriminator, VGGDiscriminator]:
    """``(d_hr, d_lr)``: VGG-style discriminators for HR slabs (``3·sz`` channels) and LR slabs (3 channels).

    Each one's number of stride-2 stages follows the smaller in-plane side of its patch.
    """
    px, py = (int(p) for p in profile["lr_patch"][:2])
    feats = int(profile["disc_feats"])
    d_hr = VGGDiscriminator(SLAB * scale.sz, feats, patch_size=min(px * scale.sx, py * scale.sy))
    d_lr = VGGDiscriminator(SLAB, feats, patch_size=min(px, py))
    return d_hr, d_lr


class CycleGANPlan:
    """Training plan of CycleGAN for SR: generators, then discriminators, every step.

    Args:
        networks: ``g_up``, ``g_down``, ``d_hr``, ``d_lr`` (see :class:`CycleGAN`).
        target_lr: target LR volumes ``(X/sx, Y/sy, Z/sz)`` (domain LR).
        source_hr: source HR volumes ``(X, Y, Z)`` (domain HR).
        validation: validation pairs for :meth:`validate`.
        scale: the cell's scale.
        profile: sizes, batch and the ``cyclegan_*`` weights.
        device: where the batches go.
    """

    optimised: ClassVar[dict[str, list[str]]] = {
        "generator": ["g_up", "g_down"],
        "discriminator": ["d_hr", "d_lr"],
    }

    def __init__(
        self,
        networks: dict[str, nn.Module],
        target_lr: list[np.ndarray],
        source_hr: list[np.ndarray],
        validation: list[VolumePair],
        scale: Scale,
        profile: Profile,
        device: torch.device,
    ) -> None:
        self.target_lr = target_lr
        self.source_hr = source_hr
        self.validation = validation
        self.scale = scale
        self.profile = profile
        self.device = device
        self.sampler = PatchSampler(profile["lr_patch"], scale)
        self.cycle_lr_weight = float(profile.get("cyclegan_cycle_lr_weight", CYCLE_WEIGHT))
        self.cycle_hr_weight = float(profile.get("cyclegan_cycle_hr_weight", CYCLE_WEIGHT))
        pool_size = int(profile.get("cyclegan_pool_size", POOL_SIZE))
        px, py, _ = self.sampler.lr_patch
        hx, hy, _ = self.sampler.hr_patch
        pools = {
            "pool_hr": ImagePool(pool_size, (SLAB * scale.sz, hx, hy)),
            "pool_lr": ImagePool(pool_size, (SLAB, px, py)),
        }
        # Pools are saved and restored with the networks (buffers only, no optimiser touches them).
        self.networks: dict[str, nn.Module] = {**networks, **{k: p.to(device) for k, p in pools.items()}}

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Independent, unpaired patches as slabs.

        Returns:
            ``(lr, hr)``: ``(B, 3, px, py)`` from random target LR volumes and
            ``(B, 3·sz, sx·px, sy·py)`` from random source HR volumes, on the CPU.
        """
        n = int(self.profile["batch_size"])
        return self.sampler.lr_slabs(self.target_lr, n, rng), self.sampler.hr_slabs(self.source_hr, n, rng)

    def generator_losses(
        self, lr: torch.Tensor, hr: torch.Tensor, trainer: Trainer
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Generator losses (float32 scalars) and the fakes, with the graph through both generators.

        Args:
            lr: real LR slabs ``(B, 3, h, w)``.
            hr: real HR slabs ``(B, 3·sz, sx·h, sy·w)``.
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            ``(losses, fake_hr, fake_lr)``: losses ``adv_hr``, ``adv_lr``, ``cycle_lr``, ``cycle_hr``
            and their weighted sum ``generator``; ``fake_hr = G_up(lr)`` ``(B, 3·sz, sx·h, sy·w)`` and
            ``fake_lr = G_down(hr)`` ``(B, 3, h, w)``, float32, still attached.
        """
        g_up, g_down = self.networks["g_up"], self.networks["g_down"]
        with trainer.autocast():
            fake_hr = g_up(lr)
            fake_lr = g_down(hr)
            rec_lr = g_down(fake_hr)
            rec_hr = g_up(fake_lr)
            score_hr = self.networks["d_hr"](fake_hr)
            score_lr = self.networks["d_lr"](fake_lr)
        losses = {
            "adv_hr": lsgan_generator_loss(score_hr.float()),
            "adv_lr": lsgan_generator_loss(score_lr.float()),
            "cycle_lr": l1_loss(rec_lr.float(), lr),
            "cycle_hr": l1_loss(rec_hr.float(), hr),
        }
        losses["generator"] = (
            losses["adv_hr"]
            + losses["adv_lr"]
            + self.cycle_lr_weight * losses["cycle_lr"]
            + self.cycle_hr_weight * losses["cycle_hr"]
        )
        return losses, fake_hr.float(), fake_lr.float()

    def discriminator_losses(
        self, lr: torch.Tensor, hr: torch.Tensor, fake_hr: torch.Tensor, fake_lr: torch.Tensor, trainer: Trainer
    ) -> dict[str, torch.Tensor]:
        """LSGAN discriminator losses on real slabs and pooled fakes.

        Args:
            lr, hr: real LR ``(B, 3, h, w)`` and HR ``(B, 3·sz, sx·h, sy·w)`` slabs.
            fake_hr, fake_lr: generated slabs of the same shapes (detached here, then pooled).
            trainer: for its seeded generator (pool draws) and :meth:`Trainer.autocast`.

        Returns:
            ``d_hr``, ``d_lr`` and their sum ``discriminator``, float32 scalars.
        """
        pooled_hr = self.networks["pool_hr"].query(fake_hr, trainer.rng)
        pooled_lr = self.networks["pool_lr"].query(fake_lr, trainer.rng)
        d_hr, d_lr = self.networks["d_hr"], self.networks["d_lr"]
        with trainer.autocast():
            real_hr, fake_hr_score = d_hr(hr), d_hr(pooled_hr)
            real_lr, fake_lr_score = d_lr(lr), d_lr(pooled_lr)
        losses = {
            "d_hr": lsgan_discriminator_loss(real_hr.float(), fake_hr_score.float()),
            "d_lr": lsgan_discriminator_loss(real_lr.float(), fake_lr_score.float()),
        }
        losses["discriminator"] = losses["d_hr"] + losses["d_lr"]
        return losses

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor], trainer: Trainer) -> dict[str, float]:
        """Update both generators (discriminators frozen), then both discriminators on pooled fakes."""
        lr, hr = (t.to(self.device, non_blocking=True) for t in batch)
        with frozen(self.networks["d_hr"], self.networks["d_lr"]):
            g_losses, fake_hr, fake_lr = self.generator_losses(lr, hr, trainer)
            trainer.update("generator", g_losses["generator"])
        d_losses = self.discriminator_losses(lr, hr, fake_hr.detach(), fake_lr.detach(), trainer)
        trainer.update("discriminator", d_losses["discriminator"])
        return {name: value.item() for name, value in {**g_losses, **d_losses}.items()}

    def validate(self) -> dict[str, float]:
        """PSNR of ``g_up`` on central crops of the validation pairs."""
        return validate_network(self.networks["g_up"], self.validation, self.scale, self.profile, self.device)


@METHODS.register(
    "cyclegan",
    summary="CycleGAN for SR: LR→HR and HR→LR generators, LSGAN per domain, cycle L1 ×10, image pool 50.",
)
class CycleGAN(ThinSlabMethod):
    """CycleGAN between target LR and source HR slabs; the LR → HR generator super-resolves."""

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        d_hr, d_lr = slab_discriminators(profile, scale)
        return {
            "g_up": ts_rcan_from_profile(profile, scale),
            "g_down": downsampling_generator_from_profile(profile, scale),
            "d_hr": d_hr,
            "d_lr": d_lr,
        }

    def inference_network(self) -> nn.Module:
        return self.networks["g_up"]

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        return CycleGANPlan(
            self.networks,
            [v.data for v in data.target_lr],
            [v.data for v in data.source_hr],
            data.validation,
            self.scale,
            self.profile,
            run.device,
        )
