"""ZSSR's training on one test volume: the network, ZSSR's adaptive learning rate, and the per-volume run."""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.api import (
    SLAB_DEPTH,
    CosineDecay,
    LearningRatePolicy,
    Precision,
    Profile,
    RunContext,
    Scale,
    Trainer,
    super_resolve_slabs,
)
from methods.losses import l1_loss
from methods.networks import TSRCAN
from methods.zssr_config import ZSSR_LEARNING_RATE, ZSSRConfig
from methods.zssr_pairs import SonFatherSampler

MIN_LEARNING_RATE = 9e-6
POLICY_CHECK_EVERY = 60
POLICY_MIN_ITERS = 256
TEST_EVERY = 50
SLOPE_RANGE = 256
CHANGE_RATIO = 1.5


def volume_seed(seed: int, lr: np.ndarray) -> int:
    """A 32-bit seed from the cell's seed and a CRC-32 of the LR volume's float32 bytes."""
    digest = zlib.crc32(np.ascontiguousarray(lr, dtype=np.float32).tobytes())
    return int(np.random.SeedSequence([int(seed), digest]).generate_state(1)[0])


def zssr_network(profile: Profile, scale: Scale, seed: int, learn_residual: bool = True) -> TSRCAN:
    """A freshly initialised TS-RCAN, its initialisation seeded without touching the global RNG.

    The profile's ``global_skip`` is ignored: ZSSR adds its own base (:func:`zssr_forward`).
    With ``learn_residual`` the last conv starts at zero, so training starts exactly at the
    cubic interpolation (ZSSR lowers its initial weights' variance for residual learning).
    """
    sizes = {key: int(profile[key]) for key in ("n_resgroups", "n_rcab", "n_feats", "reduction")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = TSRCAN(SLAB_DEPTH, scale.factors, **sizes, global_skip=False)
    if learn_residual:
        network.start_at_zero()
    return network


class ZSSRRatePolicy:
    """ZSSR's adaptive learning rate: divide by 10 when the reconstruction error stops falling.

    A :class:`~benchmark.training.trainer.LearningRatePolicy`: the rate of iteration ``t`` is decided on
    the network as iteration ``t − 1`` left it, in the order of ZSSR's loop: the error is
    measured when ``(t − 1) % TEST_EVERY == 0``, ZSSR's rule applied for iteration ``t − 1``,
    and training ends (``None``) once the rate fell below 9e-6.

    Args:
        learning_rate: initial rate (ZSSR: 1e-3).
        measure: the reconstruction error of the network as it is now; ``None``: errors come
            only through :meth:`record`.
    """

    STATE = ("learning_rate", "steps", "errors", "changes", "observed")

    def __init__(self, learning_rate: float = ZSSR_LEARNING_RATE, measure: Callable[[], float] | None = None) -> None:
        self.learning_rate = learning_rate
        self.steps: list[int] = []
        self.errors: list[float] = []
        self.changes: list[int] = [0]
        self.observed = -1
        """The last iteration taken into account."""
        self.measure = measure

    def record(self, step: int, error: float) -> None:
        """A reconstruction error measured at ``step``."""
        self.steps.append(step)
        self.errors.append(error)

    def update(self, step: int) -> None:
        """Apply ZSSR's rule after iteration ``step`` (0-based)."""
        if (step + 1) % POLICY_CHECK_EVERY or step - self.changes[-1] <= POLICY_MIN_ITERS:
            return
        window = SLOPE_RANGE // TEST_EVERY
        x, y = self.steps[-window:], self.errors[-window:]
        if len(x) < 4:  # polyfit's covariance needs more points than degree + 2
            return
        (slope, _), cov = np.polyfit(x, y, 1, cov=True)
        std = math.sqrt(max(float(cov[0, 0]), 0.0))
        if -CHANGE_RATIO * slope < std:
            self.learning_rate /= 10
            self.changes.append(step)

    @property
    def finished(self) -> bool:
        """The rate fell below ZSSR's minimum (9e-6)."""
        return self.learning_rate < MIN_LEARNING_RATE

    def rate(self, step: int, trainer: Trainer | None = None) -> float | None:
        """The rate of iteration ``step``, after taking in iteration ``step − 1``; ``None``: stop."""
        del trainer
        if step - 1 > self.observed:
            self.observed = step - 1
            if self.observed % TEST_EVERY == 0 and self.measure is not None:
                self.record(self.observed, self.measure())
            self.update(self.observed)
        return None if self.finished else self.learning_rate

    def state_dict(self) -> dict[str, Any]:
        """Rate, measurements, changes and the last iteration taken in (numbers and lists only)."""
        return {name: copy.copy(getattr(self, name)) for name in self.STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a ``KeyError`` for a state of another policy."""
        for name in self.STATE:
            setattr(self, name, copy.copy(state[name]))


class SonFatherPlan:
    """The :class:`~benchmark.training.trainer.TrainingPlan` of one volume: L1 of SR(son patches) vs father patches.

    SR of a son patch is the network's output, plus the patch's base (the son's cubic
    interpolation) when ``config.learn_residual``.

    Args:
        network: the volume's SR network (trained in place).
        sampler: pairs of the volume.
        profile: ``val_crop``, the son crop (LR voxels) of :meth:`reconstruction_error`.
        device: where the batches go.
        config: ``batch_size`` and ``learn_residual``; default :meth:`ZSSRConfig.from_profile`.
    """

    optimised: ClassVar[dict[str, list[str]]] = {"sr": ["sr"]}

    def __init__(
        self,
        network: torch.nn.Module,
        sampler: SonFatherSampler,
        profile: Profile,
        device: torch.device,
        config: ZSSRConfig | None = None,
        precision: Precision | None = None,
    ):
        config = config if config is not None else ZSSRConfig.from_profile(profile)
        self.networks = {"sr": network}
        self.sampler = sampler
        self.batch_size = config.batch_size
        self.learn_residual = config.learn_residual
        self.crop_size = profile["val_crop"]
        self.device = device
        self.precision = precision

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Son slabs ``(B, 3, px, py)``, father and base slabs ``(B, 3·sz, sx·px, sy·py)`` on the CPU."""
        return self.sampler.batch(rng, self.batch_size)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], trainer: Trainer) -> dict[str, float]:
        """One Adam step on the L1 loss."""
        son, father, base = (t.to(self.device) for t in batch)
        with trainer.autocast():
            out = self.networks["sr"](son)
        out = out.float() + base if self.learn_residual else out.float()
        loss = l1_loss(out, father)
        trainer.update("sr", loss)
        return {"l1": loss.item()}

    def validate(self) -> dict[str, float]:
        """Nothing: ZSSR has no validation pairs; its policy measures the reconstruction error."""
        return {}

    def reconstruction_error(self) -> float:
        """MSE of the network's SR of a central son crop against the father over it."""
        son, father, scale = self.sampler.son, self.sampler.father, self.sampler.scale
        size = [min(int(c), n) for c, n in zip(self.crop_size, son.shape)]
        size[2] = max(size[2], min(SLAB_DEPTH, son.shape[2]))
        corner = [(n - c) // 2 for n, c in zip(son.shape, size)]
        son_crop = son[tuple(slice(o, o + c) for o, c in zip(corner, size))]
        father_region = tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))
        sr = super_resolve_slabs(
            self.networks["sr"],
            torch.from_numpy(np.ascontiguousarray(son_crop)),
            scale,
            max(size[:2]),
            8,
            self.device,
            precision=self.precision,
        ).double()
        if self.learn_residual:
            sr = sr + torch.from_numpy(np.ascontiguousarray(self.sampler.base[father_region])).double()
        return float(((sr - torch.from_numpy(np.ascontiguousarray(father[father_region])).double()) ** 2).mean())


def train_on_volume(
    network: torch.nn.Module,
    sampler: SonFatherSampler,
    config: ZSSRConfig,
    run: RunContext,
    description: str = "ZSSR",
    stop_after: int | None = None,
) -> list[float]:
    """Train ``network`` on son → father pairs of one volume with the shared trainer.

    Args:
        network: the SR network (trained in place, left in eval mode).
        sampler: pairs of this volume.
        config: steps, rate policy, batch size, residual learning.
        run: this volume's run context (:func:`volume_run`): its seed seeds the patch sampling
            and augmentation; its profile gives Adam, ``lr_max``/``lr_min`` and
            ``val_crop``; losses go to its ``cell_dir``, checkpoints to its ``checkpoint_dir``.
        description: label of the progress task.
        stop_after: stop (with a checkpoint) at this step; for tests of resuming.

    Returns:
        The L1 loss of every iteration done (fewer than ``config.steps`` when ZSSR's policy stops early).
    """
    plan = SonFatherPlan(network, sampler, run.profile, run.device, config, run.precision)
    policy: LearningRatePolicy = CosineDecay()
    if config.lr_policy == "zssr":
        policy = ZSSRRatePolicy(config.learning_rate, plan.reconstruction_error)
    trainer = Trainer(plan, run, config.steps, description=description, lr_policy=policy)
    trainer.fit(stop_after)
    network.eval()
    return [row["l1"] for row in trainer.history]


def volume_run(run: RunContext, index: int, seed: int, profile: Profile | None = None) -> RunContext:
    """The run context of the ``index``-th volume: its seed, its own folders, a configuration hash naming it."""
    folder = Path("zssr") / f"volume-{index}"
    return dataclasses.replace(
        run,
        seed=seed,
        profile=profile if profile is not None else run.profile,
        cell_dir=run.cell_dir / folder,
        checkpoint_dir=run.checkpoint_dir / folder,
        config_hash=f"{run.config_hash}:volume-{seed:08x}",
    )


@contextmanager
def scratch_run(profile: Profile, scale: Scale, seed: int = 0) -> Iterator[RunContext]:
    """A run context for :meth:`ZSSR.super_resolve` without :meth:`ZSSR.fit`: CPU, ``seed``, a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="zssr-") as folder:
        yield RunContext(torch.device("cpu"), seed, profile, scale, Path(folder), Path(folder) / "checkpoints")
