"""RCAN building blocks: channel attention, RCAB and residual group (Zhang et al., ECCV 2018).

Followed from RCAN (``yulunzhang/RCAN``, ``model/rcan.py``) and the TS-RCAN release: all
convolutions 3×3 with bias and "same" padding, ReLU inside the RCAB, no batch norm and no
residual scaling (``res_scale = 1``).
"""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3×3 convolution with bias and padding 1, which keeps the grid: ``(B, in, H, W) -> (B, out, H, W)``."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention.

    Global average pool → 1×1 conv ``C → C/r`` → ReLU → 1×1 conv ``C/r → C`` → sigmoid → multiply.

    Args:
        channels: ``C``.
        reduction: ``r``, default 16; the bottleneck has ``max(1, C // r)`` channels.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(channels, hidden, kernel_size=1)
        self.excite = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.excite(torch.relu(self.squeeze(self.pool(x)))))
        return x * weights


class RCAB(nn.Module):
    """Residual channel attention block: ``x + CA(conv(ReLU(conv(x))))``.

    Args:
        channels: ``C``.
        reduction: channel-attention reduction ``r``, default 16.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels),
            nn.ReLU(inplace=True),
            conv3x3(channels, channels),
            ChannelAttention(channels, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """``n_rcab`` RCABs followed by a 3×3 conv, with a skip over the whole group.

    Args:
        channels: ``C``.
        n_rcab: number of RCABs, default 5 (TS-RCAN; RCAN uses 20).
        reduction: channel-attention reduction ``r``, default 16.

    Shapes:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, n_rcab: int = 5, reduction: int = 16) -> None:
        super().__init__()
        blocks: list[nn.Module] = [RCAB(channels, reduction) for _ in range(n_rcab)]
        blocks.append(conv3x3(channels, channels))
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
