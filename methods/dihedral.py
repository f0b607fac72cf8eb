"""The in-plane dihedral group: the 8 mirrors and quarter turns of a slab or volume, and their inverses.

One copy for every method that uses them: ZSSR (augmentation of its training pairs, geometric
self-ensemble at test time) and PseudoSR (geometric-ensemble consistency of its correction
network).

An element is an :class:`InPlane` ``(mirror_x, mirror_y, transpose)``: mirror the first
in-plane axis, mirror the second, then swap the two.  The 8 triples are the whole group; the 4
with ``transpose = False`` (identity, the two mirrors, the 180° turn) keep each axis in place,
the only ones allowed when the two in-plane axes differ in size or in resolution (sx ≠ sy).
Transforms move voxels and never interpolate, so :func:`invert` gives back the input exactly.

On the k-space sampling grid (:mod:`benchmark.protocol.degradations`) LR voxel ``j`` lies at
HR voxel ``s·j``, so an SR output of a mirrored LR input sits ``s − 1`` HR voxels off once
mirrored back: :func:`invert` with the output's scale factors shifts it back (:func:`unmirror`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple, TypeVar

import numpy as np
import torch

Transform = Callable[[torch.Tensor], torch.Tensor]
"""A map of tensors, e.g. one in-plane transform of ``(B, C, H, W)`` slabs."""

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


class InPlane(NamedTuple):
    """One element of the in-plane dihedral group: mirror x, mirror y, then swap x and y."""

    mirror_x: bool = False
    mirror_y: bool = False
    transpose: bool = False


IDENTITY = InPlane()

_QUARTER_TURNS = (InPlane(), InPlane(False, True, True), InPlane(True, True, False), InPlane(True, False, True))
"""``torch.rot90(·, k, dims=(x, y))`` for ``k = 0 … 3``: as torch computes it, mirror y then swap for
one turn, both mirrors for two, mirror x then swap for three."""


def in_plane_transforms(transposes: bool) -> list[InPlane]:
    """All 8 elements (``transposes``), or the 4 that keep each axis in place; the identity first.

    Args:
        transposes: include the 4 elements that swap x and y (needs equal in-plane sizes and
            factors, ``sx == sy``).

    Returns:
        ``InPlane`` elements, transpose-major, then ``mirror_x``, then ``mirror_y``.
    """
    swaps = (False, True) if transposes else (False,)
    return [InPlane(mx, my, t) for t in swaps for mx in (False, True) for my in (False, True)]


def quarter_turns(k: int, flip: bool = False) -> InPlane:
    """``torch.rot90(·, k, dims=(x, y))``, then a mirror of y when ``flip``, as an :class:`InPlane`."""
    turn = _QUARTER_TURNS[k % 4]
    if not flip:
        return turn
    # A mirror of y after the swap is a mirror of x before it.
    if turn.transpose:
        return turn._replace(mirror_x=not turn.mirror_x)
    return turn._replace(mirror_y=not turn.mirror_y)


def _flip(x: ArrayOrTensor, axis: int) -> ArrayOrTensor:
    return torch.flip(x, dims=(axis,)) if isinstance(x, torch.Tensor) else np.flip(x, axis=axis)


def _swap(x: ArrayOrTensor, a: int, b: int) -> ArrayOrTensor:
    return x.transpose(a, b) if isinstance(x, torch.Tensor) else np.swapaxes(x, a, b)


def apply(x: ArrayOrTensor, transform: InPlane, axes: Sequence[int] = (0, 1)) -> ArrayOrTensor:
    """Transform ``x`` in the plane of ``axes``: mirror x, mirror y, then swap them.

    Args:
        x: a NumPy array or a tensor, e.g. a patch ``(X, Y, Z)`` or slabs ``(B, C, H, W)`` with
            ``axes=(2, 3)``.
        transform: the element.
        axes: the in-plane axes ``(x, y)``.

    Returns:
        The transformed array (a view where NumPy allows one); the other axes keep their order.
    """
    ax, ay = axes
    if transform.mirror_x:
        x = _flip(x, ax)
    if transform.mirror_y:
        x = _flip(x, ay)
    if transform.transpose:
        x = _swap(x, ax, ay)
    return x


def unmirror(volume: torch.Tensor, axis: int, factor: int) -> torch.Tensor:
    """Undo a mirror of the LR input on the SR output: mirror back, then shift by ``factor − 1`` voxels.

    The network's output voxel ``k`` of a mirrored LR volume of ``n`` voxels lies at original
    HR position ``factor·(n − 1) − k``; after mirroring back, HR voxel ``m`` is read at index
    ``m + factor − 1``, the last ``factor − 1`` voxels repeating the edge.

    Args:
        volume: SR output of a mirrored LR input, any shape.
        axis: the mirrored axis.
        factor: the scale factor along ``axis`` (1: a plain mirror).

    Returns:
        A tensor of the shape of ``volume``.
    """
    mirrored = torch.flip(volume, dims=(axis,))
    if factor == 1:
        return mirrored
    size = mirrored.shape[axis]
    shift = min(factor - 1, size - 1)
    edge = mirrored.narrow(axis, size - 1, 1)
    repeats = [1] * mirrored.dim()
    repeats[axis] = shift
    return torch.cat([mirrored.narrow(axis, shift, size - shift), edge.repeat(*repeats)], dim=axis)


def invert(
    y: torch.Tensor, transform: InPlane, axes: Sequence[int] = (0, 1), factors: Sequence[int] = (1, 1)
) -> torch.Tensor:
    """Map ``y``, computed from ``apply(x, transform, axes)``, back onto the grid of ``x``.

    Args:
        y: a tensor on the transformed grid, e.g. the SR volume ``(X, Y, Z)`` of a transformed
            LR volume.
        transform: the element that was applied.
        axes: the in-plane axes ``(x, y)``.
        factors: how many ``y`` voxels per input voxel along x and y (the scale's ``(sx, sy)``
            for an SR output; ``(1, 1)``, a plain inverse, when ``y`` is on the input's grid).

    Returns:
        A tensor on the grid of ``x``: undo the swap, then the mirrors (:func:`unmirror`).
    """
    ax, ay = axes
    if transform.transpose:
        y = y.transpose(ax, ay)
    if transform.mirror_y:
        y = unmirror(y, ay, int(factors[1]))
    if transform.mirror_x:
        y = unmirror(y, ax, int(factors[0]))
    return y


def geometric_transforms(square: bool) -> list[tuple[Transform, Transform]]:
    """In-plane ``(transform, inverse)`` pairs on slabs ``(B, C, H, W)``, the identity first.

    The order is PseudoSR's: without and then with a final mirror of W, 0 … 3 quarter turns of
    ``(H, W)`` (0 and 2 when not ``square``).

    Args:
        square: all 8 flips/rotations of the dihedral group (needs ``H == W``); otherwise the
            4 that keep both axes: identity, flip of W, 180° rotation, flip of H.

    Returns:
        The pairs; ``inverse(transform(t)) == t``; slices (channels) keep their order.
    """
    turns = (0, 1, 2, 3) if square else (0, 2)
    elements = [quarter_turns(k, flip) for flip in (False, True) for k in turns]
    return [(partial(apply, transform=e, axes=(2, 3)), partial(invert, transform=e, axes=(2, 3))) for e in elements]
