"""The HR → LR generator shared by the methods that learn a degradation (CycleGAN, UDEAN, DASR).

UDEAN's degradation path (paper Sec. II.B, Fig. 2): the down-sampling feature extractor
(:class:`~methods.networks.DownsamplingEncoder`, HR slab → ``encoder_feats`` features on the LR
grid, the through-plane reduction by taking the ``3·sz`` HR slices as input channels) followed
by a TS-RCAN decoder at 1×1 to the 3 LR slices. CycleGAN uses it as its HR → LR generator, DASR
as its down-sampling network ``G_d``; UDEAN keeps its two halves as two networks, because its
losses need the features between them.

Optional sampling skip (DASR's ``dasr_down_skip``): the decimated input (HR voxel ``s·j`` for
LR voxel ``j``, every ``sz``-th slice, the k-space truncation grid) is added to the output, the
down-sampling counterpart of the SR paths' interpolation skip; the network then learns a residual over
plain sampling.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.api import SLAB_DEPTH, Profile, Scale, hr_slab_depth
from methods.networks.encoders import DownsamplingEncoder
from methods.networks.ts_rcan import ts_rcan_decoder_from_profile


class DownsamplingGenerator(nn.Module):
    """HR slab → LR slab: encoder, decoder on the LR grid, and optionally the decimated input.

    Args:
        encoder: ``(B, 3·sz, sx·h, sy·w) -> (B, C, h, w)``, a :class:`~methods.networks.DownsamplingEncoder`.
        decoder: ``(B, C, h, w) -> (B, 3, h, w)``, a TS-RCAN decoder at scale 1×1.
        scale: the cell's scale (the decimation of the skip).
        skip: add ``hr[:, ::sz, ::sx, ::sy]`` to the output; default False.

    Shapes:
        ``(B, 3·sz, sx·h, sy·w) -> (B, 3, h, w)``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, scale: Scale, skip: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.factors = scale.factors
        self.skip = skip

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        out = self.decoder(self.encoder(hr))
        return out + sample_slab(hr, self.factors) if self.skip else out


def sample_slab(hr: torch.Tensor, factors: tuple[int, int, int]) -> torch.Tensor:
    """The sampling skip: HR slabs ``(B, 3·sz, sx·h, sy·w)`` decimated to ``(B, 3, h, w)``.

    LR voxel ``j`` takes HR voxel ``s·j`` on every axis (every ``sz``-th slice), the grid of the
    k-space truncation (LR voxel ``j`` sits at HR position ``j·s``).
    """
    sx, sy, sz = factors
    return hr[:, ::sz, ::sx, ::sy]


def downsampling_generator_from_profile(profile: Profile, scale: Scale, skip: bool = False) -> DownsamplingGenerator:
    """The HR → LR generator sized by a profile (``encoder_feats`` and the TS-RCAN sizes); encoder built first.

    Args:
        profile: the run's profile.
        scale: the cell's scale.
        skip: add the decimated input to the output (see the module docstring); default False.

    Returns:
        ``(B, 3·sz, sx·h, sy·w) -> (B, 3, h, w)``.
    """
    feats = int(profile["encoder_feats"])
    encoder = DownsamplingEncoder(in_slices=hr_slab_depth(scale), scale=(scale.sx, scale.sy), feats=feats)
    return DownsamplingGenerator(encoder, ts_rcan_decoder_from_profile(profile, feats, SLAB_DEPTH), scale, skip)
