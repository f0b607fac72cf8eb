"""Degradation-adaptation losses of UDEAN (eq. 8–9), in image space (``L_da``) and feature space (``L_fa``).

``L(a, b) = mean |D(a) − 0.5| + mean |D(b) − 0.5|``: the generators are rewarded when the
discriminator cannot tell the two domains apart, i.e. scores sit halfway between its targets.

Raw or sigmoid scores: the discriminators are trained with least squares on raw scores with
targets 1 (real) and 0 (fake), so 0.5 is the midpoint of those targets on the raw scale and
raw scores are used here (no sigmoid). A sigmoid would make 0.5 mean a raw score of 0, the
fake target, and the loss would then just push both domains to look fake.
"""

from __future__ import annotations

import torch


def degradation_adaptation_loss(d_a: torch.Tensor, d_b: torch.Tensor, target: float = 0.5) -> torch.Tensor:
    """``mean |D(a) − target| + mean |D(b) − target|`` (eq. 8 with ``a = X_{s→t}, b = X_t``; eq. 9 with ``f_t, f_s``).

    Args:
        d_a: raw discriminator scores of one domain, any shape (e.g. ``(B, 1, h, w)``).
        d_b: raw discriminator scores of the other domain.
        target: the score both domains are pushed to, default 0.5.

    Returns:
        A scalar tensor, 0 when every score equals ``target``.
    """
    return (d_a - target).abs().mean() + (d_b - target).abs().mean()
