"""What an adversarial plan's training is doing, measured on one fixed probe batch at each validation.

Instruments for a method whose validation PSNR falls as it trains (a discriminator winning, a
generator hiding information in its fakes, one loss term drowning the others):

* ``grad_<term>``: the L2 norm of the gradient of each generator loss term (unweighted, as the
  plan logs it) with respect to every parameter the plan does not optimise as a discriminator,
  so one can see which term drives the generators;
* ``d_<name>_real`` / ``d_<name>_fake``: each discriminator's mean raw score on what it judges
  real and fake (LSGAN targets 1 and 0; a discriminator that separates the two perfectly gives
  1 and 0);
* whatever the plan's :meth:`~methods.adversarial.AdversarialPlan.probe_statistics` adds (UDEAN:
  the PSNR of its source cycle and the statistics of ``X_{s→t}`` against ``X_t``).

The probe batch is drawn once, from its own generator (seed :data:`PROBE_SEED`), so the
training's random streams, its networks' gradients and its results are untouched: the numbers
land in ``losses.csv`` beside ``val_psnr`` and nowhere else. Forwards run in float32.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from methods.adversarial import AdversarialPlan

PROBE_SEED = 20_221_105
"""Seed of the probe batch's own random generator (independent of the training seed)."""


def gradient_norms(terms: dict[str, torch.Tensor], parameters: list[torch.nn.Parameter]) -> dict[str, float]:
    """``{term: ‖∂term/∂θ‖₂}`` over ``parameters`` for every term that depends on them.

    Args:
        terms: scalar loss terms of one forward pass (its graph kept).
        parameters: the parameters to differentiate against (the generators').

    Returns:
        One float per term; a term with no path to the parameters (a constant) gives 0.
    """
    norms = {}
    for name, term in terms.items():
        if not term.requires_grad:
            norms[name] = 0.0
            continue
        grads = torch.autograd.grad(term, parameters, retain_graph=True, allow_unused=True)
        squares = [g.double().pow(2).sum() for g in grads if g is not None]
        norms[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms


def high_frequency_energy(slabs: torch.Tensor) -> float:
    """Mean squared in-plane Laplacian of slabs ``(B, C, H, W)``: the energy of their finest detail."""
    lap = (
        slabs[..., 1:-1, 1:-1] * 4
        - slabs[..., :-2, 1:-1]
        - slabs[..., 2:, 1:-1]
        - slabs[..., 1:-1, :-2]
        - slabs[..., 1:-1, 2:]
    )
    return float(lap.double().pow(2).mean())


def probe(plan: AdversarialPlan, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """The instruments of the module docstring on ``batch`` (already on the plan's device).

    The networks keep whatever mode the caller set (the trainer validates in eval mode); no
    parameter's ``.grad`` is touched.
    """
    generator_names = [name for group, names in plan.optimised.items() if group != "discriminator" for name in names]
    generators = [p for name in generator_names for p in plan.networks[name].parameters()]
    flags = [p.requires_grad for p in generators]
    for p in generators:
        p.requires_grad_(True)
    try:
        terms, generated = plan.generator_losses(batch, Float32())  # type: ignore[arg-type]
        named = {name: t for name, t in terms.items() if name != "g_total"}
        out = {f"grad_{name}": value for name, value in gradient_norms(named, generators).items()}
        with torch.no_grad():
            judgements = plan.probe_judgements(batch, generated)
            for name, judgement in judgements.items():
                out[f"{name}_real"] = float(plan.judge(judgement.network, judgement.real).float().mean())
                out[f"{name}_fake"] = float(plan.judge(judgement.network, judgement.fake).float().mean())
            out.update(plan.probe_statistics(batch, generated))
    finally:
        for p, flag in zip(generators, flags):
            p.requires_grad_(flag)
    return out


def probe_batch(plan: AdversarialPlan) -> tuple[torch.Tensor, ...]:
    """The plan's fixed probe batch, drawn with :data:`PROBE_SEED` and moved to its device."""
    return plan.to_device(plan.sample_batch(np.random.default_rng(PROBE_SEED)))


class Float32:
    """Stands in for the trainer in ``generator_losses`` / ``judgements``: float32 forwards, no autocast."""

    autocast = staticmethod(nullcontext)
