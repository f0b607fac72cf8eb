"""CycleGAN for SR: shapes, finite losses routed to the right networks, training, inference path, resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.scale import Scale
from methods.adversarial import frozen
from methods.cyclegan import CycleGAN, CycleGANPlan
from tests.conftest import (
    assert_inference_ignores,
    reached,
    record_updates,
    seeded_method,
    tiny_training_data,
    trainer_for,
    validation_from_interpolation_start,
)

SCALES = [Scale(2, 2, 2), Scale(2, 2, 1)]
GENERATORS = {"g_up", "g_down"}
DISCRIMINATORS = {"d_hr", "d_lr"}
# Generators each generator term must train (discriminators frozen during the generator update).
REACHES = {
    "adv_hr": {"g_up"},
    "adv_lr": {"g_down"},
    "cycle_lr": GENERATORS,
    "cycle_hr": GENERATORS,
    "g_total": GENERATORS,
}


def make(run, scale: Scale, seed: int = 0) -> tuple[CycleGAN, CycleGANPlan]:
    method = seeded_method(CycleGAN, run, scale, seed)
    return method, method.make_plan(tiny_training_data(scale), run)  # type: ignore[return-value]


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_shapes_of_the_paths(tiny_run, scale: Scale) -> None:
    """The batch and each generator's shapes (fit, super_resolve's shape and finiteness, and resuming
    after a kill are the method contract's: tests/test_method_contract.py)."""
    run = tiny_run(scale)
    method, plan = make(run, scale)
    lr, hr = plan.sample_batch(np.random.default_rng(0))
    b, (px, py, _) = run.profile["batch_size"], run.profile["lr_patch"]
    sx, sy, sz = scale.factors
    assert lr.shape == (b, 3, px, py) and hr.shape == (b, 3 * sz, sx * px, sy * py)
    assert method.networks["g_up"](lr).shape == hr.shape
    assert method.networks["g_down"](hr).shape == lr.shape
    assert method.inference_network() is method.networks["g_up"]


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_every_term_is_finite_and_trains_the_right_networks(tiny_run, scale: Scale) -> None:
    run = tiny_run(scale)
    _, plan = make(run, scale)
    trainer = trainer_for(plan, run)
    batch = plan.sample_batch(np.random.default_rng(0))
    with frozen(plan.networks["d_hr"], plan.networks["d_lr"]):
        g_losses, fakes = plan.generator_losses(batch, trainer)
        for name, expected in REACHES.items():
            assert torch.isfinite(g_losses[name]) and g_losses[name] > 0, name
            assert reached(plan.networks, g_losses[name]) == expected, name
    total = g_losses["adv_hr"] + g_losses["adv_lr"] + 10 * (g_losses["cycle_lr"] + g_losses["cycle_hr"])
    torch.testing.assert_close(g_losses["g_total"], total)

    d_losses = plan.discriminator_losses(plan.judgements(batch, fakes, trainer), trainer)
    for name in ("d_hr", "d_lr", "d_total"):
        assert torch.isfinite(d_losses[name]) and d_losses[name] > 0, name
    assert reached(plan.networks, d_losses["d_hr"]) == {"d_hr"}
    assert reached(plan.networks, d_losses["d_lr"]) == {"d_lr"}
    assert reached(plan.networks, d_losses["d_total"]) == DISCRIMINATORS


def test_train_step_updates_generators_then_discriminators_only(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    _, plan = make(run, scale)
    trainer = trainer_for(plan, run)
    calls = record_updates(trainer, plan.networks)
    before = {k: v.clone() for k, v in plan.networks["g_up"].state_dict().items()}
    losses = plan.train_step(plan.sample_batch(np.random.default_rng(0)), trainer)
    assert calls == [("generator", GENERATORS), ("discriminator", DISCRIMINATORS)]
    assert all(math.isfinite(v) for v in losses.values())
    assert set(losses) == {*REACHES, "d_hr", "d_lr", "d_total"}
    assert any(not torch.equal(v, before[k]) for k, v in plan.networks["g_up"].state_dict().items())
    assert all(p.requires_grad for net in plan.networks.values() for p in net.parameters())  # unfrozen again
    assert plan.networks["pool_hr"].stored == plan.networks["pool_lr"].stored == run.profile["batch_size"]


def test_a_few_steps_lower_the_generator_loss(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, batch_size=4, lr_max=1e-3, val_every=100, checkpoint_every=100)
    _, plan = make(run, scale)
    trainer = trainer_for(plan, run, steps=30)
    trainer.fit()
    losses = [row["g_total"] for row in trainer.history]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert "val_psnr" in trainer.history[-1]


def test_inference_uses_only_the_up_sampling_generator(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    method, _ = make(tiny_run(scale), scale)
    lr = torch.from_numpy(tiny_training_data(scale).validation[0].lr.data)
    assert_inference_ignores(method, lr, ("g_down", "d_hr", "d_lr"))
    with torch.no_grad():
        next(method.networks["g_up"].parameters()).fill_(float("nan"))
    assert not torch.isfinite(method.super_resolve(lr)).all()


def test_loss_weights_and_pool_size_come_from_the_profile(tiny_run) -> None:
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, cyclegan_cycle_lr_weight=2.0, cyclegan_cycle_hr_weight=3.0, cyclegan_pool_size=7)
    _, plan = make(run, scale)
    assert (plan.cycle_lr_weight, plan.cycle_hr_weight) == (2.0, 3.0)
    assert plan.networks["pool_hr"].size == plan.networks["pool_lr"].size == 7
    _, default = make(tiny_run(scale), scale)
    assert (default.cycle_lr_weight, default.cycle_hr_weight, default.networks["pool_lr"].size) == (10.0, 10.0, 50)


def test_training_keeps_the_sr_generator_near_its_interpolation_start(tiny_run) -> None:
    """A few dozen steps, target LR the k-space truncation of the source HR: G_up starts at linear
    interpolation and must not move far from it. Without G_down's sampling skip, 30 steps took it
    from 19.3 dB to 9.0 dB (interpolation 19.3 dB; issue 14)."""
    scale = Scale.parse("2x2x2")
    run = tiny_run(scale, steps_per_epoch=30, val_every=10, lr_max=5e-4)
    start, curve = validation_from_interpolation_start(CycleGAN, run, scale)
    assert min(curve) > start - 0.5, (start, curve)


def test_g_down_starts_at_plain_sampling_with_the_global_skip(tiny_run) -> None:
    scale = Scale.parse("2x2x2")
    hr = torch.rand(2, 6, 16, 16)
    for skip, expected in ((True, hr[:, ::2, ::2, ::2]), (False, torch.zeros(2, 3, 8, 8))):
        run = tiny_run(scale, cyclegan_down_skip=skip)
        with torch.no_grad():
            out = seeded_method(CycleGAN, run, scale).networks["g_down"](hr)
        assert (out - expected).abs().mean() < 0.05
