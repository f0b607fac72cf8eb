"""UDEAN: unsupervised degradation-adaptation network (Table I–II), and its two DA ablations.

Followed: UDEAN paper (arXiv:2205.06891), Section II.B–C, Fig. 2–3, eq. 1–10 and II.E; no code
was published. Every network is 2D over thin slabs (the slab axis Z is channels):

* down-sampling feature extractor ``Y_s (B, 3·sz, sx·h, sy·w) → f_s (B, C, h, w)``;
* LR decoder (TS-RCAN, ×1) ``f (B, C, h, w) → LR slab (B, 3, h, w)``;
* LR encoder ``LR slab (B, 3, h, w) → f (B, C, h, w)``;
* SR decoder (TS-RCAN, ×sx×sy, 3·sz slices) ``f (B, C, h, w) → SR slab (B, 3·sz, sx·h, sy·w)``;
* LR discriminator (LR slabs), feature discriminator (``C``-channel feature maps), HR discriminator
  (HR slabs ``(B, 3·sz, sx·h, sy·w)``; eq. 4 and 6, see below); all three the shared VGG-style one.

Paths (names as in the paper): source cycle ``Y_s → f_s → X_{s→t} → f_{s→t→s} → Y_{s→t→s}``;
source consistency ``Y_s → f_s → Ŷ_s`` (SR decoder on ``f_s``); target consistency
``X_t → f_t → X̂_t`` (LR decoder on ``f_t``). Inference: ``X_t → LR encoder → SR decoder``.
Loss: eq. 10, ``λ1·L_icyc + λ2·L_fcyc + λ3·L_hrcon + λ4·L_lrcon + λ5·L_da + λ6·L_fa``.

Where the paper is open (most choices are profile keys, so the alternative is one ``--set`` away):
an HR-slab discriminator judges the ``β·L_adv`` of eq. 4 and 6 (``udean_hr_discriminator``);
``L_adv`` is least squares; eq. 8–9 enter the generator update only, and the discriminators train
with LSGAN targets on the same step's detached samples; each batch draws source HR and target LR
patches independently. ``udean-image-da`` (λ6 = 0) and ``udean-feature-da`` (λ5 = 0) each remove
exactly one term of eq. 10 (an LR or feature discriminator trains while it judges a kept term); a
profile key cannot switch it back on.

Revision 1 (issue 23's study): the four departures that five seeds did not show to help are off
by default, so UDEAN is the paper's wherever it is explicit, plus the shared global skip: no
warm-up (``udean_warmup`` 0), ``Ŷ_s = SR(f_s)`` (``udean_hr_consistency_skip`` off), PyTorch's
initialisation of the encoders (``udean_encoder_init``), no gradient penalty on the feature
discriminator (``udean_feature_gradient_penalty`` 0; γ = 0.1 switches it on). Revision 0 had all
four on.

Design notes and measurements: docs/methods/udean.md
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields
from typing import Any, ClassVar

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
    choice,
    declare,
    hr_slab_depth,
    number,
    psnr,
)
from methods.adversarial import AdversarialPlan, Batch, Judgement
from methods.adversarial_diagnostics import high_frequency_energy
from methods.losses import degradation_adaptation_loss, l1_loss, lsgan_generator_loss, ssim_loss
from methods.networks import (
    SlabEncoder,
    downsampling_generator_from_profile,
    slab_discriminator,
    ts_rcan_decoder_from_profile,
)
from methods.networks.downsampling_generator import sample_slab
from methods.networks.encoders import he_initialise
from methods.networks.interpolation_skip import upsample_slab
from methods.thin_slab import ThinSlabMethod

GENERATORS = ("downsampling_extractor", "lr_decoder", "lr_encoder", "sr_decoder")
DISCRIMINATORS = ("lr_discriminator", "feature_discriminator", "hr_discriminator")
Autocast = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class UDEANWeights:
    """Loss weights of eq. 4–10; ``from_profile`` reads ``udean_<name>`` keys."""

    lambda1: float = 1.0
    lambda2: float = 0.1
    lambda3: float = 1.0
    lambda4: float = 1.0
    lambda5: float = 0.1
    lambda6: float = 0.1
    alpha: float = 0.5
    beta: float = 0.01

    @classmethod
    def from_profile(cls, profile: Profile, ablated: Iterable[str] = ()) -> UDEANWeights:
        """The profile's ``udean_*`` keys (declared with this class's defaults); names in ``ablated`` are 0."""
        values = {f.name: profile[f"udean_{f.name}"] for f in fields(cls)}
        values.update({name: 0.0 for name in ablated})
        return cls(**values)


FEATURE_GRADIENT_PENALTY_GAMMA = 0.1
"""The γ that switches the feature discriminator's gradient penalty on (``--set udean_feature_gradient_penalty=0.1``,
revision 0's default; docs/methods/udean.md)."""

declare(
    *(
        ProfileKey(f"udean_{f.name}", number(0), f"weight {f.name} (eq. 4–10)", owner="udean", default=f.default)
        for f in fields(UDEANWeights)
    ),
    ProfileKey(
        "udean_hr_consistency_skip",
        boolean(),
        "HR consistency path keeps the global skip",
        owner="udean",
        default=False,
    ),
    ProfileKey("udean_down_skip", boolean(), "X_{s→t} adds the decimated Y_s", owner="udean", default=False),
    ProfileKey(
        "udean_warmup", number(0, 1), "share of the steps that start the LR decoder's paths", owner="udean", default=0.0
    ),
    ProfileKey(
        "udean_lr_consistency_skip", boolean(), "X̂_t adds X_t (only with udean_down_skip)", owner="udean", default=True
    ),
    ProfileKey(
        "udean_encoder_init",
        choice("he", "pytorch"),
        "initialisation of the two encoders",
        owner="udean",
        default="pytorch",
    ),
    ProfileKey(
        "udean_feature_gradient_penalty",
        number(0),
        "γ, feature discriminator gradient penalty",
        owner="udean",
        default=0.0,
    ),
    ProfileKey(
        "udean_hr_discriminator", boolean(), "HR-slab discriminator judging eq. 4/6 terms", owner="udean", default=True
    ),
)


def starts_at_sampling(profile: Profile) -> bool:
    """Whether ``X_{s→t}`` adds the decimated ``Y_s`` (``udean_down_skip``, off by default: eq. 7 as printed)."""
    return profile["udean_down_skip"]


def warmup_steps(profile: Profile, total: int) -> int:
    """Steps of the warm-up (``udean_warmup`` × ``total``, rounded; docs/methods/udean.md)."""
    return round(profile["udean_warmup"] * total)


class SuperResolutionNetwork(nn.Module):
    """The SRR network: LR encoder, SR decoder and, optionally, the global skip.

    Args:
        lr_encoder: ``(B, 3, h, w) → (B, C, h, w)``.
        sr_decoder: ``(B, C, h, w) → (B, 3·sz, sx·h, sy·w)``.
        scale: ``(sx, sy, sz)``.
        global_skip: add ``upsample_slab`` of the LR slab to the output.
        skip_interpolation: its kernel (``"cubic"``, default, or ``"linear"``).

    Shapes:
        ``(B, 3, h, w) → (B, 3·sz, sx·h, sy·w)``.
    """

    def __init__(
        self,
        lr_encoder: nn.Module,
        sr_decoder: nn.Module,
        scale: Scale,
        global_skip: bool,
        skip_interpolation: str = "cubic",
    ) -> None:
        super().__init__()
        self.lr_encoder, self.sr_decoder = lr_encoder, sr_decoder
        self.factors, self.global_skip, self.skip_interpolation = scale.factors, global_skip, skip_interpolation

    def encode_decode(self, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(B, C, h, w)`` and SR slab ``(B, 3·sz, sx·h, sy·w)`` of an LR slab ``(B, 3, h, w)``."""
        features = self.lr_encoder(lr)
        sr = self.sr_decoder(features)
        if self.global_skip:
            sr = sr + upsample_slab(lr, self.factors, self.skip_interpolation)
        return features, sr

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.encode_decode(lr)[1]


@dataclass
class Paths:
    """Every tensor of Fig. 2 for one batch (float32), named as in the paper (``x_s_t`` is ``X_{s→t}``).

    Attributes:
        y_s: source HR ``Y_s`` ``(B, 3·sz, sx·h, sy·w)``.
        x_t: target LR ``X_t`` ``(B, 3, h, w)``.
        f_s, f_s_t_s, f_t: features ``f_s``, ``f_{s→t→s}``, ``f_t`` ``(B, C, h, w)``.
        x_s_t, x_hat_t: LR slabs ``X_{s→t}``, ``X̂_t`` ``(B, 3, h, w)``.
        y_s_t_s, y_hat_s: SR slabs ``Y_{s→t→s}``, ``Ŷ_s`` ``(B, 3·sz, sx·h, sy·w)``.
    """

    y_s: torch.Tensor
    x_t: torch.Tensor
    f_s: torch.Tensor
    x_s_t: torch.Tensor
    f_s_t_s: torch.Tensor
    y_s_t_s: torch.Tensor
    y_hat_s: torch.Tensor
    f_t: torch.Tensor
    x_hat_t: torch.Tensor


class UDEANPlan(AdversarialPlan):
    """Eq. 10 for the four generators, then LSGAN for the active discriminators, on the shared adversarial plan."""

    def __init__(self, method: UDEAN, data: TrainingData, run: RunContext) -> None:
        super().__init__(method, data, run)
        self.weights = method.weights
        global_skip = bool(self.profile["global_skip"])
        self.srr = SuperResolutionNetwork(
            self.networks["lr_encoder"],
            self.networks["sr_decoder"],
            self.scale,
            global_skip,
            str(self.profile["skip_interpolation"]),
        )
        self.sr_network = self.srr
        self.hr_consistency_skip = global_skip and self.profile["udean_hr_consistency_skip"]
        self.down_skip = starts_at_sampling(self.profile)
        self.lr_consistency_skip = self.down_skip and self.profile["udean_lr_consistency_skip"]
        self.warming = False  # set by train_step: the step is one of the warm-up's (module doc)
        w = self.weights
        # Each discriminator trains while it judges a term eq. 10 keeps (module doc).
        self.use_lr_adv = w.beta > 0 and w.lambda4 > 0  # eq. 7's β·L_adv(X̂_t)
        self.use_lr_d = w.lambda5 > 0 or self.use_lr_adv  # eq. 8, eq. 7
        self.use_feature_d = w.lambda6 > 0  # eq. 9
        self.use_hr_d = "hr_discriminator" in self.networks and w.beta > 0 and (w.lambda1 > 0 or w.lambda3 > 0)
        active = [self.use_lr_d, self.use_feature_d, self.use_hr_d]
        self.active_discriminators = [name for name, on in zip(DISCRIMINATORS, active) if on]
        gamma = self.profile["udean_feature_gradient_penalty"]
        if self.use_feature_d and gamma > 0:  # γ > 0: R1/R2 penalty (revision 0's default)
            self.gradient_penalties["feature_discriminator"] = gamma
        self.optimised = {"generator": list(GENERATORS)}
        if self.active_discriminators:
            self.optimised["discriminator"] = self.active_discriminators

    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """Independent random patches: source HR ``Y_s (B, 3·sz, sx·px, sy·py)``, target LR ``X_t (B, 3, px, py)``."""
        n = self.batch_size
        return self.sampler.hr_slabs(self.source_hr, n, rng), self.sampler.lr_slabs(self.target_lr, n, rng)

    def forward_paths(self, y_s: torch.Tensor, x_t: torch.Tensor, autocast: Autocast = nullcontext) -> Paths:
        """The three paths of Fig. 2 (forward under ``autocast``, outputs as float32)."""
        net = self.networks
        with autocast():
            # source cycle: Y_s → f_s → X_{s→t} → f_{s→t→s} → Y_{s→t→s}
            f_s = net["downsampling_extractor"](y_s)
            x_s_t = net["lr_decoder"](f_s)
            if self.down_skip:  # start the degradation path at plain sampling (module doc)
                x_s_t = x_s_t + sample_slab(y_s, self.scale.factors)
            f_s_t_s, y_s_t_s = self.srr.encode_decode(x_s_t)
            # source consistency: Y_s → f_s → Ŷ_s (+ up(X_{s→t}), detached, with the global skip: module doc)
            y_hat_s = net["sr_decoder"](f_s)
            if self.hr_consistency_skip:
                y_hat_s = y_hat_s + upsample_slab(x_s_t.detach(), self.scale.factors, self.srr.skip_interpolation)
            # target consistency: X_t → f_t → X̂_t
            f_t = net["lr_encoder"](x_t)
            x_hat_t = net["lr_decoder"](f_t)
            if self.lr_consistency_skip:  # the LR decoder is a residual decoder in both of its paths
                x_hat_t = x_hat_t + x_t
        made = (f_s, x_s_t, f_s_t_s, y_s_t_s, y_hat_s, f_t, x_hat_t)
        return Paths(y_s, x_t, *(t.float() for t in made))

    def _score(self, name: str, x: torch.Tensor, autocast: Autocast) -> torch.Tensor:
        """Raw scores of discriminator ``name``, float32."""
        with autocast():
            return self.judge(name, x).float()

    def _image_loss(self, x: torch.Tensor, y: torch.Tensor, d_x: torch.Tensor | None) -> torch.Tensor:
        """``L1(x, y) + α·SSIM(x, y) + β·L_adv(x)`` (eq. 4, 6, 7); no adversarial term when ``d_x`` is None."""
        loss = l1_loss(x, y) + self.weights.alpha * ssim_loss(x, y)
        return loss if d_x is None else loss + self.weights.beta * lsgan_generator_loss(d_x)

    def generator_losses(self, batch: Batch, trainer: Trainer) -> tuple[dict[str, torch.Tensor], Paths]:
        """Every term of eq. 10 and their weighted sum ``g_total`` (the discriminators are frozen by the caller).

        Args:
            batch: ``(y_s, x_t)``, source HR slabs ``Y_s`` ``(B, 3·sz, sx·h, sy·w)`` and target LR
                slabs ``X_t`` ``(B, 3, h, w)`` on the device.
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            Scalar losses ``i_cyc, f_cyc, hr_con, lr_con, da, fa, start, g_total`` and the paths they came
            from. During the warm-up (:attr:`warming`) ``g_total`` is ``λ4·L_lr_con + start``, ``start``
            being ``L1 + α·SSIM`` of ``X_{s→t}`` against the decimated ``Y_s``; afterwards ``start`` is 0
            and ``g_total`` is eq. 10.
        """
        y_s, x_t = batch
        autocast = trainer.autocast
        w = self.weights
        zero = y_s.new_zeros(())
        p = self.forward_paths(y_s, x_t, autocast)
        d_y_s_t_s = self._score("hr_discriminator", p.y_s_t_s, autocast) if self.use_hr_d else None
        d_y_hat_s = self._score("hr_discriminator", p.y_hat_s, autocast) if self.use_hr_d else None
        d_x_hat_t = self._score("lr_discriminator", p.x_hat_t, autocast) if self.use_lr_adv else None
        terms = {
            "i_cyc": self._image_loss(p.y_s_t_s, p.y_s, d_y_s_t_s),  # eq. 4
            "f_cyc": l1_loss(p.f_s_t_s, p.f_s),  # eq. 5
            "hr_con": self._image_loss(p.y_hat_s, p.y_s, d_y_hat_s),  # eq. 6
            "lr_con": self._image_loss(p.x_hat_t, p.x_t, d_x_hat_t),  # eq. 7
            "da": zero,  # eq. 8
            "fa": zero,  # eq. 9
        }
        if w.lambda5 > 0:
            d_x_s_t = self._score("lr_discriminator", p.x_s_t, autocast)
            d_x_t = self._score("lr_discriminator", p.x_t, autocast)  # no gradient: data, frozen D
            terms["da"] = degradation_adaptation_loss(d_x_s_t, d_x_t)
        if self.use_feature_d:
            d_f_t = self._score("feature_discriminator", p.f_t, autocast)
            d_f_s = self._score("feature_discriminator", p.f_s, autocast)
            terms["fa"] = degradation_adaptation_loss(d_f_t, d_f_s)
        terms["start"] = zero
        if self.warming:  # the LR decoder learns both of its paths before the cycle trains on them
            terms["start"] = self._image_loss(p.x_s_t, sample_slab(y_s, self.scale.factors), None)
            terms["g_total"] = w.lambda4 * terms["lr_con"] + terms["start"]
            return terms, p
        terms["g_total"] = (  # eq. 10
            w.lambda1 * terms["i_cyc"]
            + w.lambda2 * terms["f_cyc"]
            + w.lambda3 * terms["hr_con"]
            + w.lambda4 * terms["lr_con"]
            + w.lambda5 * terms["da"]
            + w.lambda6 * terms["fa"]
        )
        return terms, p

    def train_step(self, batch: Batch, trainer: Trainer) -> dict[str, float]:
        """The shared adversarial step, with :meth:`generator_losses` in its warm-up for the first
        :func:`warmup_steps` steps."""
        self.warming = trainer.step < warmup_steps(self.profile, trainer.total_steps)
        return super().train_step(batch, trainer)

    def probe_statistics(self, batch: Batch, generated: Paths) -> dict[str, float]:
        """PSNR (dB) of the source cycle ``Y_{s→t→s}`` and of ``Ŷ_s`` against ``Y_s``; mean of ``Y_s``;
        mean and high-frequency energy of ``X_{s→t}`` and ``X_t`` (does the fake LR look like the real
        one? The patches are unpaired, so compare ``X_{s→t}``'s mean with ``Y_s``'s)."""
        p = generated
        return {
            "cycle_psnr": psnr(p.y_s_t_s.detach(), p.y_s),
            "hr_con_psnr": psnr(p.y_hat_s.detach(), p.y_s),
            "y_s_mean": float(p.y_s.mean()),  # X_{s→t}'s own source: the probe's patches are unpaired
            "x_s_t_mean": float(p.x_s_t.mean()),
            "x_t_mean": float(p.x_t.mean()),
            "x_s_t_hf": high_frequency_energy(p.x_s_t.detach()),
            "x_t_hf": high_frequency_energy(p.x_t),
        }

    def judgements(self, batch: Batch, generated: Paths, trainer: Trainer) -> dict[str, Judgement]:
        """Real / fake of the active discriminators: LR ``X_t`` / ``X_{s→t}``; feature ``f_t`` / ``f_s``;
        HR ``Y_s`` / ``Y_{s→t→s}`` and ``Ŷ_s``."""
        p = generated
        every = {
            "d_lr": Judgement("lr_discriminator", p.x_t, p.x_s_t),
            "d_feature": Judgement("feature_discriminator", p.f_t, p.f_s),
            "d_hr": Judgement("hr_discriminator", p.y_s, torch.cat([p.y_s_t_s, p.y_hat_s])),
        }
        return {name: j for name, j in every.items() if j.network in self.active_discriminators}


@METHODS.register("udean", summary="UDEAN: degradation adaptation in image and feature space (λ5 = λ6 = 0.1).")
class UDEAN(ThinSlabMethod):
    """UDEAN with DA in image and feature space (eq. 10, λ1…λ6 = 1, 0.1, 1, 1, 0.1, 0.1).

    ``revision`` 1: the defaults of the four departures changed (module doc); the ablations inherit it.
    """

    ablated: ClassVar[tuple[str, ...]] = ()
    revision: ClassVar[int] = 1

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        feats = int(profile["encoder_feats"])
        sr_decoder = ts_rcan_decoder_from_profile(profile, feats, hr_slab_depth(scale), (scale.sx, scale.sy))
        if profile["global_skip"]:  # start the SRR network at the skip's interpolation, as the shared TS-RCAN does
            sr_decoder.start_at_zero()
        # The degradation path is the shared HR → LR generator, kept as two networks: the losses need f_s.
        degradation = downsampling_generator_from_profile(profile, scale)
        he = profile["udean_encoder_init"] == "he"
        if he:
            he_initialise(degradation.encoder)
        if starts_at_sampling(profile):  # X_{s→t} starts at plain sampling exactly
            degradation.decoder.start_at_zero()
        lr_encoder = SlabEncoder(SLAB_DEPTH, feats)
        if he:
            he_initialise(lr_encoder)
        networks: dict[str, nn.Module] = {
            "downsampling_extractor": degradation.encoder,
            "lr_decoder": degradation.decoder,
            "lr_encoder": lr_encoder,
            "sr_decoder": sr_decoder,
            "lr_discriminator": slab_discriminator(profile, SLAB_DEPTH),
            "feature_discriminator": slab_discriminator(profile, feats),
        }
        if profile["udean_hr_discriminator"]:
            networks["hr_discriminator"] = slab_discriminator(profile, hr_slab_depth(scale), (scale.sx, scale.sy))
        return networks

    @property
    def weights(self) -> UDEANWeights:
        """Loss weights from the profile, this variant's ablated weights at 0."""
        return UDEANWeights.from_profile(self.profile, self.ablated)

    def inference_network(self) -> nn.Module:
        """LR encoder → SR decoder (+ the global skip if ``global_skip``); nothing else runs at test time."""
        return SuperResolutionNetwork(
            self.networks["lr_encoder"],
            self.networks["sr_decoder"],
            self.scale,
            bool(self.profile["global_skip"]),
            str(self.profile["skip_interpolation"]),
        )

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        return UDEANPlan(self, data, run)


@METHODS.register("udean-image-da", summary="UDEAN ablation: degradation adaptation in image space only (λ6 = 0).")
class UDEANImageDA(UDEAN):
    """UDEAN with DA in image space only (λ6 = 0; the feature discriminator neither judges nor trains)."""

    ablated: ClassVar[tuple[str, ...]] = ("lambda6",)


@METHODS.register("udean-feature-da", summary="UDEAN ablation: degradation adaptation in feature space only (λ5 = 0).")
class UDEANFeatureDA(UDEAN):
    """UDEAN with DA in feature space only (λ5 = 0; the LR discriminator still judges eq. 7's ``β·L_adv(X̂_t)``)."""

    ablated: ClassVar[tuple[str, ...]] = ("lambda5",)
