"""PseudoSR (Maeda, CVPR 2020): unpaired SR through a correction network and pseudo-paired SR, on thin slabs.

Domains: X = real LR slabs ``(B, 3, h, w)`` of the target LR volumes; Y = HR slabs
``(B, 3·sz, sx·h, sy·w)`` of the source HR volumes; Y↓ = clean LR slabs ``(B, 3, h, w)``, the
source HR volumes degraded by the predefined degradation, here the protocol's k-space
truncation (:func:`benchmark.protocol.degradations.kspace_truncate`).

Networks: ``g_clean`` = G_{X→Y↓} (TS-RCAN at 1×1×1), ``g_degrade`` = G_{Y↓→X}
(:class:`NoisyTranslator`: one noise channel + a TS-RCAN decoder at 1×1), ``sr`` = U (TS-RCAN at the
scale), and the shared slab discriminators ``d_x`` (D_X), ``d_clean`` (D_{Y↓}), ``d_sr`` (D_U).
U learns the pseudo-clean LR ``G_{X→Y↓}(G_{Y↓→X}(y↓, z))``, detached, → ``y`` with L1; the
translators train on LSGAN, cycle, identity and geometric-ensemble losses and on D_U's term
(weight 0.1, U frozen for it: D_U takes ``U(G_{X→Y↓}(x))`` as real, yoon28's reading). One
iteration: translators, then U, then the three discriminators (:class:`PseudoSRPlan` overrides the
shared :class:`~methods.adversarial.AdversarialPlan` step). Test time: ``U(G_{X→Y↓}(x))``.

Design notes and measurements: docs/methods/pseudosr.md
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
    declare,
    hr_slab_depth,
    number,
)
from methods.adversarial import AdversarialPlan, Batch, Judgement, frozen
from methods.dihedral import geometric_transforms
from methods.losses import l1_loss, lsgan_generator_loss
from methods.networks import slab_discriminator, ts_rcan_decoder_from_profile, ts_rcan_from_profile
from methods.thin_slab import ThinSlabMethod, clean_lr_volumes

CYCLE_WEIGHT = 1.0
IDENTITY_WEIGHT = 1.0
GEOMETRY_WEIGHT = 1.0
SR_ADV_WEIGHT = 0.1
NOISE_CHANNELS = 1

declare(
    ProfileKey("pseudosr_cycle_weight", number(0), "cycle loss weight", owner="pseudosr", default=CYCLE_WEIGHT),
    ProfileKey(
        "pseudosr_identity_weight", number(0), "identity loss weight", owner="pseudosr", default=IDENTITY_WEIGHT
    ),
    ProfileKey(
        "pseudosr_geometry_weight", number(0), "geometric loss weight", owner="pseudosr", default=GEOMETRY_WEIGHT
    ),
    ProfileKey(
        "pseudosr_sr_adv_weight", number(0), "SR adversarial loss weight", owner="pseudosr", default=SR_ADV_WEIGHT
    ),
)


class NoisyTranslator(nn.Module):
    """G_{Y↓→X}: a clean LR slab and a noise map to a real-like LR slab.

    Args:
        decoder: a map ``(B, 3 + n, h, w) -> (B, 3, h, w)`` (a TS-RCAN decoder at 1×1).
        skip: add the input slab to the output (the profile's ``global_skip``).

    Shapes:
        ``slab (B, 3, h, w)``, ``noise (B, n, h, w) -> (B, 3, h, w)``.
    """

    def __init__(self, decoder: nn.Module, skip: bool) -> None:
        super().__init__()
        self.decoder = decoder
        self.skip = skip

    def forward(self, slab: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        out = self.decoder(torch.cat([slab, noise.to(slab.dtype)], dim=1))
        return out + slab if self.skip else out


class CleanThenUpscale(nn.Module):
    """Test-time path ``U(G_{X→Y↓}(x))``: correct a real LR slab, then super-resolve it.

    Shapes:
        ``(B, 3, h, w) -> (B, 3·sz, sx·h, sy·w)``.
    """

    def __init__(self, cleaner: nn.Module, upscaler: nn.Module) -> None:
        super().__init__()
        self.cleaner = cleaner
        self.upscaler = upscaler

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.upscaler(self.cleaner(lr))


class PseudoSRPlan(AdversarialPlan):
    """PseudoSR on the shared adversarial plan: translators, then U, then the three discriminators, every step.

    Its :attr:`source_hr` are the source HR volumes cropped to a multiple of the scale (domain Y)
    and :attr:`clean_lr` their k-space truncation (domain Y↓), index-aligned.
    """

    optimised: ClassVar[dict[str, list[str]]] = {
        "translators": ["g_clean", "g_degrade"],
        "sr": ["sr"],
        "discriminator": ["d_x", "d_clean", "d_sr"],
    }

    def __init__(self, method: ThinSlabMethod, data: TrainingData, run: RunContext) -> None:
        super().__init__(method, data, run)
        self.clean_lr, self.source_hr = clean_lr_volumes(self.source_hr, self.scale)
        run.log(f"pseudosr: {len(self.clean_lr)} clean LR volumes made by k-space truncation of the source HR")
        self.cycle_weight = self.profile["pseudosr_cycle_weight"]
        self.identity_weight = self.profile["pseudosr_identity_weight"]
        self.geometry_weight = self.profile["pseudosr_geometry_weight"]
        self.sr_adv_weight = self.profile["pseudosr_sr_adv_weight"]
        px, py, _ = self.sampler.lr_patch
        self.transforms = geometric_transforms(square=px == py and self.scale.sx == self.scale.sy)

    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """One batch on the CPU.

        Returns:
            ``(x, y_down, y, z)``: real LR slabs ``(B, 3, px, py)`` (target LR); clean LR slabs
            ``(B, 3, px, py)`` and HR slabs ``(B, 3·sz, sx·px, sy·py)`` cut at one place of a
            (clean LR, source HR) volume pair; noise ``(B, 1, px, py)``, standard Gaussian.
        """
        n = self.batch_size
        x = self.sampler.lr_slabs(self.target_lr, n, rng)
        y_down, y = self.sampler.paired_slabs(self.clean_lr, self.source_hr, n, rng)
        px, py, _ = self.sampler.lr_patch
        z = torch.from_numpy(rng.standard_normal((n, NOISE_CHANNELS, px, py)).astype(np.float32))
        return x, y_down, y, z

    def generator_losses(
        self, batch: Batch, trainer: Trainer
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Losses of the two translators (float32 scalars) and the outputs the other updates need.

        Args:
            batch: ``(x, y_down, y, z)`` of :meth:`sample_batch` on the device: real LR slabs
                ``(B, 3, h, w)``, clean LR slabs ``(B, 3, h, w)``, HR slabs (unused here), noise
                ``(B, 1, h, w)``.
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            ``(losses, outputs)``: losses ``adv_x``, ``adv_clean``, ``adv_sr``, ``cycle``,
            ``identity``, ``geometry`` and their weighted sum ``g_total``; outputs, float32
            and attached: ``fake_x = G_{Y↓→X}(y↓, z)``, ``pseudo_clean = G_{X→Y↓}(fake_x)``,
            ``clean_x = G_{X→Y↓}(x)`` (all ``(B, 3, h, w)``), ``sr_pseudo = U(pseudo_clean)`` and,
            without a graph, ``sr_x = U(clean_x)`` (both ``(B, 3·sz, sx·h, sy·w)``).
        """
        x, y_down, _, z = batch
        g_clean, sr = self.networks["g_clean"], self.networks["sr"]
        n = x.shape[0]
        with trainer.autocast():
            fake_x = self.networks["g_degrade"](y_down, z)
            # One pass of G_{X→Y↓} over the pseudo-clean input, the identity input and every
            # transformed x (all (B, 3, h, w); the network has no batch statistics).
            inputs = [fake_x, y_down] + [forward(x) for forward, _ in self.transforms]
            outputs = g_clean(torch.cat(inputs, dim=0)).float().split(n, dim=0)
            pseudo_clean, identity, transformed = outputs[0], outputs[1], outputs[2:]
            clean_x = transformed[0]  # the identity transform comes first
            ensemble = torch.stack([inv(t) for (_, inv), t in zip(self.transforms, transformed)]).mean(dim=0)
            sr_pseudo = sr(pseudo_clean)
            with torch.no_grad():
                sr_x = sr(clean_x)
            score_x = self.judge("d_x", fake_x)
            score_clean = self.judge("d_clean", clean_x)
            score_sr = self.judge("d_sr", sr_pseudo)
        losses = {
            "adv_x": lsgan_generator_loss(score_x.float()),
            "adv_clean": lsgan_generator_loss(score_clean.float()),
            "adv_sr": lsgan_generator_loss(score_sr.float()),
            "cycle": l1_loss(pseudo_clean, y_down),
            "identity": l1_loss(identity, y_down),
            "geometry": l1_loss(clean_x, ensemble),
        }
        losses["g_total"] = (
            losses["adv_x"]
            + losses["adv_clean"]
            + self.sr_adv_weight * losses["adv_sr"]
            + self.cycle_weight * losses["cycle"]
            + self.identity_weight * losses["identity"]
            + self.geometry_weight * losses["geometry"]
        )
        outputs_needed = {
            "fake_x": fake_x.float(),
            "pseudo_clean": pseudo_clean,
            "clean_x": clean_x,
            "sr_pseudo": sr_pseudo.float(),
            "sr_x": sr_x.float(),
        }
        return losses, outputs_needed

    def sr_loss(self, pseudo_clean: torch.Tensor, y: torch.Tensor, trainer: Trainer) -> torch.Tensor:
        """U's pixel loss ``‖U(pseudo-clean) − y‖₁`` on the detached pseudo-clean LR ``(B, 3, h, w)`` and HR ``y``."""
        with trainer.autocast():
            out = self.networks["sr"](pseudo_clean.detach())
        return l1_loss(out.float(), y)

    def judgements(self, batch: Batch, generated: dict[str, torch.Tensor], trainer: Trainer) -> dict[str, Judgement]:
        """Real / fake: D_X ``x`` / ``G_{Y↓→X}(y↓, z)``; D_{Y↓} ``y↓`` / ``G_{X→Y↓}(x)``;
        D_U ``U(G_{X→Y↓}(x))`` / ``U(pseudo-clean)``."""
        x, y_down, _, _ = batch
        return {
            "d_x": Judgement("d_x", x, generated["fake_x"]),
            "d_clean": Judgement("d_clean", y_down, generated["clean_x"]),
            "d_sr": Judgement("d_sr", generated["sr_x"], generated["sr_pseudo"]),
        }

    def train_step(self, batch: Batch, trainer: Trainer) -> dict[str, float]:
        """Translators (discriminators and U frozen), then U, then the discriminators."""
        batch = self.to_device(batch)
        discriminators = [self.networks[name] for name in self.optimised["discriminator"]]
        with frozen(self.networks["sr"], *discriminators):
            g_losses, outputs = self.generator_losses(batch, trainer)
            trainer.update("translators", g_losses["g_total"])
        sr_l1 = self.sr_loss(outputs["pseudo_clean"], batch[2], trainer)
        trainer.update("sr", sr_l1)
        d_losses = self.discriminator_losses(self.judgements(batch, outputs, trainer), trainer)
        trainer.update("discriminator", d_losses["d_total"])
        return {name: value.item() for name, value in {**g_losses, "sr_l1": sr_l1, **d_losses}.items()}


@METHODS.register(
    "pseudosr",
    summary="PseudoSR: real LR → clean LR correction (CycleGAN-like) + SR net on pseudo-clean/HR pairs.",
)
class PseudoSR(ThinSlabMethod):
    """Maeda's pseudo-supervised unpaired SR; at test time ``U(G_{X→Y↓}(x))``."""

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        translator = ts_rcan_decoder_from_profile(profile, SLAB_DEPTH + NOISE_CHANNELS, SLAB_DEPTH)
        return {
            "g_clean": ts_rcan_from_profile(profile, scale, out_scale=(1, 1, 1)),
            "g_degrade": NoisyTranslator(translator, skip=profile["global_skip"]),
            "sr": ts_rcan_from_profile(profile, scale),
            "d_x": slab_discriminator(profile, SLAB_DEPTH),
            "d_clean": slab_discriminator(profile, SLAB_DEPTH),
            "d_sr": slab_discriminator(profile, hr_slab_depth(scale), (scale.sx, scale.sy)),
        }

    def inference_network(self) -> nn.Module:
        return CleanThenUpscale(self.networks["g_clean"], self.networks["sr"])

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        return PseudoSRPlan(self, data, run)
