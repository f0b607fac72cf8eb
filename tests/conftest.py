"""Shared fixtures: tiny synthetic volumes and run contexts (no files beyond tmp_path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.profiles import load_profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.run_context import RunContext
from benchmark.scale import Scale
from benchmark.training_data import TrainingData, VolumePair
from benchmark.volume import Volume


def smooth_volume(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A smooth random ``(X, Y, Z)`` volume in [0, 1] (a few low-frequency cosines)."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*(np.linspace(0, 1, n) for n in shape), indexing="ij")
    out = np.zeros(shape)
    for _ in range(4):
        freq = rng.uniform(0.5, 3, size=3)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        out += np.prod([np.cos(2 * np.pi * f * g + p) for f, g, p in zip(freq, grid, phase)], axis=0)
    out -= out.min()
    return (out / out.max()).astype(np.float32)


def tiny_training_data(scale: Scale, n: int = 3, shape=(24, 24, 12)) -> TrainingData:
    """Aligned tiny pairs: target LR by k-space truncation, source HR = target HR (a 'misaligned' stand-in)."""
    affine = np.eye(4)
    hr = [Volume(smooth_volume(shape, seed), affine, f"s{seed}") for seed in range(n + 1)]
    lr = [Volume(kspace_truncate(v.data, scale), affine @ np.diag([*scale.factors, 1]), v.subject) for v in hr]
    return TrainingData(
        scale=scale,
        setting="misaligned",
        _source_hr=hr[:n],
        _target_lr=lr[:n],
        _validation=[VolumePair(lr[n], hr[n])],
        _target_hr=hr[:n],
        allow_target_hr=True,
    )


@pytest.fixture
def tiny_run(tmp_path):
    def make(scale: Scale, **overrides) -> RunContext:
        profile = load_profile("tiny", [f"{k}={v!r}" for k, v in overrides.items()])
        return RunContext(
            device=torch.device("cpu"),
            seed=0,
            profile=profile,
            scale=scale,
            cell_dir=tmp_path,
            checkpoint_dir=tmp_path / "checkpoints",
        )

    return make
