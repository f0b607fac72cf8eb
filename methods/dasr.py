"""DASR (Wei, Gu, Li, Timofte, Jin, Song, CVPR 2021), on the shared thin-slab backbone.

"Unsupervised Real-world Image Super Resolution via Domain-distance Aware Training": two
stages, not trained end to end.

**Stage 1, down-sampling network** ``G_d`` (reference ``ShuhangGu/DASR``, ``codes/DSN``).
``G_d`` turns a source HR slab into an LR slab with the target domain's degradation. Its loss
is ``w_lf · L1(LF(G_d(y)), LF(y↓)) + w_adv · adversarial``, where ``y↓`` is the plain
down-scaling of ``y`` and LF a Gaussian low-pass; a per-pixel discriminator ``D_lr`` sees only
the high frequencies ``x − LF(x)`` of generated LR against real target LR.

**Domain-distance map.** The frozen stage-1 discriminator's per-pixel score on each generated
LR patch, averaged over each pixel's receptive-field window; one weight per LR pixel, higher
means closer to the target domain.

**Stage 2, SR network** (``codes/SRN/models/DASR_model.py``, ``train_DASR.json``). ``G_d`` and
``D_lr`` are frozen. Each batch holds generated LR ``G_d(y)`` paired with ``y`` and real target
LR ``x``. The losses are a pixel L1 on the generated half weighted by the domain-distance map
(up-sampled bilinearly from the LR to the HR patch), an unweighted low-frequency L1 on the
generated half, and an adversarial loss on the high frequencies of ``SR(x)`` against those of
real HR patches (an HR discriminator ``D_hr`` trained in stage 2, weight 0.01). Inference uses
the SR network only.

Followed from the original:

* The two-stage pipeline, the losses and their weights: stage 1 ``w_lf = 1`` (``w_col``),
  ``w_adv = 0.005`` (``w_tex``, the code's default); stage 2 pixel 1, low-frequency 1
  (``pixel_LL_weight``), adversarial 0.01 (``gan_H_target``). Every weight is a profile key
  (table below). Issue #15 of the reference repository says the paper's stage-1 adversarial
  weight is 0.0005 while the code uses 0.005; we use the code's 0.005
  (``dasr_stage1_adv_weight=0.0005`` gives the paper's).
* The low-pass filter: a normalised 2D Gaussian of ``dasr_lf_kernel = 5`` taps with
  σ = kernel / 6 (``FilterLow(gaussian=True)``), applied in-plane to every slice (channel).
  The high-pass is ``x − LF(x)``.
* The stage-1 discriminator is the reference's FSD (``DiscriminatorBasic``, the default
  ``--discriminator FSD``): three 5×5 convs of stride 1 (``disc_feats``, 2·, 4·``disc_feats``
  channels: 64/128/256 in the paper profile) with LeakyReLU(0.2), instance norm after the
  second and third, and a 1×1 conv: one score per LR pixel, the input's height and width
  (:class:`~methods.networks.pixel_discriminator.PixelDiscriminator`).
* The domain-distance map: the reference (``create_dataset_modified.py``, ``getWeights``)
  spreads each score over its receptive field and divides by the number of scores that reach
  each pixel. For a stride-1 network that is the mean of the scores within the receptive field
  centred on the pixel, cut at the patch border (:func:`spread_over_receptive_field`, an
  ``avg_pool2d`` with ``count_include_pad=False``); the window is the network's receptive
  field, 13 pixels (the reference's ``receptive_cal`` counts four 5×5 layers, 17, where its
  fourth layer is 1×1). The map is on the LR grid, one weight per LR pixel and slab (its three
  slices share it, and on the HR grid so do the ``3·sz`` HR slices).
* The map is used directly as the per-pixel weight of the stage-2 pixel L1, up-sampled from
  the LR to the HR patch bilinearly with half-pixel centres (``align_corners=False``), as the
  reference does (``DASR_model.feed_data``: ``F.interpolate(..., mode="bilinear",
  align_corners=False)``); an HR pixel therefore takes its LR pixel's weight blended with its
  neighbours', not a copy of it.
* Each stage trains for the profile's full budget, ``epochs × steps_per_epoch`` steps: the
  reference trains the down-sampling network (``codes/DSN/train.py``, 400 epochs) and the SR
  network (``train_DASR.json``, 350 000 iterations) on schedules of their own, so DASR's SR
  network trains as many steps as every other method's and DASR as a whole twice that.
* Stage 2's adversarial loss judges only SR of *real* target LR (the reference's
  ``netD_target`` on ``fake_SR_Hf_target``) against unpaired HR patches.

Adapted to thin-slab MRI and to the benchmark's shared set-up (UDEAN paper, Sec. III.B: all
baselines share generators, discriminators and training set-up):

* ``G_d`` is UDEAN's degradation path, the shared
  :class:`~methods.networks.DownsamplingGenerator`: a down-sampling encoder (``3·sz`` HR slices
  → ``encoder_feats`` features on the LR grid) followed by a TS-RCAN decoder (features → 3 LR
  slices, scale 1×1).
  The original's ResNet ends in a sigmoid; ours is linear, because k-space-truncated LR may
  ring slightly outside ``[0, 1]``. The SR network is the shared TS-RCAN
  (:func:`~methods.networks.ts_rcan_from_profile`, with the profile's global skip).
* ``G_d``'s sampling skip (profile key ``dasr_down_skip``, by default the profile's ``global_skip``:
  on in ``quick``/``tiny``, off in ``paper``): the decimated input (HR voxel ``s·j`` for LR
  voxel ``j``, every ``sz``-th slice, the k-space truncation grid) is added to ``G_d``'s
  output, the down-sampling counterpart of the SR path's interpolation skip. Stage 2 learns only from
  ``G_d``'s output, so DASR depends on ``G_d`` more than the one-stage methods do on their
  down paths: on the demo (2×2×2, quick, unpaired) 150 stage-1 steps without the skip left
  ``G_d`` at 14.6 dB against the true LR (validation) and the SR at SSIM 0.66 / 29.6 dB;
  with it ``G_d`` reached 32.0 dB and the SR SSIM 0.90 / 30.1 dB. The paper profile keeps
  the plain shared network.
* "Plain down-scaling" is the protocol's 3D k-space truncation: each source HR volume is
  cropped to a multiple of the scale and truncated once, whole, with
  :func:`~benchmark.protocol.degradations.kspace_truncate` when stage 1 starts
  (:func:`~methods.thin_slab.clean_lr_volumes`, as PseudoSR's clean LR), and stage 1
  cuts aligned (HR, clean LR) patch pairs from it (HR corner = LR corner × scale). This is the
  degradation the target LR was actually made with, rather than a patch-wise FFT that would
  add wrap-around at patch borders.
* Discriminators: ``D_lr`` is the reference's per-pixel FSD (above; on LR slabs, 3 channels,
  without its sigmoid); ``D_hr`` the shared slab discriminator
  (:func:`~methods.networks.slab_discriminator`, a VGG-style patch discriminator, on HR slabs,
  ``3·sz`` channels), where the original stage 2 uses a PatchGAN (``discriminator_patch``).
* Adversarial losses are least-squares (LSGAN, targets 1 real / 0 fake on raw scores), the
  shared set-up's; the original uses the vanilla GAN (sigmoid + binary cross-entropy) in both
  stages.
* Domain-distance map normalisation: the original map is a sigmoid probability in ``[0, 1]``.
  With LSGAN raw scores, whose targets are 0 (generated) and 1 (real), the map is the raw
  score clamped to ``[0, 1]``: the LSGAN-optimal discriminator with these targets is
  ``p_real / (p_real + p_generated)``, the same probability the vanilla GAN's sigmoid
  estimates (a sigmoid of the raw score would squash the 0…1 target range into 0.5…0.73).
  The clamp comes before the receptive-field mean. The map is computed on the fly for each
  generated patch (``G_d`` and ``D_lr`` are frozen); the original computes it once on whole
  generated images, so near patch borders our windows are cut by the patch, and the instance
  norm's statistics are the patch's, not the image's.
* No perceptual loss in either stage: the original uses LPIPS (``--per_type LPIPS``, or VGG
  features), which needs pretrained ImageNet weights (AlexNet/VGG) that cannot be had offline
  here; the shared VGG discriminator is not a feature extractor. The weights that would apply
  are 0.01 in stage 1 (``w_per`` in ``codes/DSN/train.py``) and 1 in stage 2
  (``feature_weight`` with ``feature_criterion: LPIPS`` in ``train_DASR.json``); both terms
  are dropped, the other weights unchanged.
* High frequencies go to the discriminators as ``x − LF(x)``, without the original's
  ``0.5 + 0.5·(x − LF(x))`` rescaling (a fixed affine map the first conv absorbs). The
  low-pass pads by edge replication (the original pads the discriminator's filter with zeros
  and the fidelity loss's filter not at all); replication keeps every map the patch's size and
  adds no dark border.
* Schedule: each stage is one run of the shared :class:`~benchmark.training.trainer.Trainer`, one
  :class:`~methods.thin_slab.TrainingStage` of the base class's ``fit``; both stages are the
  shared :class:`~methods.adversarial.AdversarialPlan` (generator update, then discriminator
  update, the discriminator seeing the high-pass through the plan's input hook) (Adam
  β = (0.9, 0.99), ε = 1e-8, cosine ``lr_max → lr_min`` over the stage's steps; the original
  stage 1 uses β1 = 0.5 and linear decay, stage 2 1e-5 with steps). Each stage runs
  ``epochs × steps_per_epoch`` steps (above), so a DASR cell takes about twice the training
  time of a one-stage method.
* Batches: stage 1 draws ``batch_size`` HR patches (with their clean LR) and ``batch_size``
  target LR patches; stage 2 ``batch_size`` generated pairs, ``batch_size`` target LR patches
  and ``batch_size`` unpaired HR patches for ``D_hr`` (the reference's batch is likewise half
  generated, half real LR).
* Checkpoints and histories: stage 1 writes to ``checkpoint_dir/stage1`` and
  ``cell_dir/stage1`` (``losses.csv``, ``timing.csv``), stage 2 to ``.../stage2``. A killed run
  resumes: a finished stage 1 reloads from its last checkpoint without training again.
* Validation: stage 1 reports ``val_lr_psnr``, the PSNR of ``G_d`` applied to the validation
  HR crop against the validation LR (how well the degradation is learned); stage 2 the SR
  PSNR of :func:`~methods.thin_slab.validate_network`.
* Stage 2's HR discriminator is trained with a gradient penalty (profile key
  ``dasr_hr_gradient_penalty``, γ = 0.001; the reference has none): its LSGAN loss adds
  ``γ/2·(E‖∇D_hr(real HR)‖² + E‖∇D_hr(SR(x))‖²)``, taken on the samples whose high frequencies
  it sees (R1 and R2, :func:`~methods.losses.gradient_penalty`; the same mechanism as UDEAN's
  feature discriminator). Measured on the demo (quick, 2×2×2, misaligned, 3,000 steps a stage,
  one seed; issue 14): without it, the adversarial term's gradient (unweighted, L2 over the SR
  network) spiked to 0.3–42 against 0.006–0.04 for the pixel term, so at the reference's weight
  0.01 it matched or outweighed the pixel loss; validation PSNR swung between 29.98 and 30.64 dB
  and ended at 30.24, 0.40 dB under its best (test 32.22 / 32.66 dB). With ``dasr_adv_weight=0``
  it rose steadily to 30.87 (test 32.76 / 33.13 dB). With γ = 0.001 the discriminator still
  scores real HR above SR (0.55–0.61 against 0.41–0.46), the adversarial gradient stays at
  0.24–0.61, and validation rises steadily; γ = 0.1 made the discriminator score both 0.50, which
  only switches the term off. The weights of the reference are unchanged;
  ``dasr_hr_gradient_penalty=0`` restores its plain loss.

Profile keys (defaults): ``dasr_lf_kernel`` 5,
``dasr_stage1_lf_weight`` 1, ``dasr_stage1_adv_weight`` 0.005, ``dasr_pixel_weight`` 1,
``dasr_lf_weight`` 1, ``dasr_adv_weight`` 0.01, ``dasr_use_ddm`` True (False: unweighted pixel
L1, the reference's ``multiweights: false``), ``dasr_down_skip`` = ``global_skip``,
``dasr_hr_gradient_penalty`` 0.001.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.inference.slabs import SLAB_DEPTH, hr_slab_depth
from benchmark.plugins import METHODS
from benchmark.profiles import Profile
from benchmark.protocol.training_data import TrainingData
from benchmark.scale import Scale
from benchmark.settings import Setting, boolean, declare, integer, number
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
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

declare(
    Setting("dasr_lf_kernel", integer(1), "taps of the Gaussian low-pass (pixels)", owner="dasr"),
    Setting("dasr_stage1_lf_weight", number(0), "stage 1 low-frequency weight", owner="dasr"),
    Setting("dasr_stage1_adv_weight", number(0), "stage 1 adversarial weight", owner="dasr"),
    Setting("dasr_pixel_weight", number(0), "stage 2 pixel weight", owner="dasr"),
    Setting("dasr_lf_weight", number(0), "stage 2 low-frequency weight", owner="dasr"),
    Setting("dasr_adv_weight", number(0), "stage 2 adversarial weight", owner="dasr"),
    Setting("dasr_use_ddm", boolean(), "weight stage 2 by the domain-distance map", owner="dasr"),
    Setting("dasr_down_skip", boolean(), "down-sampling network adds a sampling skip", owner="dasr"),
    Setting("dasr_hr_gradient_penalty", number(0), "γ, stage-2 HR discriminator gradient penalty", owner="dasr"),
)


HR_GRADIENT_PENALTY_DEFAULT = 0.001
"""``dasr_hr_gradient_penalty`` where the profile does not set it."""


@dataclasses.dataclass(frozen=True)
class DASRWeights:
    """Loss weights and filter size of both stages, read from the profile (defaults: the reference code)."""

    lf_kernel: int = LF_KERNEL
    stage1_lf: float = STAGE1_LF_WEIGHT
    stage1_adv: float = STAGE1_ADV_WEIGHT
    pixel: float = PIXEL_WEIGHT
    lf: float = LF_WEIGHT
    adv: float = ADV_WEIGHT
    use_ddm: bool = True

    @classmethod
    def from_profile(cls, profile: Profile) -> DASRWeights:
        """Weights from the ``dasr_*`` profile keys, defaults where a key is absent."""
        return cls(
            lf_kernel=int(profile.get("dasr_lf_kernel", LF_KERNEL)),
            stage1_lf=float(profile.get("dasr_stage1_lf_weight", STAGE1_LF_WEIGHT)),
            stage1_adv=float(profile.get("dasr_stage1_adv_weight", STAGE1_ADV_WEIGHT)),
            pixel=float(profile.get("dasr_pixel_weight", PIXEL_WEIGHT)),
            lf=float(profile.get("dasr_lf_weight", LF_WEIGHT)),
            adv=float(profile.get("dasr_adv_weight", ADV_WEIGHT)),
            use_ddm=bool(profile.get("dasr_use_ddm", True)),
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
        gamma = float(self.profile.get("dasr_hr_gradient_penalty", HR_GRADIENT_PENALTY_DEFAULT))
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
        down_skip = bool(profile.get("dasr_down_skip", profile.get("global_skip", False)))
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
