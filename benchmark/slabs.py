"""Thin slabs: the layout in which every learned method's 2D networks see a volume.

A slab is ``M = 3`` consecutive slices along the slab axis ``Z`` (the axis whose scale is sz),
stacked as channels: an LR patch or tile ``(px, py, 3)`` becomes ``(3, px, py)`` and an SR
slab ``(3·sz, sx·px, sy·py)`` is the HR block ``(sx·px, sy·py, 3·sz)``.  Training patches are
converted with :func:`to_slabs`; whole volumes are cut into slabs (and in-plane tiles) and put
back, overlaps averaged with Gaussian weights, by :func:`benchmark.inference.super_resolve_tiled`
with tiles of 3 slices advancing one slice at a time (:func:`super_resolve_slabs`).  This is
the one place where slabs are cut and reassembled.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from benchmark.inference import TileFunction, super_resolve_tiled
from benchmark.scale import Scale

SLAB_DEPTH = 3


def to_slabs(patches: torch.Tensor) -> torch.Tensor:
    """Patches ``(B, px, py, pz)`` → slabs ``(B, pz, px, py)`` (slices become channels)."""
    return patches.permute(0, 3, 1, 2).contiguous()


def from_slabs(slabs: torch.Tensor) -> torch.Tensor:
    """Slabs ``(B, pz, px, py)`` → patches ``(B, px, py, pz)``."""
    return slabs.permute(0, 2, 3, 1).contiguous()


def slab_tile_function(network: nn.Module, amp: bool = False) -> TileFunction:
    """Wrap a slab network ``(B, M, h, w) → (B, M·sz, sx·h, sy·w)`` as a tile function on ``(B, 1, h, w, M)``."""

    def run(tiles: torch.Tensor) -> torch.Tensor:
        context = torch.autocast("cuda", dtype=torch.float16) if amp else nullcontext()
        with context:
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
) -> torch.Tensor:
    """Whole-volume SR ``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` with a slab network (eval mode, no gradients).

    In-plane tiles of ``tile`` LR voxels overlap by a quarter; slabs advance one slice, so
    every HR slice is the weighted mean of up to three slab predictions.
    """
    was_training = network.training
    network.eval()
    step = max(tile * 3 // 4, 1)
    try:
        return super_resolve_tiled(
            slab_tile_function(network, amp=device.type == "cuda"),
            lr,
            scale,
            tile=(tile, tile, SLAB_DEPTH),
            step=(step, step, 1),
            batch_size=batch_size,
            device=device,
        )
    finally:
        network.train(was_training)
