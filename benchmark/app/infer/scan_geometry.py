"""Geometry of super-resolving a scan: which array axis is the slab axis, and the SR volume's affine.

The harness's convention (:mod:`benchmark.protocol.degradations`): LR voxel ``j`` samples the
HR volume at HR voxel ``j·s`` (per axis), so an LR affine is the HR affine with its voxel axes
multiplied by the scale, without a shift.  The SR affine of a scan is therefore the scan's
affine with its voxel axes divided by the scale: every LR voxel keeps its world position, at
SR voxel ``j·s``.

The thin-slab networks see 3 slices along the slab axis, the array's last axis, whose scale is
``sz``.  The slab axis follows the scale: the scan's axis that stands out is put there, as
``Z`` stands out in the scale.  For ``sz ≥ sx = sy`` (2×2×2, 1×1×4) that is the scan's coarse
axis (thick slices); for ``sz < sx = sy`` (2×2×1: LR in-plane, full resolution through-plane)
its fine axis.  A scan acquired along another array axis (e.g. sagittal slices along axis 0)
is transposed so that this axis becomes the slab axis, super-resolved, and transposed back
(:func:`slab_axis_order`).  When no axis stands out, the file's axis 2 is the slab axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.errors import BenchError
from benchmark.scale import Scale

STANDS_OUT = 1.1
"""An axis stands out when its voxel is this much larger (coarse) or smaller (fine) than each other axis' voxel."""


def voxel_sizes(affine: np.ndarray) -> np.ndarray:
    """Voxel size of each array axis in mm: the lengths of the affine's first three columns, ``(3,)``."""
    return np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)


def coarse_axis(sizes: Sequence[float]) -> int | None:
    """The array axis whose voxel is at least :data:`STANDS_OUT` times each other's, or ``None`` (no such axis)."""
    sizes = [float(size) for size in sizes]
    widest = int(np.argmax(sizes))
    others = [size for axis, size in enumerate(sizes) if axis != widest]
    return widest if all(sizes[widest] >= STANDS_OUT * size for size in others) else None


def fine_axis(sizes: Sequence[float]) -> int | None:
    """The array axis whose voxel is at most each other's divided by :data:`STANDS_OUT`, or ``None``."""
    return coarse_axis([1.0 / float(size) for size in sizes])


def slab_axis(sizes: Sequence[float], scale: Scale) -> int:
    """The scan's array axis that goes on the slab axis (see the module docstring); 2 when none stands out."""
    sx, sy, sz = scale.factors
    axis = fine_axis(sizes) if sx == sy and sz < sx else coarse_axis(sizes)
    return 2 if axis is None else axis


def slab_axis_order(sizes: Sequence[float], scale: Scale, requested: int | None = None) -> tuple[int, int, int]:
    """The transpose that puts the slab axis last: ``requested``, else :func:`slab_axis`.

    The other two axes keep their order, e.g. slab axis 0 gives ``(1, 2, 0)``.

    Args:
        sizes: voxel sizes of the array axes (mm).
        scale: the method's scale.
        requested: ``--slab-axis`` (0, 1 or 2), or ``None`` to choose from ``sizes``.
    """
    if requested is not None and requested not in (0, 1, 2):
        raise BenchError(f"--slab-axis must be 0, 1 or 2 (an array axis of the scan), got {requested}.")
    axis = requested if requested is not None else slab_axis(sizes, scale)
    return (*(other for other in range(3) if other != axis), axis)  # type: ignore[return-value]


def inverse_order(order: Sequence[int]) -> tuple[int, int, int]:
    """The transpose that undoes ``order``."""
    return tuple(int(i) for i in np.argsort(order))  # type: ignore[return-value]


def factors_in_file_axes(scale: Scale, order: Sequence[int]) -> tuple[int, int, int]:
    """The scale factor of each of the file's array axes when the scan is transposed by ``order`` for the network."""
    factors = [1, 1, 1]
    for position, axis in enumerate(order):
        factors[axis] = scale.factors[position]
    return tuple(factors)  # type: ignore[return-value]


def sr_affine(affine: np.ndarray, factors: Sequence[int]) -> np.ndarray:
    """SR affine ``(4, 4)``: voxel axes divided by ``factors`` (one per array axis), origin unchanged."""
    return np.asarray(affine, dtype=np.float64) @ np.diag([*(1.0 / float(f) for f in factors), 1.0])
