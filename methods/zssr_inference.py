"""ZSSR at test time: the residual over cubic interpolation, back-projection, and the geometric self-ensemble."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from benchmark.api import (
    Precision,
    Scale,
    TileCallback,
    kspace_zero_fill,
    super_resolve_slabs,
    truncated_image,
)
from methods.cubic_upsampling import upsample_cubic
from methods.dihedral import InPlane, apply, in_plane_transforms, invert
from methods.zssr_config import BACK_PROJECTION_ITERS


def zssr_forward(
    network: torch.nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    learn_residual: bool = True,
    precision: Precision | None = None,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """SR of one LR volume: the network's slab output, plus the volume's cubic interpolation when ``learn_residual``.

    Args:
        network: slab SR network.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        scale: the scale.
        tile: in-plane LR tile of the slab inference.
        batch_size: tiles per forward pass.
        device: inference device.
        learn_residual: add :func:`~methods.cubic_upsampling.upsample_cubic` of ``lr``.
        precision: autocast of the forward passes (the run's), ``None``: what ``auto`` means.
        on_tiles: progress of the tiled pass, or ``None``.

    Returns:
        ``(X, Y, Z)`` float32 SR volume on the CPU.
    """
    sr = super_resolve_slabs(network, lr, scale, tile, batch_size, device, precision, on_tiles).cpu()
    if not learn_residual:
        return sr
    base = upsample_cubic(lr.detach().cpu().numpy(), scale.factors)
    return (sr.double() + torch.from_numpy(base)).float()


def _up_kspace(residual: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    return kspace_zero_fill(residual, tuple(factors)).real


def _up_cubic(residual: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    return torch.from_numpy(upsample_cubic(residual.real.cpu().numpy(), factors)).to(residual.device)


BACK_PROJECTION_UPS: dict[str, Callable[[torch.Tensor, Sequence[int]], torch.Tensor]] = {
    "kspace": _up_kspace,
    "cubic": _up_cubic,
}
"""``zssr_back_projection_up``: how the complex LR residual becomes a real HR correction."""


def back_projection_step(sr: torch.Tensor, lr: torch.Tensor, scale: Scale, up: str = "kspace") -> torch.Tensor:
    """One back-projection: ``clip(sr + up(lr − down(sr)), 0, 1)``, as ZSSR's ``back_projection``.

    ``down`` is the protocol's degradation, the 3D k-space truncation that made ``lr``
    (ZSSR's ``down_kernel``). It ends in a magnitude, which folds the negative lobes of the
    truncation's ringing up; a plain ``lr − |z|`` then pushes those voxels the wrong way and
    the iteration drifts off (on the demo, −0.6 dB in 10 iterations). So the residual is
    taken before the magnitude, on the complex image ``z``
    (:func:`~benchmark.protocol.degradations.truncated_image`): ``lr·z/|z| − z``, the LR's
    magnitude with ``z``'s phase. It is zero exactly when ``|z| == lr``, i.e.
    ``kspace_truncate(sr) == lr``. Torch on ``sr``'s device, in float64.

    Args:
        sr: ``(X, Y, Z)`` float64 SR volume (a multiple of the scale).
        lr: ``(X/sx, Y/sy, Z/sz)`` float64 LR volume, on ``sr``'s device.
        scale: the scale.
        up: ``"kspace"``: the residual zero-filled in k-space
            (:func:`~benchmark.protocol.degradations.kspace_zero_fill`, the pseudo-inverse of the
            truncation: each step is k-space data consistency), or ``"cubic"``: the cubic
            interpolation of its real part (:func:`~methods.cubic_upsampling.upsample_cubic`,
            ZSSR's ``upscale_method``; on the CPU).

    Returns:
        ``(X, Y, Z)`` float64 volume on ``sr``'s device, clipped to ``[0, 1]`` (the protocol's range).
    """
    z = truncated_image(sr, scale)
    residual = lr * torch.exp(1j * torch.angle(z)) - z
    return torch.clamp(sr + BACK_PROJECTION_UPS[up](residual, scale.factors), 0.0, 1.0)


def back_project(
    sr: torch.Tensor,
    lr: torch.Tensor,
    scale: Scale,
    iterations: int,
    up: str = "kspace",
    device: torch.device | None = None,
) -> torch.Tensor:
    """``iterations`` :func:`back_projection_step` s (with ``up``) of an SR volume ``(X, Y, Z)`` against its LR volume.

    Args:
        device: where the steps run (the method's device; float64 FFTs); default ``sr``'s.

    Returns:
        ``(X, Y, Z)`` float32 tensor on the CPU (``sr`` itself when ``iterations`` is 0).
    """
    if iterations == 0:
        return sr
    device = sr.device if device is None else device
    out = sr.detach().to(device, torch.float64)
    lr64 = lr.detach().to(device, torch.float64)
    for _ in range(iterations):
        out = back_projection_step(out, lr64, scale, up)
    return out.float().cpu()


def super_resolve_ensemble(
    network: torch.nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    transforms: Sequence[Sequence[bool]] | None = None,
    learn_residual: bool = True,
    back_projection: int = BACK_PROJECTION_ITERS,
    back_projection_up: str = "kspace",
    precision: Precision | None = None,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """ZSSR's test time: SR of every in-plane variant of ``lr``, mapped back and back-projected, median, back-projected.

    As ZSSR's ``final_test``: each variant's output (:func:`zssr_forward`), mapped back onto
    the grid of ``lr``, gets ``back_projection`` iterations of :func:`back_projection_step`;
    the voxel-wise median of the variants gets ``back_projection`` more.

    Args:
        network: slab SR network.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        scale: the scale (``sx == sy`` for transposes).
        tile: in-plane LR tile of the slab inference.
        batch_size: tiles per forward pass.
        device: inference device.
        transforms: ``(mirror X, mirror Y, transpose)`` variants; default all 8, or the 4
            without a transpose when ``sx ≠ sy`` (:func:`~methods.dihedral.in_plane_transforms`);
            ``[IDENTITY]`` for no ensemble (ZSSR's ``output_flip = False``).
        learn_residual: add the cubic interpolation of each variant to the network's output.
        back_projection: iterations per variant and for the median (ZSSR: 10; 0: none).
        back_projection_up: ``up`` of :func:`back_projection_step`.
        precision: autocast of the forward passes (the run's), ``None``: what ``auto`` means.
        on_tiles: progress of each variant's tiled pass, or ``None``.

    Returns:
        ``(X, Y, Z)`` float32 SR volume (for an even number of variants, the median is the mean
        of the two middle values).
    """
    if transforms is None:
        transforms = in_plane_transforms(scale.sx == scale.sy)
    outputs = []
    for transform in (InPlane(*t) for t in transforms):
        if transform.transpose and scale.sx != scale.sy:
            raise ValueError(f"a transposed variant needs sx == sy, got scale {scale}")
        y = zssr_forward(
            network,
            apply(lr, transform).contiguous(),
            scale,
            tile,
            batch_size,
            device,
            learn_residual,
            precision,
            on_tiles,
        )
        y = invert(y, transform, factors=(scale.sx, scale.sy)).contiguous()
        outputs.append(back_project(y, lr, scale, back_projection, back_projection_up, device))
    stacked = torch.stack(outputs).sort(dim=0).values
    n = stacked.shape[0]
    median = stacked[n // 2] if n % 2 else 0.5 * (stacked[n // 2 - 1] + stacked[n // 2])
    return back_project(median, lr, scale, back_projection, back_projection_up, device)
