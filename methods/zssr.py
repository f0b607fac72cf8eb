"""ZSSR (Shocher, Cohen, Irani, CVPR 2018), "zero-shot" SR on the shared thin-slab backbone.

ZSSR trains a network at test time on the test image alone: the LR image is the "father",
a "son" is the father down-scaled once more by the same scale, the network learns son →
father on random crops, and the trained network is then applied to the LR image itself.
It never sees a source HR volume: ``uses_source_hr = False`` (its cells run once, setting
n/a), and :meth:`ZSSR.fit` reads nothing from the training data.

Followed from the original (``assafshocher/ZSSR``, ``ZSSR.py``, ``configs.py``):

* A fresh network per test volume, trained only on pairs made from that volume; L1 loss;
  Adam.
* The budget: at most ``zssr_steps`` iterations per volume (ZSSR's ``max_iters`` is 3000; the
  defaults are 4 for ``tiny``, 600 for ``quick``, 3000 for ``paper``). On the demo (2×2×2, a
  80×98×81 LR volume, quick backbone) 150 steps stay ~1 dB below tricubic, 600 pass it
  (33.0 vs 32.6 dB), 1000 reach 33.6 dB; 600 steps took ~45 s per volume on one busy CPU core.
* ZSSR's learning-rate policy (``zssr_lr_policy="zssr"``, the default): start at
  ``zssr_lr = 1e-3``; every 50 iterations measure the reconstruction MSE of the network on
  the son against the father; every 60 iterations, once more than 256 have passed since the
  last change, fit a line to the last 5 measurements (256 / 50) and divide the rate by 10
  when ``−1.5·slope < std``; stop when the rate falls below 9e-6. As in the reference code,
  ``std`` is the standard error of the fitted slope (``np.polyfit(..., cov=True)``), not the
  spread of the errors themselves. The reconstruction MSE is measured on a central crop of
  the son (the profile's ``val_crop``, LR voxels) to bound its cost on large volumes.
* Geometric self-ensemble at test time (``zssr_ensemble``): the 8 in-plane variants of the
  dihedral group (transpose × flip X × flip Y), or the 4 that keep the axes (flips, i.e.
  identity, the two mirrors and the 180° rotation) when ``sx ≠ sy``; the outputs are mapped
  back and their voxel-wise median taken, as ZSSR does. On by default in ``paper``, off in
  ``quick`` and ``tiny`` (it costs 8 inference passes per volume).
* Optional noise on the son (``zssr_noise_std``, ZSSR's ``noise_std``; 0 by default, as in
  ZSSR's ideal-case configuration: k-space truncation adds no noise).

Adapted to thin-slab MRI volumes (as the UDEAN paper compares it, Sec. III.B):

* The network is the shared TS-RCAN (:func:`~methods.networks.ts_rcan_from_profile`), not
  ZSSR's 8-layer net. ZSSR's ``learn_residual`` (a residual over cubic interpolation of the
  son) corresponds to the profile's ``global_skip`` (a residual over linear interpolation),
  which is on in ``quick``/``tiny`` and off in ``paper`` (the authors' TS-RCAN) for every
  method alike; we leave it as the profile sets it.
* The son is the whole LR volume (first cropped to a multiple of the scale from the origin
  corner) degraded once more by the protocol's 3D k-space truncation
  (:func:`~benchmark.protocol.degradations.kspace_truncate`), the same operator that made the
  LR from the HR, instead of ZSSR's bicubic down-scaling of each augmented crop. Training
  pairs are a son patch ``(px, py, 3)`` and the father patch over it ``(sx·px, sy·py, 3·sz)``
  at corner ``× scale``, as slabs. Patch size and batch are the shared ``lr_patch`` and
  ``batch_size`` (ZSSR: one 128×128 crop per iteration). When the son is smaller than a
  patch along an axis, the patch is clipped to the son's size along it; the son needs at
  least 3 slices (one slab), i.e. an LR volume of at least ``3·sz`` slices.
* Augmentation: each pair gets a uniformly random element of the in-plane dihedral group
  (8 elements; the 4 axis-preserving ones when ``sx ≠ sy`` or the clipped patch is not
  square), applied to son and father alike; ZSSR's 5 % / 45 % split between "as is" and
  90° rotations/flips is not kept, nor its random affine resampling (arbitrary angles,
  scales, shear): resampling the father by interpolation would blur it and break the exact
  k-space relation between son and father that the network is meant to invert.
* Mirroring respects the k-space sampling grid: LR voxel ``j`` lies at HR voxel ``s·j`` (see
  :mod:`benchmark.protocol.degradations`), so a plain mirror of a pair (or of an LR volume)
  would shift the HR grid by ``s − 1`` voxels relative to the LR grid. Mirrored training
  pairs take the father patch ``s − 1`` voxels earlier (son corners start at 1 along that
  axis), and mirrored ensemble outputs are shifted back by ``s − 1`` voxels (the last
  ``s − 1`` voxels repeat the edge) before the median.
* Optimiser and schedule: the shared Adam (β = (0.9, 0.99), ε = 1e-8) and batch; the rate
  follows ZSSR's own policy by default rather than the shared cosine decay. The shared
  schedule is defined over a training set's epochs, which ZSSR does not have; its adaptive
  rate and stopping rule are how it decides how long to train on each image, part of its
  pipeline. On the demo volume above, 300 steps reached 32.2 dB with ZSSR's policy, 31.8 dB
  with the cosine from 1e-3 and ~30.4 dB (150 steps) with the shared cosine from 1e-4.
  ``zssr_lr_policy="cosine"`` selects the shared schedule (``lr_max → lr_min`` over
  ``zssr_steps``).
* Back-projection (ZSSR's 10 iterations per ensemble member and once more after the median)
  is omitted; the ensemble median is returned. (With k-space truncation as the degradation,
  its fixed point is k-space data consistency: the central block of the SR volume's spectrum
  replaced by the LR's.)
* Seeding: each volume's network initialisation, patch sampling and augmentation derive
  from the cell's seed and a CRC-32 of the LR volume's bytes, so a volume gives the same
  output whatever order the volumes come in, and two runs with one seed give identical
  volumes on the CPU.
* Mixed precision on CUDA when the run asks for it (forward passes under autocast, the loss
  in float32, a gradient scaler). A rich progress task shows the steps of each volume.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np
import torch
from rich.progress import Progress

from benchmark.method import Method
from benchmark.plugins import METHODS
from benchmark.profiles import Profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.protocol.patches import crop
from benchmark.run_context import RunContext
from benchmark.scale import Scale
from benchmark.settings import Setting, boolean, choice, declare, integer, number
from benchmark.slabs import SLAB_DEPTH, super_resolve_slabs, to_slabs
from benchmark.training_data import TrainingData
from methods.losses import l1_loss
from methods.networks import TSRCAN, count_parameters, ts_rcan_from_profile

DEFAULT_STEPS: dict[str, int] = {"tiny": 4, "quick": 600, "paper": 3000}
"""Per-volume iterations by profile name when ``zssr_steps`` is not set (ZSSR's ``max_iters`` = 3000)."""

FALLBACK_STEPS = 3000
ZSSR_LEARNING_RATE = 1e-3
MIN_LEARNING_RATE = 9e-6
POLICY_CHECK_EVERY = 60
POLICY_MIN_ITERS = 256
TEST_EVERY = 50
SLOPE_RANGE = 256

declare(
    Setting("zssr_steps", integer(1), "iterations per test volume (default by profile)", owner="zssr"),
    Setting("zssr_ensemble", boolean(), "geometric self-ensemble at test time", owner="zssr"),
    Setting("zssr_lr_policy", choice("zssr", "cosine"), "learning-rate policy", owner="zssr"),
    Setting("zssr_lr", number(0, open_min=True), "initial learning rate", owner="zssr"),
    Setting("zssr_noise_std", number(0), "std of noise added to the son", owner="zssr"),
    Setting("zssr_augment", boolean(), "random dihedral augmentation", owner="zssr"),
)
CHANGE_RATIO = 1.5


@dataclasses.dataclass(frozen=True)
class ZSSRSettings:
    """Per-volume training settings, read from the profile.

    Attributes:
        steps: iterations per volume (``zssr_steps``).
        ensemble: 8-variant geometric self-ensemble at test time (``zssr_ensemble``).
        lr_policy: ``"zssr"`` (ZSSR's adaptive policy) or ``"cosine"`` (shared schedule).
        learning_rate: initial rate of the ``"zssr"`` policy (``zssr_lr``).
        noise_std: std of Gaussian noise added to the son patches (``zssr_noise_std``).
        augment: random in-plane rotations/flips of the pairs (``zssr_augment``).
    """

    steps: int
    ensemble: bool
    lr_policy: str = "zssr"
    learning_rate: float = ZSSR_LEARNING_RATE
    noise_std: float = 0.0
    augment: bool = True

    @classmethod
    def from_profile(cls, profile: Profile) -> ZSSRSettings:
        """Settings from the ``zssr_*`` keys, with per-profile defaults."""
        policy = str(profile.get("zssr_lr_policy", "zssr"))
        if policy not in ("cosine", "zssr"):
            raise ValueError(f"zssr_lr_policy must be 'cosine' or 'zssr', got '{policy}'")
        steps = int(profile.get("zssr_steps", DEFAULT_STEPS.get(profile.name, FALLBACK_STEPS)))
        if steps < 1:
            raise ValueError(f"zssr_steps must be at least 1, got {steps}")
        return cls(
            steps=steps,
            ensemble=bool(profile.get("zssr_ensemble", profile.name == "paper")),
            lr_policy=policy,
            learning_rate=float(profile.get("zssr_lr", ZSSR_LEARNING_RATE)),
            noise_std=float(profile.get("zssr_noise_std", 0.0)),
            augment=bool(profile.get("zssr_augment", True)),
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


def _mirror(patch: np.ndarray, axis: int) -> np.ndarray:
    return np.flip(patch, axis=axis)


class SonFatherSampler:
    """Random aligned (son, father) patch pairs of one volume, with in-plane dihedral augmentation.

    A son patch ``(px, py, 3)`` at corner ``c`` pairs with the father patch
    ``(sx·px, sy·py, 3·sz)`` at corner ``c × scale``. A pair mirrored along an axis of factor
    ``s > 1`` takes its father patch ``s − 1`` voxels earlier along that axis, so that after
    mirroring son voxel ``j`` still sits on father voxel ``s·j`` (the k-space sampling grid).

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
        px, py = (min(int(p), n) for p, n in zip(lr_patch[:2], son.shape[:2]))
        self.patch = (px, py, SLAB_DEPTH)
        self.father_patch = (px * scale.sx, py * scale.sy, SLAB_DEPTH * scale.sz)
        sx, sy = scale.sx, scale.sy
        # A mirror along an axis of factor s > 1 needs one spare son voxel before the patch.
        self.can_mirror = tuple(
            augment and (s == 1 or son.shape[axis] > self.patch[axis]) for axis, s in ((0, sx), (1, sy))
        )
        self.can_transpose = augment and sx == sy and px == py
        self.noise_std = float(noise_std)

    def draw_transform(self, rng: np.random.Generator) -> tuple[bool, bool, bool]:
        """``(mirror X, mirror Y, transpose)`` uniformly among the allowed in-plane transforms."""
        mirror_x = bool(rng.integers(2)) if self.can_mirror[0] else False
        mirror_y = bool(rng.integers(2)) if self.can_mirror[1] else False
        transpose = bool(rng.integers(2)) if self.can_transpose else False
        return mirror_x, mirror_y, transpose

    def pair(
        self, rng: np.random.Generator, transform: tuple[bool, bool, bool] = (False, False, False)
    ) -> tuple[np.ndarray, np.ndarray]:
        """One son patch ``(px, py, 3)`` and its father patch ``(sx·px, sy·py, 3·sz)`` under ``transform``."""
        mirrors = transform[:2]
        corner, father_corner = [], []
        for axis, (n, p, s) in enumerate(zip(self.son.shape, self.patch, self.scale.factors)):
            shifted = axis < 2 and mirrors[axis] and s > 1
            low = 1 if shifted else 0
            c = int(rng.integers(low, n - p + 1))
            corner.append(c)
            father_corner.append(s * c - (s - 1) if shifted else s * c)
        son = crop(self.son, tuple(corner), self.patch)  # type: ignore[arg-type]
        father = crop(self.father, tuple(father_corner), self.father_patch)  # type: ignore[arg-type]
        for axis in (0, 1):
            if mirrors[axis]:
                son, father = _mirror(son, axis), _mirror(father, axis)
        if transform[2]:
            son, father = son.transpose(1, 0, 2), father.transpose(1, 0, 2)
        return np.ascontiguousarray(son), np.ascontiguousarray(father)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random pairs as slabs: son ``(n, 3, px, py)``, father ``(n, 3·sz, sx·px, sy·py)``."""
        sons, fathers = [], []
        for _ in range(n):
            son, father = self.pair(rng, self.draw_transform(rng))
            if self.noise_std > 0:
                son = (son + self.noise_std * rng.standard_normal(son.shape)).astype(np.float32)
            sons.append(son)
            fathers.append(father)
        return to_slabs(torch.from_numpy(np.stack(sons))), to_slabs(torch.from_numpy(np.stack(fathers)))


# ----------------------------------------------------------------------------- training
def volume_seed(seed: int, lr: np.ndarray) -> int:
    """A 32-bit seed from the cell's seed and a CRC-32 of the LR volume's float32 bytes."""
    digest = zlib.crc32(np.ascontiguousarray(lr, dtype=np.float32).tobytes())
    return int(np.random.SeedSequence([int(seed), digest]).generate_state(1)[0])


def zssr_network(profile: Profile, scale: Scale, seed: int) -> TSRCAN:
    """A freshly initialised TS-RCAN, its initialisation seeded without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ts_rcan_from_profile(profile, scale)


def cosine_rate(step: int, steps: int, lr_max: float, lr_min: float) -> float:
    """The shared cosine schedule: ``lr_max`` at step 0 to ``lr_min`` at step ``steps − 1``."""
    progress = step / max(steps - 1, 1)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * progress))


class ZSSRRatePolicy:
    """ZSSR's adaptive learning rate: divide by 10 when the reconstruction error stops falling.

    Args:
        learning_rate: initial rate (ZSSR: 1e-3).
    """

    def __init__(self, learning_rate: float = ZSSR_LEARNING_RATE) -> None:
        self.learning_rate = learning_rate
        self.steps: list[int] = []
        self.errors: list[float] = []
        self.changes: list[int] = [0]

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


def reconstruction_error(
    network: torch.nn.Module, father: np.ndarray, son: np.ndarray, scale: Scale, crop_size: Sequence[int], device: Any
) -> float:
    """MSE of the network's SR of a central son crop against the father over it."""
    size = [min(int(c), n) for c, n in zip(crop_size, son.shape)]
    size[2] = max(size[2], min(SLAB_DEPTH, son.shape[2]))
    corner = [(n - c) // 2 for n, c in zip(son.shape, size)]
    son_crop = son[tuple(slice(o, o + c) for o, c in zip(corner, size))]
    father_crop = father[tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))]
    sr = super_resolve_slabs(
        network, torch.from_numpy(np.ascontiguousarray(son_crop)), scale, max(size[:2]), 8, torch.device(device)
    )
    return float(((sr.double() - torch.from_numpy(np.ascontiguousarray(father_crop)).double()) ** 2).mean())


def train_on_volume(
    network: torch.nn.Module,
    sampler: SonFatherSampler,
    settings: ZSSRSettings,
    profile: Profile,
    device: torch.device,
    seed: int,
    amp: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``network`` on son → father pairs of one volume.

    Args:
        network: the SR network (trained in place).
        sampler: pairs of this volume.
        settings: steps, rate policy.
        profile: batch size, Adam settings, ``lr_max``/``lr_min``, ``val_crop``.
        device: where to train.
        seed: seed of the patch sampling and augmentation.
        amp: mixed precision (CUDA only).
        on_step: called with ``(step, loss)`` after every iteration (progress display).

    Returns:
        The L1 loss of every iteration done (fewer than ``settings.steps`` when ZSSR's policy stops early).
    """
    rng = np.random.default_rng(seed)
    network.to(device).train()
    adaptive = settings.lr_policy == "zssr"
    policy = ZSSRRatePolicy(settings.learning_rate)
    lr_max, lr_min = float(profile["lr_max"]), float(profile["lr_min"])
    optimiser = torch.optim.Adam(
        network.parameters(),
        lr=policy.learning_rate if adaptive else lr_max,
        betas=tuple(profile["adam_betas"]),  # type: ignore[arg-type]
        eps=float(profile["adam_eps"]),
    )
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    batch_size = int(profile["batch_size"])
    crop_size = tuple(profile.get("val_crop", (48, 48, 12)))
    history: list[float] = []
    for step in range(settings.steps):
        rate = policy.learning_rate if adaptive else cosine_rate(step, settings.steps, lr_max, lr_min)
        for group in optimiser.param_groups:
            group["lr"] = rate
        son, father = (t.to(device) for t in sampler.batch(rng, batch_size))
        with torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext():
            out = network(son)
        loss = l1_loss(out.float(), father)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        history.append(loss.item())
        if on_step is not None:
            on_step(step, history[-1])
        if adaptive:
            if step % TEST_EVERY == 0:
                policy.record(
                    step, reconstruction_error(network, sampler.father, sampler.son, sampler.scale, crop_size, device)
                )
                network.train()
            policy.update(step)
            if policy.finished:
                break
    network.eval()
    return history


# ----------------------------------------------------------------------------- inference
def _unmirror(volume: torch.Tensor, axis: int, factor: int) -> torch.Tensor:
    """Undo a mirror of the LR input on the SR output: mirror back, then shift by ``factor − 1`` voxels.

    The network's output voxel ``k`` of a mirrored LR volume of ``n`` voxels lies at original
    HR position ``factor·(n − 1) − k``; after mirroring back, HR voxel ``m`` is read at index
    ``m + factor − 1``, the last ``factor − 1`` voxels repeating the edge.
    """
    mirrored = torch.flip(volume, dims=(axis,))
    if factor == 1:
        return mirrored
    size = mirrored.shape[axis]
    shift = min(factor - 1, size - 1)
    edge = mirrored.narrow(axis, size - 1, 1)
    repeats = [1] * mirrored.dim()
    repeats[axis] = shift
    return torch.cat([mirrored.narrow(axis, shift, size - shift), edge.repeat(*repeats)], dim=axis)


def ensemble_transforms(scale: Scale) -> list[tuple[bool, bool, bool]]:
    """``(mirror X, mirror Y, transpose)`` of the 8 in-plane variants, or the 4 axis-keeping ones when ``sx ≠ sy``."""
    transposes = (False, True) if scale.sx == scale.sy else (False,)
    return [(mx, my, t) for t in transposes for mx in (False, True) for my in (False, True)]


def super_resolve_ensemble(
    network: torch.nn.Module,
    lr: torch.Tensor,
    scale: Scale,
    tile: int,
    batch_size: int,
    device: torch.device,
    transforms: Sequence[tuple[bool, bool, bool]] | None = None,
) -> torch.Tensor:
    """Geometric self-ensemble: SR of every in-plane variant of ``lr``, mapped back, voxel-wise median.

    Args:
        network: slab SR network.
        lr: ``(X/sx, Y/sy, Z/sz)`` LR volume.
        scale: the scale (``sx == sy`` for transposes).
        tile: in-plane LR tile of the slab inference.
        batch_size: tiles per forward pass.
        device: inference device.
        transforms: ``(mirror X, mirror Y, transpose)`` variants; default :func:`ensemble_transforms`.

    Returns:
        ``(X, Y, Z)`` float32 SR volume (for an even number of variants, the mean of the two middle values).
    """
    transforms = list(transforms if transforms is not None else ensemble_transforms(scale))
    outputs = []
    for mirror_x, mirror_y, transpose in transforms:
        if transpose and scale.sx != scale.sy:
            raise ValueError(f"a transposed variant needs sx == sy, got scale {scale}")
        x = lr
        if mirror_x:
            x = torch.flip(x, dims=(0,))
        if mirror_y:
            x = torch.flip(x, dims=(1,))
        if transpose:
            x = x.transpose(0, 1)
        y = super_resolve_slabs(network, x.contiguous(), scale, tile, batch_size, device)
        if transpose:
            y = y.transpose(0, 1)
        if mirror_y:
            y = _unmirror(y, 1, scale.sy)
        if mirror_x:
            y = _unmirror(y, 0, scale.sx)
        outputs.append(y.contiguous())
    stacked = torch.stack(outputs).sort(dim=0).values
    n = stacked.shape[0]
    return stacked[n // 2] if n % 2 else 0.5 * (stacked[n // 2 - 1] + stacked[n // 2])


# ----------------------------------------------------------------------------- method
@METHODS.register(
    "zssr", summary="ZSSR (Shocher et al., CVPR 2018): TS-RCAN trained per test volume on its own k-space son."
)
class ZSSR(Method):
    """Zero-shot SR: a TS-RCAN trained at test time on (son, father) pairs of each LR volume."""

    uses_source_hr: ClassVar[bool] = False

    def __init__(self, scale: Scale, profile: Profile) -> None:
        super().__init__(scale, profile)
        self.settings = ZSSRSettings.from_profile(profile)
        self.histories: list[list[float]] = []

    @classmethod
    def network_parameters(cls, scale: Scale, profile: Profile) -> dict[str, int]:
        """Parameters of the per-volume network, for ``bench list --verbose``."""
        return {"sr (per volume)": count_parameters(ts_rcan_from_profile(profile, scale))}

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
        seed = volume_seed(self.run.seed if self.run is not None else 0, lr_array)
        father, son = father_and_son(lr_array, self.scale)
        sampler = SonFatherSampler(
            father, son, self.profile["lr_patch"], self.scale, self.settings.augment, self.settings.noise_std
        )
        network = zssr_network(self.profile, self.scale, seed)
        amp = bool(self.run.amp) if self.run is not None else False
        progress: Progress | None = self.run.progress if self.run is not None else None
        label = f"ZSSR {'x'.join(str(n) for n in lr.shape)}"
        task = progress.add_task(label, total=self.settings.steps) if progress is not None else None

        def show(step: int, loss: float) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=step + 1, description=f"{label} · l1 {loss:.4g}")

        try:
            history = train_on_volume(network, sampler, self.settings, self.profile, self.device, seed, amp, show)
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)
        self.histories.append(history)
        if self.run is not None:
            self.run.log(
                f"zssr: LR {tuple(lr.shape)}, son {son.shape}, {len(history)} steps, "
                f"l1 {history[0]:.4g} -> {history[-1]:.4g}"
            )
        tile, batch = int(self.profile["infer_tile"]), int(self.profile["infer_batch"])
        if self.settings.ensemble:
            return super_resolve_ensemble(network, lr, self.scale, tile, batch, self.device)
        return super_resolve_slabs(network, lr, self.scale, tile, batch, self.device)
