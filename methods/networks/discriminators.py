"""VGG-style patch discriminator shared by every adversarial method.

Followed: the VGG-style discriminator of SRGAN/ESRGAN (BasicSR ``VGGStyleDiscriminator``):
blocks of [3×3 conv → LeakyReLU(0.2), strided conv → LeakyReLU(0.2)], channels doubling from
``feats`` up to ``8·feats``.

Adapted:

* Fully convolutional, no dense layers: the network ends in a 3×3 conv to one channel and
  returns a patch-wise score map, so one discriminator serves LR slabs (64×64), HR slabs
  (128×128), feature maps and 8×8 test patches alike. Before that head a stride-1 block
  lifts the channels to ``min(2^n_down·feats, 8·feats)``, as PatchGAN does.
* Strided convs are 3×3, stride 2, padding 1, so every stage maps ``n`` pixels to
  ``ceil(n / 2)``: any input of at least 1×1 works, at most ``n_down`` halvings.
* ``n_down`` (the number of stride-2 stages) is fixed at construction; by default it comes
  from the patch size, ``clamp(floor(log2(patch_size / 8)), 1, 4)``, which keeps an 8×8
  score map for patches of 16 to 128 pixels (the LR and HR discriminators then judge
  proportionally equal regions) and gives 4×4 for 8×8 patches; without a patch size it is 3.
* No normalisation by default (``norm=None``): batches are small (8 in the paper, 2 in
  tests), the last maps of a small patch are 1×1 (batch norm fails in training mode with one
  sample), and real and fake batches pass separately, so batch statistics would leak
  between samples. ``norm="batch"`` (ESRGAN) and ``norm="instance"`` are available; instance
  norm needs every stage's map to have more than one pixel (inputs of at least
  ``2^(n_down + 1)`` pixels a side).
* Raw scores, no sigmoid: the losses are least-squares (targets 1 for real and 0 for fake,
  see :mod:`methods.losses.adversarial`), and UDEAN's degradation-adaptation losses push raw
  scores to 0.5, the midpoint of those targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from benchmark.api import Profile

LEAKY_SLOPE = 0.2


def _norm(kind: str | None, channels: int) -> nn.Module:
    if kind is None or kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown discriminator norm '{kind}'; use None, 'batch' or 'instance'")


def auto_n_down(patch_size: int | None) -> int:
    """Stride-2 stages for a patch side of ``patch_size`` pixels: ``clamp(floor(log2(size / 8)), 1, 4)``; 3 if None."""
    if patch_size is None:
        return 3
    return max(1, min(4, math.floor(math.log2(max(patch_size, 1) / 8))))


class VGGDiscriminator(nn.Module):
    """VGG-style fully convolutional discriminator with a patch-wise score map.

    Args:
        in_channels: input channels (``M`` or ``M·sz`` slices, or ``C`` feature channels).
        feats: channels of the first block, default 64; doubled per stage up to ``8·feats``.
        n_down: stride-2 stages; None (default) picks :func:`auto_n_down` of ``patch_size``.
        patch_size: the in-plane patch side the discriminator will mostly see, used only
            when ``n_down`` is None.
        norm: None (default), ``"batch"`` or ``"instance"``; never on the first conv.

    Shapes:
        ``(B, in_channels, H, W) -> (B, 1, ceil(H / 2^n_down), ceil(W / 2^n_down))``, raw scores.
    """

    def __init__(
        self,
        in_channels: int,
        feats: int = 64,
        n_down: int | None = None,
        patch_size: int | None = None,
        norm: str | None = None,
    ) -> None:
        super().__init__()
        self.n_down = auto_n_down(patch_size) if n_down is None else int(n_down)
        if self.n_down < 0:
            raise ValueError("n_down must be non-negative")
        layers: list[nn.Module] = []
        channels_in = in_channels
        for stage in range(self.n_down):
            channels = min(feats * 2**stage, feats * 8)
            layers += [nn.Conv2d(channels_in, channels, 3, padding=1)]
            layers += [] if stage == 0 else [_norm(norm, channels)]
            layers += [nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
            layers += [nn.Conv2d(channels, channels, 3, stride=2, padding=1), _norm(norm, channels)]
            layers += [nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
            channels_in = channels
        channels = min(feats * 2**self.n_down, feats * 8)
        layers += [nn.Conv2d(channels_in, channels, 3, padding=1)]
        layers += [] if self.n_down == 0 else [_norm(norm, channels)]
        layers += [nn.LeakyReLU(LEAKY_SLOPE, inplace=True), nn.Conv2d(channels, 1, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def slab_discriminator(profile: Profile, in_channels: int, inplane_scale: Sequence[int] = (1, 1)) -> VGGDiscriminator:
    """The one discriminator construction of every adversarial method, sized by the profile.

    ``disc_feats`` channels in the first block; the stride-2 stages follow the smaller in-plane
    side of the patches it judges, ``min(sx·px, sy·py)`` for the LR patch ``(px, py, 3)``.
    (DASR used to size from ``px`` and ``sx·px`` alone: every profile's ``lr_patch`` is square, so
    that is the same network whenever ``sx ≤ sy``, which holds for every scale of the paper;
    only for ``sx > sy`` does its HR discriminator now get the other methods' depth.)

    Args:
        profile: the run's profile (``lr_patch``, ``disc_feats``).
        in_channels: 3 for LR slabs, ``3·sz`` for HR slabs, ``C`` for feature maps.
        inplane_scale: ``(sx, sy)`` for inputs on the HR grid, ``(1, 1)`` (default) on the LR grid.

    Returns:
        ``(B, in_channels, H, W) -> (B, 1, H', W')`` raw patch scores.
    """
    px, py = (int(p) for p in profile["lr_patch"][:2])
    sx, sy = (int(s) for s in inplane_scale)
    return VGGDiscriminator(in_channels, int(profile["disc_feats"]), patch_size=min(px * sx, py * sy))
