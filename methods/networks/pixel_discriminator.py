"""Per-pixel discriminator: one score for every input pixel (DASR's stage-1 discriminator).

Followed: the frequency-separation discriminator ``DiscriminatorBasic`` of DASR's down-sampling
stage (reference ``ShuhangGu/DASR``, ``codes/DSN/model.py``, ``--discriminator FSD``, from
FSSR): three 5×5 convs with stride 1 and padding 2 (``feats``, ``2·feats``, ``4·feats``
channels: 64/128/256 for ``feats = 64``), each followed by LeakyReLU(0.2), a normalisation
after the second and third (instance norm without affine parameters, the reference's default
``--norm_layer Instance``), and a 1×1 conv to one channel. Nothing is strided, so the score map
keeps the input's height and width: the domain-distance map is per pixel.

Adapted: raw scores, no sigmoid (the shared losses are least-squares; see
:mod:`methods.losses.adversarial`). ``norm=None`` drops the normalisation; the reference's other
option, batch norm, is left out: instance norm without running statistics behaves the same in
training and evaluation mode, so the frozen discriminator of DASR's stage 2 needs no mode.
"""

from __future__ import annotations

import torch
from torch import nn

from methods.networks.discriminators import LEAKY_SLOPE


def _norm(kind: str | None, channels: int) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # affine=False, no running statistics, as the reference
    raise ValueError(f"unknown norm '{kind}'; use 'instance' or None")


class PixelDiscriminator(nn.Module):
    """Fully convolutional discriminator without down-sampling: ``(B, C, H, W) → (B, 1, H, W)``.

    Args:
        in_channels: input channels (3 for LR slabs).
        feats: channels of the first conv, default 64; the second has ``2·feats``, the third ``4·feats``.
        kernel_size: side of the three convs, odd, default 5; padding ``kernel_size // 2`` (zeros).
        norm: ``"instance"`` (default) or None, after the second and third conv; instance norm
            needs more than one pixel per map in training.

    Attributes:
        receptive_field: side of the input square that one score sees, ``3·(kernel_size − 1) + 1``
            (13 for the default).

    Shapes:
        ``(B, in_channels, H, W) -> (B, 1, H, W)``, raw scores.
    """

    def __init__(self, in_channels: int, feats: int = 64, kernel_size: int = 5, norm: str | None = "instance") -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        pad = kernel_size // 2
        self.receptive_field = 3 * (kernel_size - 1) + 1
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, feats, kernel_size, padding=pad),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv2d(feats, 2 * feats, kernel_size, padding=pad),
            _norm(norm, 2 * feats),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv2d(2 * feats, 4 * feats, kernel_size, padding=pad),
            _norm(norm, 4 * feats),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
            nn.Conv2d(4 * feats, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
