"""Fixed up-sampling of thin slabs for the optional global skip: tricubic interpolation made local.

The ``quick`` and ``tiny`` profiles train for a few hundred CPU steps; there a network that
learns the residual over a fixed up-sampling of its input (as ZSSR's ``learn_residual``
and many MRI SR networks do) reaches useful quality far sooner than one that learns the
whole image. Profile key ``global_skip`` (``False`` in the ``paper`` profile, which keeps the
authors' TS-RCAN exactly) switches it on for every image-to-image SR path of every method
alike, so that only the training pipelines differ; ``skip_interpolation`` picks the kernel.

A skip sees one slab (3 LR slices) of one in-plane tile, never the whole volume, so a global
interpolation (a prefiltered B-spline, a k-space zero-fill) cannot run there. The ``cubic``
kernel (default) is the harness's ``tricubic`` method made local, so that an untrained
network's whole-volume SR starts where tricubic does:

* **In-plane**: the cardinal cubic spline, the impulse response of tricubic's prefiltered
  B-spline interpolation, truncated to ±:data:`CARDINAL_HALF_WIDTH` LR voxels (its taps decay
  as 0.268ᵏ: the dropped ones sum to under 1e-5) and renormalised per phase; the tile's border
  is extended by replication. Inside a tile this is tricubic's in-plane interpolation.
* **Through-plane**, on the slab's 3 slices (LR slice ``j`` at HR slice ``sz·j``): the LR
  slices themselves at whole positions. At the half-way positions (even ``sz``), whole-volume
  inference averages two slabs (:mod:`benchmark.inference.slabs`): slab ``j−1 … j+1`` and slab
  ``j … j+2`` both hold the HR slice half-way between ``j`` and ``j+1`` in their centre. The
  weights there are chosen so that this mean is tricubic's midpoint kernel cut to the four
  slices the two slabs hold, ``(a, ½ − a, ½ − a, a)`` with ``a`` = :data:`MIDPOINT_OUTER_TAP`
  (the cardinal spline's taps at 1.5 and 0.5, −0.1274 and 0.6005, renormalised), each slab's
  own weights reproducing linear ramps. Other positions use the quadratic through the 3
  slices, and positions past the last slice repeat it.

At 2×2×2 on the demo's test volumes an untrained quick TS-RCAN with this skip scores
32.62 / 33.10 dB whole-volume against tricubic's 32.59 / 33.11 dB; with the ``linear`` kernel
(the harness's earlier skip) it scored 30.76 / 31.44 dB.

``linear``: linear interpolation on the same grid, HR voxel ``s·j + r`` is
``(1 − r/s)·x[j] + (r/s)·x[j+1]``, the last LR voxel repeated.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from methods.cubic_upsampling import cubic_bspline

SKIP_INTERPOLATIONS = ("cubic", "linear")
"""Kernels of ``skip_interpolation``."""

CARDINAL_HALF_WIDTH = 10
"""LR voxels on each side of the in-plane cardinal cubic spline (``2·10 + 1`` taps per phase)."""

_CARDINAL_POLE = np.sqrt(3.0) - 2.0


def cardinal_cubic_spline(t: float) -> float:
    """The cardinal cubic spline ``η(t)``: what tricubic interpolation gives from a unit impulse at 0.

    ``η(t) = Σ_m c_m β₃(t − m)`` with ``c_m = √3·z^|m|``, ``z = √3 − 2``, the inverse filter of the
    B-spline's samples ``(1/6, 4/6, 1/6)``; ``η(0) = 1`` and ``η(k) = 0`` at the other integers.
    """
    first = int(np.floor(t)) - 1
    return float(
        sum(np.sqrt(3.0) * _CARDINAL_POLE ** abs(m) * cubic_bspline(t - m) for m in range(first - 40, first + 44))
    )


MIDPOINT_OUTER_TAP = cardinal_cubic_spline(1.5) / (2 * (cardinal_cubic_spline(0.5) + cardinal_cubic_spline(1.5)))
"""``a`` of the through-plane midpoint kernel ``(a, ½ − a, ½ − a, a)`` (−0.1347): tricubic's, cut to 4 taps."""


def _linear_taps(phase: float) -> dict[int, float]:
    return {0: 1.0 - phase, 1: phase} if phase else {0: 1.0}


@functools.cache
def _inplane_taps(factor: int, kernel: str) -> tuple[tuple[int, ...], np.ndarray]:
    """``(offsets, weights (factor, n))``: HR voxel ``s·j + r`` is ``Σ_k weights[r, k]·x[j + offsets[k]]``."""
    if kernel == "linear":
        offsets = (0, 1)
        weights = np.array([[_linear_taps(r / factor).get(k, 0.0) for k in offsets] for r in range(factor)])
        return offsets, weights
    offsets = tuple(range(-CARDINAL_HALF_WIDTH, CARDINAL_HALF_WIDTH + 1))
    weights = np.array([[cardinal_cubic_spline(r / factor - k) for k in offsets] for r in range(factor)])
    return offsets, weights / weights.sum(axis=1, keepdims=True)


def _quadratic_weights(position: float, slices: int) -> np.ndarray:
    """Lagrange weights ``(slices,)`` of the polynomial through slices ``0 … slices − 1`` at ``position``."""
    nodes = np.arange(slices, dtype=np.float64)
    return np.array([np.prod([(position - m) / (j - m) for m in nodes if m != j]) for j in nodes])


@functools.cache
def through_plane_weights(slices: int, sz: int, kernel: str) -> np.ndarray:
    """``(slices·sz, slices)`` weights: SR slice ``i`` of a slab (at position ``i / sz``) from its LR slices."""
    weights = np.zeros((slices * sz, slices))
    for i in range(slices * sz):
        position = i / sz
        whole = int(np.floor(position))
        if position >= slices - 1:  # the last slice and past it: repeat the last slice
            weights[i, slices - 1] = 1.0
        elif position == whole:
            weights[i, whole] = 1.0
        elif kernel == "linear":
            weights[i, whole], weights[i, whole + 1] = 1.0 - (position - whole), position - whole
        elif slices == 3 and position in (0.5, 1.5):
            # Mean with the neighbouring slab's mirror position = tricubic's midpoint kernel cut to 4 taps;
            # the outer tap goes to the far slice, the rest so that a linear ramp is reproduced.
            outer = 2 * MIDPOINT_OUTER_TAP
            far, near, other = (0, 1, 2) if position == 1.5 else (2, 1, 0)
            weights[i, far], weights[i, other], weights[i, near] = outer, 0.5 + outer, 0.5 - 2 * outer
        else:
            weights[i] = _quadratic_weights(position, slices)
    return weights


def _upsample_inplane(x: torch.Tensor, factor: int, dim: int, kernel: str) -> torch.Tensor:
    """Up-sample ``x`` ``(N, C, h, w)`` by ``factor`` along ``dim`` (2 or 3), border replicated."""
    if factor == 1:
        return x
    offsets, taps = _inplane_taps(factor, kernel)
    n, c, h, w = x.shape
    before, after = -offsets[0], offsets[-1]
    flat = x.reshape(n * c, 1, h, w)
    if dim == 2:
        padded = functional.pad(flat, (0, 0, before, after), mode="replicate")
        weight = torch.from_numpy(taps).to(x)[:, None, :, None]  # (factor, 1, taps, 1)
        phases = functional.conv2d(padded, weight)  # (n·c, factor, h, w)
        return phases.reshape(n, c, factor, h, w).permute(0, 1, 3, 2, 4).reshape(n, c, h * factor, w)
    padded = functional.pad(flat, (before, after, 0, 0), mode="replicate")
    weight = torch.from_numpy(taps).to(x)[:, None, None, :]  # (factor, 1, 1, taps)
    phases = functional.conv2d(padded, weight)  # (n·c, factor, h, w)
    return phases.reshape(n, c, factor, h, w).permute(0, 1, 3, 4, 2).reshape(n, c, h, w * factor)


def upsample_slab(slabs: torch.Tensor, scale: Sequence[int], kernel: str = "cubic") -> torch.Tensor:
    """Fixed up-sampling of slabs ``(B, M, h, w)`` to ``(B, M·sz, sx·h, sy·w)`` (slices are channels), in float32.

    Args:
        slabs: LR slabs, ``M`` slices as channels.
        scale: ``(sx, sy, sz)``.
        kernel: ``"cubic"`` (tricubic made local, see the module docstring) or ``"linear"``.

    Returns:
        float32 SR slabs, computed outside any autocast (the skip carries the image itself).
    """
    if kernel not in SKIP_INTERPOLATIONS:
        raise ValueError(f"unknown skip interpolation '{kernel}'; known: {', '.join(SKIP_INTERPOLATIONS)}")
    sx, sy, sz = (int(s) for s in scale)
    with torch.autocast(slabs.device.type, enabled=False):
        x = slabs.float()
        if sz > 1:
            weights = torch.from_numpy(through_plane_weights(x.shape[1], sz, kernel)).to(x)
            x = torch.einsum("om,bmhw->bohw", weights, x)
        x = _upsample_inplane(x, sx, 2, kernel)
        return _upsample_inplane(x, sy, 3, kernel)
