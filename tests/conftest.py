"""Shared fixtures: tiny synthetic volumes and run contexts (no files beyond tmp_path); the slow tier.

Tests that start subprocesses or run whole cells (``bench run``, ``bench infer``, a method's
``fit`` through the contract) carry the ``slow`` marker, given here by module
(:data:`SLOW_MODULES`) and in the modules themselves for single tests.  The fast loop is
``pytest -m "not slow"``; ``make test`` and CI run everything.
"""

from __future__ import annotations

import os
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

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist starts its workers with COLUMNS=80 and LINES=24. The CLI's rich consoles, made when
    # benchmark.app.cli is imported, would then keep 80 columns and ignore a test's own COLUMNS, and
    # long tmp paths would wrap mid-sentence. Without them a worker sees what a serial run sees.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

SLOW_MODULES = frozenset(
    {
        "test_cell_data_store",  # the local queue's cell processes
        "test_html_report_browser",  # a tiny run, then headless Chromium
        "test_downstream",  # ANTs Atropos on demo volumes, a 1 mm one among them
        "test_cell_identity",  # bench run of folder datasets
        "test_cli",  # bench run of the demo cells
        "test_cli_bad_data",
        "test_demo_tissues",  # the demo-small cohort and its tissue maps made
        "test_divergence",
        "test_example_plugin",  # the example plugin checked in a child process
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
        "test_report_archive",  # bench run of two cells
        "test_run_safety",  # SIGKILLed runs
        "test_slurm_real",  # a real Slurm
        "test_unread_options",
        "test_zssr",  # test-time training per volume
    }
)
"""Test modules whose tests start subprocesses or run whole cells: all of them are ``slow``."""


SLOW_TESTS = frozenset(
    {
        "test_adversarial_diagnostics::test_instruments_do_not_change_training",
        "test_adversarial_diagnostics::test_udean_logs_its_instruments_at_every_validation",
        "test_cyclegan::test_a_few_steps_lower_the_generator_loss",
        "test_cyclegan::test_killed_run_resumes_to_the_same_weights_and_pool",
        "test_cyclegan::test_shapes_and_a_whole_fit",
        "test_cyclegan::test_training_keeps_the_sr_generator_near_its_interpolation_start",
        "test_dasr::test_a_few_steps_lower_the_generator_loss",
        "test_dasr::test_fit_runs_both_stages_and_a_killed_run_resumes_to_the_same_weights",
        "test_dasr::test_stage2_never_moves_the_downsampling_network_or_its_discriminator",
        "test_datasets::test_demo_small_subjects_are_distinct_and_in_unit_range",
        "test_networks::test_a_few_adam_steps_lower_the_loss",
        "test_pseudosr::test_a_few_steps_lower_the_generator_losses",
        "test_pseudosr::test_every_term_is_finite_and_trains_the_right_networks",
        "test_pseudosr::test_shapes_pairs_and_a_whole_fit",
        "test_pseudosr::test_train_step_updates_translators_then_sr_then_discriminators",
        "test_reports::test_bench_report_writes_the_seed_table_when_a_cell_has_seeds",
        "test_reports::test_write_reports_writes_everything",
        "test_profile_keys::test_bench_list_verbose_lists_every_setting",
        "test_trainer::test_a_policy_can_end_training_early",
        "test_trainer::test_a_stateful_policy_survives_a_kill",
        "test_trainer::test_killed_run_resumes_to_the_same_weights",
        "test_trainer::test_planted_pickle_in_a_checkpoint_does_not_run",
        "test_trainer::test_training_lowers_the_loss",
        "test_udean::test_a_few_steps_lower_the_generator_loss",
        "test_udean::test_eq_6_and_7_update_exactly_the_networks_the_paper_names",
        "test_udean::test_every_discriminator_that_judges_a_kept_term_is_trained",
        "test_udean::test_every_term_is_finite_and_trains_the_right_networks",
        "test_udean::test_fit_and_state_round_trip",
        "test_udean::test_the_gradient_penalty_bounds_the_feature_discriminators_input_gradient",
        "test_udean::test_the_warm_up_keeps_the_inference_path_near_its_interpolation_start",
        "test_udean::test_the_warm_up_trains_the_lr_paths_then_eq_10",
        "test_udean::test_updates_move_only_their_own_networks",
    }
)
"""Single tests that train for more than a few seconds (measured with ``--durations``): ``slow`` too."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of :data:`SLOW_MODULES`, and every test of :data:`SLOW_TESTS`, ``slow``."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
        name = getattr(item, "originalname", item.name)
        if module in SLOW_MODULES or f"{module}::{name}" in SLOW_TESTS:
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
