import pandas as pd
import torch

from benchmark.scale import Scale
from benchmark.training.seeding import seed_everything
from benchmark.training.trainer import CosineDecay, Trainer, cosine_rate
from methods.networks import ts_rcan_from_profile
from methods.supervised import PairedSlabPlan
from tests.conftest import tiny_training_data


def make_plan(scale, run):
    data = tiny_training_data(scale)
    seed_everything(0)
    net = ts_rcan_from_profile(run.profile, scale)
    return PairedSlabPlan(net, data.target_lr, data.target_hr, data.validation, scale, run.profile, run.device)


def test_training_lowers_the_loss(tiny_run):
    scale = Scale(2, 2, 2)
    run = tiny_run(scale, checkpoint_every=100, val_every=100, batch_size=4, lr_max=1e-3)
    plan = make_plan(scale, run)
    trainer = Trainer(plan, run, total_steps=40)
    trainer.fit()
    losses = [row["loss"] for row in trainer.history]
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert (run.cell_dir / "losses.csv").is_file()
    assert "val_psnr" in trainer.history[-1]


def test_cosine_schedule_ends_at_lr_min(tiny_run):
    run = tiny_run(Scale(2, 2, 1))
    trainer = Trainer(make_plan(Scale(2, 2, 1), run), run, total_steps=10)
    assert trainer.learning_rate(0) == run.profile["lr_max"]
    assert abs(trainer.learning_rate(9) - run.profile["lr_min"]) < 1e-15


def test_killed_run_resumes_to_the_same_weights(tiny_run, tmp_path):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=3, val_every=100)
    uninterrupted = Trainer(make_plan(scale, run), run, total_steps=8)
    uninterrupted.fit()
    expected = {k: v.clone() for k, v in uninterrupted.plan.networks["sr"].state_dict().items()}

    run2 = tiny_run(scale, checkpoint_every=3, val_every=100)
    run2.checkpoint_dir = tmp_path / "second"
    first = Trainer(make_plan(scale, run2), run2, total_steps=8)
    first.fit(stop_after=5)  # the "kill": a checkpoint at step 5, then the process is gone
    torch.manual_seed(1234)  # a new process would start with other RNG states
    resumed = Trainer(make_plan(scale, run2), run2, total_steps=8)
    resumed.fit()
    assert resumed.step == 8
    for key, value in resumed.plan.networks["sr"].state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


class _Payload:
    """Pickles to a call that creates a file: what a planted checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _warnings(run):
    seen: list[str] = []
    run.warn = seen.append
    return seen


def test_planted_pickle_in_a_checkpoint_does_not_run(tiny_run, tmp_path):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=3, val_every=100)
    warnings = _warnings(run)
    marker = tmp_path / "payload-ran"
    run.checkpoint_dir.mkdir(parents=True)
    torch.save({"step": 5, "networks": _Payload(marker), "optimisers": {}, "rng": {}}, run.checkpoint_dir / "last.pt")
    trainer = Trainer(make_plan(scale, run), run, total_steps=4)
    trainer.fit()
    assert not marker.exists()
    assert trainer.step == 4 and len(trainer.history) == 4
    assert any("cannot be read safely" in w and "fresh start" in w for w in warnings)


def test_checkpoint_of_another_configuration_is_refused(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    run.config_hash = "aaaa"
    Trainer(make_plan(scale, run), run, total_steps=4).fit(stop_after=2)
    run.config_hash = "bbbb"
    warnings = _warnings(run)
    trainer = Trainer(make_plan(scale, run), run, total_steps=4)
    assert not trainer.load_checkpoint()
    assert trainer.step == 0
    assert len(warnings) == 1 and "configuration aaaa, not this cell's bbbb" in warnings[0]


def test_damaged_last_checkpoint_falls_back_to_the_previous_one(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    Trainer(make_plan(scale, run), run, total_steps=8).fit(stop_after=3)  # checkpoints at 2 and 3
    last = run.checkpoint_dir / "last.pt"
    last.write_bytes(last.read_bytes()[:100])  # cut by a full disk
    warnings = _warnings(run)
    trainer = Trainer(make_plan(scale, run), run, total_steps=8)
    assert trainer.load_checkpoint()
    assert trainer.step == 2
    assert any("previous.pt" in w for w in warnings)


def test_foreign_and_empty_checkpoints_start_over_with_untouched_networks(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    run.checkpoint_dir.mkdir(parents=True)
    foreign = {"config_hash": "", "step": 3, "networks": {"sr": {"w": torch.zeros(2)}}, "optimisers": {}, "rng": {}}
    torch.save(foreign, run.checkpoint_dir / "last.pt")
    (run.checkpoint_dir / "previous.pt").write_bytes(b"")
    warnings = _warnings(run)
    trainer = Trainer(make_plan(scale, run), run, total_steps=4)
    before = {k: v.clone() for k, v in trainer.plan.networks["sr"].state_dict().items()}
    assert not trainer.load_checkpoint()
    assert len(warnings) == 2 and "does not fit" in warnings[0] and "cannot be read" in warnings[1]
    for key, value in trainer.plan.networks["sr"].state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    trainer.fit()
    assert trainer.step == 4


def test_step_times_survive_a_resume(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    Trainer(make_plan(scale, run), run, total_steps=6).fit(stop_after=4)
    resumed = Trainer(make_plan(scale, run), run, total_steps=6)
    resumed.fit()
    assert resumed.times.steps == 6
    assert resumed.times.data > 0


class HalvingPolicy:
    """A stateful learning-rate policy: halve every 3 steps, end training before ``stop_at``."""

    def __init__(self, stop_at: int | None = None):
        self.rate_now, self.calls, self.stop_at = 1e-3, 0, stop_at

    def rate(self, step, trainer):
        del trainer
        if self.stop_at is not None and step >= self.stop_at:
            return None
        self.calls += 1
        if self.calls % 3 == 0:
            self.rate_now /= 2
        return self.rate_now

    def state_dict(self):
        return {"rate": self.rate_now, "calls": self.calls}

    def load_state_dict(self, state):
        self.rate_now, self.calls = float(state["rate"]), int(state["calls"])


def test_default_policy_is_the_shared_cosine(tiny_run):
    run = tiny_run(Scale(2, 2, 1))
    trainer = Trainer(make_plan(Scale(2, 2, 1), run), run, total_steps=10)
    assert isinstance(trainer.lr_policy, CosineDecay)
    assert [trainer.learning_rate(s) for s in range(10)] == [
        cosine_rate(s, 10, run.profile["lr_max"], run.profile["lr_min"]) for s in range(10)
    ]


def test_a_stateful_policy_survives_a_kill(tiny_run, tmp_path):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    uninterrupted = Trainer(make_plan(scale, run), run, total_steps=8, lr_policy=HalvingPolicy())
    uninterrupted.fit()
    rates = [row["lr"] for row in uninterrupted.history]
    assert rates == [1e-3] * 2 + [5e-4] * 3 + [2.5e-4] * 3

    run2 = tiny_run(scale, checkpoint_every=2, val_every=100)
    run2.checkpoint_dir = tmp_path / "second"
    Trainer(make_plan(scale, run2), run2, total_steps=8, lr_policy=HalvingPolicy()).fit(stop_after=4)
    policy = HalvingPolicy()
    resumed = Trainer(make_plan(scale, run2), run2, total_steps=8, lr_policy=policy)
    resumed.fit()
    assert [row["lr"] for row in resumed.history] == rates
    assert policy.state_dict() == uninterrupted.lr_policy.state_dict()
    for key, value in resumed.plan.networks["sr"].state_dict().items():
        torch.testing.assert_close(value, uninterrupted.plan.networks["sr"].state_dict()[key], rtol=0, atol=0)


def test_a_policy_can_end_training_early(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=100, val_every=100)
    trainer = Trainer(make_plan(scale, run), run, total_steps=8, lr_policy=HalvingPolicy(stop_at=5))
    trainer.fit()
    assert trainer.step == 5 and len(trainer.history) == 5
    assert "val_psnr" in trainer.history[-1]  # the last step done is validated
    assert len(pd.read_csv(run.cell_dir / "losses.csv")) == 5
    again = Trainer(make_plan(scale, run), run, total_steps=8, lr_policy=HalvingPolicy(stop_at=5))
    again.fit()  # resumed from the checkpoint written at the stop: no step more
    assert again.step == 5 and again.history == trainer.history


def test_a_refused_checkpoint_leaves_policy_and_generators_untouched(tiny_run):
    scale = Scale(2, 2, 1)
    run = tiny_run(scale, checkpoint_every=2, val_every=100)
    Trainer(make_plan(scale, run), run, total_steps=4).fit(stop_after=2)
    path = run.checkpoint_dir / "last.pt"
    state = torch.load(path, weights_only=True)
    del state["history"]  # fails after the generators were set
    torch.save(state, path)
    policy = HalvingPolicy()
    policy.calls = 7
    trainer = Trainer(make_plan(scale, run), run, total_steps=4, lr_policy=policy)
    rng, torch_rng = trainer.rng.bit_generator.state, torch.get_rng_state()
    assert not trainer.load_checkpoint()
    assert trainer.rng.bit_generator.state == rng and torch.equal(torch.get_rng_state(), torch_rng)
    assert policy.state_dict() == {"rate": 1e-3, "calls": 7}
    state["history"] = []
    torch.save(state, path)  # a cosine checkpoint holds no state of this policy: refused too
    assert not trainer.load_checkpoint() and policy.calls == 7
