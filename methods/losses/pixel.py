"""Pixel-wise L1 loss (UDEAN paper, eq. 1)."""

from __future__ import annotations

import torch


def l1_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over every element, ``mean |x − y|`` (eq. 1).

    Args:
        x, y: tensors of one shape, e.g. slabs ``(B, M, H, W)`` or features ``(B, C, h, w)``.

    Returns:
        A scalar tensor.
    """
    if x.shape != y.shape:
        raise ValueError(f"l1_loss needs two tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    return (x - y).abs().mean()
