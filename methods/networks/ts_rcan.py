"""TS-RCAN: the thin-slab ("pseudo-3D") RCAN shared by every learned method.

Followed (TS-RCAN, Li and Liu, arXiv:2111.14259, release ``HaoLiMRI/TS-RCAN``; RCAN ``model/rcan.py``;
docs/methods/backbone.md):
head 3×3 conv → ``n_resgroups`` residual groups of ``n_rcab`` RCABs → 3×3 conv → long skip
from the head → in-plane up-sampler (3×3 conv ``C → C·sx·sy`` + sub-pixel shuffle) → tail
3×3 conv to the output slices. A slab of ``M`` consecutive slices enters as ``M`` channels;
through-plane ×sz comes from ``M·sz`` output channels. No mean shift (commented out in the
release), no residual scaling, PyTorch's default initialisation.

Adapted:

* In-plane scale ``sx×sy`` in general, including ``sx ≠ sy``: one conv to ``C·sx·sy``
  channels and :func:`pixel_shuffle_2d`. RCAN splits ×4 and ×8 into ×2 stages; here the
  up-sampler is always one stage (identical to RCAN for ×2 and ×3, the paper's factors).
* Scale 1×1: no up-sampler at all; the network keeps the LR grid.
* :class:`TSRCANDecoder` takes any ``(B, C, h, w)`` input (encoder features for UDEAN's
  LR and SR decoders); :class:`TSRCAN` is that decoder with ``in_channels = M`` and
  ``out_slices = M·sz``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from benchmark.api import Profile, Scale
from methods.networks.channel_attention import ResidualGroup, conv3x3
from methods.networks.interpolation_skip import upsample_slab


def pixel_shuffle_2d(x: torch.Tensor, sx: int, sy: int) -> torch.Tensor:
    """Sub-pixel rearrangement with separate factors along the two grid axes.

    Channel ``c·sx·sy + i·sy + j`` of the input goes to the output pixel
    ``(sx·u + i, sy·v + j)`` of channel ``c``; for ``sx == sy == r`` this is exactly
    ``torch.nn.functional.pixel_shuffle(x, r)``.

    Args:
        x: ``(B, C·sx·sy, H, W)``.
        sx: factor along ``H`` (the volume's X axis).
        sy: factor along ``W`` (the volume's Y axis).

    Returns:
        ``(B, C, sx·H, sy·W)``.
    """
    b, channels, h, w = x.shape
    if channels % (sx * sy):
        raise ValueError(f"pixel_shuffle_2d: {channels} channels are not a multiple of {sx}·{sy}")
    c = channels // (sx * sy)
    x = x.reshape(b, c, sx, sy, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c, h * sx, w * sy)


class InPlaneUpsampler(nn.Module):
    """3×3 conv ``C → C·sx·sy`` followed by :func:`pixel_shuffle_2d`.

    Shapes:
        ``(B, C, h, w) -> (B, C, sx·h, sy·w)``.
    """

    def __init__(self, channels: int, sx: int, sy: int) -> None:
        super().__init__()
        self.sx, self.sy = sx, sy
        self.conv = conv3x3(channels, channels * sx * sy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle_2d(self.conv(x), self.sx, self.sy)


class TSRCANDecoder(nn.Module):
    """TS-RCAN body fed by an arbitrary ``C``-channel map (features or a slab).

    Args:
        in_channels: channels of the input map (encoder features ``C``, or ``M`` slices).
        out_slices: output channels, ``M·sz`` slices of the output slab.
        scale: in-plane factors ``(sx, sy)``; ``(1, 1)`` keeps the input grid. Default ``(2, 2)``.
        n_resgroups: residual groups, default 5.
        n_rcab: RCABs per group, default 5.
        n_feats: feature channels, default 64.
        reduction: channel-attention reduction, default 16.

    Shapes:
        ``(B, in_channels, h, w) -> (B, out_slices, sx·h, sy·w)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_slices: int,
        scale: Sequence[int] = (2, 2),
        n_resgroups: int = 5,
        n_rcab: int = 5,
        n_feats: int = 64,
        reduction: int = 16,
    ) -> None:
        super().__init__()
        sx, sy = (int(s) for s in scale)
        if sx < 1 or sy < 1:
            raise ValueError(f"in-plane scale factors must be positive, got {sx}x{sy}")
        self.in_channels, self.out_slices, self.inplane_scale = in_channels, out_slices, (sx, sy)
        self.head = conv3x3(in_channels, n_feats)
        body: list[nn.Module] = [ResidualGroup(n_feats, n_rcab, reduction) for _ in range(n_resgroups)]
        body.append(conv3x3(n_feats, n_feats))
        self.body = nn.Sequential(*body)
        self.upsample: nn.Module = nn.Identity() if sx == sy == 1 else InPlaneUpsampler(n_feats, sx, sy)
        self.tail = conv3x3(n_feats, out_slices)

    def start_at_zero(self) -> TSRCANDecoder:
        """Zero the last conv, so the untrained decoder outputs 0 and a skip added to it is the whole
        starting output (the body then learns a residual); in place."""
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        features = features + self.body(features)
        return self.tail(self.upsample(features))


class TSRCAN(TSRCANDecoder):
    """Thin-slab RCAN super-resolving a slab of ``M`` slices by ``sx×sy×sz``.

    Args:
        in_slices: ``M``, slices per slab, default 3.
        scale: ``(sx, sy, sz)`` or a :class:`~benchmark.scale.Scale`; default ``(2, 2, 2)``.
        n_resgroups, n_rcab, n_feats, reduction: as :class:`TSRCANDecoder` (paper: 5, 5, 64, 16).
        global_skip: add a fixed up-sampling of the input to the output (off in the paper
            profile; see :mod:`methods.networks.interpolation_skip`).
        skip_interpolation: that up-sampling's kernel, ``"cubic"`` (tricubic made local, default)
            or ``"linear"``.

    Shapes:
        ``(B, M, h, w) -> (B, M·sz, sx·h, sy·w)``.
    """

    def __init__(
        self,
        in_slices: int = 3,
        scale: Sequence[int] | Scale = (2, 2, 2),
        n_resgroups: int = 5,
        n_rcab: int = 5,
        n_feats: int = 64,
        reduction: int = 16,
        global_skip: bool = False,
        skip_interpolation: str = "cubic",
    ) -> None:
        sx, sy, sz = scale_factors(scale)
        super().__init__(in_slices, in_slices * sz, (sx, sy), n_resgroups, n_rcab, n_feats, reduction)
        self.scale = (sx, sy, sz)
        self.global_skip, self.skip_interpolation = global_skip, skip_interpolation
        if global_skip:  # start exactly at the fixed interpolation: the body then learns only the residual
            self.start_at_zero()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out + upsample_slab(x, self.scale, self.skip_interpolation) if self.global_skip else out


def scale_factors(scale: Sequence[int] | Scale) -> tuple[int, int, int]:
    """``(sx, sy, sz)`` of a :class:`~benchmark.scale.Scale` or a 3-sequence of positive ints."""
    factors = scale.factors if isinstance(scale, Scale) else tuple(int(s) for s in scale)
    if len(factors) != 3 or min(factors) < 1:
        raise ValueError(f"a scale is three positive integers (sx, sy, sz), got {scale!r}")
    return factors  # type: ignore[return-value]


def ts_rcan_from_profile(
    profile: Profile,
    scale: Sequence[int] | Scale,
    in_slices: int = 3,
    out_scale: Sequence[int] | Scale | None = None,
) -> TSRCAN:
    """TS-RCAN sized by a profile's ``n_resgroups``, ``n_rcab``, ``n_feats`` and ``reduction``.

    Args:
        profile: the run's profile.
        scale: the run's scale ``(sx, sy, sz)``.
        in_slices: ``M``, default 3.
        out_scale: the factor this network applies if it differs from the run's scale
            (e.g. ``(1, 1, 1)`` for a network that stays on the LR grid); default ``scale``.

    Returns:
        A :class:`TSRCAN` mapping ``(B, M, h, w) -> (B, M·sz, sx·h, sy·w)``.
    """
    factors = scale_factors(scale if out_scale is None else out_scale)
    return TSRCAN(
        in_slices,
        factors,
        **_backbone_sizes(profile),
        global_skip=profile["global_skip"],
        skip_interpolation=profile["skip_interpolation"],
    )


def ts_rcan_decoder_from_profile(
    profile: Profile, in_channels: int, out_slices: int, scale: Sequence[int] = (1, 1)
) -> TSRCANDecoder:
    """:class:`TSRCANDecoder` ``(B, in_channels, h, w) -> (B, out_slices, sx·h, sy·w)`` sized by a profile."""
    return TSRCANDecoder(in_channels, out_slices, scale, **_backbone_sizes(profile))


def _backbone_sizes(profile: Profile) -> dict[str, int]:
    return {key: int(profile[key]) for key in ("n_resgroups", "n_rcab", "n_feats", "reduction")}
