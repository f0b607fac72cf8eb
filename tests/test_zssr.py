"""ZSSR: no source HR, son shapes, aligned (augmented) pairs, training, determinism, ensemble, rate policy, resume."""

import dataclasses
import io
import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from rich.console import Console
from rich.progress import Progress

from benchmark.errors import BenchError
from benchmark.profiles import load_profile
from benchmark.protocol.degradations import kspace_truncate, kspace_zero_fill, truncated_image
from benchmark.protocol.training_data import DataAccessError, TrainingData
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from methods import zssr, zssr_inference, zssr_training
from methods.dihedral import in_plane_transforms
from methods.losses import l1_loss
from methods.tricubic import Tricubic
from methods.zssr import ZSSR
from methods.zssr_config import ZSSRConfig
from methods.zssr_pairs import SonFatherSampler, father_and_son
from methods.zssr_training import ZSSRRatePolicy, train_on_volume, volume_run, zssr_network
from tests.conftest import smooth_volume, tiny_training_data, trainer_for

SCALES = [Scale(2, 2, 2), Scale(2, 2, 1)]


def no_source_hr(scale):
    data = tiny_training_data(scale)
    return TrainingData(
        scale=scale,
        setting="n/a",
        _source_hr=data._source_hr,
        _target_lr=data._target_lr,
        _validation=data._validation,
        allow_source_hr=False,
    )


def band_limited(shape, seed=0):
    """A periodic volume of low integer frequencies: k-space truncation samples it exactly."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*(np.arange(n) / n for n in shape), indexing="ij")
    out = np.zeros(shape)
    for _ in range(4):
        freq = rng.integers(1, 3, size=3)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        out += np.prod([np.cos(2 * np.pi * f * g + p) for f, g, p in zip(freq, grid, phase)], axis=0)
    out -= out.min()
    return (out / out.max()).astype(np.float32)


@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_zssr_never_reads_source_hr(scale, tiny_run):
    data = no_source_hr(scale)
    with pytest.raises(DataAccessError):
        _ = data.source_hr
    data.reads.clear()
    run = tiny_run(scale)
    method = ZSSR(scale=scale, profile=run.profile)
    assert ZSSR.uses_source_hr is False
    method.fit(data, run)
    assert data.reads == set()
    pair = data._validation[0]
    sr = method.super_resolve(torch.from_numpy(pair.lr.data))
    assert tuple(sr.shape) == pair.hr.shape
    assert sr.dtype == torch.float32
    assert torch.isfinite(sr).all()
    assert len(method.histories) == 1 and len(method.histories[0]) == 4  # the tiny budget


def test_son_shapes():
    lr = np.random.default_rng(0).random((13, 12, 7)).astype(np.float32)
    father, son = father_and_son(lr, Scale(2, 2, 2))
    assert father.shape == (12, 12, 6) and son.shape == (6, 6, 3)
    np.testing.assert_array_equal(son, kspace_truncate(lr[:12, :12, :6], Scale(2, 2, 2)))
    father, son = father_and_son(lr, Scale(2, 2, 1))
    assert father.shape == (12, 12, 7) and son.shape == (6, 6, 7)
    with pytest.raises(ValueError, match="son"):
        father_and_son(lr[:, :, :5], Scale(2, 2, 2))  # a son of 2 slices holds no slab


@pytest.mark.parametrize("scale", [*SCALES, Scale(3, 2, 1)], ids=str)
def test_pairs_stay_on_the_kspace_grid_under_every_augmentation(scale):
    father, son = father_and_son(band_limited((30, 32, 12)), scale)
    sampler = SonFatherSampler(father, son, (6, 6, 3), scale)
    assert sampler.can_transpose == (scale.sx == scale.sy)
    rng = np.random.default_rng(0)
    transforms = [(mx, my, t) for mx in (False, True) for my in (False, True) for t in (False, True)]
    for transform in transforms:
        if transform[2] and not sampler.can_transpose:
            continue
        for _ in range(5):
            son_patch, father_patch, base_patch = sampler.pair(rng, transform)
            assert son_patch.shape == (6, 6, 3)
            assert father_patch.shape == base_patch.shape == (6 * scale.sx, 6 * scale.sy, 3 * scale.sz)
            # LR voxel j samples the band-limited volume at HR voxel s·j; the base (an
            # interpolating spline of the son) passes through the son there.
            np.testing.assert_allclose(son_patch, father_patch[:: scale.sx, :: scale.sy, :: scale.sz], atol=1e-5)
            np.testing.assert_allclose(son_patch, base_patch[:: scale.sx, :: scale.sy, :: scale.sz], atol=1e-5)
    # A plain mirror of the father patch (no shift) would be off the grid by s − 1 voxels.
    son_patch, father_patch, _ = sampler.pair(np.random.default_rng(1))
    plain = np.flip(father_patch, 0)[:: scale.sx, :: scale.sy, :: scale.sz]
    assert np.abs(np.flip(son_patch, 0) - plain).mean() > 1e-3


def test_patches_are_clipped_to_a_small_son():
    scale = Scale(2, 2, 2)
    father, son = father_and_son(np.random.default_rng(0).random((12, 10, 6)).astype(np.float32), scale)
    sampler = SonFatherSampler(father, son, (8, 8, 3), scale)
    assert son.shape == (6, 5, 3)
    assert sampler.patch == (6, 5, 3)
    assert sampler.can_mirror == (False, False)  # no spare voxel for the shifted father patch
    assert not sampler.can_transpose  # the clipped patch is not square
    s, f, b = sampler.batch(np.random.default_rng(0), 3)
    assert s.shape == (3, 3, 6, 5) and f.shape == b.shape == (3, 6, 12, 10)


@pytest.mark.parametrize(
    ("scale", "learn_residual"), [(Scale(2, 2, 2), True), (Scale(2, 2, 2), False), (Scale(2, 2, 1), False)], ids=str
)
def test_a_few_steps_lower_the_l1(scale, learn_residual, tiny_run):
    # At 2x2x1 the cubic interpolation of this smooth volume is already within 0.5 % of the
    # father: 60 steps of the tiny net do not improve on it (300 do), so the residual is
    # tried at 2x2x2 only.
    run = tiny_run(scale, lr_max=1e-3)
    profile = run.profile
    father, son = father_and_son(smooth_volume((24, 24, 12), 3), scale)
    sampler = SonFatherSampler(father, son, profile["lr_patch"], scale)
    network = zssr_network(profile, scale, seed=0, learn_residual=learn_residual)
    son_batch, father_batch, base_batch = sampler.batch(np.random.default_rng(7), 8)

    def fixed_l1():
        network.eval()
        with torch.no_grad():
            return float(l1_loss(network(son_batch) + learn_residual * base_batch, father_batch))

    before = fixed_l1()
    tiny = ZSSRConfig.from_profile(load_profile("tiny"))
    settings = dataclasses.replace(tiny, steps=60, ensemble=False, learn_residual=learn_residual, batch_size=4)
    history = train_on_volume(network, sampler, settings, run)
    assert len(history) == 60 and all(np.isfinite(history))
    assert fixed_l1() < 0.9 * before


def test_same_seed_gives_identical_output_and_another_seed_does_not(tiny_run):
    scale = Scale(2, 2, 2)
    lr = torch.from_numpy(tiny_training_data(scale).validation[0].lr.data)
    outputs = []
    for index, seed in enumerate((0, 0, 1)):
        run = tiny_run(scale)
        run.seed = seed
        run.cell_dir = run.checkpoint_dir = run.cell_dir / f"run{index}"  # no checkpoint to resume from
        method = ZSSR(scale=scale, profile=run.profile)
        method.fit(no_source_hr(scale), run)
        outputs.append(method.super_resolve(lr))
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])


@pytest.mark.parametrize("scale", [Scale(2, 2, 2), Scale(2, 1, 1)], ids=str)
def test_self_ensemble_shape_and_progress(scale, tiny_run):
    run = tiny_run(scale, zssr_ensemble=True, zssr_steps=2)
    run.progress = Progress(console=Console(quiet=True))
    method = ZSSR(scale=scale, profile=run.profile)
    assert method.config.ensemble
    method.fit(no_source_hr(scale), run)
    lr = torch.from_numpy(np.random.default_rng(0).random((12, 11, 6)).astype(np.float32))
    sr = method.super_resolve(lr)
    assert tuple(sr.shape) == (12 * scale.sx, 11 * scale.sy, 6 * scale.sz)
    assert torch.isfinite(sr).all()
    assert len(run.progress.tasks) == 0  # the per-volume task is removed when done
    assert len(in_plane_transforms(scale.sx == scale.sy)) == (8 if scale.sx == scale.sy else 4)


def test_zssr_rate_policy_divides_when_the_error_stops_falling():
    stalled = ZSSRRatePolicy(1e-3)
    for step in range(0, 600):
        if step % 50 == 0:
            stalled.record(step, 0.01 + 1e-6 * step)  # creeping up: the slope is not below −std/1.5
        stalled.update(step)
    # Checks at (step + 1) % 60 == 0, more than 256 iterations after the last change: 299, then 599.
    assert stalled.changes == [0, 299, 599]
    assert stalled.learning_rate == pytest.approx(1e-5)

    falling = ZSSRRatePolicy(1e-3)
    for step in range(0, 600):
        if step % 50 == 0:
            falling.record(step, 1.0 - step / 600)
        falling.update(step)
    assert falling.learning_rate == 1e-3 and not falling.finished


def test_zssr_policy_trains_and_settings_defaults(tiny_run):
    assert ZSSRConfig.from_profile(load_profile("tiny")).steps == 4
    assert ZSSRConfig.from_profile(load_profile("quick")).steps == 600
    paper = ZSSRConfig.from_profile(load_profile("paper"))
    assert paper.steps == 3000 and paper.ensemble and paper.lr_policy == "zssr"
    assert not ZSSRConfig.from_profile(load_profile("quick")).ensemble
    with pytest.raises(BenchError, match="zssr_lr_policy must be one of zssr, cosine"):
        load_profile("tiny", ["zssr_lr_policy='step'"])  # refused before any cell starts

    scale = Scale(2, 2, 1)
    run = tiny_run(scale, zssr_lr_policy="cosine")
    father, son = father_and_son(smooth_volume((24, 24, 12), 1), scale)
    sampler = SonFatherSampler(father, son, run.profile["lr_patch"], scale)
    settings = ZSSRConfig.from_profile(run.profile)
    history = train_on_volume(zssr_network(run.profile, scale, 0), sampler, settings, run)
    assert len(history) == 4 and all(np.isfinite(history))
    rates = pd.read_csv(run.cell_dir / "losses.csv")["lr"]
    assert rates.iloc[0] == run.profile["lr_max"] and abs(rates.iloc[-1] - run.profile["lr_min"]) < 1e-15


def _round_trip(policy: ZSSRRatePolicy) -> ZSSRRatePolicy:
    """The policy as a resumed run gets it: through a checkpoint loaded with ``weights_only=True``."""
    buffer = io.BytesIO()
    torch.save({"lr_policy": policy.state_dict()}, buffer)
    buffer.seek(0)
    resumed = ZSSRRatePolicy(1e-3, policy.measure)
    resumed.load_state_dict(torch.load(buffer, weights_only=True)["lr_policy"])
    return resumed


def test_zssr_policy_hook_follows_the_order_of_zssrs_loop():
    """Asked for the rate of iteration t, the policy takes in iteration t − 1 as ZSSR's loop did."""

    def error(step: int, rate: float) -> float:
        return 0.01 + 1e-6 * step + rate  # creeping up: divides at 299, 599, 899, then stops

    # ZSSR's loop: train iteration s, test when s % 50 == 0, apply the rule, stop below 9e-6.
    reference, reference_rates = ZSSRRatePolicy(1e-3), []
    for step in range(3000):
        reference_rates.append(reference.learning_rate)
        if step % 50 == 0:
            reference.record(step, error(step, reference.learning_rate))
        reference.update(step)
        if reference.finished:
            break

    done: list[tuple[int, float]] = []  # (iteration, its rate): the "network" as the last iteration left it
    policy = ZSSRRatePolicy(1e-3, measure=lambda: error(*done[-1]))
    rates = []
    for step in range(3000):
        if step in (300, 301, 650):
            policy = _round_trip(policy)  # a resume between iterations changes nothing
        rate = policy.rate(step)
        if rate is None:
            break
        rates.append(rate)
        done.append((step, rate))
    assert rates == reference_rates and len(rates) == 900
    assert policy.steps == reference.steps and policy.errors == reference.errors
    assert policy.changes == reference.changes == [0, 299, 599, 899]
    stopped = _round_trip(policy)  # the checkpoint written at the stop asks again for the same step
    assert stopped.rate(900) is None and stopped.steps == policy.steps
    with pytest.raises(KeyError):
        ZSSRRatePolicy().load_state_dict({})  # a cosine checkpoint does not fit


def _fast_policy(monkeypatch):
    """ZSSR's rule on a short clock: test every step, check every 3, divide at every check after 4 steps."""
    for name, value in {"TEST_EVERY": 1, "POLICY_CHECK_EVERY": 3, "POLICY_MIN_ITERS": 4, "CHANGE_RATIO": 0.0}.items():
        monkeypatch.setattr(zssr_training, name, value)


def test_a_killed_volume_resumes_to_the_same_weights_and_rates(tiny_run, monkeypatch):
    _fast_policy(monkeypatch)  # divides after iterations 5, 11 and 17 (then below 9e-6: stop)
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, zssr_steps=30, checkpoint_every=4, val_every=100)
    settings = ZSSRConfig.from_profile(run.profile)
    father, son = father_and_son(smooth_volume((24, 24, 12), 2), scale)

    def train(folder: str, stop_after: int | None = None) -> tuple[list[float], torch.nn.Module, list[str]]:
        here = dataclasses.replace(volume_run(run, 0, seed=5), cell_dir=run.cell_dir / folder)
        here.checkpoint_dir = here.cell_dir / "checkpoints"
        logged: list[str] = []
        here.log = logged.append
        network = zssr_network(run.profile, scale, seed=5)
        sampler = SonFatherSampler(father, son, run.profile["lr_patch"], scale)
        return train_on_volume(network, sampler, settings, here, stop_after=stop_after), network, logged

    expected, uninterrupted, _ = train("whole")
    assert len(expected) == 18  # stopped early by the policy
    rates = pd.read_csv(run.cell_dir / "whole" / "losses.csv")["lr"].tolist()
    assert rates == pytest.approx([1e-3] * 6 + [1e-4] * 6 + [1e-5] * 6)
    train("killed", stop_after=9)
    torch.manual_seed(1234)  # a new process would start with other RNG states
    history, resumed, logged = train("killed")
    assert history == expected and any("resumed" in m for m in logged)
    assert pd.read_csv(run.cell_dir / "killed" / "losses.csv")["lr"].tolist() == rates
    for (key, value), other in zip(resumed.state_dict().items(), uninterrupted.state_dict().values()):
        torch.testing.assert_close(value, other, rtol=0, atol=0, msg=key)
    again, _, logged = train("killed")  # resumed from the checkpoint written at the stop: no step more
    assert again == expected and any("ended training at step 18" in m for m in logged)


def test_each_volume_has_its_folders_and_a_rerun_resumes_them(tiny_run):
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    volumes = [torch.from_numpy(smooth_volume(shape, seed)) for seed, shape in ((0, (12, 12, 6)), (1, (12, 10, 8)))]
    method = ZSSR(scale=scale, profile=run.profile)
    method.fit(no_source_hr(scale), run)
    first = [method.super_resolve(lr) for lr in volumes]
    for index in (0, 1):
        losses = pd.read_csv(run.cell_dir / "zssr" / f"volume-{index}" / "losses.csv")
        assert list(losses["step"]) == [1, 2, 3, 4] and {"lr", "l1"} <= set(losses.columns)
        assert (run.cell_dir / "zssr" / f"volume-{index}" / "timing.csv").is_file()
        assert (run.checkpoint_dir / "zssr" / f"volume-{index}" / "last.pt").is_file()

    logged: list[str] = []
    run.log = logged.append
    rerun = ZSSR(scale=scale, profile=run.profile)  # a killed cell run again: finished volumes are not retrained
    rerun.fit(no_source_hr(scale), run)
    assert all(torch.equal(rerun.super_resolve(lr), sr) for lr, sr in zip(volumes, first))
    assert rerun.histories == method.histories
    assert sum("resumed" in m and "at step 4" in m for m in logged) == 2

    warnings: list[str] = []
    run.warn, run.seed = warnings.append, 1  # another seed: another volume seed, its checkpoints refused
    other = ZSSR(scale=scale, profile=run.profile)
    other.fit(no_source_hr(scale), run)
    assert not torch.equal(other.super_resolve(volumes[0]), first[0])
    assert len(warnings) == 1 and "starts from step 0" in warnings[0]


def test_super_resolve_without_fit_trains_with_seed_0_in_a_scratch_folder(tiny_run):
    scale = Scale(2, 2, 2)
    run = tiny_run(scale)
    lr = torch.from_numpy(smooth_volume((12, 12, 6), 0))
    fitted = ZSSR(scale=scale, profile=run.profile)
    fitted.fit(no_source_hr(scale), run)
    assert torch.equal(ZSSR(scale=scale, profile=run.profile).super_resolve(lr), fitted.super_resolve(lr))


# ----------------------------------------------------------------- issue 13: the paper profile as ZSSR's original
SMALL_NET = ["n_resgroups=1", "n_rcab=1", "n_feats=8", "reduction=4"]
"""Overrides that keep a profile's pipeline but make its network test-sized."""


class ZeroNet(torch.nn.Module):
    """A slab network whose output is zero: ``(B, 3, h, w) -> (B, 3·sz, sx·h, sy·w)``."""

    def __init__(self, scale: Scale) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, m, h, w = x.shape
        return x.new_zeros(b, m * self.scale.sz, h * self.scale.sx, w * self.scale.sy)


@pytest.mark.parametrize("profile_name", ["paper", "quick", "tiny"])
def test_residual_a_zero_network_gives_the_cubic_interpolation_in_every_profile(profile_name, tmp_path, monkeypatch):
    """ZSSR's ``learn_residual``: SR = network output + cubic interpolation, ``paper`` included."""
    scale = Scale(2, 2, 2)
    monkeypatch.setattr(zssr, "zssr_network", lambda *args, **kwargs: ZeroNet(scale))
    monkeypatch.setattr(zssr, "train_on_volume", lambda *args, **kwargs: [0.0])
    monkeypatch.setattr(zssr_inference, "back_project", lambda sr, *args: sr)  # residual alone
    profile = load_profile(profile_name, [*SMALL_NET, "zssr_ensemble=False"])
    lr = torch.from_numpy(smooth_volume((12, 10, 6), 0))
    sr = ZSSR(scale=scale, profile=profile).super_resolve(lr)
    torch.testing.assert_close(sr, Tricubic(scale=scale, profile=profile).super_resolve(lr), rtol=0, atol=1e-5)


def test_residual_training_starts_at_the_cubic_interpolation_of_the_son(tmp_path):
    """In ``paper``, the untrained network outputs zero and the first loss is L1(cubic(son), father)."""
    scale = Scale(2, 2, 2)
    profile = load_profile("paper", SMALL_NET)
    settings = ZSSRConfig.from_profile(profile)
    assert settings.learn_residual and not profile["global_skip"]
    father, son = father_and_son(smooth_volume((24, 24, 12), 3), scale)
    sampler = SonFatherSampler(father, son, (8, 8, 3), scale)
    network = zssr_network(profile, scale, 0, settings.learn_residual)
    batch = sampler.batch(np.random.default_rng(0), 2)
    assert not network(batch[0]).any()
    run = RunContext(torch.device("cpu"), 0, profile, scale, tmp_path, tmp_path / "checkpoints")
    plan = zssr_training.SonFatherPlan(network, sampler, profile, run.device, settings)
    loss = plan.train_step(batch, trainer_for(plan, run))["l1"]
    _, father_slabs, base_slabs = batch
    assert loss == pytest.approx(float(l1_loss(base_slabs, father_slabs)), rel=1e-6)
    assert loss > 1e-3  # the base is not the father: there is a residual to learn


@pytest.mark.parametrize(("scale", "variants"), [(Scale(2, 2, 2), 8), (Scale(2, 1, 1), 4)], ids=str)
def test_back_projection_10_iterations_per_variant_and_10_after_the_median(scale, variants, tiny_run, monkeypatch):
    step = zssr_inference.back_projection_step
    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def counted(sr, lr, scale, *args):
        out = step(sr, lr, scale, *args)
        calls.append((sr.numpy().copy(), out.numpy()))
        return out

    monkeypatch.setattr(zssr_inference, "back_projection_step", counted)
    run = tiny_run(scale, zssr_ensemble=True, zssr_steps=2)
    method = ZSSR(scale=scale, profile=run.profile)
    assert method.config.back_projection == 10  # ZSSR's back_projection_iters = [10], the default
    method.fit(no_source_hr(scale), run)
    lr = torch.from_numpy(smooth_volume((12, 10, 6), 1))
    sr = method.super_resolve(lr)
    assert len(calls) == 10 * variants + 10
    # The last 10 start from the median of each variant's 10th back-projection, and give the output.
    finals = np.stack([calls[10 * i + 9][1] for i in range(variants)]).astype(np.float32)
    median = np.sort(finals, axis=0)[variants // 2 - 1 : variants // 2 + 1].mean(axis=0)
    np.testing.assert_allclose(calls[10 * variants][0], median, atol=1e-6)
    np.testing.assert_allclose(sr.numpy(), calls[-1][1], atol=1e-6)

    calls.clear()  # without the ensemble (quick, tiny): one output, 10 iterations, and 10 after its "median"
    run = tiny_run(scale, zssr_steps=2)
    run.cell_dir = run.checkpoint_dir = run.cell_dir / "plain"
    method = ZSSR(scale=scale, profile=run.profile)
    method.fit(no_source_hr(scale), run)
    method.super_resolve(lr)
    assert not method.config.ensemble and len(calls) == 20


@pytest.mark.parametrize("up", ["kspace", "cubic"])
@pytest.mark.parametrize("scale", SCALES, ids=str)
def test_back_projection_makes_the_sr_consistent_with_the_lr_through_the_protocols_degradation(scale, up):
    hr = smooth_volume((24, 24, 12), 4)  # not periodic: the truncation rings, and its magnitude folds the ringing
    lr = kspace_truncate(hr, scale)
    rng = np.random.default_rng(0)
    sr = np.clip(hr + 0.05 * rng.standard_normal(hr.shape), 0, 1)  # an SR volume off the LR's k-space

    def inconsistency(volume):
        return float(np.linalg.norm(kspace_truncate(volume, scale) - lr))

    errors = [inconsistency(sr)]
    for _ in range(10):
        sr = zssr_inference.back_projection_step(torch.from_numpy(sr), torch.from_numpy(lr).double(), scale, up).numpy()
        errors.append(inconsistency(sr))
    assert all(b < a for a, b in itertools.pairwise(errors[:4]))
    assert errors[-1] < 0.05 * errors[0]
    assert sr.min() >= 0 and sr.max() <= 1  # clipped to the protocol's intensity range, as ZSSR does
    again = zssr_inference.back_project(torch.from_numpy(sr.astype(np.float32)), torch.from_numpy(lr), scale, 0)
    assert torch.equal(again, torch.from_numpy(sr.astype(np.float32)))  # 0 iterations: unchanged


@pytest.mark.parametrize("scale", [*SCALES, Scale(3, 2, 1)], ids=str)
def test_kspace_zero_fill_is_the_truncations_pseudo_inverse(scale):
    rng = np.random.default_rng(1)
    image = rng.standard_normal((7, 6, 5)) + 1j * rng.standard_normal((7, 6, 5))
    hr = kspace_zero_fill(image, scale.factors)
    assert hr.shape == tuple(n * f for n, f in zip(image.shape, scale.factors))
    # The truncation is linear before its magnitude: truncating both parts gives the image back.
    real, imaginary = (truncated_image(part, scale) for part in (hr.real, hr.imag))
    np.testing.assert_allclose(real + 1j * imaginary, image, atol=1e-10)
    volume = smooth_volume((18, 12, 6), 0)
    np.testing.assert_allclose(np.abs(truncated_image(volume, scale)), kspace_truncate(volume, scale), atol=1e-6)


def test_back_projection_of_zssrs_output_lowers_its_kspace_inconsistency(tiny_run):
    scale = Scale(2, 2, 2)
    lr = torch.from_numpy(kspace_truncate(smooth_volume((24, 20, 12), 2), scale))
    outputs = {}
    for iterations in (0, 10):
        run = tiny_run(scale, zssr_back_projection=iterations)
        run.cell_dir = run.checkpoint_dir = run.cell_dir / f"bp{iterations}"
        method = ZSSR(scale=scale, profile=run.profile)
        method.fit(no_source_hr(scale), run)
        outputs[iterations] = method.super_resolve(lr).numpy()
    errors = {k: np.linalg.norm(kspace_truncate(v, scale) - lr.numpy()) for k, v in outputs.items()}
    assert errors[10] < 0.1 * errors[0]


def test_paper_profile_batch_is_one_pair_with_a_father_crop_of_128():
    """ZSSR's ``crop_size = 128``, one crop per iteration; ``quick``/``tiny`` keep their batch."""
    scale = Scale(2, 2, 2)
    profile = load_profile("paper", SMALL_NET)
    settings = ZSSRConfig.from_profile(profile)
    assert settings.batch_size == 1
    assert ZSSRConfig.from_profile(load_profile("quick")).batch_size == load_profile("quick")["batch_size"]
    lr = np.random.default_rng(0).random((160, 140, 8)).astype(np.float32)
    father, son = father_and_son(lr, scale)
    sampler = SonFatherSampler(father, son, profile["lr_patch"], scale)
    plan = zssr_training.SonFatherPlan(zssr_network(profile, scale, 0), sampler, profile, torch.device("cpu"), settings)
    son_slabs, father_slabs, *_ = plan.sample_batch(np.random.default_rng(0))
    assert son_slabs.shape == (1, 3, 64, 64) and father_slabs.shape == (1, 6, 128, 128)


def _numpy_back_projection_step(sr: np.ndarray, lr: np.ndarray, scale: Scale) -> np.ndarray:
    """The NumPy/SciPy back-projection step that ran before issue 24 (k-space up-projection), as the reference."""
    import scipy.fft

    block = [np.arange(-(m // 2), m - m // 2) % n for n, m in zip(sr.shape, scale.lr_shape(sr.shape))]
    ratio = np.prod(scale.lr_shape(sr.shape)) / sr.size
    z = scipy.fft.ifftn(scipy.fft.ifftshift(scipy.fft.fftn(sr)[np.ix_(*block)] * ratio))
    residual = lr * np.exp(1j * np.angle(z)) - z
    spectrum = np.zeros(sr.shape, dtype=np.complex128)
    frequencies = [np.round(np.fft.fftfreq(m) * m).astype(int) % n for m, n in zip(lr.shape, sr.shape)]
    spectrum[np.ix_(*frequencies)] = scipy.fft.fftn(residual)
    up = scipy.fft.ifftn(spectrum).real * (sr.size / lr.size)
    return np.clip(sr + up, 0.0, 1.0)


@pytest.mark.parametrize("scale", [*SCALES, Scale(3, 2, 1)], ids=str)
def test_the_torch_back_projection_equals_the_numpy_one(scale):
    """Issue 24 moved the back-projection to torch on the method's device; it gives the NumPy result to 1e-12."""
    hr = smooth_volume((24, 24, 12), 4)
    lr = kspace_truncate(hr, scale).astype(np.float64)
    sr = np.clip(hr + 0.05 * np.random.default_rng(0).standard_normal(hr.shape), 0, 1)
    expected, got = sr, torch.from_numpy(sr)
    for _ in range(3):
        expected = _numpy_back_projection_step(expected, lr, scale)
        got = zssr_inference.back_projection_step(got, torch.from_numpy(lr), scale, "kspace")
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)
