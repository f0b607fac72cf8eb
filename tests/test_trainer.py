import torch

from benchmark.scale import Scale
from benchmark.seeding import seed_everything
from benchmark.trainer import Trainer
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
