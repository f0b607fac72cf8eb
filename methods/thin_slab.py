"""What every thin-slab method shares: slab layout of patches, tiled inference, validation.

A thin-slab network sees a slab of M = 3 consecutive slices along the slab axis ``Z`` as the
channels of a 2D image: an LR patch ``(px, py, 3)`` becomes ``(3, px, py)``, and its SR output
``(3·sz, sx·px, sy·py)`` is the HR patch ``(sx·px, sy·py, 3·sz)``.  Whole volumes are
super-resolved with :func:`benchmark.inference.super_resolve_tiled`, with in-plane tiles
overlapping by a quarter and slabs advancing one slice at a time, overlaps averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from benchmark.inference import TileFunction, super_resolve_tiled
from benchmark.metrics import psnr
from benchmark.scale import Scale
from benchmark.training_data import VolumePair

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
    """Whole-volume SR ``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` with a slab network (eval mode, no gradients)."""
    was_training = network.training
    network.eval()
    try:
        return super_resolve_tiled(
            slab_tile_function(network, amp=device.type == "cuda"),
            lr,
            scale,
            tile=(tile, tile, SLAB_DEPTH),
            step=(max(tile * 3 // 4, 1), max(tile * 3 // 4, 1), 1),
            batch_size=batch_size,
            device=device,
        )
    finally:
        network.train(was_training)


def validation_psnr(
    network: nn.Module,
    pairs: Sequence[VolumePair],
    scale: Scale,
    crop: Sequence[int],
    batch_size: int,
    device: torch.device,
) -> float:
    """Mean PSNR (dB) of the network on a central LR crop ``crop`` (voxels) of each validation pair."""
    values = []
    for pair in pairs:
        lr = pair.lr.data
        size = [min(c, n) for c, n in zip(crop, lr.shape)]
        corner = [(n - c) // 2 for n, c in zip(lr.shape, size)]
        lr_crop = lr[tuple(slice(o, o + c) for o, c in zip(corner, size))]
        hr_crop = pair.hr.data[tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))]
        sr = super_resolve_slabs(
            network,
            torch.from_numpy(np.ascontiguousarray(lr_crop)),
            scale,
            tile=max(size[0], size[1]),
            batch_size=batch_size,
            device=device,
        )
        values.append(psnr(sr, torch.from_numpy(np.ascontiguousarray(hr_crop))))
    return float(np.mean(values)) if values else float("nan")
