"""Random 3D patches with the paper's sizes: LR patch ``(px, py, pz)``, HR patch ``(px·sx, py·sy, pz·sz)``.

The paper crops LR/HR patches of 64×64×3 / 128×128×3 at scale 2×2×1 and 64×64×3 / 128×128×6
at 2×2×2.  All functions take and return numpy arrays; corners and sizes are in voxels.
"""

from __future__ import annotations

import numpy as np

from benchmark.scale import Scale

Shape3 = tuple[int, int, int]


def hr_patch_size(lr_patch: Shape3, scale: Scale) -> Shape3:
    """HR patch size ``(px·sx, py·sy, pz·sz)`` in voxels for an LR patch ``(px, py, pz)``."""
    return tuple(int(p) * s for p, s in zip(lr_patch, scale.factors))  # type: ignore[return-value]


def random_patch_corner(shape: Shape3, size: Shape3, rng: np.random.Generator) -> Shape3:
    """Uniformly random corner of a ``size`` patch lying inside a ``shape`` volume.

    Args:
        shape: ``(X, Y, Z)`` of the volume, voxels.
        size: ``(px, py, pz)`` of the patch, voxels, at most ``shape``.
        rng: seeded generator.

    Returns:
        ``(x0, y0, z0)`` with ``0 <= x0 <= X - px`` and so on.

    Raises:
        ValueError: the patch is larger than the volume along some axis.
    """
    if any(p > n for p, n in zip(size, shape)):
        raise ValueError(f"patch {tuple(size)} does not fit in a volume of shape {tuple(shape)}")
    return tuple(int(rng.integers(0, n - p + 1)) for n, p in zip(shape, size))  # type: ignore[return-value]


def crop(volume_array: np.ndarray, corner: Shape3, size: Shape3) -> np.ndarray:
    """The ``size`` block of ``(X, Y, Z)`` ``volume_array`` starting at ``corner`` (a view)."""
    return volume_array[tuple(slice(c, c + p) for c, p in zip(corner, size))]


def sample_lr_patch(lr: np.ndarray, lr_patch: Shape3, rng: np.random.Generator) -> np.ndarray:
    """Random ``lr_patch`` ``(px, py, pz)`` block of an LR volume ``(X/sx, Y/sy, Z/sz)``."""
    return crop(lr, random_patch_corner(lr.shape, lr_patch, rng), lr_patch)


def sample_hr_patch(hr: np.ndarray, lr_patch: Shape3, scale: Scale, rng: np.random.Generator) -> np.ndarray:
    """Random HR patch ``(px·sx, py·sy, pz·sz)`` of an HR volume ``(X, Y, Z)``, at any voxel corner."""
    size = hr_patch_size(lr_patch, scale)
    return crop(hr, random_patch_corner(hr.shape, size, rng), size)


def sample_aligned_pair(
    lr: np.ndarray, hr: np.ndarray, lr_patch: Shape3, scale: Scale, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An LR patch and the HR patch covering the same region.

    Args:
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        hr: ``(X, Y, Z)`` HR volume it was made from.
        lr_patch: ``(px, py, pz)`` LR patch size, voxels.
        scale: factors ``(sx, sy, sz)``.
        rng: seeded generator.

    Returns:
        ``(lr patch (px, py, pz), hr patch (px·sx, py·sy, pz·sz))``; the HR corner is the LR
        corner times the scale.

    Raises:
        ValueError: ``hr``'s shape is not ``lr``'s shape times the scale, or the patch does not fit.
    """
    if tuple(hr.shape) != hr_patch_size(lr.shape, scale):
        raise ValueError(f"HR shape {hr.shape} is not LR shape {lr.shape} times the scale {scale}")
    corner = random_patch_corner(lr.shape, lr_patch, rng)
    hr_corner = tuple(c * s for c, s in zip(corner, scale.factors))
    return crop(lr, corner, lr_patch), crop(hr, hr_corner, hr_patch_size(lr_patch, scale))
