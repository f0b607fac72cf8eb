"""Gradient penalty of a discriminator: the mean squared norm of its score's gradient at the samples.

R1 (Mescheder, Geiger, Nowozin, "Which training methods for GANs do actually converge?", ICML
2018) penalises ``γ/2·E‖∇_x D(x)‖²`` at real samples; the same at generated samples is R2. Both
keep a discriminator smooth where the data are, so the gradient it hands the generators stays
bounded even while it cannot tell the two domains apart (issue 14).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient_penalty(score: Callable[[torch.Tensor], torch.Tensor], samples: torch.Tensor) -> torch.Tensor:
    """``E_b ‖∇_x Σ score(x_b)‖²``: per sample, the squared L2 norm of the gradient of its summed scores.

    Args:
        score: the discriminator (with whatever it shows of a sample), samples → raw scores of any shape
            ``(B, ...)``.
        samples: ``(B, C, H, W)`` (any shape with the batch first); detached here.

    Returns:
        A float32 scalar with a graph to the discriminator's parameters (``create_graph``), so it can be
        minimised.
    """
    x = samples.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(x).float().sum(), x, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()
