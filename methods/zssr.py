"""ZSSR (Shocher, Cohen, Irani, CVPR 2018), "zero-shot" SR on the shared thin-slab backbone.

ZSSR trains a network at test time on the test image alone: the LR image is the "father",
a "son" is the father down-scaled once more by the same scale, the network learns son →
father on random crops, and the trained network is then applied to the LR image itself.
It never sees a source HR volume: ``uses_source_hr = False`` (its cells run once, setting
n/a), and :meth:`ZSSR.fit` reads nothing from the training data.

Here, per test volume: the network is the shared TS-RCAN (without the profile's global skip)
learning the residual over :func:`~methods.cubic_upsampling.upsample_cubic`; the son is the LR
volume degraded once more by the protocol's k-space truncation; pairs are son/father slabs
(:class:`SonFatherSampler`) with random in-plane dihedral augmentation that respects the
``s·j`` sampling grid; ZSSR's adaptive learning rate and stopping rule (:class:`ZSSRRatePolicy`,
through the shared :class:`~benchmark.training.trainer.Trainer`); at most ``zssr_steps``
iterations (3000 / 600 / 4 in ``paper`` / ``quick`` / ``tiny``); at test time the optional
8-variant ensemble and back-projection (:func:`back_projection_step`: ``down`` is the k-space
truncation, ``up`` its k-space zero-fill by default). Each volume's seed is the cell's seed and a
CRC-32 of its bytes; its history and checkpoints go to ``zssr/volume-<i>/``, so a killed cell
resumes. Without :meth:`ZSSR.fit` a volume trains on the CPU with seed 0 in a temporary folder.

Design notes and measurements: docs/methods/zssr.md
"""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.api import (
    METHODS,
    SLAB_DEPTH,
    CosineDecay,
    LearningRatePolicy,
    Method,
    Precision,
    Profile,
    ProfileKey,
    RunContext,
    Scale,
    TileCallback,
    Trainer,
    TrainingData,
    boolean,
    choice,
    crop,
    declare,
    hr_slab_depth,
    integer,
    kspace_truncate,
    kspace_zero_fill,
    number,
    optional,
    super_resolve_slabs,
    to_slabs,
    truncated_image,
)
from methods.cubic_upsampling import upsample_cubic
from methods.dihedral import IDENTITY, InPlane, apply, in_plane_transforms, invert
from methods.losses import l1_loss
from methods.networks import TSRCAN, count_parameters

BACK_PROJECTION_ITERS = 10
"""ZSSR's ``back_projection_iters = [10]``: per ensemble variant, and again after the median."""

ZSSR_LEARNING_RATE = 1e-3
MIN_LEARNING_RATE = 9e-6
POLICY_CHECK_EVERY = 60
POLICY_MIN_ITERS = 256
TEST_EVERY = 50
SLOPE_RANGE = 256

declare(
    ProfileKey(
        "zssr_steps",
        integer(1),
        "iterations per test volume (ZSSR's max_iters = 3000)",
        owner="zssr",
        default=3000,
        by_profile={"tiny": 4, "quick": 600},
    ),
    ProfileKey(
        "zssr_ensemble",
        boolean(),
        "geometric self-ensemble at test time",
        owner="zssr",
        default=False,
        by_profile={"paper": True},
    ),
    ProfileKey("zssr_lr_policy", choice("zssr", "cosine"), "learning-rate policy", owner="zssr", default="zssr"),
    ProfileKey("zssr_lr", number(0, open_min=True), "initial learning rate", owner="zssr", default=ZSSR_LEARNING_RATE),
    ProfileKey("zssr_noise_std", number(0), "std of noise added to the son", owner="zssr", default=0.0),
    ProfileKey("zssr_augment", boolean(), "random dihedral augmentation", owner="zssr", default=True),
    ProfileKey(
        "zssr_learn_residual",
        boolean(),
        "the network learns the residual over cubic interpolation",
        owner="zssr",
        default=True,
    ),
    ProfileKey(
        "zssr_back_projection",
        integer(0),
        "back-projection iterations per ensemble variant and final",
        owner="zssr",
        default=BACK_PROJECTION_ITERS,
    ),
    ProfileKey(
        "zssr_back_projection_up",
        choice("kspace", "cubic"),
        "back-projection's up-projection of the LR residual: k-space zero-fill or cubic",
        owner="zssr",
        default="kspace",
    ),
    ProfileKey(
        "zssr_batch_size",
        optional(integer(1)),
        "son/father pairs per iteration (None: the profile's batch_size; ZSSR's one crop in paper)",
        owner="zssr",
        default=None,
        by_profile={"paper": 1},
    ),
)
CHANGE_RATIO = 1.5


@dataclasses.dataclass(frozen=True)
class ZSSRConfig:
    """Per-volume training configuration, read from the profile keys.

    Attributes:
        steps: iterations per volume (``zssr_steps``).
        ensemble: 8-variant geometric self-ensemble at test time (``zssr_ensemble``).
        lr_policy: ``"zssr"`` (ZSSR's adaptive policy) or ``"cosine"`` (shared schedule).
        learning_rate: initial rate of the ``"zssr"`` policy (``zssr_lr``).
        noise_std: std of Gaussian noise added to the son patches (``zssr_noise_std``).
        augment: random in-plane rotations/flips of the pairs (``zssr_augment``).
        learn_residual: the output is the network's plus the cubic interpolation of its input
            (``zssr_learn_residual``, ZSSR's ``learn_residual``).
        back_projection: back-projection iterations for each ensemble variant and again for
            their median (``zssr_back_projection``, ZSSR's ``back_projection_iters``).
        back_projection_up: ``"kspace"`` or ``"cubic"`` (``zssr_back_projection_up``), the ``up``
            of :func:`back_projection_step`.
        batch_size: son/father pairs per iteration (``zssr_batch_size``, else the profile's ``batch_size``).

    The defaults of every key are declared once, with the keys above (``bench list --verbose``).
    """

    steps: int
    ensemble: bool
    lr_policy: str
    learning_rate: float
    noise_std: float
    augment: bool
    learn_residual: bool
    back_projection: int
    back_projection_up: str
    batch_size: int

    @classmethod
    def from_profile(cls, profile: Profile) -> ZSSRConfig:
        """Configuration from the ``zssr_*`` keys (their declared defaults, per profile, where not set)."""
        batch_size = profile["zssr_batch_size"]
        return cls(
            steps=profile["zssr_steps"],
            ensemble=profile["zssr_ensemble"],
            lr_policy=profile["zssr_lr_policy"],
            learning_rate=profile["zssr_lr"],
            noise_std=profile["zssr_noise_std"],
            augment=profile["zssr_augment"],
            learn_residual=profile["zssr_learn_residual"],
            back_projection=profile["zssr_back_projection"],
            back_projection_up=profile["zssr_back_projection_up"],
            batch_size=profile["batch_size"] if batch_size is None else batch_size,
        )


# ----------------------------------------------------------------------------- pairs
def father_and_son(lr: np.ndarray, scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """The father (the LR volume cropped to a multiple of the scale) and its son.

    Args:
        lr: ``(X, Y, Z)`` LR volume.
        scale: factors ``(sx, sy, sz)``.

    Returns:
        ``(father (X', Y', Z'), son (X'/sx, Y'/sy, Z'/sz))`` with ``X' = X − X mod sx`` etc.;
        the son is :func:`~benchmark.protocol.degradations.kspace_truncate` of the father.

    Raises:
        ValueError: the son would have fewer than 3 slices (one slab) or an empty in-plane axis.
    """
    lr = np.asarray(lr, dtype=np.float32)
    father = np.ascontiguousarray(lr[tuple(slice(0, n) for n in scale.crop_to_multiple(lr.shape))])
    son_shape = scale.lr_shape(father.shape)
    if son_shape[2] < SLAB_DEPTH or min(son_shape[:2]) < 1:
        raise ValueError(
            f"ZSSR needs a son of at least 1x1x{SLAB_DEPTH} voxels; LR volume {lr.shape} at scale {scale} "
            f"gives {son_shape}"
        )
    return father, kspace_truncate(father, scale)


class SonFatherSampler:
    """Random aligned (son, father) patch pairs of one volume, with in-plane dihedral augmentation.

    A son patch ``(px, py, 3)`` at corner ``c`` pairs with the father patch
    ``(sx·px, sy·py, 3·sz)`` at corner ``c × scale``. A pair mirrored along an axis of factor
    ``s > 1`` takes its father patch ``s − 1`` voxels earlier along that axis, so that after
    mirroring son voxel ``j`` still sits on father voxel ``s·j`` (the k-space sampling grid).
    Each pair comes with its *base*: the same block of :attr:`base`, the whole son's cubic
    interpolation onto the father's grid, over which the network learns the residual.

    Args:
        father: ``(X', Y', Z')`` father volume (a multiple of the scale).
        son: ``(X'/sx, Y'/sy, Z'/sz)`` son volume.
        lr_patch: son patch size ``(px, py, 3)``; clipped to the son's size.
        scale: factors ``(sx, sy, sz)``.
        augment: draw a random in-plane rotation/flip per pair.
        noise_std: std of Gaussian noise added to son patches (0: none).
    """

    def __init__(
        self,
        father: np.ndarray,
        son: np.ndarray,
        lr_patch: Sequence[int],
        scale: Scale,
        augment: bool = True,
        noise_std: float = 0.0,
    ) -> None:
        if tuple(father.shape) != tuple(n * f for n, f in zip(son.shape, scale.factors)):
            raise ValueError(f"father {father.shape} is not son {son.shape} times the scale {scale}")
        self.father, self.son, self.scale = father, son, scale
        self.base = upsample_cubic(son, scale.factors).astype(np.float32)
        """``(X', Y', Z')``: the son's cubic interpolation on the father's grid."""
        px, py = (min(int(p), n) for p, n in zip(lr_patch[:2], son.shape[:2]))
        self.patch = (px, py, SLAB_DEPTH)
        self.father_patch = (px * scale.sx, py * scale.sy, hr_slab_depth(scale))
        sx, sy = scale.sx, scale.sy
        # A mirror along an axis of factor s > 1 needs one spare son voxel before the patch.
        self.can_mirror = tuple(
            augment and (s == 1 or son.shape[axis] > self.patch[axis]) for axis, s in ((0, sx), (1, sy))
        )
        self.can_transpose = augment and sx == sy and px == py
        self.noise_std = float(noise_std)

    def draw_transform(self, rng: np.random.Generator) -> InPlane:
        """``(mirror X, mirror Y, transpose)`` uniformly among the allowed in-plane transforms."""
        mirror_x = bool(rng.integers(2)) if self.can_mirror[0] else False
        mirror_y = bool(rng.integers(2)) if self.can_mirror[1] else False
        transpose = bool(rng.integers(2)) if self.can_transpose else False
        return InPlane(mirror_x, mirror_y, transpose)

    def pair(
        self, rng: np.random.Generator, transform: Sequence[bool] = IDENTITY
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A son patch ``(px, py, 3)``, its father patch and its base ``(sx·px, sy·py, 3·sz)`` under ``transform``."""
        transform = InPlane(*transform)
        mirrors = (transform.mirror_x, transform.mirror_y)
        corner, father_corner = [], []
        for axis, (n, p, s) in enumerate(zip(self.son.shape, self.patch, self.scale.factors)):
            shifted = axis < 2 and mirrors[axis] and s > 1
            low = 1 if shifted else 0
            c = int(rng.integers(low, n - p + 1))
            corner.append(c)
            father_corner.append(s * c - (s - 1) if shifted else s * c)
        son = crop(self.son, tuple(corner), self.patch)  # type: ignore[arg-type]
        father, base = (crop(v, tuple(father_corner), self.father_patch) for v in (self.father, self.base))  # type: ignore[arg-type]
        return tuple(np.ascontiguousarray(apply(v, transform)) for v in (son, father, base))  # type: ignore[return-value]

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` random pairs as slabs: son ``(n, 3, px, py)``, father and base ``(n, 3·sz, sx·px, sy·py)``.

        With ``noise_std > 0`` the son patch gets fresh Gaussian noise and its base the noise's
        own cubic interpolation (the interpolation is linear; over the patch, periodic at its
        borders), so the base stays the interpolation of the network's input, as in ZSSR.
        """
        sons, fathers, bases = [], [], []
        for _ in range(n):
            son, father, base = self.pair(rng, self.draw_transform(rng))
            if self.noise_std > 0:
                noise = self.noise_std * rng.standard_normal(son.shape)
                son = (son + noise).astype(np.float32)
                base = (base + upsample_cubic(noise, self.scale.factors)).astype(np.float32)
            sons.append(son)
            fathers.append(father)
            bases.append(base)
        return tuple(to_slabs(torch.from_numpy(np.stack(v))) for v in (sons, fathers, bases))  # type: ignore[return-value]


# ----------------------------------------------------------------------------- training
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


# ----------------------------------------------------------------------------- inference
def zssr_forward(
    network: torch.nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    learn_residual: bool = True,
    precision: Precision | None = None,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """SR of one LR volume: the network's slab output, plus the volume's cubic interpolation when ``learn_residual``.

    Args:
        network: slab SR network.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        scale: the scale.
        tile: in-plane LR tile of the slab inference.
        batch_size: tiles per forward pass.
        device: inference device.
        learn_residual: add :func:`~methods.cubic_upsampling.upsample_cubic` of ``lr``.
        precision: autocast of the forward passes (the run's), ``None``: what ``auto`` means.
        on_tiles: progress of the tiled pass, or ``None``.

    Returns:
        ``(X, Y, Z)`` float32 SR volume on the CPU.
    """
    sr = super_resolve_slabs(network, lr, scale, tile, batch_size, device, precision, on_tiles).cpu()
    if not learn_residual:
        return sr
    base = upsample_cubic(lr.detach().cpu().numpy(), scale.factors)
    return (sr.double() + torch.from_numpy(base)).float()


def _up_kspace(residual: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    return kspace_zero_fill(residual, tuple(factors)).real


def _up_cubic(residual: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    return torch.from_numpy(upsample_cubic(residual.real.cpu().numpy(), factors)).to(residual.device)


BACK_PROJECTION_UPS: dict[str, Callable[[torch.Tensor, Sequence[int]], torch.Tensor]] = {
    "kspace": _up_kspace,
    "cubic": _up_cubic,
}
"""``zssr_back_projection_up``: how the complex LR residual becomes a real HR correction."""


def back_projection_step(sr: torch.Tensor, lr: torch.Tensor, scale: Scale, up: str = "kspace") -> torch.Tensor:
    """One back-projection: ``clip(sr + up(lr − down(sr)), 0, 1)``, as ZSSR's ``back_projection``.

    ``down`` is the protocol's degradation, the 3D k-space truncation that made ``lr``
    (ZSSR's ``down_kernel``). It ends in a magnitude, which folds the negative lobes of the
    truncation's ringing up; a plain ``lr − |z|`` then pushes those voxels the wrong way and
    the iteration drifts off (on the demo, −0.6 dB in 10 iterations). So the residual is
    taken before the magnitude, on the complex image ``z``
    (:func:`~benchmark.protocol.degradations.truncated_image`): ``lr·z/|z| − z``, the LR's
    magnitude with ``z``'s phase. It is zero exactly when ``|z| == lr``, i.e.
    ``kspace_truncate(sr) == lr``. Torch on ``sr``'s device, in float64.

    Args:
        sr: ``(X, Y, Z)`` float64 SR volume (a multiple of the scale).
        lr: ``(X/sx, Y/sy, Z/sz)`` float64 LR volume, on ``sr``'s device.
        scale: the scale.
        up: ``"kspace"``: the residual zero-filled in k-space
            (:func:`~benchmark.protocol.degradations.kspace_zero_fill`, the pseudo-inverse of the
            truncation: each step is k-space data consistency), or ``"cubic"``: the cubic
            interpolation of its real part (:func:`~methods.cubic_upsampling.upsample_cubic`,
            ZSSR's ``upscale_method``; on the CPU).

    Returns:
        ``(X, Y, Z)`` float64 volume on ``sr``'s device, clipped to ``[0, 1]`` (the protocol's range).
    """
    z = truncated_image(sr, scale)
    residual = lr * torch.exp(1j * torch.angle(z)) - z
    return torch.clamp(sr + BACK_PROJECTION_UPS[up](residual, scale.factors), 0.0, 1.0)


def back_project(
    sr: torch.Tensor,
    lr: torch.Tensor,
    scale: Scale,
    iterations: int,
    up: str = "kspace",
    device: torch.device | None = None,
) -> torch.Tensor:
    """``iterations`` :func:`back_projection_step` s (with ``up``) of an SR volume ``(X, Y, Z)`` against its LR volume.

    Args:
        device: where the steps run (the method's device; float64 FFTs); default ``sr``'s.

    Returns:
        ``(X, Y, Z)`` float32 tensor on the CPU (``sr`` itself when ``iterations`` is 0).
    """
    if iterations == 0:
        return sr
    device = sr.device if device is None else device
    out = sr.detach().to(device, torch.float64)
    lr64 = lr.detach().to(device, torch.float64)
    for _ in range(iterations):
        out = back_projection_step(out, lr64, scale, up)
    return out.float().cpu()


def super_resolve_ensemble(
    network: torch.nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    transforms: Sequence[Sequence[bool]] | None = None,
    learn_residual: bool = True,
    back_projection: int = BACK_PROJECTION_ITERS,
    back_projection_up: str = "kspace",
    precision: Precision | None = None,
    on_tiles: TileCallback | None = None,
) -> torch.Tensor:
    """ZSSR's test time: SR of every in-plane variant of ``lr``, mapped back and back-projected, median, back-projected.

    As ZSSR's ``final_test``: each variant's output (:func:`zssr_forward`), mapped back onto
    the grid of ``lr``, gets ``back_projection`` iterations of :func:`back_projection_step`;
    the voxel-wise median of the variants gets ``back_projection`` more.

    Args:
        network: slab SR network.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        scale: the scale (``sx == sy`` for transposes).
        tile: in-plane LR tile of the slab inference.
        batch_size: tiles per forward pass.
        device: inference device.
        transforms: ``(mirror X, mirror Y, transpose)`` variants; default all 8, or the 4
            without a transpose when ``sx ≠ sy`` (:func:`~methods.dihedral.in_plane_transforms`);
            ``[IDENTITY]`` for no ensemble (ZSSR's ``output_flip = False``).
        learn_residual: add the cubic interpolation of each variant to the network's output.
        back_projection: iterations per variant and for the median (ZSSR: 10; 0: none).
        back_projection_up: ``up`` of :func:`back_projection_step`.
        precision: autocast of the forward passes (the run's), ``None``: what ``auto`` means.
        on_tiles: progress of each variant's tiled pass, or ``None``.

    Returns:
        ``(X, Y, Z)`` float32 SR volume (for an even number of variants, the median is the mean
        of the two middle values).
    """
    if transforms is None:
        transforms = in_plane_transforms(scale.sx == scale.sy)
    outputs = []
    for transform in (InPlane(*t) for t in transforms):
        if transform.transpose and scale.sx != scale.sy:
            raise ValueError(f"a transposed variant needs sx == sy, got scale {scale}")
        y = zssr_forward(
            network,
            apply(lr, transform).contiguous(),
            scale,
            tile,
            batch_size,
            device,
            learn_residual,
            precision,
            on_tiles,
        )
        y = invert(y, transform, factors=(scale.sx, scale.sy)).contiguous()
        outputs.append(back_project(y, lr, scale, back_projection, back_projection_up, device))
    stacked = torch.stack(outputs).sort(dim=0).values
    n = stacked.shape[0]
    median = stacked[n // 2] if n % 2 else 0.5 * (stacked[n // 2 - 1] + stacked[n // 2])
    return back_project(median, lr, scale, back_projection, back_projection_up, device)


# ----------------------------------------------------------------------------- method
@METHODS.register(
    "zssr", summary="ZSSR (Shocher et al., CVPR 2018): TS-RCAN trained per test volume on its own k-space son."
)
class ZSSR(Method):
    """Zero-shot SR: a TS-RCAN trained at test time on (son, father) pairs of each LR volume."""

    uses_source_hr: ClassVar[bool] = False
    needs_training_data: ClassVar[bool] = False

    def __init__(self, scale: Scale, profile: Profile) -> None:
        super().__init__(scale, profile)
        self.config = ZSSRConfig.from_profile(profile)
        self.histories: list[list[float]] = []
        self.seed = 0  # the cell's seed once fitted or loaded: it seeds every volume's training

    def state_dict(self) -> dict[str, Any]:
        """``{"seed": int}``: ZSSR learns nothing before test time, but its output depends on the cell's seed."""
        return {"seed": self.run.seed if self.run is not None else self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the seed of :meth:`state_dict` (an empty state, from before it was saved, means seed 0)."""
        self.seed = int(state.get("seed", 0))

    @classmethod
    def network_parameters(cls, scale: Scale, profile: Profile) -> dict[str, int]:
        """Parameters of the per-volume network, for ``bench list --verbose``."""
        return {"sr (per volume)": count_parameters(zssr_network(profile, scale, 0))}

    def fit(self, data: TrainingData, run: RunContext) -> None:
        """Keep the run context; ZSSR reads no training data (it trains on each test volume)."""
        del data
        self.run = run

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """Train a fresh TS-RCAN on this volume's son → father pairs, then super-resolve the volume.

        Args:
            lr: ``(X/sx, Y/sy, Z/sz)`` float32 LR volume on the CPU.

        Returns:
            ``(X, Y, Z)`` float32 SR volume on the CPU.
        """
        lr_array = lr.detach().float().cpu().numpy()
        with ExitStack() as scratch:
            run = (
                self.run
                if self.run is not None
                else scratch.enter_context(scratch_run(self.profile, self.scale, self.seed))
            )
            seed = volume_seed(run.seed, lr_array)
            father, son = father_and_son(lr_array, self.scale)
            sampler = SonFatherSampler(
                father, son, self.profile["lr_patch"], self.scale, self.config.augment, self.config.noise_std
            )
            network = zssr_network(self.profile, self.scale, seed, self.config.learn_residual)
            here = volume_run(run, len(self.histories), seed, self.profile)
            label = f"ZSSR {'x'.join(str(n) for n in lr.shape)}"
            history = train_on_volume(network, sampler, self.config, here, label)
        self.histories.append(history)
        run.log(
            f"zssr: LR {tuple(lr.shape)}, son {son.shape}, {len(history)} steps, "
            f"l1 {history[0]:.4g} -> {history[-1]:.4g}"
        )
        tile, batch = int(self.profile["infer_tile"]), int(self.profile["infer_batch"])
        return super_resolve_ensemble(
            network,
            lr,
            self.scale,
            tile,
            batch,
            self.device,
            transforms=None if self.config.ensemble else [IDENTITY],
            learn_residual=self.config.learn_residual,
            back_projection=self.config.back_projection,
            back_projection_up=self.config.back_projection_up,
            precision=run.precision,
            on_tiles=run.on_tiles,
        )
