"""Whole-volume inference by overlapping tiles with smooth (Gaussian) blending.

A learned method super-resolves tiles of the LR volume; the tiles' SR outputs are put back
on the HR grid with Gaussian weights that fall off towards each tile's borders (as MONAI's
sliding-window inference does, σ = 1/8 of the tile per axis), so that seams vanish and
every HR voxel is a weighted average of all the tiles covering it.  Thin-slab methods use
tiles of 3 slices with a through-plane step of 1, so each slice is predicted by up to three
slabs, which are averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product

import torch

from benchmark.scale import Scale

TileFunction = Callable[[torch.Tensor], torch.Tensor]
TileCallback = Callable[[int, int], None]
"""Progress of one tiled pass: called with ``(tiles done in this pass, tiles in this pass)``."""
"""Maps LR tiles ``(B, 1, tx, ty, tz)`` to SR tiles ``(B, 1, tx·sx, ty·sy, tz·sz)`` on one device."""

BlendingWeights = Callable[[Sequence[int]], torch.Tensor]
"""Maps an HR tile shape ``(X, Y, Z)`` (voxels) to positive blending weights of that shape."""


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Start indices of tiles of size ``tile`` covering ``[0, length)`` with the given step (voxels).

    The last tile is aligned to the end, so every voxel is covered; ``tile <= length``.
    """
    if tile > length:
        raise ValueError(f"tile {tile} is larger than the axis length {length}")
    starts = list(range(0, length - tile + 1, max(step, 1)))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def blending_weights(shape: Sequence[int], sigma_scale: float = 0.125) -> torch.Tensor:
    """Separable Gaussian weights ``shape`` (HR tile, voxels), peak 1, floored at 1e-3."""
    weights = torch.ones(())
    for size in shape:
        centre = (size - 1) / 2
        sigma = max(size * sigma_scale, 0.5)
        axis = torch.exp(-0.5 * ((torch.arange(size, dtype=torch.float32) - centre) / sigma) ** 2)
        weights = weights[..., None] * axis
    return (weights / weights.max()).clamp_min(1e-3)


@torch.no_grad()
def super_resolve_tiled(
    tile_fn: TileFunction,
    lr: torch.Tensor,
    scale: Scale,
    tile: Sequence[int],
    step: Sequence[int],
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    blending: BlendingWeights = blending_weights,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """Super-resolve a whole LR volume tile by tile.

    Args:
        tile_fn: the network on LR tiles, see :data:`TileFunction`.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume (any device; accumulation happens on the CPU).
        scale: scale factors.
        tile: LR tile size ``(tx, ty, tz)`` in voxels; clipped to the volume's size.
        step: LR step between tiles ``(px, py, pz)`` in voxels (``step < tile`` overlaps).
        batch_size: tiles per call of ``tile_fn``.
        device: device to move tiles to before calling ``tile_fn``.
        blending: weights of each HR tile's voxels in the average (default: Gaussian).
        on_tiles: called after every batch with ``(tiles done, tiles in this pass)``, or ``None``.

    Returns:
        ``(X, Y, Z)`` float32 SR volume on the CPU.
    """
    lr = lr.detach().float().cpu()
    tile = tuple(min(t, n) for t, n in zip(tile, lr.shape))
    starts = list(product(*(tile_starts(n, t, s) for n, t, s in zip(lr.shape, tile, step))))
    factors = scale.factors
    hr_tile = tuple(t * f for t, f in zip(tile, factors))
    weights = blending(hr_tile)
    out = torch.zeros(tuple(n * f for n, f in zip(lr.shape, factors)))
    norm = torch.zeros_like(out)
    for first in range(0, len(starts), batch_size):
        chunk = starts[first : first + batch_size]
        tiles = torch.stack([lr[x : x + tile[0], y : y + tile[1], z : z + tile[2]] for x, y, z in chunk])
        sr = tile_fn(tiles[:, None].to(device)).float().cpu()[:, 0]
        expected = (len(chunk), *hr_tile)
        if tuple(sr.shape) != expected:
            raise RuntimeError(f"tile function returned {tuple(sr.shape)}, expected {expected}")
        for (x, y, z), patch in zip(chunk, sr):
            region = (
                slice(x * factors[0], x * factors[0] + hr_tile[0]),
                slice(y * factors[1], y * factors[1] + hr_tile[1]),
                slice(z * factors[2], z * factors[2] + hr_tile[2]),
            )
            out[region] += patch * weights
            norm[region] += weights
        if on_tiles is not None:
            on_tiles(first + len(chunk), len(starts))
    return out / norm
