"""Shared fixtures: tiny synthetic volumes and run contexts (no files beyond tmp_path); the slow tier.

Tests that start subprocesses or run whole cells (``bench run``, ``bench infer``, a method's
``fit`` through the contract) carry the ``slow`` marker, given here by module
(:data:`SLOW_MODULES`) and in the modules themselves for single tests.  The fast loop is
``pytest -m "not slow"``; ``make test`` and CI run everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.data.volume import Volume
from benchmark.profiles import load_profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.protocol.training_data import TrainingData, VolumePair
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.seeding import seed_everything
from benchmark.training.trainer import Trainer
from methods.validation import validate_network

SLOW_MODULES = frozenset(
    {
        "test_cell_identity",  # bench run of folder datasets
        "test_cli",  # bench run of the demo cells
        "test_cli_bad_data",
        "test_divergence",
        "test_executors",  # local queue and submitit processes
        "test_fair_start",
        "test_gpu_paper_run",
        "test_hostile_files",
        "test_import_rules",  # lint-imports processes
        "test_infer",  # trained cells, bench infer
        "test_learning_curves",
        "test_method_contract",  # every method fitted, killed, resumed
        "test_precision",
        "test_readme_method",
        "test_run_safety",  # SIGKILLed runs
        "test_slurm_real",  # a real Slurm
        "test_unread_options",
        "test_zssr",  # test-time training per volume
    }
)
"""Test modules whose tests start subprocesses or run whole cells: all of them are ``slow``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of :data:`SLOW_MODULES` ``slow``."""
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


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


# ----------------------------------------------------------------- helpers of the method tests
def seeded_method(factory: Callable[..., Any], run: RunContext, scale: Scale, seed: int = 0) -> Any:
    """``factory(scale=scale, profile=run.profile)`` right after seeding every generator with ``seed``."""
    seed_everything(seed)
    return factory(scale=scale, profile=run.profile)


def trainer_for(plan: Any, run: RunContext, steps: int = 1) -> Trainer:
    """A trainer over ``plan`` for calling ``train_step`` or ``update`` directly, outside ``Trainer.fit``."""
    trainer = Trainer(plan, run, total_steps=steps)
    trainer._optimiser_seconds = 0.0  # reset per step by Trainer._one_step, which direct calls bypass
    return trainer


def reached(networks: dict[str, nn.Module], loss: torch.Tensor) -> set[str]:
    """Names of the networks whose trainable parameters get a non-zero gradient from ``loss`` (graph kept)."""
    params = [(n, p) for n, net in networks.items() for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, [p for _, p in params], retain_graph=True, allow_unused=True)
    return {n for (n, _), g in zip(params, grads) if g is not None and g.abs().sum() > 0}


def record_updates(trainer: Trainer, networks: dict[str, nn.Module]) -> list[tuple[str, set[str]]]:
    """Make ``trainer.update`` record ``(optimiser, networks its loss reaches)`` per call; returns the record."""
    calls: list[tuple[str, set[str]]] = []
    update = trainer.update

    def recording_update(name: str, loss: torch.Tensor, retain_graph: bool = False) -> None:
        calls.append((name, reached(networks, loss)))
        update(name, loss, retain_graph)

    trainer.update = recording_update  # type: ignore[method-assign]
    return calls


def assert_inference_ignores(method: Any, lr: torch.Tensor, unused: Iterable[str]) -> None:
    """``method.super_resolve(lr)`` is unchanged, bit for bit, when the ``unused`` networks are all NaN."""
    expected = method.super_resolve(lr)
    with torch.no_grad():
        for name in unused:
            for p in method.networks[name].parameters():
                p.fill_(float("nan"))
    out = method.super_resolve(lr)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def validation_from_interpolation_start(
    factory: Callable[..., Any], run: RunContext, scale: Scale
) -> tuple[float, list[float]]:
    """Validation PSNR (dB) of a seeded method before training, and at every validation of a
    ``fit`` on :func:`tiny_training_data` of 32×32×12 volumes (the regression check of issue 14)."""
    method = seeded_method(factory, run, scale)
    data = tiny_training_data(scale, shape=(32, 32, 12))
    start = validate_network(method.inference_network(), data.validation, scale, run.profile, run.device)["psnr"]
    method.fit(data, run)
    history = pd.read_csv(run.cell_dir / "losses.csv").dropna(subset=["val_psnr"])
    return start, history["val_psnr"].tolist()
