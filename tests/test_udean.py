"""UDEAN and its ablations: registration, shapes, gradient routing, λ switches, training, inference."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.plugins import METHODS
from benchmark.profiles import load_profile
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
from methods.adversarial import frozen
from methods.losses import lsgan_generator_loss
from methods.networks.downsampling_generator import sample_slab
from methods.networks.interpolation_skip import upsample_slab
from methods.udean import (
    DISCRIMINATORS,
    FEATURE_GRADIENT_PENALTY_GAMMA,
    GENERATORS,
    UDEAN,
    UDEANPlan,
    UDEANWeights,
)
from tests.conftest import (
    assert_inference_ignores,
    reached,
    seeded_method,
    tiny_training_data,
    trainer_for,
    validation_from_interpolation_start,
)

SCALES = [Scale(2, 2, 2), Scale(2, 2, 1)]
TERMS = ("i_cyc", "f_cyc", "hr_con", "lr_con", "da", "fa")

# Generators each term of eq. 10 must train (Ŷ_s = SR(f_s) as in the paper; the HR discriminator's
# β·L_adv terms of eq. 4 and 6 reach no generator the L1 and SSIM terms do not).
REACHES = {
    "i_cyc": set(GENERATORS),
    "f_cyc": {"downsampling_extractor", "lr_decoder", "lr_encoder"},
    "hr_con": {"downsampling_extractor", "sr_decoder"},
    "lr_con": {"lr_encoder", "lr_decoder"},
    "da": {"downsampling_extractor", "lr_decoder"},
    "fa": {"lr_encoder", "downsampling_extractor"},
}
# The old skips (udean_down_skip, with udean_lr_consistency_skip): eq. 7 then also reaches... the same
# networks, but is satisfied by an LR decoder that outputs zero (test_eq_7_is_not_satisfied_by_a_zero_decoder).


def make(name: str, run, scale: Scale, seed: int = 0) -> tuple[UDEAN, UDEANPlan]:
    """A method ``name`` and its plan on tiny data, networks seeded."""
    method = seeded_method(METHODS.factory(name), run, scale, seed)
    return method, method.make_plan(tiny_training_data(scale), run)


def batch(plan: UDEANPlan, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return plan.sample_batch(np.random.default_rng(seed))


def generator_losses(plan: UDEANPlan, batch: tuple[torch.Tensor, ...], run) -> tuple[dict[str, torch.Tensor], object]:
    """Eq. 10's terms as the generator update computes them: the discriminators frozen."""
    with frozen(*(plan.networks[name] for name in DISCRIMINATORS if name in plan.networks)):
        return plan.generator_losses(batch, trainer_for(plan, run))


def generator_grads(plan: UDEANPlan, batch: tuple[torch.Tensor, ...], run) -> list[torch.Tensor]:
    for net in plan.networks.values():
        net.zero_grad(set_to_none=True)
    generator_losses(plan, batch, run)[0]["g_total"].backward()
    return [p.grad.clone() for name in GENERATORS for p in plan.networks[name].parameters()]


def snapshot(plan: UDEANPlan, names) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.clone() for n in names for k, v in plan.networks[n].state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_registered_names_and_weights() -> None:
    assert {"udean", "udean-image-da", "udean-feature-da"} <= set(METHODS.names("udean*"))
    profile = load_profile("tiny")
    full = UDEANWeights(1, 0.1, 1, 1, 0.1, 0.1, 0.5, 0.01)
    assert METHODS.factory("udean")(scale=Scale(2, 2, 2), profile=profile).weights == full
    image = METHODS.factory("udean-image-da")(scale=Scale(2, 2, 2), profile=profile).weights
    feature = METHODS.factory("udean-feature-da")(scale=Scale(2, 2, 2), profile=profile).weights
    assert (image.lambda5, image.lambda6) == (0.1, 0.0)
    assert (feature.lambda5, feature.lambda6) == (0.0, 0.1)
    # profile keys override the defaults, but never switch an ablated weight back on
    overridden = load_profile("tiny", ["udean_lambda5=0.3", "udean_alpha=0.2"])
    weights = METHODS.factory("udean-feature-da")(scale=Scale(2, 2, 2), profile=overridden).weights
    assert (weights.lambda5, weights.alpha) == (0.0, 0.2)
    assert METHODS.factory("udean")(scale=Scale(2, 2, 2), profile=overridden).weights.lambda5 == 0.3


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_shapes_of_every_path(tiny_run, scale: Scale) -> None:
    """Shapes of every path; with the global skip the SRR network starts at linear interpolation."""
    run = tiny_run(scale)
    method, plan = make("udean", run, scale)
    y_s, x_t = batch(plan)
    b, (px, py, _) = run.profile["batch_size"], run.profile["lr_patch"]
    sx, sy, sz = scale.factors
    feats = run.profile["encoder_feats"]
    assert y_s.shape == (b, 3 * sz, sx * px, sy * py) and x_t.shape == (b, 3, px, py)
    p = plan.forward_paths(y_s, x_t)
    for name in ("f_s", "f_s_t_s", "f_t"):
        assert getattr(p, name).shape == (b, feats, px, py)
    for name in ("x_s_t", "x_hat_t"):
        assert getattr(p, name).shape == x_t.shape
    for name in ("y_s_t_s", "y_hat_s"):
        assert getattr(p, name).shape == y_s.shape
    sr = method.inference_network()(x_t)
    assert sr.shape == y_s.shape
    torch.testing.assert_close(sr, upsample_slab(x_t, scale.factors), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("scale", "overrides", "expected"),
    [
        (Scale(2, 2, 2), {}, REACHES),
        (Scale(2, 2, 1), {}, REACHES),
        (Scale(2, 2, 2), {"udean_hr_consistency_skip": True}, REACHES),
        (Scale(2, 2, 2), {"global_skip": False}, REACHES),
        (Scale(2, 2, 2), {"udean_feature_gradient_penalty": 0.1}, REACHES),
    ],
    ids=["2x2x2", "2x2x1", "hr-consistency-skip", "no-skip", "gradient-penalty"],
)
def test_every_term_is_finite_and_trains_the_right_networks(tiny_run, scale, overrides, expected) -> None:
    run = tiny_run(scale, **overrides)
    _, plan = make("udean", run, scale)
    plan.networks["sr_decoder"].tail.reset_parameters()  # zero with the skip: no gradient through it at step 0
    terms, paths = generator_losses(plan, batch(plan), run)
    for name in TERMS:
        assert torch.isfinite(terms[name]) and terms[name] > 0, name
        assert reached(plan.networks, terms[name]) == expected[name], name
    assert reached(plan.networks, terms["g_total"]) == set(GENERATORS)
    trainer = trainer_for(plan, run)
    d_losses = plan.discriminator_losses(plan.judgements(batch(plan), paths, trainer), trainer)
    penalised = run.profile["udean_feature_gradient_penalty"] > 0  # off by default since revision 1
    assert set(d_losses) == {"d_lr", "d_feature", "d_hr", "d_total"} | ({"d_feature_penalty"} if penalised else set())
    for name, network in (
        ("d_lr", "lr_discriminator"),
        ("d_feature", "feature_discriminator"),
        ("d_hr", "hr_discriminator"),
    ):
        assert torch.isfinite(d_losses[name])
        assert reached(plan.networks, d_losses[name]) == {network}


@pytest.mark.parametrize(
    ("overrides", "skip_cycle", "skip_hr_consistency", "lr_skips"),
    [
        ({}, True, False, False),
        ({"udean_hr_consistency_skip": True}, True, True, False),
        ({"global_skip": False}, False, False, False),
        ({"udean_down_skip": True}, True, False, True),
    ],
)
def test_where_the_skips_are_added(tiny_run, overrides, skip_cycle: bool, skip_hr_consistency: bool, lr_skips) -> None:
    scale = Scale(2, 2, 2)
    method, plan = make("udean", tiny_run(scale, **overrides), scale)
    y_s, x_t = batch(plan)
    with torch.no_grad():
        p = plan.forward_paths(y_s, x_t)
        sr_decoder = plan.networks["sr_decoder"]

        def residual(sr: torch.Tensor, features: torch.Tensor, lr: torch.Tensor, on: bool) -> None:
            expected = upsample_slab(lr, scale.factors) if on else torch.zeros_like(sr)
            torch.testing.assert_close(sr - sr_decoder(features), expected)

        residual(p.y_s_t_s, p.f_s_t_s, p.x_s_t, skip_cycle)
        residual(p.y_hat_s, p.f_s, p.x_s_t, skip_hr_consistency)
        residual(method.inference_network()(x_t), plan.networks["lr_encoder"](x_t), x_t, skip_cycle)
        sampled = sample_slab(y_s, scale.factors) if lr_skips else torch.zeros_like(p.x_s_t)  # udean_down_skip
        torch.testing.assert_close(p.x_s_t, plan.networks["lr_decoder"](p.f_s) + sampled)
        target = x_t if lr_skips else torch.zeros_like(x_t)  # udean_lr_consistency_skip
        torch.testing.assert_close(p.x_hat_t, plan.networks["lr_decoder"](p.f_t) + target)


def _profile_run(name: str, scale: Scale, tmp_path, **overrides) -> RunContext:
    settings = [f"{k}={v!r}" for k, v in {"lr_patch": (8, 8, 3), "batch_size": 2, **overrides}.items()]
    return RunContext(torch.device("cpu"), 0, load_profile(name, settings), scale, tmp_path, tmp_path / "checkpoints")


@pytest.mark.parametrize("profile", ["tiny", "quick", "paper"])
@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_eq_6_and_7_update_exactly_the_networks_the_paper_names(tmp_path, profile: str, scale: Scale) -> None:
    """Eq. 6 trains the down-sampling feature extractor and the SR decoder; eq. 7 the LR encoder and the LR
    decoder; in every profile, whatever base a skip adds (before issue 23, eq. 6 also trained the LR decoder
    through ``up(X_{s→t})`` in the quick and tiny profiles)."""
    run = _profile_run(profile, scale, tmp_path)
    _, plan = make("udean", run, scale)
    if run.profile["global_skip"]:
        plan.networks["sr_decoder"].tail.reset_parameters()  # zero at the start: no gradient through it there
    terms, _ = generator_losses(plan, batch(plan), run)
    assert reached(plan.networks, terms["hr_con"]) == {"downsampling_extractor", "sr_decoder"}
    assert reached(plan.networks, terms["lr_con"]) == {"lr_encoder", "lr_decoder"}


@pytest.mark.parametrize("profile", ["tiny", "quick", "paper"])
def test_eq_7_is_not_satisfied_by_a_zero_decoder(tmp_path, profile: str) -> None:
    """``X̂_t`` is the LR decoder's own output: an LR decoder that outputs zero leaves eq. 7's L1 at the mean
    of ``|X_t|`` (before issue 23, the quick and tiny profiles added ``X_t`` and eq. 7 was then 0)."""
    scale = Scale(2, 2, 2)
    run = _profile_run(profile, scale, tmp_path)
    _, plan = make("udean", run, scale)
    plan.networks["lr_decoder"].tail.reset_parameters()
    torch.nn.init.zeros_(plan.networks["lr_decoder"].tail.weight)
    torch.nn.init.zeros_(plan.networks["lr_decoder"].tail.bias)
    y_s, x_t = batch(plan)
    with torch.no_grad():
        p = plan.forward_paths(y_s, x_t)
    assert torch.count_nonzero(p.x_hat_t) == 0
    assert float(torch.nn.functional.l1_loss(p.x_hat_t, p.x_t)) == pytest.approx(float(x_t.abs().mean()))


def test_the_warm_up_trains_the_lr_paths_then_eq_10(tiny_run) -> None:
    """In the warm-up ``g_total = λ4·L_lr_con + L_start`` reaches the extractor, the LR encoder and decoder and
    not the SR decoder; afterwards ``start`` is 0 and ``g_total`` is eq. 10."""
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, udean_warmup=0.5)
    _, plan = make("udean", run, scale)
    plan.networks["sr_decoder"].tail.reset_parameters()
    trainer = trainer_for(plan, run)
    trainer.total_steps = 4
    data = batch(plan)
    for step, warming in ((0, True), (1, True), (2, False), (3, False)):
        trainer.step = step
        plan.warming = step < 2
        assert plan.warming == warming
        terms, paths = generator_losses(plan, data, run)
        w = plan.weights
        if warming:
            expected = torch.nn.functional.l1_loss(paths.x_s_t, sample_slab(data[0], scale.factors))
            assert float(terms["start"].detach()) >= float(expected.detach()) > 0
            torch.testing.assert_close(terms["g_total"], w.lambda4 * terms["lr_con"] + terms["start"])
            assert reached(plan.networks, terms["g_total"]) == {"downsampling_extractor", "lr_decoder", "lr_encoder"}
        else:
            assert float(terms["start"]) == 0
            eq10 = sum(getattr(w, f"lambda{i}") * terms[n] for i, n in enumerate(TERMS, start=1))
            torch.testing.assert_close(terms["g_total"], eq10)
    # The trainer sets the phase from its step.
    plan.train_step(data, trainer)
    assert plan.warming is False
    trainer.step = 0
    plan.train_step(data, trainer)
    assert plan.warming is True


@pytest.mark.parametrize("profile", ["tiny", "quick", "paper"])
def test_every_profile_builds_the_hr_discriminator(profile: str) -> None:
    """Eq. 4 and 6 as printed, by default: an HR-slab discriminator on ``(B, 3·sz, sx·h, sy·w)``."""
    scale = Scale(2, 2, 2)
    settings = load_profile(profile)
    networks = UDEAN.build_networks(scale, settings)
    assert set(DISCRIMINATORS) <= set(networks)
    px, py, _ = settings["lr_patch"]
    hr_slabs = torch.rand(1, 3 * scale.sz, scale.sx * px, scale.sy * py)
    assert torch.isfinite(networks["hr_discriminator"](hr_slabs)).all()
    off = load_profile(profile, ["udean_hr_discriminator=False"])
    assert "hr_discriminator" not in UDEAN.build_networks(scale, off)


def test_the_hr_discriminator_adds_beta_l_adv_to_eq_4_and_6_only(tiny_run) -> None:
    """On by default, the HR discriminator's β·L_adv is all that eq. 4 and 6 gain; the switch takes it off."""
    scale = Scale(2, 2, 2)
    run_on, run_off = tiny_run(scale), tiny_run(scale, udean_hr_discriminator=False)
    _, on = make("udean", run_on, scale)
    _, off = make("udean", run_off, scale)
    assert "hr_discriminator" in on.optimised["discriminator"] and "hr_discriminator" not in off.networks
    slabs = batch(on)
    with_hr, paths = generator_losses(on, slabs, run_on)
    without_hr = generator_losses(off, slabs, run_off)[0]
    beta, hr_d = on.weights.beta, on.networks["hr_discriminator"]
    with torch.no_grad():
        for term, image in (("i_cyc", paths.y_s_t_s), ("hr_con", paths.y_hat_s)):  # eq. 4, eq. 6
            torch.testing.assert_close(with_hr[term], without_hr[term] + beta * lsgan_generator_loss(hr_d(image)))
    for term in ("f_cyc", "lr_con", "da", "fa"):
        torch.testing.assert_close(with_hr[term], without_hr[term], rtol=0, atol=0)
    trainer = trainer_for(on, run_on)
    judgements = on.judgements(slabs, paths, trainer)
    assert judgements["d_hr"].network == "hr_discriminator"
    torch.testing.assert_close(judgements["d_hr"].real, paths.y_s, rtol=0, atol=0)
    torch.testing.assert_close(judgements["d_hr"].fake, torch.cat([paths.y_s_t_s, paths.y_hat_s]), rtol=0, atol=0)
    assert "d_hr" not in off.judgements(slabs, generator_losses(off, slabs, run_off)[1], trainer_for(off, run_off))


def test_updates_move_only_their_own_networks(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    _, plan = make("udean", run, scale)
    trainer = trainer_for(plan, run, steps=2)
    slabs = batch(plan)
    gens, discs = snapshot(plan, GENERATORS), snapshot(plan, plan.active_discriminators)
    terms, paths = generator_losses(plan, slabs, run)
    trainer.update("generator", terms["g_total"])
    assert not same(gens, snapshot(plan, GENERATORS))
    assert same(discs, snapshot(plan, plan.active_discriminators))
    gens, discs = snapshot(plan, GENERATORS), snapshot(plan, plan.active_discriminators)
    trainer.update(
        "discriminator", plan.discriminator_losses(plan.judgements(slabs, paths, trainer), trainer)["d_total"]
    )
    assert same(gens, snapshot(plan, GENERATORS))
    assert not same(discs, snapshot(plan, plan.active_discriminators))


@pytest.mark.parametrize(
    ("name", "term", "weight"), [("udean-image-da", "fa", "lambda6"), ("udean-feature-da", "da", "lambda5")]
)
def test_an_ablation_removes_its_term_and_nothing_else(tiny_run, name: str, term: str, weight: str) -> None:
    """Same weights and batch: the ablation's eq. 10 is the full model's minus λ·(its term), all else equal."""
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    _, full = make("udean", run, scale)
    _, ablated = make(name, run, scale)
    assert same(snapshot(full, full.networks), snapshot(ablated, ablated.networks))
    slabs = batch(full)
    full_terms = generator_losses(full, slabs, run)[0]
    ablated_terms = generator_losses(ablated, slabs, run)[0]
    assert full_terms[term] > 0 and ablated_terms[term] == 0
    for other in TERMS:
        if other != term:
            torch.testing.assert_close(ablated_terms[other], full_terms[other], rtol=0, atol=0, msg=other)
    expected = full_terms["g_total"] - getattr(full.weights, weight) * full_terms[term]
    torch.testing.assert_close(ablated_terms["g_total"], expected)


# Discriminators judging a term each variant keeps: LR (eq. 7, and eq. 8 while λ5 > 0), feature (eq. 9), HR (eq. 4, 6).
JUDGING = {
    "udean": set(DISCRIMINATORS),
    "udean-image-da": {"lr_discriminator", "hr_discriminator"},
    "udean-feature-da": set(DISCRIMINATORS),
}


@pytest.mark.parametrize("name", list(JUDGING))
def test_every_discriminator_that_judges_a_kept_term_is_trained(tiny_run, name: str) -> None:
    """A discriminator whose scores reach eq. 10 is judged and updated every step; any other stays as it is."""
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    _, plan = make(name, run, scale)
    slabs = batch(plan)
    trainer = trainer_for(plan, run)
    terms, paths = plan.generator_losses(slabs, trainer)  # discriminators not frozen: which of them judge eq. 10?
    judging = reached(plan.networks, terms["g_total"]) & set(DISCRIMINATORS)
    assert judging == JUDGING[name]
    assert {j.network for j in plan.judgements(slabs, paths, trainer).values()} == judging
    assert set(plan.optimised.get("discriminator", [])) == judging
    before = {d: snapshot(plan, [d]) for d in DISCRIMINATORS}
    plan.train_step(slabs, trainer)
    for d in DISCRIMINATORS:
        assert same(before[d], snapshot(plan, [d])) == (d not in judging), d


def test_a_few_steps_lower_the_generator_loss(tiny_run) -> None:
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, lr_max=2e-3, lr_min=2e-3, batch_size=4, val_every=1000, checkpoint_every=1000)
    _, plan = make("udean", run, scale)
    trainer = Trainer(plan, run, total_steps=30)
    trainer.fit()
    losses = [row["g_total"] for row in trainer.history]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert {"i_cyc", "f_cyc", "hr_con", "lr_con", "da", "fa", "d_lr", "d_feature"} <= set(trainer.history[-1])
    assert "val_psnr" in trainer.history[-1]


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_inference_uses_only_the_lr_encoder_and_sr_decoder(tiny_run, scale: Scale) -> None:
    run = tiny_run(scale)
    method, _ = make("udean", run, scale)
    method.run = run
    lr = tiny_training_data(scale, n=1).target_lr[0].data
    lr = torch.from_numpy(lr[:10, :10, :5].copy())
    assert method.super_resolve(lr).shape == tuple(n * s for n, s in zip(lr.shape, scale.factors))
    unused = [name for name in ("downsampling_extractor", "lr_decoder", *DISCRIMINATORS) if name in method.networks]
    assert_inference_ignores(method, lr, unused)


# ------------------------------------------------------- issue 14: the degradation path's start
def test_the_degradation_path_starts_at_plain_sampling_with_the_sampling_skip(tiny_run) -> None:
    """With ``udean_down_skip``, ``X_{s→t}`` of an untrained UDEAN is an LR image (the decimated ``Y_s``
    plus a small residual), not the near-zero output of an untrained decoder (issue 14); without it,
    the default since issue 23, the decoder alone: near zero, which the warm-up starts from."""
    scale = SCALES[0]
    run = tiny_run(scale, udean_down_skip=True)
    plan = seeded_method(UDEAN, run, scale).make_plan(tiny_training_data(scale), run)
    y_s, x_t = plan.sample_batch(np.random.default_rng(0))
    with torch.no_grad():
        x_s_t = plan.forward_paths(y_s, x_t).x_s_t
    assert abs(float(x_s_t.mean()) - float(y_s.mean())) < 0.05
    off = tiny_run(scale, udean_down_skip=False)
    plan = seeded_method(UDEAN, off, scale).make_plan(tiny_training_data(scale), off)
    with torch.no_grad():
        assert abs(float(plan.forward_paths(y_s, x_t).x_s_t.mean())) < 0.05  # the decoder alone: near zero


def test_the_warm_up_keeps_the_inference_path_near_its_interpolation_start(tiny_run) -> None:
    """A few dozen steps, where target LR is the k-space truncation of HR like the source's: the
    inference path starts at the skip's interpolation. Without a start for the LR decoder's paths
    (no warm-up, no sampling skip) the cycle trains the SR networks on the untrained decoder's
    near-zero ``X_{s→t}`` and validation falls (measured: 19.4 → 16.4 dB in 30 steps; 3 warm-up
    steps: 17.9 dB); with 9 warm-up steps it stays within 0.5 dB (19.2 dB)."""
    scale = SCALES[0]
    curves = {}
    for warmup in (0.3, 0.0):
        run = tiny_run(scale, steps_per_epoch=30, val_every=10, lr_max=5e-4, udean_warmup=warmup)
        folder = run.cell_dir / f"warmup{warmup}"
        run = dataclasses.replace(run, cell_dir=folder, checkpoint_dir=folder / "checkpoints")
        folder.mkdir()
        curves[warmup] = validation_from_interpolation_start(UDEAN, run, scale)
    start, curve = curves[0.3]
    assert min(curve) > start - 0.5, (start, curve)
    start, curve = curves[0.0]
    assert min(curve) < start - 1.0, (start, curve)


# ------------------------------------------------- issue 14: the feature space eq. 5 and 9 act on
@pytest.mark.parametrize("profile", ["tiny", "quick"])
def test_untrained_encoders_give_features_that_carry_the_image(profile: str) -> None:
    """The features ``f_s`` and ``f_t`` of untrained encoders vary over the image as the input does.
    With PyTorch's default initialisation six conv layers shrank the signal to a spatial standard
    deviation of 0.005 (quick, inputs of std 0.29), under the biases: near-constant features, which
    a feature discriminator cannot tell apart and eq. 9 cannot align (issue 14)."""
    scale = SCALES[0]
    torch.manual_seed(0)
    method = UDEAN(scale=scale, profile=load_profile(profile, ["udean_encoder_init='he'"]))
    y_s, x_t = torch.rand(2, 6, 32, 32), torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        for features in (method.networks["downsampling_extractor"](y_s), method.networks["lr_encoder"](x_t)):
            assert float(features.std(dim=(2, 3)).mean()) > 0.05
    torch.manual_seed(0)
    default = UDEAN(scale=scale, profile=load_profile(profile))  # PyTorch's, the default since revision 1
    with torch.no_grad():
        assert float(default.networks["lr_encoder"](x_t).std(dim=(2, 3)).mean()) < 0.05


def test_the_degradation_path_starts_at_plain_sampling_exactly(tiny_run) -> None:
    """With the sampling skip, the LR decoder's last conv starts at zero: ``X_{s→t}`` of an untrained
    UDEAN is the decimated ``Y_s``, whatever the features are."""
    scale = SCALES[0]
    run = tiny_run(scale, udean_down_skip=True)
    plan = seeded_method(UDEAN, run, scale).make_plan(tiny_training_data(scale), run)
    y_s, x_t = plan.sample_batch(np.random.default_rng(0))
    with torch.no_grad():
        torch.testing.assert_close(plan.forward_paths(y_s, x_t).x_s_t, sample_slab(y_s, scale.factors), rtol=0, atol=0)


def _feature_penalty(plan: UDEANPlan, features: torch.Tensor) -> torch.Tensor:
    """``E‖∇_f D_fa(f)‖²`` over the batch, computed here independently of the plan."""
    f = features.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(plan.networks["feature_discriminator"](f).sum(), f)
    return grad.pow(2).flatten(1).sum(1).mean()


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_the_feature_discriminator_loss_adds_the_gradient_penalty(tiny_run, gamma: float) -> None:
    """``d_feature_penalty = γ/2·(E‖∇D(f_t)‖² + E‖∇D(f_s)‖²)``, added to ``d_total``; absent at γ = 0."""
    scale = SCALES[0]
    run = tiny_run(scale, udean_feature_gradient_penalty=gamma)
    _, plan = make("udean", run, scale)
    b = plan.to_device(batch(plan))
    trainer = trainer_for(plan, run)
    _, paths = generator_losses(plan, b, run)
    judgements = plan.judgements(b, paths, trainer)
    losses = plan.discriminator_losses(judgements, trainer)
    if gamma == 0:
        assert "d_feature_penalty" not in losses
        return
    expected = 0.5 * gamma * (_feature_penalty(plan, paths.f_t) + _feature_penalty(plan, paths.f_s))
    torch.testing.assert_close(losses["d_feature_penalty"], expected)
    rest = sum(value for name, value in losses.items() if name not in ("d_total", "d_feature_penalty"))
    torch.testing.assert_close(losses["d_total"], rest + expected)


def test_the_gradient_penalty_bounds_the_feature_discriminators_input_gradient() -> None:
    """The failure of issue 14: a feature discriminator trained on two feature distributions grows
    input gradients that, through eq. 9, outweighed every other term of eq. 10 (``val_grad_fa`` up to
    211 against 0.1–3). Trained the same way with the penalty, its input gradient stays a fraction of
    that, and it still tells a shifted distribution apart."""
    from methods.losses import gradient_penalty, lsgan_discriminator_loss
    from methods.networks import slab_discriminator

    profile = load_profile("tiny")
    results = {}
    for gamma in (0.0, FEATURE_GRADIENT_PENALTY_GAMMA):
        torch.manual_seed(0)
        d = slab_discriminator(profile, 8)
        optimiser = torch.optim.Adam(d.parameters(), lr=5e-4, betas=(0.9, 0.99))
        for _ in range(60):
            real, fake = torch.randn(4, 8, 16, 16) * 0.3, torch.randn(4, 8, 16, 16) * 0.3 + 0.5
            loss = lsgan_discriminator_loss(d(real), d(fake))
            penalty = gradient_penalty(d, real) + gradient_penalty(d, fake)
            optimiser.zero_grad()
            (loss + 0.5 * gamma * penalty).backward()
            optimiser.step()
        real, fake = torch.randn(8, 8, 16, 16) * 0.3, torch.randn(8, 8, 16, 16) * 0.3 + 0.5
        f = torch.cat([real, fake]).requires_grad_(True)
        (grad,) = torch.autograd.grad(d(f).sum(), f)
        with torch.no_grad():
            results[gamma] = (grad.flatten(1).norm(dim=1).mean().item(), (d(real).mean() - d(fake).mean()).item())
    penalised = results[FEATURE_GRADIENT_PENALTY_GAMMA]
    assert penalised[0] < 0.5 * results[0.0][0], results
    assert penalised[1] > 0.1, results  # it still discriminates
