"""Thin slabs: the layout in which every learned method's 2D networks see a volume.

A slab is ``M = 3`` consecutive slices along the slab axis ``Z`` (the axis whose scale is sz),
stacked as channels: an LR patch or tile ``(px, py, 3)`` becomes ``(3, px, py)`` and an SR
slab ``(3·sz, sx·px, sy·py)`` is the HR block ``(sx·px, sy·py, 3·sz)``.  Training patches are
converted with :func:`to_slabs`; whole volumes are cut into slabs (and in-plane tiles) and put
back by :func:`benchmark.inference.tiling.super_resolve_tiled` with tiles of 3 slices advancing one
slice at a time (:func:`super_resolve_slabs`).  This is the one place where slabs are cut and
reassembled.

Overlaps are averaged with Gaussian weights in-plane and with :func:`slab_centre_weights`
through-plane: each HR slice is the mean of the predictions of the slabs that hold it in their
central slice interval, where a slab's network has slices on both sides of it.  At 2×2×2 an
HR slice between LR slices ``j`` and ``j+1`` is then the mean of the slab ``j−1 … j+1`` and the
slab ``j … j+2``: a prediction from four LR slices, none extrapolated.  An HR slice on LR slice
``j`` comes from the slab centred on it.  Edge predictions keep a weight of 10⁻³ so that the
volume's first and last slices, which no slab holds in its centre, are still covered.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from benchmark.inference.tiling import (
    BlendingWeights,
    TileCallback,
    TileFunction,
    blending_weights,
    super_resolve_tiled,
)
from benchmark.precision import Precision, autocast, resolve_precision
from benchmark.scale import Scale

SLAB_DEPTH = 3
"""Slices ``M`` of an LR slab: every learned method's networks see 3 consecutive slices as channels."""
_EDGE_WEIGHT = 1e-3


def hr_slab_depth(scale: Scale) -> int:
    """Slices of the HR (or SR) slab over one LR slab: ``M·sz`` (6 at 2×2×2, 3 at 2×2×1)."""
    return SLAB_DEPTH * scale.sz


def slab_centre_weights(out_slices: int, sz: int) -> torch.Tensor:
    """Through-plane weights ``(M·sz,)`` of one SR slab: 1 on its central slices, 10⁻³ elsewhere.

    Output slice ``i`` lies at slab coordinate ``p = i / sz`` (LR slices, 0 … M − 1); it is
    central when ``|p − (M − 1)/2| ≤ 1/2``: for M = 3, ``p`` in ``[0.5, 1.5]``.
    """
    position = torch.arange(out_slices, dtype=torch.float64) / sz
    centre = (out_slices // sz - 1) / 2
    central = (position - centre).abs() <= 0.5 + 1e-9
    return torch.where(central, 1.0, _EDGE_WEIGHT).float()


def slab_blending(sz: int) -> BlendingWeights:
    """Blending of SR slab tiles ``(X, Y, M·sz)``: Gaussian in-plane, :func:`slab_centre_weights` through-plane."""

    def weights(shape: Sequence[int]) -> torch.Tensor:
        return blending_weights(shape[:2])[..., None] * slab_centre_weights(int(shape[2]), sz)

    return weights


def to_slabs(patches: torch.Tensor) -> torch.Tensor:
    """Patches ``(B, px, py, pz)`` → slabs ``(B, pz, px, py)`` (slices become channels)."""
    return patches.permute(0, 3, 1, 2).contiguous()


def from_slabs(slabs: torch.Tensor) -> torch.Tensor:
    """Slabs ``(B, pz, px, py)`` → patches ``(B, px, py, pz)``."""
    return slabs.permute(0, 2, 3, 1).contiguous()


def slab_tile_function(network: nn.Module, precision: Precision = "fp32") -> TileFunction:
    """Wrap a slab network ``(B, M, h, w) → (B, M·sz, sx·h, sy·w)`` as a tile function on ``(B, 1, h, w, M)``.

    The network runs under the autocast of ``precision`` (none for ``fp32``); its output is cast
    back to float32.
    """

    def run(tiles: torch.Tensor) -> torch.Tensor:
        with autocast(precision, tiles.device):
            out = network(to_slabs(tiles[:, 0]))
        return from_slabs(out.float())[:, None]

    return run


def super_resolve_slabs(
    network: nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    precision: Precision | None = None,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """Whole-volume SR ``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` with a slab network (eval mode, no gradients).

    In-plane tiles of ``tile`` LR voxels overlap by a quarter; slabs advance one slice, so
    every HR slice is the weighted mean of up to three slab predictions, those that hold it
    in their centre weighted 1 and the others 10⁻³ (see the module docstring).

    Args:
        precision: autocast of the network's forward passes (a method passes its run's,
            ``RunContext.precision``); ``None`` is what ``auto`` means on ``device``.  The SR
            volume is float32 in every precision.
        on_tiles: progress of the tiled pass (a method passes ``RunContext.on_tiles``), or ``None``.
    """
    was_training = network.training
    network.eval()
    step = max(tile * 3 // 4, 1)
    try:
        return super_resolve_tiled(
            slab_tile_function(network, precision or resolve_precision("auto", device)),
            lr,
            scale,
            tile=(tile, tile, SLAB_DEPTH),
            step=(step, step, 1),
            batch_size=batch_size,
            device=device,
            blending=slab_blending(scale.sz),
            on_tiles=on_tiles,
        )
    finally:
        network.train(was_training)
