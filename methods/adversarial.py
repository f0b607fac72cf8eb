"""The training plan shared by the adversarial methods (CycleGAN, UDEAN, PseudoSR, DASR's two stages).

After BasicSR's ``SRGANModel.optimize_parameters`` (a new GAN overrides one method), written for
this harness: :class:`AdversarialPlan` owns what every adversarial method did for itself — the
common fields, the :class:`~methods.thin_slab.PatchSampler`, moving batches to the device,
``validate()`` — and a template :meth:`AdversarialPlan.train_step` that, every step,

1. updates the generators (optimiser ``"generator"``) on the method's generator losses, with the
   discriminators :func:`frozen`;
2. updates the discriminators (optimiser ``"discriminator"``) with the least-squares loss
   ``0.5·(mean (D(real) − 1)² + mean D(fake)²)`` on detached samples, forwards under the
   trainer's autocast, each discriminator's loss in float32, their sum ``d_total``;
3. shows each discriminator what :meth:`AdversarialPlan.discriminator_input` makes of a
   sample (the sample itself by default; DASR's high frequencies);
4. adds, for each discriminator named in :attr:`AdversarialPlan.gradient_penalties`, the
   gradient penalty ``γ/2·(E‖∇D(real)‖² + E‖∇D(fake)‖²)`` (R1 and R2,
   :func:`~methods.losses.gradient_penalty`) to its loss, logged as ``<judgement>_penalty``. A
   plan sets it from its own profile key; none is penalised by default.

A method's plan supplies its batches (:meth:`~AdversarialPlan.sample_batch`), its generator
losses (:meth:`~AdversarialPlan.generator_losses`: a dict with ``g_total`` and named terms) and,
per discriminator, what it judges real and fake (:meth:`~AdversarialPlan.judgements`). A plan
with other updates (PseudoSR: translators, then the SR network, then the discriminators)
overrides :meth:`~AdversarialPlan.train_step` alone and reuses the discriminator update.
Every step logs ``g_total``, ``d_total`` and the named terms of both.

Precision (:mod:`benchmark.precision`): forwards run under :meth:`Trainer.autocast` (bf16 or
fp16 when the cell asks for it), every loss is float32, and both updates (and PseudoSR's extra
ones) go through :meth:`Trainer.update`, so in fp16 the loss scaler scales every backward pass
and unscales every optimiser step, generators' and discriminators' alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from benchmark.api import RunContext, Trainer, TrainingData
from methods.adversarial_diagnostics import Float32, probe, probe_batch
from methods.losses import gradient_penalty, lsgan_discriminator_loss
from methods.thin_slab import PatchSampler, ThinSlabMethod
from methods.validation import ValidationSet

Batch = tuple[torch.Tensor, ...]


@contextmanager
def frozen(*networks: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of every parameter of ``networks`` inside the block.

    Gradients still flow *through* the frozen networks to their inputs; their own parameters
    collect none (as ``set_requires_grad(..., False)`` in CycleGAN and PseudoSR). The previous
    flags are restored on exit.
    """
    saved = [(p, p.requires_grad) for net in networks for p in net.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


class Judgement(NamedTuple):
    """What one discriminator judges in one update.

    Attributes:
        network: the discriminator's name in the plan's ``networks``.
        real: samples it should score 1, e.g. target LR slabs ``(B, 3, h, w)``.
        fake: generated samples it should score 0 (detached by the plan before scoring).
    """

    network: str
    real: torch.Tensor
    fake: torch.Tensor


class AdversarialPlan:
    """Training plan of an adversarial method: generator update, then discriminator update, every step.

    Args:
        method: the method whose networks the plan trains; its :meth:`~ThinSlabMethod.inference_network`
            is what :meth:`validate` measures, its scale and profile size the patches.
        data: the cell's training data; the plan keeps the source HR volumes ``(X, Y, Z)`` as
            :attr:`source_hr`, the target LR volumes ``(X/sx, Y/sy, Z/sz)`` as :attr:`target_lr`
            and the validation pairs.
        run: the run's context (device).
        networks: names of the method's networks this plan trains and checkpoints; default all.

    Attributes:
        optimised: set by each plan, ``{"generator": [...], "discriminator": [...]}``.
        gradient_penalties: discriminator name → γ of its gradient penalty; empty by default.
    """

    optimised: dict[str, list[str]]
    gradient_penalties: dict[str, float]

    def __init__(
        self, method: ThinSlabMethod, data: TrainingData, run: RunContext, networks: tuple[str, ...] | None = None
    ) -> None:
        names = tuple(method.networks) if networks is None else networks
        self.networks: dict[str, nn.Module] = {name: method.networks[name] for name in names}
        self.sr_network = method.inference_network()
        self.source_hr: list[np.ndarray] = [v.data for v in data.source_hr]
        self.target_lr: list[np.ndarray] = [v.data for v in data.target_lr]
        self.validation = data.validation
        self.scale = method.scale
        self.profile = method.profile
        self.device = run.device
        self.validation_set = ValidationSet(data.validation, self.scale, self.profile, self.device, run.precision)
        self.sampler = PatchSampler(self.profile["lr_patch"], self.scale)
        self.batch_size = int(self.profile["batch_size"])
        self._probe_batch: Batch | None = None
        self.gradient_penalties = {}

    # ------------------------------------------------------------ what a method supplies
    def sample_batch(self, rng: np.random.Generator) -> Batch:
        """One batch of slabs on the CPU, drawn with ``rng``."""
        raise NotImplementedError

    def generator_losses(self, batch: Batch, trainer: Trainer) -> tuple[dict[str, torch.Tensor], Any]:
        """Generator loss terms (float32 scalars; ``g_total``, their weighted sum, is optimised) and the generated
        samples :meth:`judgements` needs."""
        raise NotImplementedError

    def judgements(self, batch: Batch, generated: Any, trainer: Trainer) -> dict[str, Judgement]:
        """Loss name (``d_<what it judges>``) → what that discriminator judges; empty: no discriminator update."""
        raise NotImplementedError

    def discriminator_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the discriminators see of slabs ``x`` ``(B, C, H, W)``; the slabs themselves by default."""
        return x

    # ------------------------------------------------------------------- shared parts
    def judge(self, network: str, x: torch.Tensor) -> torch.Tensor:
        """Raw scores of discriminator ``network`` on :meth:`discriminator_input` of ``x`` (call under autocast)."""
        return self.networks[network](self.discriminator_input(x))

    def discriminator_losses(self, judgements: dict[str, Judgement], trainer: Trainer) -> dict[str, torch.Tensor]:
        """LSGAN loss of each discriminator on detached real and fake samples, the gradient penalties of
        :attr:`gradient_penalties`, and their sum ``d_total``.

        Args:
            judgements: as returned by :meth:`judgements`.
            trainer: for :meth:`Trainer.autocast`.

        Returns:
            One float32 scalar per judgement, by its name, ``<name>_penalty`` per penalised one, and
            ``d_total``; empty without judgements.
        """
        if not judgements:
            return {}
        with trainer.autocast():
            scores = {
                name: (self.judge(j.network, j.real.detach()), self.judge(j.network, j.fake.detach()))
                for name, j in judgements.items()
            }
        losses = {name: lsgan_discriminator_loss(real.float(), fake.float()) for name, (real, fake) in scores.items()}
        losses["d_total"] = sum(losses.values(), next(iter(losses.values())).new_zeros(()))
        for name, j in judgements.items():
            gamma = self.gradient_penalties.get(j.network, 0.0)
            if gamma > 0:
                score = partial(self.judge, j.network)
                with trainer.autocast():
                    penalty = gradient_penalty(score, j.real) + gradient_penalty(score, j.fake)
                losses[f"{name}_penalty"] = 0.5 * gamma * penalty
                losses["d_total"] = losses["d_total"] + losses[f"{name}_penalty"]
        return losses

    def to_device(self, batch: Batch) -> Batch:
        """The batch's tensors on the training device."""
        return tuple(t.to(self.device, non_blocking=True) for t in batch)

    def train_step(self, batch: Batch, trainer: Trainer) -> dict[str, float]:
        """One generator update (discriminators frozen), then one discriminator update on this step's samples."""
        batch = self.to_device(batch)
        with frozen(*(self.networks[name] for name in self.optimised.get("discriminator", []))):
            g_losses, generated = self.generator_losses(batch, trainer)
            trainer.update("generator", g_losses["g_total"])
        d_losses = self.discriminator_losses(self.judgements(batch, generated, trainer), trainer)
        if d_losses:
            trainer.update("discriminator", d_losses["d_total"])
        return {name: value.item() for name, value in {**g_losses, **d_losses}.items()}

    def probe_judgements(self, batch: Batch, generated: Any) -> dict[str, Judgement]:
        """What each discriminator judges, for the instruments only: :meth:`judgements` by default; a plan
        whose :meth:`judgements` changes state (CycleGAN's image pools) gives the same without the change."""
        return self.judgements(batch, generated, Float32())  # type: ignore[arg-type]

    def probe_statistics(self, batch: Batch, generated: Any) -> dict[str, float]:
        """Method-specific instruments on the probe batch and what the generators made of it (none by default)."""
        return {}

    def validate(self) -> dict[str, float]:
        """Validation scores of the inference network (:class:`~methods.validation.ValidationSet`) and the
        training instruments of :func:`~methods.adversarial_diagnostics.probe` on a fixed probe batch."""
        scores = self.validation_set.score(self.sr_network)
        if self._probe_batch is None:
            self._probe_batch = probe_batch(self)
        return {**scores, **probe(self, self._probe_batch)}
