"""What every learned thin-slab method shares: the method skeleton, patch sampling, validation.

A learned method subclasses :class:`ThinSlabMethod` and supplies three things:

* :meth:`ThinSlabMethod.build_networks` — every network, by name (sizes from the profile);
* :meth:`ThinSlabMethod.inference_network` — the slab network used at test time, mapping an
  LR slab ``(B, 3, h, w)`` to an SR slab ``(B, 3·sz, sx·h, sy·w)``;
* :meth:`ThinSlabMethod.make_plan` — the :class:`benchmark.training.trainer.TrainingPlan` that does one
  training iteration; or, for a method trained in several stages (DASR),
  :meth:`ThinSlabMethod.stages` — one :class:`TrainingStage` per run of the trainer.

The base class trains the plan (or each stage's plan, in order) with the shared
:class:`benchmark.training.trainer.Trainer`, super-resolves whole volumes slab by slab
(:func:`benchmark.inference.slabs.super_resolve_slabs`), and saves and restores all networks.

Validation (what a plan's ``validate`` returns) scores whole validation volumes exactly as the
test does: :mod:`methods.validation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.api import (
    SLAB_DEPTH,
    Method,
    Profile,
    RunContext,
    Scale,
    Trainer,
    TrainingData,
    TrainingPlan,
    VolumePair,
    crop,
    hr_patch_size,
    hr_slab_depth,
    kspace_truncate,
    psnr,
    random_patch_corner,
    super_resolve_slabs,
    to_slabs,
    total_steps,
)
from methods.networks import count_parameters


@dataclasses.dataclass(frozen=True)
class TrainingStage:
    """One run of the shared trainer inside :meth:`ThinSlabMethod.fit`.

    Attributes:
        make_plan: ``(data, run) -> plan``, called when the stage starts (after the stages before it).
        steps: training steps of the stage.
        description: the progress bar's label.
        folder: sub-folder of the cell and checkpoint folders for the stage's ``losses.csv``,
            ``timing.csv`` and checkpoints; None (default) writes to those folders themselves.
    """

    make_plan: Callable[[TrainingData, RunContext], TrainingPlan]
    steps: int
    description: str
    folder: str | None = None


class ThinSlabMethod(Method):
    """Base of the learned methods: networks from the profile, shared trainer, slab inference."""

    def __init__(self, scale: Scale, profile: Profile) -> None:
        super().__init__(scale, profile)
        self.networks: dict[str, nn.Module] = self.build_networks(scale, profile)

    @classmethod
    def build_networks(cls, scale: Scale, profile: Profile) -> dict[str, nn.Module]:
        """Every network of the method, by name, sized by ``profile``."""
        raise NotImplementedError

    def inference_network(self) -> nn.Module:
        """The slab network applied at test time: ``(B, 3, h, w) → (B, 3·sz, sx·h, sy·w)``."""
        raise NotImplementedError

    def make_plan(self, data: TrainingData, run: RunContext) -> TrainingPlan:
        """The training plan for one cell."""
        raise NotImplementedError

    def stages(self, steps: int) -> list[TrainingStage]:
        """The trainer runs of :meth:`fit`, in order; by default one stage of :meth:`make_plan` for all ``steps``."""
        return [TrainingStage(self.make_plan, steps, f"train {type(self).__name__}")]

    @classmethod
    def network_parameters(cls, scale: Scale, profile: Profile) -> dict[str, int]:
        """Parameter count of each network, for ``bench list --verbose``."""
        return {name: count_parameters(net) for name, net in cls.build_networks(scale, profile).items()}

    def fit(self, data: TrainingData, run: RunContext) -> None:
        """Train each of :meth:`stages` in turn with the shared trainer; :meth:`stages` gets the budget,
        ``epochs × steps_per_epoch`` steps, and gives each stage its own steps (DASR: the whole budget each)."""
        super().fit(data, run)
        for net in self.networks.values():
            net.to(run.device)
        steps = total_steps(self.profile, [v.shape for v in data.target_lr])
        for stage in self.stages(steps):
            stage_run = run
            if stage.folder is not None:
                stage_run = dataclasses.replace(
                    run, cell_dir=run.cell_dir / stage.folder, checkpoint_dir=run.checkpoint_dir / stage.folder
                )
                stage_run.cell_dir.mkdir(parents=True, exist_ok=True)
            plan = stage.make_plan(data, stage_run)
            Trainer(plan, stage_run, stage.steps, description=stage.description).fit()

    def prepare_inference(self, run: RunContext) -> None:
        """Keep ``run`` and move every network to ``run.device`` (a cell's restored weights, ``bench infer``)."""
        super().prepare_inference(run)
        for net in self.networks.values():
            net.to(run.device)

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """Tiled thin-slab inference over the whole volume ``(X/sx, Y/sy, Z/sz) → (X, Y, Z)``."""
        return super_resolve_slabs(
            self.inference_network(),
            lr,
            self.scale,
            int(self.profile["infer_tile"]),
            int(self.profile["infer_batch"]),
            self.device,
            precision=self.run.precision if self.run is not None else None,
            on_tiles=self.run.on_tiles if self.run is not None else None,
        )

    def state_dict(self) -> dict[str, Any]:
        return {name: net.state_dict() for name, net in self.networks.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(state[name])


class PatchSampler:
    """Random training patches from in-memory volumes, as slabs on the CPU.

    Args:
        lr_patch: LR patch size ``(px, py, 3)`` in voxels.
        scale: the cell's scale; HR patches are ``(sx·px, sy·py, 3·sz)``.
    """

    def __init__(self, lr_patch: Sequence[int], scale: Scale) -> None:
        self.lr_patch = tuple(int(p) for p in lr_patch)
        self.hr_patch = hr_patch_size(self.lr_patch, scale)  # type: ignore[arg-type]
        self.scale = scale

    def lr_slabs(self, volumes: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` random LR patches from random volumes → slabs ``(n, 3, px, py)``."""
        return self._slabs(volumes, self.lr_patch, n, rng)

    def hr_slabs(self, volumes: Sequence[np.ndarray], n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` random HR patches from random volumes → slabs ``(n, 3·sz, sx·px, sy·py)``."""
        return self._slabs(volumes, self.hr_patch, n, rng)

    def paired_slabs(
        self, lr_volumes: Sequence[np.ndarray], hr_volumes: Sequence[np.ndarray], n: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` (LR, HR) patch pairs cut at the same place (HR corner = LR corner × scale) of index-aligned volumes."""
        lr_patches, hr_patches = [], []
        for _ in range(n):
            index = int(rng.integers(len(lr_volumes)))
            corner = random_patch_corner(lr_volumes[index].shape, self.lr_patch, rng)
            hr_corner = tuple(c * s for c, s in zip(corner, self.scale.factors))
            lr_patches.append(crop(lr_volumes[index], corner, self.lr_patch))
            hr_patches.append(crop(hr_volumes[index], hr_corner, self.hr_patch))  # type: ignore[arg-type]
        return to_slabs(torch.from_numpy(np.stack(lr_patches))), to_slabs(torch.from_numpy(np.stack(hr_patches)))

    @staticmethod
    def _slabs(volumes: Sequence[np.ndarray], size: tuple[int, ...], n: int, rng: np.random.Generator) -> torch.Tensor:
        patches = []
        for _ in range(n):
            volume = volumes[int(rng.integers(len(volumes)))]
            patches.append(crop(volume, random_patch_corner(volume.shape, size, rng), size))  # type: ignore[arg-type]
        return to_slabs(torch.from_numpy(np.stack(patches)))


def downsampling_psnr(
    network: nn.Module, pairs: Sequence[VolumePair], scale: Scale, crop_size: Sequence[int], device: torch.device
) -> float:
    """Mean PSNR (dB) of an HR → LR slab network on the HR of a central crop of each validation pair against its LR.

    The LR crop ``crop_size`` (voxels; clipped to the volume, Z to a multiple of 3) and the HR
    block over it are cut; the HR block is split into slabs of ``3·sz`` slices, each mapped to
    3 LR slices. Pairs whose LR has fewer than 3 slices are skipped; ``nan`` when none is left.

    Args:
        network: ``(B, 3·sz, sx·h, sy·w) -> (B, 3, h, w)``.
        pairs: validation pairs.
        scale: the cell's scale.
        crop_size: LR crop ``(x, y, z)`` in voxels.
        device: where the network runs.
    """
    sx, sy, _ = scale.factors
    values = []
    was_training = network.training
    network.eval()
    try:
        for pair in pairs:
            lr = pair.lr.data
            size = [min(c, n) for c, n in zip(crop_size, lr.shape)]
            size[2] -= size[2] % SLAB_DEPTH
            if size[2] == 0:
                continue
            corner = [(n - c) // 2 for n, c in zip(lr.shape, size)]
            lr_crop = lr[tuple(slice(o, o + c) for o, c in zip(corner, size))]
            hr_crop = pair.hr.data[tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))]
            n_slabs = size[2] // SLAB_DEPTH
            hr = torch.from_numpy(np.ascontiguousarray(hr_crop))
            hr = hr.reshape(size[0] * sx, size[1] * sy, n_slabs, hr_slab_depth(scale))
            with torch.no_grad():
                out = network(hr.permute(2, 3, 0, 1).contiguous().to(device)).float().cpu()  # (n, 3, x, y)
            generated = out.permute(2, 3, 0, 1).reshape(size[0], size[1], size[2])
            values.append(psnr(generated, torch.from_numpy(np.ascontiguousarray(lr_crop))))
    finally:
        network.train(was_training)
    return float(np.mean(values)) if values else float("nan")


def clean_lr_volumes(source_hr: Sequence[np.ndarray], scale: Scale) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Plain down-scaling: each source HR volume, cut at its origin to a multiple of the scale, k-space truncated whole.

    The degradation the target LR was made with (:func:`benchmark.protocol.degradations.kspace_truncate`),
    applied once to whole volumes rather than to patches (no wrap-around at patch borders);
    (clean LR, HR) patch pairs are then cut at one place of the two (HR corner = LR corner × scale).

    Args:
        source_hr: ``(X, Y, Z)`` HR volumes.
        scale: the cell's scale.

    Returns:
        ``(clean_lr, hr)``: ``(X'/sx, Y'/sy, Z'/sz)`` float32 volumes and the ``(X', Y', Z')`` HR
        volumes they come from (views of the inputs), index-aligned.
    """
    clean, cropped = [], []
    for volume in source_hr:
        shape = scale.crop_to_multiple(volume.shape)
        hr = volume[tuple(slice(0, n) for n in shape)]
        clean.append(kspace_truncate(hr, scale))
        cropped.append(hr)
    return clean, cropped
