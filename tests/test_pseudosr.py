"""PseudoSR: clean LR domain, shapes, finite losses routed to the right networks, training, inference path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.protocol.degradations import kspace_truncate
from benchmark.scale import Scale
from benchmark.training.trainer import Trainer
from methods.adversarial import frozen
from methods.pseudosr import PseudoSR, PseudoSRPlan
from methods.thin_slab import clean_lr_volumes
from tests.conftest import (
    assert_inference_ignores,
    reached,
    record_updates,
    seeded_method,
    tiny_training_data,
    trainer_for,
)

SCALES = [Scale(2, 2, 2), Scale(2, 2, 1)]
TRANSLATORS = {"g_clean", "g_degrade"}
DISCRIMINATORS = {"d_x", "d_clean", "d_sr"}
# Translators each translator term must train (U and the discriminators frozen for that update).
REACHES = {
    "adv_x": {"g_degrade"},
    "adv_clean": {"g_clean"},
    "adv_sr": TRANSLATORS,
    "cycle": TRANSLATORS,
    "identity": {"g_clean"},
    "geometry": {"g_clean"},
    "g_total": TRANSLATORS,
}


def make(run, scale: Scale, seed: int = 0) -> tuple[PseudoSR, PseudoSRPlan]:
    method = seeded_method(PseudoSR, run, scale, seed)
    for net in method.networks.values():
        # With the global skip, TS-RCAN starts exactly at interpolation (tail zeroed); a training
        # run leaves that point at once, so the tests start a little away from it.
        if getattr(net, "global_skip", False):
            torch.nn.init.normal_(net.tail.weight, std=1e-2)
    return method, method.make_plan(tiny_training_data(scale), run)  # type: ignore[return-value]


def test_clean_lr_is_the_kspace_truncation_of_each_whole_source_volume() -> None:
    scale = Scale(2, 2, 2)
    data = tiny_training_data(scale)
    volumes = [v.data for v in data.source_hr] + [data.source_hr[0].data[:23, :24, :11]]
    clean, hr = clean_lr_volumes(volumes, scale)
    for c, h, v in zip(clean, hr, volumes):
        assert h.shape == scale.crop_to_multiple(v.shape) and np.shares_memory(h, v)
        np.testing.assert_array_equal(c, kspace_truncate(h, scale))
    assert clean[-1].shape == (11, 12, 5)


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_shapes_and_aligned_pairs(tiny_run, scale: Scale) -> None:
    """The batch's shapes and alignment and each network's shapes (fit, super_resolve's shape and
    finiteness, and resuming after a kill are the method contract's: tests/test_method_contract.py)."""
    run = tiny_run(scale)
    method, plan = make(run, scale)
    x, y_down, y, z = plan.sample_batch(np.random.default_rng(0))
    b, (px, py, _) = run.profile["batch_size"], run.profile["lr_patch"]
    sx, sy, sz = scale.factors
    assert x.shape == y_down.shape == (b, 3, px, py) and z.shape == (b, 1, px, py)
    assert y.shape == (b, 3 * sz, sx * px, sy * py)
    # (y↓, y) are aligned: y↓ is the k-space truncation of the volume y was cut from, at the LR corner
    found = False
    for clean, hr in zip(plan.clean_lr, plan.source_hr):
        for corner in np.ndindex(*(n - p + 1 for n, p in zip(clean.shape, (px, py, 3)))):
            patch = clean[tuple(slice(c, c + p) for c, p in zip(corner, (px, py, 3)))]
            if np.array_equal(patch.transpose(2, 0, 1), y_down[0].numpy()):
                hr_corner = [c * s for c, s in zip(corner, scale.factors)]
                hr_patch = hr[tuple(slice(c, c + p) for c, p in zip(hr_corner, (sx * px, sy * py, 3 * sz)))]
                assert np.array_equal(hr_patch.transpose(2, 0, 1), y[0].numpy())
                found = True
    assert found
    nets = method.networks
    assert nets["g_clean"](x).shape == x.shape and nets["g_degrade"](y_down, z).shape == x.shape
    assert nets["sr"](y_down).shape == y.shape and method.inference_network()(x).shape == y.shape


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_every_term_is_finite_and_trains_the_right_networks(tiny_run, scale: Scale) -> None:
    run = tiny_run(scale)
    _, plan = make(run, scale)
    trainer = trainer_for(plan, run)
    batch = plan.sample_batch(np.random.default_rng(0))
    with frozen(*(plan.networks[n] for n in ("sr", *DISCRIMINATORS))):
        losses, outputs = plan.generator_losses(batch, trainer)
        for name, expected in REACHES.items():
            assert torch.isfinite(losses[name]) and losses[name] > 0, name
            assert reached(plan.networks, losses[name]) == expected, name
    weighted = (
        losses["adv_x"]
        + losses["adv_clean"]
        + 0.1 * losses["adv_sr"]
        + losses["cycle"]
        + losses["identity"]
        + losses["geometry"]
    )
    torch.testing.assert_close(losses["g_total"], weighted)
    assert not outputs["sr_x"].requires_grad  # real for D_U only

    sr_l1 = plan.sr_loss(outputs["pseudo_clean"], batch[2], trainer)
    assert torch.isfinite(sr_l1) and reached(plan.networks, sr_l1) == {"sr"}

    d_losses = plan.discriminator_losses(plan.judgements(batch, outputs, trainer), trainer)
    for name in DISCRIMINATORS:
        assert torch.isfinite(d_losses[name]) and d_losses[name] > 0, name
        assert reached(plan.networks, d_losses[name]) == {name}, name
    assert reached(plan.networks, d_losses["d_total"]) == DISCRIMINATORS


def test_train_step_updates_translators_then_sr_then_discriminators(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    _, plan = make(run, scale)
    trainer = trainer_for(plan, run)
    calls = record_updates(trainer, plan.networks)
    losses = plan.train_step(plan.sample_batch(np.random.default_rng(0)), trainer)
    assert calls == [("translators", TRANSLATORS), ("sr", {"sr"}), ("discriminator", DISCRIMINATORS)]
    assert set(losses) == {*REACHES, "sr_l1", *DISCRIMINATORS, "d_total"}
    assert all(math.isfinite(v) for v in losses.values())
    assert all(p.requires_grad for net in plan.networks.values() for p in net.parameters())  # unfrozen again


@pytest.mark.parametrize(
    ("scale", "patch", "count"),
    [(Scale(2, 2, 2), (8, 8, 3), 8), (Scale(2, 2, 1), (8, 6, 3), 4), (Scale(2, 1, 2), (8, 8, 3), 4)],
    ids=["square", "non-square-patch", "sx-not-sy"],
)
def test_transforms_that_keep_the_domain(tiny_run, scale: Scale, patch, count: int) -> None:
    run = tiny_run(scale, lr_patch=patch)
    _, plan = make(run, scale)
    assert len(plan.transforms) == count
    losses = plan.train_step(plan.sample_batch(np.random.default_rng(0)), trainer_for(plan, run))
    assert all(math.isfinite(v) for v in losses.values())


def test_a_few_steps_lower_the_generator_losses(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, batch_size=4, lr_max=1e-3, val_every=100, checkpoint_every=100)
    _, plan = make(run, scale)
    trainer = Trainer(plan, run, total_steps=30)
    trainer.fit()
    for name in ("g_total", "sr_l1"):
        losses = [row[name] for row in trainer.history]
        assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), name
    assert "val_psnr" in trainer.history[-1]


def test_inference_uses_only_the_correction_and_sr_networks(tiny_run) -> None:
    scale = Scale(2, 2, 1)
    method, _ = make(tiny_run(scale), scale)
    lr = torch.from_numpy(tiny_training_data(scale).validation[0].lr.data)
    assert_inference_ignores(method, lr, ("g_degrade", *DISCRIMINATORS))
    for name in ("g_clean", "sr"):  # both are on the test-time path
        method, _ = make(tiny_run(scale), scale)
        with torch.no_grad():
            next(method.networks[name].parameters()).fill_(float("nan"))
        assert not torch.isfinite(method.super_resolve(lr)).all(), name


def test_loss_weights_come_from_the_profile(tiny_run) -> None:
    scale = Scale(2, 2, 1)
    keys = {
        "pseudosr_cycle_weight": 2.0,
        "pseudosr_identity_weight": 3.0,
        "pseudosr_geometry_weight": 4.0,
        "pseudosr_sr_adv_weight": 0.5,
    }
    _, plan = make(tiny_run(scale, **keys), scale)
    assert (plan.cycle_weight, plan.identity_weight, plan.geometry_weight, plan.sr_adv_weight) == (2, 3, 4, 0.5)
    _, default = make(tiny_run(scale), scale)
    assert (default.cycle_weight, default.identity_weight, default.geometry_weight, default.sr_adv_weight) == (
        1,
        1,
        1,
        0.1,
    )
