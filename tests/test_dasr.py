"""DASR: stage losses, gradients, frozen networks, domain-distance map, training, inference, resume."""

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.profiles import load_profile
from benchmark.scale import Scale
from benchmark.training.trainer import Trainer, total_steps
from methods.adversarial import frozen
from methods.dasr import DASR, domain_distance_map, spread_over_receptive_field
from methods.networks.pixel_discriminator import PixelDiscriminator
from tests.conftest import assert_inference_ignores, seeded_method, tiny_training_data, trainer_for

SCALES = [Scale(2, 2, 2), Scale(2, 2, 1)]


def make_method(scale, run):
    return seeded_method(DASR, run, scale)


def grads(net):
    return [p.grad for p in net.parameters()]


def has_grads(net):
    return all(g is not None for g in grads(net)) and any(float(g.abs().sum()) > 0 for g in grads(net))


def no_grads(net):
    return all(g is None for g in grads(net))


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_stage1_losses_finite_and_gradients_reach_the_right_networks(scale, tiny_run):
    run = tiny_run(scale)
    method = make_method(scale, run)
    plan = method.stage1_plan(tiny_training_data(scale), run)
    trainer = trainer_for(plan, run)
    batch = plan.sample_batch(np.random.default_rng(0))
    hr, clean, real = batch
    b = run.profile["batch_size"]
    assert hr.shape == (b, 3 * scale.sz, 8 * scale.sx, 8 * scale.sy)
    assert clean.shape == real.shape == (b, 3, 8, 8)

    with frozen(method.networks["d_lr"]):  # as in the generator update
        terms, fake = plan.generator_losses(batch, trainer)
    assert fake.shape == clean.shape
    assert all(torch.isfinite(v) for v in terms.values())
    terms["g_total"].backward()
    assert has_grads(method.networks["down"])
    assert no_grads(method.networks["d_lr"])  # the generator step never feeds the discriminator's optimiser

    method.networks["down"].zero_grad(set_to_none=True)
    d_loss = plan.discriminator_losses(plan.judgements(batch, fake, trainer), trainer)["d_lr"]
    assert torch.isfinite(d_loss)
    d_loss.backward()
    assert has_grads(method.networks["d_lr"])
    assert no_grads(method.networks["down"])  # generated LR is detached for the discriminator
    for name in ("sr", "d_hr"):
        assert no_grads(method.networks[name])


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_stage2_losses_finite_and_gradients_reach_only_the_sr_side(scale, tiny_run):
    run = tiny_run(scale)
    method = make_method(scale, run)
    plan = method.stage2_plan(tiny_training_data(scale), run)
    trainer = trainer_for(plan, run)
    batch = plan.sample_batch(np.random.default_rng(0))
    hr, _, hr_unpaired = batch
    assert hr.shape == hr_unpaired.shape == (run.profile["batch_size"], 3 * scale.sz, 8 * scale.sx, 8 * scale.sy)

    with frozen(method.networks["d_hr"]):  # as in the generator update
        terms, sr_real = plan.generator_losses(batch, trainer)
    assert sr_real.shape == hr.shape
    assert all(torch.isfinite(v) for v in terms.values())
    assert 0 <= float(terms["ddm"]) <= 1
    terms["g_total"].backward()
    assert has_grads(method.networks["sr"])
    for name in ("d_hr", "down", "d_lr"):
        assert no_grads(method.networks[name])

    method.networks["sr"].zero_grad(set_to_none=True)
    d_loss = plan.discriminator_losses(plan.judgements(batch, sr_real, trainer), trainer)["d_hr"]
    assert torch.isfinite(d_loss)
    d_loss.backward()
    assert has_grads(method.networks["d_hr"])
    for name in ("sr", "down", "d_lr"):
        assert no_grads(method.networks[name])


def test_stage2_never_moves_the_downsampling_network_or_its_discriminator(tiny_run):
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, checkpoint_every=100, val_every=100, lr_max=1e-3)
    method = make_method(scale, run)
    plan = method.stage2_plan(tiny_training_data(scale), run)
    frozen = {name: {k: v.clone() for k, v in method.networks[name].state_dict().items()} for name in ("down", "d_lr")}
    moving = {k: v.clone() for k, v in method.networks["sr"].state_dict().items()}
    trainer = Trainer(plan, run, total_steps=3)
    assert sorted(trainer.optimisers) == ["discriminator", "generator"]
    trainer.fit()
    for name, before in frozen.items():
        for key, value in method.networks[name].state_dict().items():
            torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert any(not torch.equal(v, moving[k]) for k, v in method.networks["sr"].state_dict().items())


def test_building_the_stage2_plan_leaves_stage1_trainable(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=100, val_every=100)
    method = make_method(scale, run)
    data = tiny_training_data(scale)
    method.stage2_plan(data, run)
    before = {k: v.clone() for k, v in method.networks["down"].state_dict().items()}
    Trainer(method.stage1_plan(data, run), run, total_steps=2).fit()
    assert any(not torch.equal(v, before[k]) for k, v in method.networks["down"].state_dict().items())


class ConstantDiscriminator(nn.Module):
    def __init__(self, value: float, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.value, self.size = value, size

    def forward(self, x):
        return torch.full((x.shape[0], 1, *(self.size or x.shape[-2:])), self.value)


class FixedScores(nn.Module):
    """A per-pixel discriminator whose scores are given: ``(B, 3, h, w) → scores``."""

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = scores

    def forward(self, x):
        return self.scores


@pytest.mark.parametrize(("raw", "expected"), [(2.0, 1.0), (-0.5, 0.0), (0.3, 0.3)])
def test_domain_distance_map_is_the_clamped_score(raw, expected):
    fake = torch.rand(3, 3, 8, 8)
    ddm = domain_distance_map(ConstantDiscriminator(raw), fake, (16, 12), window=13)
    assert ddm.shape == (3, 1, 16, 12)
    torch.testing.assert_close(ddm, torch.full_like(ddm, expected))


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_the_stage1_discriminator_scores_every_lr_pixel(scale, tiny_run):
    d_lr = make_method(scale, tiny_run(scale)).networks["d_lr"]
    assert isinstance(d_lr, PixelDiscriminator)
    assert d_lr.receptive_field == 13
    for h, w in ((8, 8), (13, 7), (64, 64)):
        assert d_lr(torch.rand(2, 3, h, w)).shape == (2, 1, h, w)
    convs = [m for m in PixelDiscriminator(3, 64).modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [  # the reference's FSD at disc_feats 64
        (64, (5, 5), (1, 1)),
        (128, (5, 5), (1, 1)),
        (256, (5, 5), (1, 1)),
        (1, (1, 1), (1, 1)),
    ]


def test_the_domain_distance_map_is_per_lr_pixel():
    """One weight per LR pixel: a score map that differs pixel by pixel gives a map that does too."""
    scores = torch.rand(2, 1, 8, 6)
    fake = torch.rand(2, 3, 8, 6)
    ddm = domain_distance_map(FixedScores(scores), fake)
    assert ddm.shape == (2, 1, 8, 6)
    torch.testing.assert_close(ddm, scores)
    with pytest.raises(ValueError, match="one score per LR pixel"):
        domain_distance_map(ConstantDiscriminator(0.5, (2, 2)), fake)  # a patch map is refused


def test_the_domain_distance_map_is_the_mean_over_each_pixels_receptive_field():
    """The reference's getWeights: each score spread over its window, each pixel divided by the scores reaching it."""
    scores = torch.rand(1, 1, 9, 7)
    window = 5
    expected = torch.zeros_like(scores)
    count = torch.zeros_like(scores)
    for i in range(9):
        for j in range(7):
            rows = slice(max(0, i - window // 2), i + window // 2 + 1)
            cols = slice(max(0, j - window // 2), j + window // 2 + 1)
            expected[..., rows, cols] += scores[..., i, j]
            count[..., rows, cols] += 1
    torch.testing.assert_close(spread_over_receptive_field(scores, window), expected / count)
    torch.testing.assert_close(
        domain_distance_map(FixedScores(scores), torch.rand(1, 3, 9, 7), window=5), expected / count
    )
    assert spread_over_receptive_field(scores, 1) is scores
    with pytest.raises(ValueError):
        spread_over_receptive_field(scores, 4)


def test_the_hr_map_is_the_lr_map_upsampled_bilinearly_as_the_reference():
    scores = torch.rand(2, 1, 4, 4)
    hr = domain_distance_map(FixedScores(scores), torch.rand(2, 3, 4, 4), (8, 8))
    expected = torch.nn.functional.interpolate(scores, size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(hr, expected)


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_domain_distance_map_shape_and_range_with_the_stage1_discriminator(scale, tiny_run):
    run = tiny_run(scale)
    method = make_method(scale, run)
    plan = method.stage2_plan(tiny_training_data(scale), run)
    hr, _, _ = plan.sample_batch(np.random.default_rng(1))
    d_lr = method.networks["d_lr"]
    with torch.no_grad():
        # Push raw scores around 0.5 so that the clamp does not flatten the map.
        d_lr.body[-1].bias.fill_(0.5)
    fake, ddm = plan.generated_pairs(hr, trainer_for(plan, run))
    assert fake.shape == (hr.shape[0], 3, 8, 8)
    assert ddm.shape == (hr.shape[0], 1, *hr.shape[-2:])
    assert float(ddm.min()) >= 0 and float(ddm.max()) <= 1
    lr_map = domain_distance_map(d_lr, fake, window=d_lr.receptive_field)
    assert lr_map.shape == (hr.shape[0], 1, 8, 8)
    assert float(lr_map.min()) >= 0 and float(lr_map.max()) <= 1
    expected = torch.nn.functional.interpolate(lr_map, size=hr.shape[-2:], mode="bilinear", align_corners=False)
    torch.testing.assert_close(ddm, expected)


def fixed_loss(plan, batch, trainer):
    with torch.no_grad():
        terms, _ = plan.generator_losses(batch, trainer)
    return float(terms["g_total"])


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_a_few_steps_lower_the_generator_loss(stage, tiny_run):
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, checkpoint_every=100, val_every=100, lr_max=1e-3, batch_size=4)
    method = make_method(scale, run)
    data = tiny_training_data(scale)
    plan = method.stage1_plan(data, run) if stage == "stage1" else method.stage2_plan(data, run)
    batch = plan.sample_batch(np.random.default_rng(123))
    trainer = Trainer(plan, run, total_steps=20)
    before = fixed_loss(plan, batch, trainer)
    trainer.fit()
    after = fixed_loss(plan, batch, trainer)
    assert after < 0.8 * before


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_inference_uses_only_the_sr_network(scale, tiny_run):
    run = tiny_run(scale)
    method = make_method(scale, run)
    lr = torch.from_numpy(tiny_training_data(scale).validation[0].lr.data)
    assert method.super_resolve(lr).shape == tuple(n * f for n, f in zip(lr.shape, scale.factors))
    assert_inference_ignores(method, lr, ("down", "d_lr", "d_hr"))


def test_the_downsampling_network_skip_follows_dasr_down_skip_then_global_skip():
    scale = Scale(2, 2, 2)
    assert DASR.build_networks(scale, load_profile("tiny"))["down"].skip  # follows global_skip, on in tiny
    assert not DASR.build_networks(scale, load_profile("paper"))["down"].skip
    assert not DASR.build_networks(scale, load_profile("tiny", ["dasr_down_skip=False"]))["down"].skip


@pytest.mark.parametrize("profile", ["tiny", "quick", "paper"])
def test_each_stage_trains_for_the_whole_budget(profile):
    """Like the original's two schedules, and so the SR network trains as many steps as every other method's."""
    method = DASR(scale=Scale(2, 2, 2), profile=load_profile(profile, ["steps_per_epoch=7"]))
    budget = total_steps(method.profile)
    assert [(stage.folder, stage.steps) for stage in method.stages(budget)] == [("stage1", budget), ("stage2", budget)]
    assert [stage.steps for stage in method.stages(1)] == [1, 1]


def test_fit_runs_both_stages_each_in_its_folder(tiny_run):
    """Stage 1 then stage 2, each with its ``losses.csv`` and checkpoints (resuming a fit killed in stage 2
    is the method contract's ``resume_after_kill``: tests/test_method_contract.py)."""
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=1, val_every=100, steps_per_epoch=6)
    make_method(scale, run).fit(tiny_training_data(scale), run)
    for stage in ("stage1", "stage2"):
        assert (run.cell_dir / stage / "losses.csv").is_file()
        assert (run.checkpoint_dir / stage / "last.pt").is_file()


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_stage2_hr_discriminator_gradient_penalty(gamma, tiny_run):
    """``dasr_hr_gradient_penalty`` γ adds ``γ/2·(E‖∇D(real)‖² + E‖∇D(fake)‖²)`` to ``D_hr``'s loss, on
    what ``D_hr`` sees (the high frequencies), and trains only ``D_hr``; absent at γ = 0."""
    from methods.losses import high_pass

    scale = SCALES[0]
    run = tiny_run(scale, dasr_hr_gradient_penalty=gamma)
    method = make_method(scale, run)
    plan = method.stage2_plan(tiny_training_data(scale), run)
    trainer = trainer_for(plan, run)
    batch = plan.sample_batch(np.random.default_rng(0))
    with frozen(method.networks["d_hr"]):
        _, sr_real = plan.generator_losses(batch, trainer)
    losses = plan.discriminator_losses(plan.judgements(batch, sr_real, trainer), trainer)
    if gamma == 0:
        assert set(losses) == {"d_hr", "d_total"}
        return
    d_hr = method.networks["d_hr"]

    def penalty(x):
        x = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(d_hr(high_pass(x, plan.weights.lf_kernel)).sum(), x)
        return grad.pow(2).flatten(1).sum(1).mean()

    expected = 0.5 * gamma * (penalty(batch[2]) + penalty(sr_real))
    torch.testing.assert_close(losses["d_hr_penalty"], expected)
    torch.testing.assert_close(losses["d_total"], losses["d_hr"] + expected)
    losses["d_total"].backward()
    assert has_grads(d_hr)
    for name in ("sr", "down", "d_lr"):
        assert no_grads(method.networks[name])


def test_the_stage2_hr_discriminator_is_penalised_by_default(tiny_run):
    """Issue 14: without the penalty DASR's validation PSNR fell 0.40 dB from its best. The default γ
    penalises ``D_hr`` only (stage 1's per-pixel discriminator stays as the reference's), and no
    profile sets another."""
    from methods.dasr import HR_GRADIENT_PENALTY_DEFAULT

    scale = SCALES[0]
    run = tiny_run(scale)
    method = make_method(scale, run)
    data = tiny_training_data(scale)
    assert method.stage2_plan(data, run).gradient_penalties == {"d_hr": HR_GRADIENT_PENALTY_DEFAULT}
    assert method.stage1_plan(data, run).gradient_penalties == {}
    assert HR_GRADIENT_PENALTY_DEFAULT == 0.001
    for profile in ("tiny", "quick", "paper"):
        assert load_profile(profile).get("dasr_hr_gradient_penalty", HR_GRADIENT_PENALTY_DEFAULT) == 0.001
