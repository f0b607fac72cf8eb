"""DASR's frequency separation (Wei et al., CVPR 2021; ``ShuhangGu/DASR``, ``FilterLow`` / ``FilterHigh``).

Followed: the low-pass is a normalised 2D Gaussian of ``size = 5`` taps with σ = size / 6
(``FilterLow(gaussian=True)``), applied in-plane to every slice (channel); the high-pass is
``x − LF(x)``.

Adapted: borders are padded by edge replication (the original pads the discriminator's filter
with zeros and the fidelity loss's filter not at all); replication keeps every map the patch's
size and adds no dark border. High frequencies are not rescaled to ``0.5 + 0.5·(x − LF(x))``
as in the original (a fixed affine map the discriminator's first conv absorbs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LF_KERNEL = 5


def gaussian_kernel2d(size: int = LF_KERNEL) -> torch.Tensor:
    """Normalised 2D Gaussian ``(size, size)`` with σ = size / 6, as DASR's ``GaussianFilter``."""
    if size < 1:
        raise ValueError(f"the low-pass kernel needs at least one tap, got {size}")
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    sigma = size / 6.0
    axis = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = axis[:, None] * axis[None, :]
    return (kernel / kernel.sum()).float()


def low_pass(x: torch.Tensor, size: int = LF_KERNEL) -> torch.Tensor:
    """In-plane Gaussian low-pass of every channel, edge-replicated borders.

    Args:
        x: slabs ``(B, C, H, W)``.
        size: kernel taps (odd), default 5.

    Returns:
        ``(B, C, H, W)``, the same dtype as ``x``.
    """
    channels = x.shape[1]
    weight = gaussian_kernel2d(size).to(device=x.device, dtype=x.dtype).expand(channels, 1, size, size)
    pad = size // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), weight, groups=channels)


def high_pass(x: torch.Tensor, size: int = LF_KERNEL) -> torch.Tensor:
    """High frequencies ``x − LF(x)`` of slabs ``(B, C, H, W)`` → ``(B, C, H, W)``."""
    return x - low_pass(x, size)
