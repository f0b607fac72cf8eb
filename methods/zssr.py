"""ZSSR (Shocher, Cohen, Irani, CVPR 2018), "zero-shot" SR on the shared thin-slab backbone.

ZSSR trains a network at test time on the test image alone: the LR image is the "father",
a "son" is the father down-scaled once more by the same scale, the network learns son →
father on random crops, and the trained network is then applied to the LR image itself.
It never sees a source HR volume: ``uses_source_hr = False`` (its cells run once, setting
n/a), and :meth:`ZSSR.fit` reads nothing from the training data.

Here, per test volume: the network is the shared TS-RCAN (without the profile's global skip)
learning the residual over :func:`~methods.cubic_upsampling.upsample_cubic`; the son is the LR
volume degraded once more by the protocol's k-space truncation; pairs are son/father slabs
(:mod:`methods.zssr_pairs`) with random in-plane dihedral augmentation that respects the
``s·j`` sampling grid; ZSSR's adaptive learning rate and stopping rule through the shared
:class:`~benchmark.training.trainer.Trainer` (:mod:`methods.zssr_training`); at most
``zssr_steps`` iterations (:mod:`methods.zssr_config`); at test time the optional 8-variant
ensemble and back-projection (:mod:`methods.zssr_inference`: ``down`` is the k-space
truncation, ``up`` its k-space zero-fill by default). Each volume's seed is the cell's seed and a
CRC-32 of its bytes; its history and checkpoints go to ``zssr/volume-<i>/``, so a killed cell
resumes. Without :meth:`ZSSR.fit` a volume trains on the CPU with seed 0 in a temporary folder.

Design notes and measurements: docs/methods/zssr.md
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, ClassVar

import torch

from benchmark.api import (
    METHODS,
    Method,
    Profile,
    RunContext,
    Scale,
    TrainingData,
)
from methods.dihedral import IDENTITY
from methods.networks import count_parameters
from methods.zssr_config import ZSSRConfig
from methods.zssr_inference import super_resolve_ensemble
from methods.zssr_pairs import SonFatherSampler, father_and_son
from methods.zssr_training import scratch_run, train_on_volume, volume_run, volume_seed, zssr_network


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
