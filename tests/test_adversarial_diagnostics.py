"""The training instruments of the adversarial plans: what they measure, and that they change nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.scale import Scale
from methods.adversarial_diagnostics import gradient_norms, high_frequency_energy
from methods.cyclegan import CycleGAN
from methods.udean import UDEAN
from tests.conftest import seeded_method, tiny_training_data

SCALE = Scale.parse("2x2x2")


def test_gradient_norms_are_the_l2_norm_of_each_terms_gradient() -> None:
    w = nn.Parameter(torch.tensor([3.0, 4.0]))
    terms = {"square": (w**2).sum(), "linear": (2 * w).sum(), "constant": torch.tensor(1.0)}
    norms = gradient_norms(terms, [w])
    assert norms["square"] == pytest.approx(float(torch.tensor([6.0, 8.0]).norm()))
    assert norms["linear"] == pytest.approx(float(torch.tensor([2.0, 2.0]).norm()))
    assert norms["constant"] == 0.0
    assert w.grad is None  # measured with autograd.grad: nothing accumulates


def test_high_frequency_energy_is_zero_for_a_ramp_and_positive_for_a_checkerboard() -> None:
    ramp = torch.arange(16.0).reshape(1, 1, 4, 4)
    checker = (torch.arange(16).reshape(4, 4) + torch.arange(4).reshape(4, 1)) % 2
    assert high_frequency_energy(ramp) == pytest.approx(0.0)
    assert high_frequency_energy(checker.float().reshape(1, 1, 4, 4)) == pytest.approx(16.0)  # (4c − 4(1 − c))² = 16


@pytest.mark.parametrize("factory", [UDEAN, CycleGAN], ids=["udean", "cyclegan"])
def test_instruments_do_not_change_training(tiny_run, tmp_path, factory) -> None:
    """Validating (and probing) at every step trains to the same weights as validating once at the end."""
    weights = []
    for val_every in (1, 1000):
        run = tiny_run(SCALE, val_every=val_every)
        run = dataclasses.replace(run, cell_dir=tmp_path / str(val_every), checkpoint_dir=tmp_path / f"ck{val_every}")
        run.cell_dir.mkdir()
        method = seeded_method(factory, run, SCALE)
        method.fit(tiny_training_data(SCALE), run)
        weights.append({k: v.clone() for net in method.networks.values() for k, v in net.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=0, atol=0, msg=key)


def test_udean_logs_its_instruments_at_every_validation(tiny_run) -> None:
    run = tiny_run(SCALE)
    method = seeded_method(UDEAN, run, SCALE)
    method.fit(tiny_training_data(SCALE), run)
    history = pd.read_csv(run.cell_dir / "losses.csv")
    validated = history.dropna(subset=["val_psnr"])
    expected = [
        "val_grad_i_cyc",
        "val_grad_da",
        "val_grad_fa",
        "val_d_lr_real",
        "val_d_lr_fake",
        "val_d_hr_fake",
        "val_cycle_psnr",
        "val_x_s_t_mean",
        "val_x_t_hf",
    ]
    assert len(validated) >= 2
    for column in expected:
        assert np.isfinite(validated[column]).all(), column
    assert (validated["val_grad_i_cyc"] > 0).all()
