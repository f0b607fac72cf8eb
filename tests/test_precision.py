"""``--precision``: how it resolves, where it is recorded, and that fp32 cells keep their identity."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from benchmark.environment import environment_record
from benchmark.errors import BenchError
from benchmark.inference.slabs import super_resolve_slabs
from benchmark.precision import autocast, needs_loss_scaler, resolve_precision
from benchmark.profiles import load_profile
from benchmark.results.cell import Cell, ProtocolOptions, config_hash
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
from reports.degradation_shift import shift_blocks, shift_summary
from reports.variants import Variant, split_variants
from tests.test_cli import assert_one_sentence, bench, write_folder_dataset

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(
    ("requested", "device", "bf16_supported", "expected"),
    [
        ("auto", CPU, None, "fp32"),
        ("fp32", CPU, None, "fp32"),
        ("bf16", CPU, None, "bf16"),
        ("auto", CUDA, True, "bf16"),
        ("auto", CUDA, False, "fp32"),
        ("fp32", CUDA, True, "fp32"),
        ("bf16", CUDA, True, "bf16"),
        ("fp16", CUDA, True, "fp16"),
        ("fp16", CUDA, False, "fp16"),
    ],
)
def test_resolve_precision_table(requested, device, bf16_supported, expected):
    assert resolve_precision(requested, device, bf16_supported) == expected


@pytest.mark.parametrize(
    ("requested", "device", "bf16_supported", "needle"),
    [
        ("fp64", CPU, None, "not one of auto, fp32, bf16, fp16"),
        ("fp16", CPU, None, "needs a CUDA GPU"),
        ("bf16", CUDA, False, "does not support bfloat16"),
    ],
)
def test_resolve_precision_refuses_in_one_sentence(requested, device, bf16_supported, needle):
    with pytest.raises(BenchError, match=needle) as info:
        resolve_precision(requested, device, bf16_supported)
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


def test_only_fp16_scales_its_losses():
    assert [needs_loss_scaler(p) for p in ("fp32", "bf16", "fp16")] == [False, False, True]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--precision", "fp64"], "--precision 'fp64' is not one of auto, fp32, bf16, fp16"),
        (["--precision", "fp16"], "--precision fp16 needs a CUDA GPU"),
    ],
)
def test_bad_precision_ends_in_one_sentence(monkeypatch, capsys, tmp_path, args, needle):
    code, _, err = bench(monkeypatch, capsys, "run", "--methods", "tricubic", "--runs-dir", str(tmp_path), *args)
    assert code == 2
    assert needle in assert_one_sentence(err)


def test_fp32_cells_keep_their_folder_and_hash_and_other_precisions_get_their_own():
    profile = load_profile("tiny")
    fp32 = Cell("demo", Scale(2, 2, 2), "misaligned", "udean", 0, profile, ProtocolOptions())
    assert Cell("demo", Scale(2, 2, 2), "misaligned", "udean", 0, profile, ProtocolOptions(), "fp32") == fp32
    # As before precisions were recorded: no key in the configuration, no suffix in the folder.
    assert "precision" not in fp32.config()
    assert fp32.folder(Path("r")).parts[-2] == "kspace_to_kspace_split0_mis0"
    bf16 = Cell("demo", Scale(2, 2, 2), "misaligned", "udean", 0, profile, ProtocolOptions(), "bf16")
    assert bf16.config()["precision"] == "bf16"
    assert config_hash(bf16.config()) != config_hash(fp32.config())
    assert bf16.folder(Path("r")).parts[-2] == "kspace_to_kspace_split0_mis0_bf16"
    assert bf16.columns()["precision"] == "bf16" and fp32.columns()["precision"] == "fp32"
    assert "bf16" in bf16.label() and "fp32" not in fp32.label()


def test_environment_record_holds_the_precision():
    assert environment_record(CPU, "bf16")["precision"] == "bf16"
    assert environment_record(CPU)["precision"] == "fp32"


class _Probe(nn.Module):
    """A slab network ``(B, 3, h, w) → (B, 6, 2h, 2w)`` that records the autocast state of its forward passes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6 * 4, 3, padding=1)
        self.dtypes: list[torch.dtype] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        self.dtypes.append(y.dtype)
        return nn.functional.pixel_shuffle(y, 2)


def test_inference_follows_the_cells_precision_and_returns_float32():
    torch.manual_seed(0)
    probe, lr = _Probe(), torch.rand(8, 8, 6)
    fp32 = super_resolve_slabs(probe, lr, Scale(2, 2, 2), tile=8, batch_size=4, device=CPU)
    assert set(probe.dtypes) == {torch.float32}  # the CPU's auto: fp32
    probe.dtypes.clear()
    bf16 = super_resolve_slabs(probe, lr, Scale(2, 2, 2), tile=8, batch_size=4, device=CPU, precision="bf16")
    assert set(probe.dtypes) == {torch.bfloat16}
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape == (16, 16, 12)
    assert torch.allclose(bf16, fp32, atol=0.05) and not torch.equal(bf16, fp32)


def test_a_method_infers_in_its_runs_precision(tiny_run):
    """The precision reaches inference through the method's run context, not through a side door."""
    from benchmark.api import METHODS

    method = METHODS.create("supervised", scale=Scale(2, 2, 2), profile=tiny_run(Scale(2, 2, 2)).profile)
    probe = _Probe()
    method.networks["sr"] = probe
    method.prepare_inference(dataclasses.replace(tiny_run(Scale(2, 2, 2)), precision="bf16"))
    method.super_resolve(torch.rand(8, 8, 6))
    assert set(probe.dtypes) == {torch.bfloat16}


class _Plan:
    """One linear layer fitted to zeros; records the dtype of its forward pass."""

    def __init__(self) -> None:
        self.networks = {"net": nn.Linear(4, 4)}
        self.optimised = {"opt": ["net"]}
        self.dtypes: list[torch.dtype] = []

    def sample_batch(self, rng):
        return torch.from_numpy(rng.random((2, 4))).float()

    def train_step(self, batch, trainer):
        with trainer.autocast():
            out = self.networks["net"](batch)
        self.dtypes.append(out.dtype)
        loss = out.float().pow(2).mean()
        trainer.update("opt", loss)
        return {"loss": loss.item()}

    def validate(self):
        return {}


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_trainer_autocasts_to_the_runs_precision_without_a_scaler(tmp_path, precision, dtype):
    profile = load_profile("tiny")
    run = RunContext(CPU, 0, profile, Scale(2, 2, 2), tmp_path, tmp_path / "ckpt", precision=precision)
    plan = _Plan()
    trainer = Trainer(plan, run, total_steps=2)
    trainer.fit()
    assert plan.dtypes == [dtype, dtype]
    assert not trainer.scaler.is_enabled()
    with autocast("fp32", CPU):
        assert not torch.is_autocast_enabled("cpu")


def test_a_bf16_cell_runs_end_to_end_on_the_cpu_and_is_reported_as_such(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    common = ["--setting", "misaligned", "--dataset", "folder", "--data-root", str(data), "--runs-dir", str(runs)]
    args = ["run", "--methods", "supervised", *common, "--profile", "tiny"]
    code, out, err = bench(monkeypatch, capsys, *args, "--precision", "bf16")
    assert code == 0, err
    assert "in bf16" in out
    (done,) = runs.rglob("DONE")
    cell = done.parent
    assert cell.parent.name.endswith("_bf16")
    assert json.loads((cell / "environment.json").read_text())["precision"] == "bf16"
    assert json.loads((cell / "config.json").read_text())["precision"] == "bf16"
    table = pd.read_csv(runs / "results.csv", keep_default_na=False)
    assert set(table["precision"]) == {"bf16"}
    # The same cell in fp32 (the CPU's auto) is another cell: it runs, and never reuses the bf16 one.
    code, out, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "done 1, already done 0" in out
    table = pd.read_csv(runs / "results.csv", keep_default_na=False)
    assert sorted(table["precision"]) == ["bf16", "fp32"]
    code, out, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 0, err
    assert "precision: fp32 (1 cell), bf16 (1 cell)" in out
    report = runs / "report"
    assert (report / "table2.md").is_file()  # fp32: the plain names, as before
    caption = (report / "table2_bf16.md").read_text().splitlines()[0]
    assert caption == "*Training LR by kspace, test LR by kspace; no override; bf16 autocast.*"
    assert set(pd.read_csv(report / "table2_bf16.csv")["precision"]) == {"bf16"}
    assert set(pd.read_csv(report / "table2.csv")["precision"]) == {"fp32"}


def _long_table(precisions: list[str], train: list[str]) -> pd.DataFrame:
    rows = []
    for index, (precision, degradation) in enumerate(zip(precisions, train)):
        rows.append(
            {
                "dataset": "demo",
                "scale": "2x2x2",
                "setting": "misaligned",
                "method": "udean",
                "profile": "tiny",
                "overrides": "",
                "train_degradation": degradation,
                "test_degradation": "kspace",
                "precision": precision,
                "seed": 0,
                "subject": "s01",
                "ssim": 0.5 + index / 10,
                "psnr": 20.0 + index,
                "oracle": False,
            }
        )
    return pd.DataFrame(rows)


def test_reports_never_average_two_precisions():
    results = _long_table(["fp32", "bf16"], ["kspace", "kspace"])
    variants = split_variants(results)
    assert [v for v, _ in variants] == [Variant(), Variant(precision="bf16")]
    assert [len(rows) for _, rows in variants] == [1, 1]
    assert Variant(precision="bf16").suffix() == "_bf16" and Variant().suffix() == ""
    assert split_variants(results.drop(columns="precision"))[0][0] == Variant()  # older stores: fp32
    shifted = _long_table(["fp32", "fp32", "bf16", "bf16"], ["kspace", "elliptical", "kspace", "elliptical"])
    blocks = shift_blocks(shift_summary(shifted))
    assert [b.precision for b in blocks] == ["fp32", "bf16"]
    assert [b.rows[0].values[("kspace", "kspace")]["ssim"].mean for b in blocks] == [0.5, 0.7]


def test_one_check_names_a_bad_precision_request():
    from benchmark.precision import check_precision_request

    for call in (lambda: check_precision_request("fp64"), lambda: resolve_precision("fp64", torch.device("cpu"))):
        with pytest.raises(BenchError, match=r"^--precision 'fp64' is not one of auto, fp32, bf16, fp16\.$"):
            call()
