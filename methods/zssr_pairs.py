"""ZSSR's training pairs: the father (the LR volume) and its son (degraded once more), sampled as slabs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from benchmark.api import (
    SLAB_DEPTH,
    Scale,
    crop,
    hr_slab_depth,
    kspace_truncate,
    to_slabs,
)
from methods.cubic_upsampling import upsample_cubic
from methods.dihedral import IDENTITY, InPlane, apply


def father_and_son(lr: np.ndarray, scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """The father (the LR volume cropped to a multiple of the scale) and its son.

    Args:
        lr: ``(X, Y, Z)`` LR volume.
        scale: factors ``(sx, sy, sz)``.

    Returns:
        ``(father (X', Y', Z'), son (X'/sx, Y'/sy, Z'/sz))`` with ``X' = X − X mod sx`` etc.;
        the son is :func:`~benchmark.protocol.degradations.kspace_truncate` of the father.

    Raises:
        ValueError: the son would have fewer than 3 slices (one slab) or an empty in-plane axis.
    """
    lr = np.asarray(lr, dtype=np.float32)
    father = np.ascontiguousarray(lr[tuple(slice(0, n) for n in scale.crop_to_multiple(lr.shape))])
    son_shape = scale.lr_shape(father.shape)
    if son_shape[2] < SLAB_DEPTH or min(son_shape[:2]) < 1:
        raise ValueError(
            f"ZSSR needs a son of at least 1x1x{SLAB_DEPTH} voxels; LR volume {lr.shape} at scale {scale} "
            f"gives {son_shape}"
        )
    return father, kspace_truncate(father, scale)


class SonFatherSampler:
    """Random aligned (son, father) patch pairs of one volume, with in-plane dihedral augmentation.

    A son patch ``(px, py, 3)`` at corner ``c`` pairs with the father patch
    ``(sx·px, sy·py, 3·sz)`` at corner ``c × scale``. A pair mirrored along an axis of factor
    ``s > 1`` takes its father patch ``s − 1`` voxels earlier along that axis, so that after
    mirroring son voxel ``j`` still sits on father voxel ``s·j`` (the k-space sampling grid).
    Each pair comes with its *base*: the same block of :attr:`base`, the whole son's cubic
    interpolation onto the father's grid, over which the network learns the residual.

    Args:
        father: ``(X', Y', Z')`` father volume (a multiple of the scale).
        son: ``(X'/sx, Y'/sy, Z'/sz)`` son volume.
        lr_patch: son patch size ``(px, py, 3)``; clipped to the son's size.
        scale: factors ``(sx, sy, sz)``.
        augment: draw a random in-plane rotation/flip per pair.
        noise_std: std of Gaussian noise added to son patches (0: none).
    """

    def __init__(
        self,
        father: np.ndarray,
        son: np.ndarray,
        lr_patch: Sequence[int],
        scale: Scale,
        augment: bool = True,
        noise_std: float = 0.0,
    ) -> None:
        if tuple(father.shape) != tuple(n * f for n, f in zip(son.shape, scale.factors)):
            raise ValueError(f"father {father.shape} is not son {son.shape} times the scale {scale}")
        self.father, self.son, self.scale = father, son, scale
        self.base = upsample_cubic(son, scale.factors).astype(np.float32)
        """``(X', Y', Z')``: the son's cubic interpolation on the father's grid."""
        px, py = (min(int(p), n) for p, n in zip(lr_patch[:2], son.shape[:2]))
        self.patch = (px, py, SLAB_DEPTH)
        self.father_patch = (px * scale.sx, py * scale.sy, hr_slab_depth(scale))
        sx, sy = scale.sx, scale.sy
        # A mirror along an axis of factor s > 1 needs one spare son voxel before the patch.
        self.can_mirror = tuple(
            augment and (s == 1 or son.shape[axis] > self.patch[axis]) for axis, s in ((0, sx), (1, sy))
        )
        self.can_transpose = augment and sx == sy and px == py
        self.noise_std = float(noise_std)

    def draw_transform(self, rng: np.random.Generator) -> InPlane:
        """``(mirror X, mirror Y, transpose)`` uniformly among the allowed in-plane transforms."""
        mirror_x = bool(rng.integers(2)) if self.can_mirror[0] else False
        mirror_y = bool(rng.integers(2)) if self.can_mirror[1] else False
        transpose = bool(rng.integers(2)) if self.can_transpose else False
        return InPlane(mirror_x, mirror_y, transpose)

    def pair(
        self, rng: np.random.Generator, transform: Sequence[bool] = IDENTITY
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A son patch ``(px, py, 3)``, its father patch and its base ``(sx·px, sy·py, 3·sz)`` under ``transform``."""
        transform = InPlane(*transform)
        mirrors = (transform.mirror_x, transform.mirror_y)
        corner, father_corner = [], []
        for axis, (n, p, s) in enumerate(zip(self.son.shape, self.patch, self.scale.factors)):
            shifted = axis < 2 and mirrors[axis] and s > 1
            low = 1 if shifted else 0
            c = int(rng.integers(low, n - p + 1))
            corner.append(c)
            father_corner.append(s * c - (s - 1) if shifted else s * c)
        son = crop(self.son, tuple(corner), self.patch)  # type: ignore[arg-type]
        father, base = (crop(v, tuple(father_corner), self.father_patch) for v in (self.father, self.base))  # type: ignore[arg-type]
        return tuple(np.ascontiguousarray(apply(v, transform)) for v in (son, father, base))  # type: ignore[return-value]

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` random pairs as slabs: son ``(n, 3, px, py)``, father and base ``(n, 3·sz, sx·px, sy·py)``.

        With ``noise_std > 0`` the son patch gets fresh Gaussian noise and its base the noise's
        own cubic interpolation (the interpolation is linear; over the patch, periodic at its
        borders), so the base stays the interpolation of the network's input, as in ZSSR.
        """
        sons, fathers, bases = [], [], []
        for _ in range(n):
            son, father, base = self.pair(rng, self.draw_transform(rng))
            if self.noise_std > 0:
                noise = self.noise_std * rng.standard_normal(son.shape)
                son = (son + noise).astype(np.float32)
                base = (base + upsample_cubic(noise, self.scale.factors)).astype(np.float32)
            sons.append(son)
            fathers.append(father)
            bases.append(base)
        return tuple(to_slabs(torch.from_numpy(np.stack(v))) for v in (sons, fathers, bases))  # type: ignore[return-value]
