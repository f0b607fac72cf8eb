"""PseudoSR (Maeda, CVPR 2020): unpaired SR through a correction network and pseudo-paired SR, on thin slabs.

Domains: X = real LR slabs ``(B, 3, h, w)`` of the target LR volumes; Y = HR slabs
``(B, 3·sz, sx·h, sy·w)`` of the source HR volumes; Y↓ = clean LR slabs ``(B, 3, h, w)``, the
source HR volumes degraded by the predefined degradation, here the protocol's k-space
truncation (:func:`benchmark.protocol.degradations.kspace_truncate`).

Networks (the shared parts, so that only the pipeline differs, UDEAN paper Sec. III.B):

* ``g_clean`` = G_{X→Y↓} (correction: real LR → clean LR): TS-RCAN on the LR grid,
  ``ts_rcan_from_profile(profile, scale, out_scale=(1, 1, 1))`` (with the profile's global
  skip, which at 1×1×1 is an identity skip).
* ``g_degrade`` = G_{Y↓→X} (clean LR → real-like LR, with a noise input):
  :class:`NoisyTranslator`, one channel of standard Gaussian noise on the LR grid concatenated
  to the 3 slices, a TS-RCAN decoder ``4 → 3`` channels at 1×1, and the input slab added to the
  output when the profile's ``global_skip`` is on (like ``g_clean``; greatlog's translators are
  residual too).
* ``sr`` = U (clean LR → HR, the SR network): ``ts_rcan_from_profile(profile, scale)``.
* ``d_x``, ``d_clean``: the shared slab discriminator (:func:`~methods.networks.slab_discriminator`,
  VGG-style) on LR slabs (D_X, D_{Y↓}); ``d_sr``: on HR slabs (D_U).

Followed from the original (Maeda 2020; unofficial code yoon28/pseudo-sr, greatlog/UnpairedSR):

* Pseudo-pair: ``y↓ → G_{Y↓→X}(y↓, z) → G_{X→Y↓}`` gives a pseudo-clean LR whose HR ``y`` is
  known; U learns it → ``y`` with L1, so U trains on inputs like those it sees at test time.
* LSGAN adversarial losses for G_{Y↓→X} (D_X: real ``x`` vs ``G_{Y↓→X}(y↓, z)``) and for
  G_{X→Y↓} (D_{Y↓}: real ``y↓`` vs ``G_{X→Y↓}(x)``), weight 1 each.
* Cycle ``‖G_{X→Y↓}(G_{Y↓→X}(y↓, z)) − y↓‖₁``, weight 1 (``pseudosr_cycle_weight``).
* Identity ``‖G_{X→Y↓}(y↓) − y↓‖₁`` on the clean input (yoon28's ``IDT_INPUT: clean``), weight 1
  (``pseudosr_identity_weight``; yoon28's face config uses 2, greatlog's configs 1).
* Geometric-ensemble consistency ``‖G_{X→Y↓}(x) − mean_k T_k⁻¹(G_{X→Y↓}(T_k(x)))‖₁`` over the
  in-plane flips and rotations, the identity included and gradients through both sides (as
  yoon28), weight 1 (``pseudosr_geometry_weight``).
* The SR discriminator D_U with weight γ = 0.1 (``pseudosr_sr_adv_weight``).
* Everything trained jointly, every iteration; test time: ``U(G_{X→Y↓}(x))``.

Our reading of D_U (the original is open; the two implementations differ): as yoon28, D_U
judges U's outputs on the two kinds of input U gets, ``U(G_{X→Y↓}(x))`` (the test-time path)
as real and ``U(pseudo-clean)`` as fake; the generator term ``γ·mean (D_U(U(pseudo-clean)) − 1)²``
pulls the pseudo-clean LR towards the corrected real LR *as U sees them*, and trains the two
translators only: U's parameters are frozen for that term (in yoon28 its gradient reaches U but is
zeroed before U's step), so U learns from the pixel loss alone, which keeps the SR network
"independent of the correction network" as the paper puts it. U learns from the pseudo-clean
LR detached (yoon28), so the pixel loss does not train the translators. (greatlog instead
judges ``U(G_{X→Y↓}(x))`` against real HR ``y`` and back-propagates the pixel loss into the
translators.)

Adapted to thin-slab MRI, and other choices where the original is open:

* Clean LR: every source HR volume (cropped at its origin to a multiple of the scale, a no-op for
  the protocol's volumes) is degraded once at fit time, whole, with the k-space truncation
  (:func:`~methods.thin_slab.clean_lr_volumes`, DASR's plain down-scaling too); the
  (Y↓, Y) pairs are then cut at one place of the two volumes (HR corner = LR corner × scale,
  where k-space truncation puts the LR voxels), X patches independently from the target LR.
* Geometric ensemble: the 8 in-plane flips/rotations of the dihedral group when the LR patch is
  square and sx = sy; otherwise only the 4 that keep both in-plane axes (identity, the two flips,
  the 180° rotation): a 90° rotation would change the patch shape, and with sx ≠ sy it would
  swap axes of different LR resolution, so the rotated slab would not belong to domain X.
  Transforms act in-plane only (the slices of a slab, its channels, stay in order); they are the
  shared :func:`methods.dihedral.geometric_transforms` (ZSSR uses the same group).
* Noise: one standard Gaussian channel at the LR grid (greatlog's ``noise_nf: 1``; yoon28 up-samples
  an 8×8 noise map with transposed convolutions), drawn with the trainer's seeded generator when
  the batch is sampled.
* No image pool (neither implementation uses one); no batch norm in the translators (the shared
  TS-RCAN has none).
* Order of updates in one iteration: the translators (discriminators and U frozen), then U on
  the detached pseudo-clean LR, then the three discriminators on detached outputs, each with its
  LSGAN loss ``0.5·(mean (D(real) − 1)² + mean D(fake)²)``, unweighted. The fakes for the
  discriminators are those of this iteration, computed before the translators' step (as in both
  implementations). The plan is the shared :class:`~methods.adversarial.AdversarialPlan` with
  its step overridden for the three updates; the discriminator update is the shared one.
* The shared training set-up: Adam β = (0.9, 0.99), ε = 1e-8, cosine decay ``lr_max → lr_min``,
  one learning rate for every network, the profile's batch (yoon28: β = (0.5, 0.999) for the
  translators, step decays).
* Mixed precision: forwards under :meth:`benchmark.training.trainer.Trainer.autocast`, every loss in float32.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from benchmark.inference.slabs import SLAB_DEPTH, hr_slab_depth
from benchmark.plugins import METHODS
from benchmark.profiles import Profile
from benchmark.protocol.training_data import TrainingData
from benchmark.scale import Scale
from benchmark.settings import Setting, declare, number
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer, TrainingPlan
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
    Setting("pseudosr_cycle_weight", number(0), "weight of the cycle loss", owner="pseudosr"),
    Setting("pseudosr_identity_weight", number(0), "weight of the identity loss", owner="pseudosr"),
    Setting("pseudosr_geometry_weight", number(0), "weight of the geometric-ensemble loss", owner="pseudosr"),
    Setting("pseudosr_sr_adv_weight", number(0), "weight of the SR adversarial loss", owner="pseudosr"),
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
        self.cycle_weight = float(self.profile.get("pseudosr_cycle_weight", CYCLE_WEIGHT))
        self.identity_weight = float(self.profile.get("pseudosr_identity_weight", IDENTITY_WEIGHT))
        self.geometry_weight = float(self.profile.get("pseudosr_geometry_weight", GEOMETRY_WEIGHT))
        self.sr_adv_weight = float(self.profile.get("pseudosr_sr_adv_weight", SR_ADV_WEIGHT))
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
            "g_degrade": NoisyTranslator(translator, skip=bool(profile.get("global_skip", False))),
            "sr": ts_rcan_from_profile(profile, scale),
            "d_x": slab_discriminator(profile, SLAB_DEPTH),
            "d_clean": slab_discriminator(profile, SLAB_DEPTH),
            "d_sr": slab_discriminator(profile, hr_slab_depth(scale), (scale.sx, scale.sy)),
        }

    def inference_network(self) -> nn.Module:
        return CleanThenUpscale(self.networks["g_clean"], self.networks["sr"])

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        return PseudoSRPlan(self, data, run)
