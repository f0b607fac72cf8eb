"""One training loop for every learned method.

A method describes *what* one training iteration does (:class:`TrainingPlan`); the
:class:`Trainer` does the rest the same way for everyone: Adam (β = (0.9, 0.99), ε = 1e-8),
the learning rate of each step from a :class:`LearningRatePolicy` (by default
:class:`CosineDecay` from ``lr_max`` to ``lr_min`` over all steps; a method may pass its own,
which may also end training early), the run's precision (:mod:`benchmark.precision`: autocast,
and a loss scaler in fp16), validation at intervals, checkpoints at intervals written
atomically, resume from the last checkpoint after a kill
(weights, optimisers, scaler, step, RNG states, the policy's state and loss history, so a
resumed run ends with the same weights as an uninterrupted one on the CPU), a rich progress
bar with the current losses, the loss history in the cell folder, and a split of the time
spent sampling data, in forward/backward passes and in optimiser steps.

Checkpoints are untrusted input.  They are read with ``torch.load(weights_only=True)``, so a
planted pickle cannot run code; they carry the hash of the configuration that wrote them and
one written under another hash is refused; the checkpoint before the last is kept as
``previous.pt``, so a damaged ``last.pt`` (cut by a full disk, foreign, empty) falls back to
it, or to a fresh start, with a warning that says which.
"""

from __future__ import annotations

import copy
import io
import math
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmark.precision import autocast, needs_loss_scaler
from benchmark.results.atomic_files import write_atomic, write_csv
from benchmark.results.cell_record import LOSSES, TIMING
from benchmark.training.divergence import TrainingDivergedError
from benchmark.training.run_context import RunContext

CHECKPOINT = "last.pt"
PREVIOUS_CHECKPOINT = "previous.pt"


class TrainingPlan(Protocol):
    """What a method tells the trainer.

    Attributes:
        networks: every trainable network by name (saved in checkpoints).
        optimised: optimiser name → names of the networks it updates, e.g.
            ``{"generator": ["encoder", "decoder"], "discriminator": ["d_lr"]}``.
    """

    networks: dict[str, nn.Module]
    optimised: dict[str, list[str]]

    def sample_batch(self, rng: np.random.Generator) -> Any:
        """Draw one batch of patches (on the CPU) with ``rng``."""

    def train_step(self, batch: Any, trainer: Trainer) -> dict[str, float]:
        """One iteration: compute losses, call :meth:`Trainer.update` per optimiser, return scalar losses."""

    def validate(self) -> dict[str, float]:
        """Validation metrics (e.g. PSNR on validation pairs); called every ``val_every`` steps."""


class LearningRatePolicy(Protocol):
    """The learning rate of every step, set on every optimiser before the step.

    A policy may keep state (e.g. watch a loss and divide the rate); the state goes into the
    checkpoints, which are loaded with ``weights_only=True``, so :meth:`state_dict` may hold
    only tensors, numbers, strings, lists and dicts.
    """

    def rate(self, step: int, trainer: Trainer) -> float | None:
        """The rate of 0-based ``step``, or ``None`` to end training before it.

        Called once per step, in order, also across a resume (the first call after a resume
        is for the resumed step), except that a run resumed from the checkpoint written when
        the policy answered ``None`` asks again for that step: the answer must be ``None`` again.
        """

    def state_dict(self) -> dict[str, Any]:
        """The policy's state, for checkpoints."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; raise on a state that does not fit."""


def cosine_rate(step: int, steps: int, lr_max: float, lr_min: float) -> float:
    """Cosine decay from ``lr_max`` at step 0 to ``lr_min`` at step ``steps − 1``."""
    progress = step / max(steps - 1, 1)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * progress))


class CosineDecay:
    """The shared schedule: cosine decay from the profile's ``lr_max`` to ``lr_min`` over all steps (stateless)."""

    def rate(self, step: int, trainer: Trainer) -> float:
        """:func:`cosine_rate` over the trainer's ``total_steps``."""
        return cosine_rate(step, trainer.total_steps, trainer.lr_max, trainer.lr_min)

    def state_dict(self) -> dict[str, Any]:
        """Nothing to save."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""
        del state


@dataclass
class StepTimes:
    """Seconds spent per part of training, summed over steps."""

    data: float = 0.0
    compute: float = 0.0
    optimiser: float = 0.0
    steps: int = 0

    def as_dict(self) -> dict[str, float]:
        """Totals and the share of each part."""
        total = self.data + self.compute + self.optimiser
        return {
            "steps": self.steps,
            "data_s": self.data,
            "forward_backward_s": self.compute,
            "optimiser_s": self.optimiser,
            "total_s": total,
        }

    @classmethod
    def from_dict(cls, record: dict[str, float]) -> StepTimes:
        """Inverse of :meth:`as_dict` (a resumed run goes on adding to the saved totals)."""
        return cls(
            data=float(record["data_s"]),
            compute=float(record["forward_backward_s"]),
            optimiser=float(record["optimiser_s"]),
            steps=int(record["steps"]),
        )


class UnusableCheckpointError(Exception):
    """A checkpoint that cannot be resumed from; its message says why, in one sentence."""


class ForeignConfigurationError(UnusableCheckpointError):
    """A readable checkpoint written for another configuration: none in its folder belongs to this one."""


@dataclass
class Trainer:
    """Runs a :class:`TrainingPlan` for ``total_steps`` steps under a :class:`RunContext`.

    Attributes:
        lr_policy: the learning rate of each step; the shared cosine decay by default.
    """

    plan: TrainingPlan
    run: RunContext
    total_steps: int
    description: str = "train"
    history: list[dict[str, float]] = field(default_factory=list)
    times: StepTimes = field(default_factory=StepTimes)
    lr_policy: LearningRatePolicy = field(default_factory=CosineDecay)

    def __post_init__(self) -> None:
        profile = self.run.profile
        self.lr_max = float(profile["lr_max"])
        self.lr_min = float(profile["lr_min"])
        self.optimisers = self._make_optimisers()
        self.precision = self.run.precision
        # A loss scaler only for fp16 (bf16 has float32's range); disabled, it passes losses and steps through.
        self.scaler = torch.amp.GradScaler(self.run.device.type, enabled=needs_loss_scaler(self.precision))
        self.step = 0
        self._optimiser_seconds = 0.0
        self.rng = np.random.default_rng(self.run.seed)
        self._sync = torch.cuda.synchronize if self.run.device.type == "cuda" else (lambda: None)

    def _make_optimisers(self) -> dict[str, torch.optim.Optimizer]:
        profile = self.run.profile
        return {
            name: torch.optim.Adam(
                [p for net in names for p in self.plan.networks[net].parameters()],
                lr=self.lr_max,
                betas=tuple(profile["adam_betas"]),  # type: ignore[arg-type]
                eps=float(profile["adam_eps"]),
            )
            for name, names in self.plan.optimised.items()
        }

    # ----------------------------------------------------------------- schedule
    def learning_rate(self, step: int) -> float | None:
        """The policy's rate of ``step`` (by default the cosine from ``lr_max`` at step 0 to ``lr_min`` at the last).

        A stateful policy advances with each call: the training loop makes one call per step.
        """
        return self.lr_policy.rate(step, self)

    def autocast(self) -> AbstractContextManager[Any]:
        """Autocast to the run's precision (bf16 or fp16) for forward passes; a no-op in fp32."""
        return autocast(self.precision, self.run.device)

    def update(self, optimiser: str, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """Back-propagate ``loss`` and step optimiser ``optimiser`` (zeroing its gradients first).

        Gradients reaching networks of other optimisers are cleared by those optimisers' own
        ``zero_grad`` before their update, so alternating generator and discriminator updates
        never mix gradients.  In fp16 the loss is scaled before the backward pass and the step
        unscales the gradients (skipped when they overflowed); every method's optimiser steps go
        through here, so the scaler covers all of them.

        Raises:
            TrainingDivergedError: ``loss`` is NaN or infinite; nothing is updated.
        """
        value = float(loss.detach())
        if not math.isfinite(value):  # before any weight moves: the cell ends as diverged (divergence.py)
            raise TrainingDivergedError(self.step + 1, optimiser, value)
        opt = self.optimisers[optimiser]
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward(retain_graph=retain_graph)
        self._sync()
        started = time.perf_counter()
        self.scaler.step(opt)
        self.scaler.update()
        self._sync()
        self._optimiser_seconds += time.perf_counter() - started

    # ------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        """``<checkpoint_dir>/last.pt``."""
        return self.run.checkpoint_dir / CHECKPOINT

    @property
    def previous_checkpoint_path(self) -> Path:
        """``<checkpoint_dir>/previous.pt``: the checkpoint before the last, kept as a fallback."""
        return self.run.checkpoint_dir / PREVIOUS_CHECKPOINT

    def save_checkpoint(self) -> None:
        """Atomically write everything needed to resume at :attr:`step`; the last one becomes ``previous.pt``.

        Only tensors, numbers, strings, lists and dicts go in, so it loads with ``weights_only=True``.
        """
        state = {
            "config_hash": self.run.config_hash,
            "step": self.step,
            "total_steps": self.total_steps,
            "networks": {name: net.state_dict() for name, net in self.plan.networks.items()},
            "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "history": self.history,
            "times": self.times.as_dict(),
            "lr_policy": self.lr_policy.state_dict(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        if self.checkpoint_path.is_file():
            self.checkpoint_path.replace(self.previous_checkpoint_path)
        write_atomic(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self) -> bool:
        """Resume from ``last.pt``, else ``previous.pt``; returns whether it resumed.

        A checkpoint that cannot be read or does not fit the networks is not used: the user is
        warned (one sentence) and ``previous.pt`` is tried.  Checkpoints of another configuration
        (another cell's options, changed input volumes) are refused with one sentence and
        training starts from step 0.  Networks are untouched by a refused checkpoint.
        """
        for path in (self.checkpoint_path, self.previous_checkpoint_path):
            if not path.is_file():
                continue
            try:
                self._resume_from(path)
            except ForeignConfigurationError as refusal:
                self.run.warn(f"{refusal} It is not used; {self.description} starts from step 0.")
                return False
            except UnusableCheckpointError as refusal:
                fallback = "a fresh start"
                if path == self.checkpoint_path and self.previous_checkpoint_path.is_file():
                    fallback = "previous.pt"
                self.run.warn(f"{refusal} It is not used; {self.description} goes on from {fallback}.")
                continue
            if path != self.checkpoint_path:
                self.run.warn(f"{self.description} resumed from the fallback {path} at step {self.step}.")
            return True
        return False

    def _resume_from(self, path: Path) -> None:
        """Load ``path`` into networks, optimisers and RNGs, all or nothing.

        Raises:
            UnusableCheckpointError: unreadable, foreign or from another configuration.
        """
        try:
            state = torch.load(path, map_location=self.run.device, weights_only=True)
        except Exception as error:  # truncated, empty, a planted pickle, not a torch file at all
            reason = type(error).__name__
            raise UnusableCheckpointError(f"checkpoint {path} cannot be read safely ({reason}).") from None
        if not isinstance(state, dict) or not {"step", "networks", "optimisers", "rng"} <= set(state):
            raise UnusableCheckpointError(f"checkpoint {path} is not a checkpoint of this harness.")
        if state.get("config_hash", "") != self.run.config_hash:
            raise ForeignConfigurationError(
                f"checkpoint {path} was written for configuration {state.get('config_hash') or 'unknown'}, "
                f"not this cell's {self.run.config_hash or 'unknown'}."
            )
        saved = {name: copy.deepcopy(net.state_dict()) for name, net in self.plan.networks.items()}
        saved_policy = copy.deepcopy(self.lr_policy.state_dict())
        saved_rng, saved_torch_rng = self.rng.bit_generator.state, torch.get_rng_state()
        try:
            for name, net in self.plan.networks.items():
                net.load_state_dict(state["networks"][name])
            optimisers = {name: state["optimisers"][name] for name in self.optimisers}
            for name, opt in self.optimisers.items():
                opt.load_state_dict(optimisers[name])
            self.scaler.load_state_dict(state["scaler"])
            self.lr_policy.load_state_dict(state.get("lr_policy", {}))
            self.rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"].cpu())
            history = list(state["history"])
            times = StepTimes.from_dict(state["times"]) if "times" in state else StepTimes()
            step = int(state["step"])
        except Exception as error:  # another method's networks, a missing key, a wrong shape
            for name, net in self.plan.networks.items():
                net.load_state_dict(saved[name])
            self.optimisers = self._make_optimisers()
            self.lr_policy.load_state_dict(saved_policy)
            self.rng.bit_generator.state = saved_rng
            torch.set_rng_state(saved_torch_rng)
            reason = type(error).__name__
            raise UnusableCheckpointError(f"checkpoint {path} does not fit this cell ({reason}).") from None
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        self.history, self.times, self.step = history, times, step

    # -------------------------------------------------------------------- loop
    def fit(self, stop_after: int | None = None) -> None:
        """Train from the current (or resumed) step to ``total_steps``, or until the policy ends training.

        Args:
            stop_after: stop (with a checkpoint) once this step is reached; for tests of resuming.
        """
        resumed = self.load_checkpoint()
        if resumed:
            self.run.log(f"resumed {self.description} at step {self.step}")
        for net in self.plan.networks.values():
            net.to(self.run.device).train()
        progress = self.run.progress
        task = None
        if progress is not None:
            task = progress.add_task(self.description, total=self.total_steps, completed=self.step)
        try:
            while self.step < self.total_steps:
                if stop_after is not None and self.step >= stop_after:
                    self.save_checkpoint()
                    return
                lr = self.lr_policy.rate(self.step, self)
                if lr is None:
                    self._stop_early()
                    break
                self._one_step(lr, progress, task)
                if self.step % int(self.run.profile["checkpoint_every"]) == 0 or self.step == self.total_steps:
                    self.save_checkpoint()
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)
        self.write_history()

    def _stop_early(self) -> None:
        """The policy ended training: validate the last step done, if not yet, and checkpoint."""
        self.run.log(f"{self.description}: the learning-rate policy ended training at step {self.step}")
        if self.history and not any(key.startswith("val_") for key in self.history[-1]):
            self.history[-1].update(self._validate())
        self.save_checkpoint()

    def _validate(self) -> dict[str, float]:
        """The plan's validation metrics as ``val_*``, its networks in eval mode meanwhile."""
        for net in self.plan.networks.values():
            net.eval()
        metrics = {f"val_{k}": v for k, v in self.plan.validate().items()}
        for net in self.plan.networks.values():
            net.train()
        return metrics

    def _one_step(self, lr: float, progress: Any, task: Any) -> None:
        for opt in self.optimisers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        started = time.perf_counter()
        batch = self.plan.sample_batch(self.rng)
        data_done = time.perf_counter()
        self._optimiser_seconds = 0.0
        losses = self.plan.train_step(batch, self)
        self._sync()
        finished = time.perf_counter()
        self.times.data += data_done - started
        self.times.optimiser += self._optimiser_seconds
        self.times.compute += finished - data_done - self._optimiser_seconds
        self.times.steps += 1
        self.step += 1
        record = {"step": self.step, "lr": lr, **{k: float(v) for k, v in losses.items()}}
        if self.step % int(self.run.profile["val_every"]) == 0 or self.step == self.total_steps:
            record.update(self._validate())
        self.history.append(record)
        if progress is not None and task is not None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in losses.items())
            progress.update(task, advance=1, description=f"{self.description} · {shown}")

    def write_history(self) -> None:
        """Write ``losses.csv`` (one row per step) and ``timing.csv`` to the cell folder."""
        write_csv(self.run.cell_dir / LOSSES, pd.DataFrame(self.history))
        write_csv(self.run.cell_dir / TIMING, pd.DataFrame([self.times.as_dict()]))


def total_steps(profile: Any, lr_shapes: Iterable[tuple[int, ...]] = ()) -> int:
    """Training steps of a profile: ``epochs × steps_per_epoch``.

    ``steps_per_epoch = "auto"`` (the paper profile) makes one epoch show as many LR patch
    voxels as the target LR volumes hold: ``ceil(Σ voxels / (patch voxels × batch))``.
    """
    per_epoch = profile["steps_per_epoch"]
    if per_epoch == "auto":
        patch = math.prod(int(p) for p in profile["lr_patch"])
        voxels = sum(math.prod(shape) for shape in lr_shapes)
        per_epoch = max(1, math.ceil(voxels / (patch * int(profile["batch_size"]))))
    return int(profile["epochs"]) * int(per_epoch)
