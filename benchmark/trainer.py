"""One training loop for every learned method.

A method describes *what* one training iteration does (:class:`TrainingPlan`); the
:class:`Trainer` does the rest the same way for everyone: Adam (β = (0.9, 0.99), ε = 1e-8),
cosine decay of the learning rate from ``lr_max`` to ``lr_min`` over all steps, mixed precision
on CUDA, validation at intervals, checkpoints at intervals written atomically, resume from the
last checkpoint after a kill (weights, optimisers, scaler, step, RNG states and loss history, so
a resumed run ends with the same weights as an uninterrupted one on the CPU), a rich progress
bar with the current losses, the loss history in the cell folder, and a split of the time
spent sampling data, in forward/backward passes and in optimiser steps.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch import nn

from benchmark.run_context import RunContext
from benchmark.store import write_atomic, write_csv

CHECKPOINT = "last.pt"


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


@dataclass
class Trainer:
    """Runs a :class:`TrainingPlan` for ``total_steps`` steps under a :class:`RunContext`."""

    plan: TrainingPlan
    run: RunContext
    total_steps: int
    description: str = "train"
    history: list[dict[str, float]] = field(default_factory=list)
    times: StepTimes = field(default_factory=StepTimes)

    def __post_init__(self) -> None:
        profile = self.run.profile
        self.lr_max = float(profile["lr_max"])
        self.lr_min = float(profile["lr_min"])
        betas = tuple(profile["adam_betas"])
        self.optimisers = {
            name: torch.optim.Adam(
                [p for net in names for p in self.plan.networks[net].parameters()],
                lr=self.lr_max,
                betas=betas,  # type: ignore[arg-type]
                eps=float(profile["adam_eps"]),
            )
            for name, names in self.plan.optimised.items()
        }
        self.use_amp = self.run.amp and self.run.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.step = 0
        self._optimiser_seconds = 0.0
        self.rng = np.random.default_rng(self.run.seed)
        self._sync = torch.cuda.synchronize if self.run.device.type == "cuda" else (lambda: None)

    # ----------------------------------------------------------------- schedule
    def learning_rate(self, step: int) -> float:
        """Cosine decay from ``lr_max`` at step 0 to ``lr_min`` at the last step."""
        progress = step / max(self.total_steps - 1, 1)
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * progress))

    def autocast(self) -> AbstractContextManager[Any]:
        """Mixed-precision context on CUDA, a no-op on the CPU."""
        if self.use_amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return nullcontext()

    def update(self, optimiser: str, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """Back-propagate ``loss`` and step optimiser ``optimiser`` (zeroing its gradients first).

        Gradients reaching networks of other optimisers are cleared by those optimisers' own
        ``zero_grad`` before their update, so alternating generator and discriminator updates
        never mix gradients.
        """
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

    def save_checkpoint(self) -> None:
        """Atomically write everything needed to resume at :attr:`step`."""
        state = {
            "step": self.step,
            "networks": {name: net.state_dict() for name, net in self.plan.networks.items()},
            "optimisers": {name: opt.state_dict() for name, opt in self.optimisers.items()},
            "scaler": self.scaler.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "history": self.history,
            "times": self.times.as_dict(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomic(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self) -> bool:
        """Resume from the last checkpoint if there is one; returns whether it did."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.run.device, weights_only=False)
        for name, net in self.plan.networks.items():
            net.load_state_dict(state["networks"][name])
        for name, opt in self.optimisers.items():
            opt.load_state_dict(state["optimisers"][name])
        self.scaler.load_state_dict(state["scaler"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        self.history = list(state["history"])
        self.step = int(state["step"])
        return True

    # -------------------------------------------------------------------- loop
    def fit(self, stop_after: int | None = None) -> None:
        """Train from the current (or resumed) step to ``total_steps``.

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
                self._one_step(progress, task)
                if self.step % int(self.run.profile["checkpoint_every"]) == 0 or self.step == self.total_steps:
                    self.save_checkpoint()
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)
        self.write_history()

    def _one_step(self, progress: Any, task: Any) -> None:
        lr = self.learning_rate(self.step)
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
            for net in self.plan.networks.values():
                net.eval()
            record.update({f"val_{k}": v for k, v in self.plan.validate().items()})
            for net in self.plan.networks.values():
                net.train()
        self.history.append(record)
        if progress is not None and task is not None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in losses.items())
            progress.update(task, advance=1, description=f"{self.description} · {shown}")

    def write_history(self) -> None:
        """Write ``losses.csv`` (one row per step) and ``timing.csv`` to the cell folder."""
        write_csv(self.run.cell_dir / "losses.csv", pd.DataFrame(self.history))
        write_csv(self.run.cell_dir / "timing.csv", pd.DataFrame([self.times.as_dict()]))


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
