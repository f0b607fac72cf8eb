"""A method that diverges is a result: the cell ends as diverged, is recorded, shown, reported and not retrained.

Before issue 24, ``bench run ... --set lr_max=1e30`` printed "done 1" and exited 0, but
``results.csv`` had no row for the cell (its NaN metrics made it a damaged cell), and every rerun
retrained it and dropped it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.profiles import load_profile
from benchmark.results.cell_state import cell_state
from benchmark.scale import Scale
from benchmark.training.divergence import DIVERGED, TrainingDivergedError
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
from tests.test_cli import bench, write_folder_dataset

DIVERGING = ("--set", "steps_per_epoch=6", "--set", "lr_max=1e30", "--set", "lr_min=1e30")


class _Plan:
    """A one-weight plan whose loss is finite for ``finite_steps`` steps, then NaN."""

    optimised: ClassVar[dict[str, list[str]]] = {"generator": ["w"]}

    def __init__(self, finite_steps: int) -> None:
        self.networks = {"w": nn.Linear(1, 1)}
        self.finite_steps = finite_steps
        self.calls = 0

    def sample_batch(self, rng):
        return None

    def train_step(self, batch, trainer: Trainer) -> dict[str, float]:
        self.calls += 1
        loss = self.networks["w"](torch.ones(1, 1)).sum() ** 2
        if self.calls > self.finite_steps:
            loss = loss * float("nan")
        trainer.update("generator", loss)
        return {"loss": float(loss.detach())}

    def validate(self) -> dict[str, float]:
        return {}


def test_a_non_finite_loss_stops_training_before_any_weight_moves(tmp_path: Path) -> None:
    profile = load_profile("tiny", ["steps_per_epoch=10", "val_every=100", "checkpoint_every=100"])
    run = RunContext(torch.device("cpu"), 0, profile, Scale(2, 2, 2), tmp_path, tmp_path / "checkpoints")
    plan = _Plan(finite_steps=2)
    trainer = Trainer(plan, run, 10)
    with pytest.raises(TrainingDivergedError) as raised:
        before = {k: v.clone() for k, v in plan.networks["w"].state_dict().items()}
        trainer.fit()
    assert raised.value.step == 3 and raised.value.loss == "generator"
    assert str(raised.value) == "diverged at step 3 (generator loss nan)"
    after = plan.networks["w"].state_dict()
    assert plan.calls == 3
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)  # steps 1 and 2 did move it


def test_a_diverged_cell_is_recorded_shown_reported_and_not_retrained(monkeypatch, capsys, tmp_path: Path) -> None:
    data = write_folder_dataset(tmp_path / "data")
    runs = tmp_path / "runs"
    args = ["run", "--methods", "supervised,tricubic", "--dataset", "folder", "--data-root", str(data)]
    args += ["--setting", "misaligned", "--profile", "tiny", "--runs-dir", str(runs), *DIVERGING]
    code, out, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "diverged 1" in out and "diverged at step" in out

    results = pd.read_csv(runs / "results.csv", keep_default_na=False)
    diverged = results[results["method"] == "supervised"]
    assert len(diverged) >= 1 and set(diverged["state"]) == {DIVERGED}
    assert (diverged["psnr"] == "").all() and (diverged["ssim"] == "").all()
    assert set(results.loc[results["method"] == "tricubic", "state"]) == {"done"}

    (cell,) = [p.parent for p in runs.rglob("DONE") if "supervised" in str(p)]
    state = cell_state(cell)
    assert state.state == DIVERGED and state.reason.startswith("diverged at step ")
    done = json.loads((cell / "DONE").read_text())
    assert done[DIVERGED]["step"] >= 1 and not (cell / "model.pt").exists()

    code, out, _ = bench(monkeypatch, capsys, "status", "--runs-dir", str(runs))
    assert code == 0 and "diverged" in out and "diverged at step" in out

    # A rerun keeps it as it is.
    marker = (cell / "DONE").read_bytes()
    code, out, _ = bench(monkeypatch, capsys, *args)
    assert code == 0 and "done 0, already done 2" in out and (cell / "DONE").read_bytes() == marker

    # The report marks the row instead of dropping it.
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 0, err
    (table_file,) = (runs / "report").glob("table2*.md")  # named after the run's overrides
    table = table_file.read_text()
    assert "Supervised (diverged)" in table and "Diverged: a training loss" in table

    # --retry-diverged trains it again from step 0 (and it diverges again, at the same step).
    (cell / "checkpoints" / "marker").write_text("x") if (cell / "checkpoints").is_dir() else None
    code, out, _ = bench(monkeypatch, capsys, *args, "--retry-diverged")
    assert code == 0 and "trains it again from step 0" in out and "done 1, already done 1" in out
    assert json.loads((cell / "DONE").read_text())[DIVERGED]["step"] == done[DIVERGED]["step"]
