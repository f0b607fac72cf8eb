"""DASR (Wei, Gu, Li, Timofte, Jin, Song, CVPR 2021), on the shared thin-slab backbone.

"Unsupervised Real-world Image Super Resolution via Domain-distance Aware Training": two
stages, not trained end to end.

**Stage 1, down-sampling network** ``G_d`` (reference ``ShuhangGu/DASR``, ``codes/DSN``).
``G_d`` turns a source HR slab into an LR slab with the target domain's degradation. Its loss
is ``w_lf · L1(LF(G_d(y)), LF(y↓)) + w_adv · adversarial``, where ``y↓`` is the plain
down-scaling of ``y`` and LF a Gaussian low-pass; a discriminator ``D_lr`` sees only the high
frequencies ``x − LF(x)`` of generated LR against real target LR.

**Domain-distance map.** The frozen stage-1 discriminator's output on each generated LR
patch, spread over the patch; higher means closer to the target domain.

**Stage 2, SR network** (``codes/SRN/models/DASR_model.py``, ``train_DASR.json``). ``G_d`` and
``D_lr`` are frozen. Each batch holds generated LR ``G_d(y)`` paired with ``y`` and real target
LR ``x``. The losses are a pixel L1 on the generated half weighted by the domain-distance map
(up-sampled to the HR patch), an unweighted low-frequency L1 on the generated half, and an
adversarial loss on the high frequencies of ``SR(x)`` against those of real HR patches (an
HR discriminator ``D_hr`` trained in stage 2, weight 0.01). Inference uses the SR network only.

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
* The domain-distance map is used directly as a per-pixel weight of the stage-2 pixel L1,
  up-sampled bilinearly to the HR patch as the reference does.
* Stage 2's adversarial loss judges only SR of *real* target LR (the reference's
  ``netD_target`` on ``fake_SR_Hf_target``) against unpaired HR patches.

Adapted to thin-slab MRI and to the benchmark's shared set-up (UDEAN paper, Sec. III.B: all
baselines share generators, discriminators and training set-up):

* ``G_d`` is UDEAN's degradation path built from the shared parts: a
  :class:`~methods.networks.DownsamplingEncoder` (``3·sz`` HR slices → ``encoder_feats``
  features on the LR grid) followed by a TS-RCAN decoder (features → 3 LR slices, scale 1×1).
  The original's ResNet ends in a sigmoid; ours is linear, because k-space-truncated LR may
  ring slightly outside ``[0, 1]``. The SR network is the shared TS-RCAN
  (:func:`~methods.networks.ts_rcan_from_profile`, with the profile's global skip).
* ``G_d``'s skip (profile key ``dasr_down_skip``, by default the profile's ``global_skip``:
  on in ``quick``/``tiny``, off in ``paper``): the decimated input (HR voxel ``s·j`` for LR
  voxel ``j``, every ``sz``-th slice, the k-space truncation grid) is added to ``G_d``'s
  output, the down-sampling counterpart of the SR path's linear skip. Stage 2 learns only from
  ``G_d``'s output, so DASR depends on ``G_d`` more than the one-stage methods do on their
  down paths: on the demo (2×2×2, quick, unpaired) 150 stage-1 steps without the skip left
  ``G_d`` at 14.6 dB against the true LR (validation) and the SR at SSIM 0.66 / 29.6 dB;
  with it ``G_d`` reached 32.0 dB and the SR SSIM 0.90 / 30.1 dB. The paper profile keeps
  the plain shared network.
* "Plain down-scaling" is the protocol's 3D k-space truncation: each source HR volume is
  cropped to a multiple of the scale and truncated once with
  :func:`~benchmark.protocol.degradations.kspace_truncate` (lazily, on first use), and stage 1
  cuts aligned (HR, clean LR) patch pairs from it (HR corner = LR corner × scale). This is the
  degradation the target LR was actually made with, rather than a patch-wise FFT that would
  add wrap-around at patch borders.
* Discriminators: the shared :class:`~methods.networks.VGGDiscriminator` for ``D_lr`` (on LR
  slabs, 3 channels) and ``D_hr`` (on HR slabs, ``3·sz`` channels). The original stage-1
  discriminator is a small per-pixel network (three 5×5 convs 64/128/256 with LeakyReLU and
  batch norm, a 1×1 conv, sigmoid); stage 2 uses a PatchGAN (``discriminator_patch``).
* Adversarial losses are least-squares (LSGAN, targets 1 real / 0 fake on raw scores), the
  shared set-up's; the original uses the vanilla GAN (sigmoid + binary cross-entropy) in both
  stages.
* Domain-distance map normalisation: the original map is a sigmoid probability in ``[0, 1]``.
  With LSGAN raw scores, whose targets are 0 (generated) and 1 (real), the map is the raw
  score clamped to ``[0, 1]``: the LSGAN-optimal discriminator with these targets is
  ``p_real / (p_real + p_generated)``, the same probability the vanilla GAN's sigmoid
  estimates (a sigmoid of the raw score would squash the 0…1 target range into 0.5…0.73).
  The original spreads each score over its receptive field and averages; we up-sample the
  clamped score map bilinearly (``align_corners=False``) to the LR or HR patch, a smooth
  stand-in for the same spreading. The map is computed on the fly for each generated patch
  (``G_d`` and ``D_lr`` are frozen, so this equals precomputing it as the original does).
* No perceptual loss in either stage: the original uses LPIPS (or VGG features), which need
  pretrained ImageNet weights that cannot be downloaded here; the shared VGG discriminator
  is not a feature extractor. Its weights (0.01 in stage 1, 1 in stage 2) are dropped.
* High frequencies go to the discriminators as ``x − LF(x)``, without the original's
  ``0.5 + 0.5·(x − LF(x))`` rescaling (a fixed affine map the first conv absorbs). The
  low-pass pads by edge replication (the original pads the discriminator's filter with zeros
  and the fidelity loss's filter not at all); replication keeps every map the patch's size and
  adds no dark border.
* Schedule: each stage is one run of the shared :class:`~benchmark.trainer.Trainer` (Adam
  β = (0.9, 0.99), ε = 1e-8, cosine ``lr_max → lr_min`` over the stage's steps; the original
  stage 1 uses β1 = 0.5 and linear decay, stage 2 1e-5 with steps). The profile's
  ``epochs × steps_per_epoch`` steps are split: the first ``dasr_stage1_fraction`` (0.5) for
  stage 1, the rest for stage 2.
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

Profile keys (defaults): ``dasr_stage1_fraction`` 0.5, ``dasr_lf_kernel`` 5,
``dasr_stage1_lf_weight`` 1, ``dasr_stage1_adv_weight`` 0.005, ``dasr_pixel_weight`` 1,
``dasr_lf_weight`` 1, ``dasr_adv_weight`` 0.01, ``dasr_use_ddm`` True (False: unweighted pixel
L1, the reference's ``multiweights: false``), ``dasr_down_skip`` = ``global_skip``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.method import Method
from benchmark.metrics import psnr
from benchmark.plugins import METHODS
from benchmark.profiles import Profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.protocol.patches import crop, random_patch_corner
from benchmark.run_context import RunContext
from benchmark.scale import Scale
from benchmark.settings import Setting, boolean, declare, integer, number
from benchmark.slabs import to_slabs
from benchmark.trainer import Trainer, total_steps
from benchmark.training_data import TrainingData, VolumePair
from methods.frozen import frozen
from methods.losses import l1_loss, lsgan_discriminator_loss, lsgan_generator_loss
from methods.networks import (
    DownsamplingEncoder,
    VGGDiscriminator,
    ts_rcan_decoder_from_profile,
    ts_rcan_from_profile,
)
from methods.thin_slab import PatchSampler, ThinSlabMethod, validate_network

STAGE1_FRACTION = 0.5
LF_KERNEL = 5
STAGE1_LF_WEIGHT = 1.0
STAGE1_ADV_WEIGHT = 0.005
PIXEL_WEIGHT = 1.0
LF_WEIGHT = 1.0
ADV_WEIGHT = 0.01

declare(
    Setting("dasr_lf_kernel", integer(1), "box-filter size of the low-frequency loss (pixels)", owner="dasr"),
    Setting("dasr_stage1_lf_weight", number(0), "stage 1 low-frequency weight", owner="dasr"),
    Setting("dasr_stage1_adv_weight", number(0), "stage 1 adversarial weight", owner="dasr"),
    Setting("dasr_pixel_weight", number(0), "stage 2 pixel weight", owner="dasr"),
    Setting("dasr_lf_weight", number(0), "stage 2 low-frequency weight", owner="dasr"),
    Setting("dasr_adv_weight", number(0), "stage 2 adversarial weight", owner="dasr"),
    Setting("dasr_use_ddm", boolean(), "weight stage 2 by the domain-distance map", owner="dasr"),
    Setting("dasr_stage1_fraction", number(0, 1, open_min=True), "share of steps for stage 1", owner="dasr"),
    Setting("dasr_down_skip", boolean(), "down-sampling network adds a sampling skip", owner="dasr"),
)


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


# ----------------------------------------------------------------------------- filters
def gaussian_kernel2d(size: int = LF_KERNEL) -> torch.Tensor:
    """Normalised 2D Gaussian ``(size, size)`` with σ = size / 6, as DASR's ``GaussianFilter``."""
    if size < 1:
        raise ValueError(f"the low-pass kernel needs at least one tap, got {size}")
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    sigma = size / 6.0
    axis = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = axis[:, None] * axis[None, :]
    return (kernel / kernel.sum()).float()


def low_pass(x: torch.Tensor, size: int = LF_KERNEL) -> torch.Tensor:
    """In-plane Gaussian low-pass of every channel, edge-replicated borders.

    Args:
        x: slabs ``(B, C, H, W)``.
        size: kernel taps (odd), default 5.

    Returns:
        ``(B, C, H, W)``, the same dtype as ``x``.
    """
    channels = x.shape[1]
    weight = gaussian_kernel2d(size).to(device=x.device, dtype=x.dtype).expand(channels, 1, size, size)
    pad = size // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), weight, groups=channels)


def high_pass(x: torch.Tensor, size: int = LF_KERNEL) -> torch.Tensor:
    """High frequencies ``x − LF(x)`` of slabs ``(B, C, H, W)`` → ``(B, C, H, W)``."""
    return x - low_pass(x, size)


def domain_distance_map(
    discriminator: nn.Module, lr_fake: torch.Tensor, size: Sequence[int], lf_kernel: int = LF_KERNEL
) -> torch.Tensor:
    """DASR's domain-distance map of generated LR slabs, on a grid of ``size`` pixels.

    The stage-1 discriminator scores the high frequencies of each generated LR slab; the raw
    LSGAN scores (target 1 = real target domain, 0 = generated) are clamped to ``[0, 1]`` and
    up-sampled bilinearly. Computed without gradients.

    Args:
        discriminator: the stage-1 LR discriminator ``(B, 3, h, w) → (B, 1, h', w')``.
        lr_fake: generated LR slabs ``(B, 3, h, w)``.
        size: ``(H, W)`` of the map: ``(h, w)`` for the LR patch, ``(sx·h, sy·w)`` for the HR patch.
        lf_kernel: taps of the Gaussian low-pass.

    Returns:
        ``(B, 1, H, W)`` float32 in ``[0, 1]``; higher = closer to the target domain.
    """
    with torch.no_grad():
        scores = discriminator(high_pass(lr_fake.float(), lf_kernel)).float().clamp(0, 1)
        return F.interpolate(scores, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)


# ----------------------------------------------------------------------------- networks
class DownsamplingNetwork(nn.Module):
    """``G_d``: HR slab ``(B, 3·sz, sx·h, sy·w)`` → LR slab ``(B, 3, h, w)``.

    Args:
        encoder: :class:`~methods.networks.DownsamplingEncoder`, HR slab → ``(B, C, h, w)``.
        decoder: TS-RCAN decoder at scale 1×1, ``(B, C, h, w)`` → ``(B, 3, h, w)``.
        scale: the cell's scale.
        skip: add the decimated input (HR voxel ``s·j`` for LR voxel ``j``, every ``sz``-th
            slice) to the output, so that the network learns a residual over plain sampling.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, scale: Scale, skip: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.factors = scale.factors
        self.skip = skip

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        out = self.decoder(self.encoder(hr))
        if self.skip:
            sx, sy, sz = self.factors
            out = out + hr[:, ::sz, ::sx, ::sy]
        return out


def downsampling_network(profile: Profile, scale: Scale) -> DownsamplingNetwork:
    """``G_d`` sized by ``profile``: HR slab ``(B, 3·sz, sx·h, sy·w)`` → LR slab ``(B, 3, h, w)``.

    A :class:`~methods.networks.DownsamplingEncoder` (``encoder_feats`` features on the LR grid)
    followed by a TS-RCAN decoder at scale 1×1 (UDEAN's degradation path); with the profile key
    ``dasr_down_skip`` (default: the profile's ``global_skip``) plus the decimated input.
    """
    sx, sy, sz = scale.factors
    feats = int(profile["encoder_feats"])
    return DownsamplingNetwork(
        DownsamplingEncoder(in_slices=3 * sz, scale=(sx, sy), feats=feats),
        ts_rcan_decoder_from_profile(profile, feats, 3, (1, 1)),
        scale,
        skip=bool(profile.get("dasr_down_skip", profile.get("global_skip", False))),
    )


def downsampling_psnr(
    network: nn.Module, pairs: Sequence[VolumePair], scale: Scale, crop_size: Sequence[int], device: torch.device
) -> float:
    """Mean PSNR (dB) of ``G_d`` on the HR of a central crop of each validation pair against its LR.

    The LR crop ``crop_size`` (clipped to the volume, Z to a multiple of 3) and the HR block
    over it are cut; the HR block is split into slabs of ``3·sz`` slices, each mapped to 3 LR
    slices. Pairs whose LR has fewer than 3 slices are skipped; ``nan`` when none is left.
    """
    sx, sy, sz = scale.factors
    values = []
    was_training = network.training
    network.eval()
    try:
        for pair in pairs:
            lr = pair.lr.data
            size = [min(c, n) for c, n in zip(crop_size, lr.shape)]
            size[2] -= size[2] % 3
            if size[2] == 0:
                continue
            corner = [(n - c) // 2 for n, c in zip(lr.shape, size)]
            lr_crop = lr[tuple(slice(o, o + c) for o, c in zip(corner, size))]
            hr_crop = pair.hr.data[tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))]
            n_slabs = size[2] // 3
            hr = torch.from_numpy(np.ascontiguousarray(hr_crop)).reshape(size[0] * sx, size[1] * sy, n_slabs, 3 * sz)
            with torch.no_grad():
                out = network(hr.permute(2, 3, 0, 1).contiguous().to(device)).float().cpu()  # (n, 3, x, y)
            generated = out.permute(2, 3, 0, 1).reshape(size[0], size[1], size[2])
            values.append(psnr(generated, torch.from_numpy(np.ascontiguousarray(lr_crop))))
    finally:
        network.train(was_training)
    return float(np.mean(values)) if values else float("nan")


# ----------------------------------------------------------------------------- stage 1
class DownsamplingPlan:
    """Stage 1: train ``G_d`` (``"down"``) against the LR discriminator ``D_lr`` (``"d_lr"``).

    Args:
        down: ``G_d``, HR slab → LR slab.
        d_lr: LR discriminator on high frequencies of LR slabs.
        source_hr: source HR volumes ``(X, Y, Z)``.
        target_lr: target LR volumes ``(X/sx, Y/sy, Z/sz)``.
        validation: validation pairs.
        scale: the cell's scale.
        profile: the run's profile (patch size, batch size, ``dasr_*`` weights).
        device: training device.
    """

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["down"], "discriminator": ["d_lr"]}

    def __init__(
        self,
        down: nn.Module,
        d_lr: nn.Module,
        source_hr: Sequence[np.ndarray],
        target_lr: Sequence[np.ndarray],
        validation: Sequence[VolumePair],
        scale: Scale,
        profile: Profile,
        device: torch.device,
    ) -> None:
        self.networks: dict[str, nn.Module] = {"down": down, "d_lr": d_lr}
        # Cropping to a multiple of the scale is a view; the clean LR is made on first use.
        self.source_hr = [v[tuple(slice(0, n) for n in scale.crop_to_multiple(v.shape))] for v in source_hr]
        self._clean_lr: dict[int, np.ndarray] = {}
        self.target_lr = list(target_lr)
        self.validation = list(validation)
        self.scale = scale
        self.profile = profile
        self.device = device
        self.sampler = PatchSampler(profile["lr_patch"], scale)
        self.weights = DASRWeights.from_profile(profile)

    def clean_lr(self, index: int) -> np.ndarray:
        """Plain down-scaling (3D k-space truncation) of source HR volume ``index``, cached."""
        if index not in self._clean_lr:
            self._clean_lr[index] = kspace_truncate(self.source_hr[index], self.scale)
        return self._clean_lr[index]

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """HR slabs ``(B, 3·sz, H, W)``, their clean LR ``(B, 3, h, w)``, target LR slabs ``(B, 3, h, w)``."""
        n = int(self.profile["batch_size"])
        lr_patch, hr_patch = self.sampler.lr_patch, self.sampler.hr_patch
        hr_patches, clean_patches = [], []
        for _ in range(n):
            index = int(rng.integers(len(self.source_hr)))
            clean = self.clean_lr(index)
            corner = random_patch_corner(clean.shape, lr_patch, rng)  # type: ignore[arg-type]
            hr_corner = tuple(c * f for c, f in zip(corner, self.scale.factors))
            clean_patches.append(crop(clean, corner, lr_patch))  # type: ignore[arg-type]
            hr_patches.append(crop(self.source_hr[index], hr_corner, hr_patch))  # type: ignore[arg-type]
        hr = to_slabs(torch.from_numpy(np.stack(hr_patches)))
        clean = to_slabs(torch.from_numpy(np.stack(clean_patches)))
        return hr, clean, self.sampler.lr_slabs(self.target_lr, n, rng)

    def generator_losses(
        self, hr: torch.Tensor, clean: torch.Tensor, trainer: Trainer | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``G_d``'s loss terms on one batch, and the generated LR slabs.

        Args:
            hr: HR slabs ``(B, 3·sz, H, W)`` on the device.
            clean: their plain down-scaling ``(B, 3, h, w)``.
            trainer: for mixed precision; ``None`` runs in full precision.

        Returns:
            ``({"lf", "adv", "total"}, fake (B, 3, h, w))``; losses are float32 scalars.
        """
        w = self.weights
        with _autocast(trainer), frozen(self.networks["d_lr"]):
            fake = self.networks["down"](hr)
            d_fake = self.networks["d_lr"](high_pass(fake, w.lf_kernel))
        fake = fake.float()
        lf = l1_loss(low_pass(fake, w.lf_kernel), low_pass(clean.float(), w.lf_kernel))
        adv = lsgan_generator_loss(d_fake.float())
        return {"lf": lf, "adv": adv, "total": w.stage1_lf * lf + w.stage1_adv * adv}, fake

    def discriminator_loss(
        self, real: torch.Tensor, fake: torch.Tensor, trainer: Trainer | None = None
    ) -> torch.Tensor:
        """LSGAN loss of ``D_lr`` on high frequencies: real target LR vs generated LR (detached)."""
        return high_frequency_discriminator_loss(self.networks["d_lr"], real, fake, self.weights.lf_kernel, trainer)

    def train_step(self, batch: tuple[torch.Tensor, ...], trainer: Trainer) -> dict[str, float]:
        """One generator step on ``G_d``, then one discriminator step on ``D_lr``."""
        hr, clean, real = (t.to(self.device, non_blocking=True) for t in batch)
        terms, fake = self.generator_losses(hr, clean, trainer)
        trainer.update("generator", terms["total"])
        d_loss = self.discriminator_loss(real, fake, trainer)
        trainer.update("discriminator", d_loss)
        return {"g": terms["total"].item(), "lf": terms["lf"].item(), "adv": terms["adv"].item(), "d": d_loss.item()}

    def validate(self) -> dict[str, float]:
        """``{"lr_psnr"}``: PSNR of ``G_d`` on the validation HR crops against their LR."""
        crop_size = tuple(self.profile.get("val_crop", (48, 48, 12)))
        psnr = downsampling_psnr(self.networks["down"], self.validation, self.scale, crop_size, self.device)
        return {"lr_psnr": psnr}


# ----------------------------------------------------------------------------- stage 2
class SuperResolutionPlan:
    """Stage 2: train the SR network (``"sr"``) and the HR discriminator (``"d_hr"``); ``G_d``, ``D_lr`` frozen.

    ``G_d`` and ``D_lr`` run without gradients and in whatever mode they are in (neither has
    batch norm or dropout); building this plan changes nothing in them.

    Args:
        sr: the SR network, LR slab → HR slab.
        d_hr: HR discriminator on high frequencies of HR slabs.
        down: trained ``G_d`` (frozen here).
        d_lr: trained stage-1 discriminator (frozen here), for the domain-distance map.
        source_hr: source HR volumes ``(X, Y, Z)``.
        target_lr: target LR volumes.
        validation: validation pairs.
        scale: the cell's scale.
        profile: the run's profile.
        device: training device.
    """

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["sr"], "discriminator": ["d_hr"]}

    def __init__(
        self,
        sr: nn.Module,
        d_hr: nn.Module,
        down: nn.Module,
        d_lr: nn.Module,
        source_hr: Sequence[np.ndarray],
        target_lr: Sequence[np.ndarray],
        validation: Sequence[VolumePair],
        scale: Scale,
        profile: Profile,
        device: torch.device,
    ) -> None:
        self.networks: dict[str, nn.Module] = {"sr": sr, "d_hr": d_hr}
        # Frozen: they run only under no_grad here and belong to no optimiser of this plan.
        self.down, self.d_lr = down, d_lr
        self.source_hr = list(source_hr)
        self.target_lr = list(target_lr)
        self.validation = list(validation)
        self.scale = scale
        self.profile = profile
        self.device = device
        self.sampler = PatchSampler(profile["lr_patch"], scale)
        self.weights = DASRWeights.from_profile(profile)

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Source HR slabs ``(B, 3·sz, H, W)`` to degrade, target LR ``(B, 3, h, w)``, unpaired HR slabs."""
        n = int(self.profile["batch_size"])
        hr = self.sampler.hr_slabs(self.source_hr, n, rng)
        real = self.sampler.lr_slabs(self.target_lr, n, rng)
        return hr, real, self.sampler.hr_slabs(self.source_hr, n, rng)

    def generated_pairs(self, hr: torch.Tensor, trainer: Trainer | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated LR ``G_d(hr)`` ``(B, 3, h, w)`` and its domain-distance map on the HR grid ``(B, 1, H, W)``."""
        with torch.no_grad(), _autocast(trainer):
            fake = self.down(hr).float()
        return fake, domain_distance_map(self.d_lr, fake, hr.shape[-2:], self.weights.lf_kernel)

    def generator_losses(
        self, hr: torch.Tensor, real: torch.Tensor, trainer: Trainer | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The SR network's loss terms on one batch, and ``SR(real)``.

        Args:
            hr: source HR slabs ``(B, 3·sz, H, W)`` (degraded here by the frozen ``G_d``).
            real: target LR slabs ``(B, 3, h, w)``.
            trainer: for mixed precision; ``None`` runs in full precision.

        Returns:
            ``({"pixel", "lf", "adv", "ddm", "total"}, SR(real) (B, 3·sz, H, W))``; ``ddm`` is
            the batch's mean domain-distance weight (a number to log, no gradient).
        """
        w = self.weights
        fake_lr, ddm = self.generated_pairs(hr, trainer)
        n = fake_lr.shape[0]
        with _autocast(trainer), frozen(self.networks["d_hr"]):
            sr = self.networks["sr"](torch.cat([fake_lr, real], dim=0))
            sr_fake, sr_real = sr[:n], sr[n:]
            d_sr = self.networks["d_hr"](high_pass(sr_real, w.lf_kernel))
        sr_fake, sr_real = sr_fake.float(), sr_real.float()
        hr = hr.float()
        error = (sr_fake - hr).abs()
        pixel = (ddm * error).mean() if w.use_ddm else error.mean()
        lf = l1_loss(low_pass(sr_fake, w.lf_kernel), low_pass(hr, w.lf_kernel))
        adv = lsgan_generator_loss(d_sr.float())
        total = w.pixel * pixel + w.lf * lf + w.adv * adv
        return {"pixel": pixel, "lf": lf, "adv": adv, "ddm": ddm.mean(), "total": total}, sr_real

    def discriminator_loss(
        self, hr_real: torch.Tensor, sr_real: torch.Tensor, trainer: Trainer | None = None
    ) -> torch.Tensor:
        """LSGAN loss of ``D_hr`` on high frequencies: real HR vs SR of target LR (detached)."""
        return high_frequency_discriminator_loss(
            self.networks["d_hr"], hr_real, sr_real, self.weights.lf_kernel, trainer
        )

    def train_step(self, batch: tuple[torch.Tensor, ...], trainer: Trainer) -> dict[str, float]:
        """One generator step on the SR network, then one discriminator step on ``D_hr``."""
        hr, real, hr_unpaired = (t.to(self.device, non_blocking=True) for t in batch)
        terms, sr_real = self.generator_losses(hr, real, trainer)
        trainer.update("generator", terms["total"])
        d_loss = self.discriminator_loss(hr_unpaired, sr_real, trainer)
        trainer.update("discriminator", d_loss)
        return {
            "g": terms["total"].item(),
            "pixel": terms["pixel"].item(),
            "lf": terms["lf"].item(),
            "adv": terms["adv"].item(),
            "ddm": terms["ddm"].item(),
            "d": d_loss.item(),
        }

    def validate(self) -> dict[str, float]:
        """``{"psnr"}`` of the SR network on the validation crops."""
        return validate_network(self.networks["sr"], self.validation, self.scale, self.profile, self.device)


def high_frequency_discriminator_loss(
    discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, kernel: int, trainer: Trainer | None
) -> torch.Tensor:
    """LSGAN loss of a discriminator that sees only high frequencies ``x − LF(x)`` of slabs (fakes detached)."""
    with _autocast(trainer):
        d_real = discriminator(high_pass(real, kernel))
        d_fake = discriminator(high_pass(fake.detach(), kernel))
    return lsgan_discriminator_loss(d_real.float(), d_fake.float())


def _autocast(trainer: Trainer | None) -> AbstractContextManager[Any]:
    """The trainer's autocast context, or a no-op without a trainer."""
    return trainer.autocast() if trainer is not None else nullcontext()


def stage_steps(total: int, fraction: float) -> tuple[int, int]:
    """Split ``total`` steps into (stage 1, stage 2), each at least 1, stage 1 ≈ ``fraction · total``."""
    if total < 2:
        raise ValueError(f"DASR needs at least 2 training steps (one per stage), got {total}")
    first = min(max(round(fraction * total), 1), total - 1)
    return first, total - first


# ----------------------------------------------------------------------------- method
@METHODS.register(
    "dasr",
    summary="DASR (Wei et al., CVPR 2021): learned down-sampling, then domain-distance weighted SR training.",
)
class DASR(ThinSlabMethod):
    """DASR: stage 1 learns the target degradation ``G_d``, stage 2 trains TS-RCAN on ``G_d``'s pairs."""

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        """``sr`` (TS-RCAN), ``down`` (``G_d``), ``d_lr`` and ``d_hr`` (VGG-style discriminators)."""
        sz = scale.sz
        lr_side = int(profile["lr_patch"][0])
        feats = int(profile["disc_feats"])
        return {
            "sr": ts_rcan_from_profile(profile, scale),
            "down": downsampling_network(profile, scale),
            "d_lr": VGGDiscriminator(3, feats=feats, patch_size=lr_side),
            "d_hr": VGGDiscriminator(3 * sz, feats=feats, patch_size=lr_side * scale.sx),
        }

    def inference_network(self) -> nn.Module:
        return self.networks["sr"]

    def stage1_plan(self, data: TrainingData) -> DownsamplingPlan:
        """The stage-1 plan on the cell's source HR and target LR."""
        return DownsamplingPlan(
            self.networks["down"],
            self.networks["d_lr"],
            [v.data for v in data.source_hr],
            [v.data for v in data.target_lr],
            data.validation,
            self.scale,
            self.profile,
            self.device,
        )

    def stage2_plan(self, data: TrainingData) -> SuperResolutionPlan:
        """The stage-2 plan; ``down`` and ``d_lr`` only run under ``no_grad`` in it."""
        return SuperResolutionPlan(
            self.networks["sr"],
            self.networks["d_hr"],
            self.networks["down"],
            self.networks["d_lr"],
            [v.data for v in data.source_hr],
            [v.data for v in data.target_lr],
            data.validation,
            self.scale,
            self.profile,
            self.device,
        )

    def fit(self, data: TrainingData, run: RunContext) -> None:
        """Stage 1, then stage 2, each a shared :class:`~benchmark.trainer.Trainer` run with its own folders."""
        Method.fit(self, data, run)
        for net in self.networks.values():
            net.to(run.device)
        steps = total_steps(self.profile, [v.shape for v in data.target_lr])
        first, second = stage_steps(steps, float(self.profile.get("dasr_stage1_fraction", STAGE1_FRACTION)))
        stages = (
            ("stage1", self.stage1_plan, first, "DASR stage 1 (down-sampling)"),
            ("stage2", self.stage2_plan, second, "DASR stage 2 (SR)"),
        )
        for folder, make_plan, n_steps, description in stages:
            stage_run = dataclasses.replace(
                run, cell_dir=run.cell_dir / folder, checkpoint_dir=run.checkpoint_dir / folder
            )
            stage_run.cell_dir.mkdir(parents=True, exist_ok=True)
            Trainer(make_plan(data), stage_run, n_steps, description=description).fit()
