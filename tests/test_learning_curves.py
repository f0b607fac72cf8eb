"""Learning curves and the convergence table: validation metrics, the flattening rule, `bench report`'s outputs.

The flattening rule is tested on synthetic curves; reading and drawing on synthetic cell folders
(a DASR-like cell with two stages, a ZSSR-like cell with per-volume folders); the validation's
tricubic reference against scipy and scikit-image on the same crops; and one tiny `bench run` of
supervised and UDEAN followed by `bench report`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from scipy import ndimage

import reports.error_maps as error_maps
import reports.learning_curves as learning_curves
from benchmark.app.cell_run import evaluate
from benchmark.data.volume import Volume
from benchmark.inference.slabs import super_resolve_slabs
from benchmark.method import Method
from benchmark.plugins import DATASETS
from benchmark.profiles import load_profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.protocol.groups import CellData
from benchmark.protocol.training_data import TrainingData, VolumePair
from benchmark.scale import Scale
from methods.networks import TSRCAN
from methods.tricubic import Tricubic
from methods.validation import ValidationSet, validate_network
from methods.zero_fill import ZeroFill
from reports.convergence import (
    FLATTENED,
    STILL_RISING,
    TOO_FEW,
    convergence,
    convergence_latex,
    convergence_markdown,
    convergence_table,
)
from reports.training_histories import find_training_histories
from tests.conftest import tiny_training_data
from tests.test_cli import bench, write_folder_dataset

STEPS = list(range(100, 1001, 100))


# ------------------------------------------------------------------------------ the flattening rule
def test_rising_curve_is_still_rising() -> None:
    values = [20 + 0.5 * i for i in range(len(STEPS))]  # gains 1 dB over its last 20 % (800 → 1000)
    result = convergence(STEPS, values)
    assert result is not None
    assert result.status == STILL_RISING and result.flattened_at is None
    assert result.best == result.final == values[-1] and result.best_step == result.final_step == 1000
    assert result.window_gain == pytest.approx(1.0)


def test_flat_curve_flattened_at_first_step() -> None:
    result = convergence(STEPS, [25.0] * len(STEPS))
    assert result is not None and result.status == FLATTENED and result.flattened_at == 100


def test_rise_then_plateau_flattens_where_it_reaches_the_best() -> None:
    values = [20, 22, 24, 25, 25.5, 25.98, 26.0, 26.01, 26.02, 26.03]
    result = convergence(STEPS, values)
    assert result is not None and result.status == FLATTENED
    assert result.window_gain == pytest.approx(26.03 - 26.01)
    assert result.flattened_at == 600  # first value within 0.05 dB of the best 26.03 (25.98)


def test_falling_curve_flattened_at_its_peak() -> None:
    values = [24, 26, 25.5, 25, 24.5, 24, 23.5, 23, 22.5, 22]
    result = convergence(STEPS, values)
    assert result is not None and result.status == FLATTENED
    assert result.window_gain < 0 and result.flattened_at == 200 and result.best == 26 and result.best_step == 200
    assert result.final == 22


def test_gain_just_below_and_at_the_threshold() -> None:
    below = convergence([1, 8, 10], [20.0, 20.0, 20.049])
    at = convergence([1, 8, 10], [20.0, 20.0, 20.05])
    assert below is not None and below.status == FLATTENED and below.flattened_at == 1
    assert at is not None and at.status == STILL_RISING


def test_window_is_measured_from_the_curves_own_start() -> None:
    # A second stage trained from step 1000 to 2000: its window starts at 1800, not at 0.8 × 2000 = 1600.
    steps = [1200, 1400, 1600, 1800, 2000]
    values = [20.0, 21.0, 22.0, 22.0, 22.03]
    assert convergence(steps, values, start=1000).status == FLATTENED  # type: ignore[union-attr]
    assert convergence(steps, [20.0, 21.0, 22.0, 22.5, 22.6], start=1000).status == STILL_RISING  # type: ignore[union-attr]


def test_too_few_validations_and_nan() -> None:
    single = convergence([4], [25.0])
    assert single is not None and single.status == TOO_FEW and math.isnan(single.window_gain)
    assert convergence([1, 2], [math.nan, math.nan]) is None
    skipped = convergence([1, 2, 3, 10], [20.0, math.nan, 21.0, 21.01])  # NaN left out, order kept by step
    assert skipped is not None and skipped.status == FLATTENED and skipped.flattened_at == 3


# ------------------------------------------------------------------------------ validation metrics
def _validation_data(scale: Scale, n_validation: int = 2) -> TrainingData:
    """Tiny data whose validation group holds ``n_validation`` pairs (subjects ``v0``, ``v1`` …)."""
    data = tiny_training_data(scale, n=2 + n_validation, shape=(32, 28, 24))
    pairs = [
        VolumePair(Volume(p.lr.data, p.lr.affine, f"v{i}"), Volume(p.hr.data, p.hr.affine, f"v{i}"))
        for i, p in enumerate([VolumePair(lr, hr) for lr, hr in zip(data.target_lr, data.source_hr)])
    ]
    return dataclasses.replace(data, _validation=pairs[:n_validation][::-1])  # not in subject order


@pytest.mark.parametrize("scale", [Scale(2, 2, 2), Scale(2, 2, 1)], ids=str)
def test_validation_scores_whole_volumes_with_the_tests_code(tmp_path: Path, scale: Scale) -> None:
    data = _validation_data(scale)
    profile = load_profile("tiny", ["val_volumes=2"])
    network = TSRCAN(3, scale, n_resgroups=1, n_rcab=1, n_feats=8, reduction=4)
    scores = validate_network(network, data.validation, scale, profile, torch.device("cpu"))
    assert set(scores) == {f"{p}{m}" for p in ("", "tricubic_", "zero_fill_") for m in ("psnr", "ssim")} | {"seconds"}
    assert all(math.isfinite(v) for v in scores.values())

    # The test: each method's whole-volume SR of each pair, scored by the runner's evaluate.
    test_data = CellData(training=data, test=sorted(data.validation, key=lambda p: p.hr.subject))

    class Network(Method):
        def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
            return super_resolve_slabs(
                network, lr, scale, int(profile["infer_tile"]), int(profile["infer_batch"]), torch.device("cpu")
            )

    for prefix, method in (
        ("", Network(scale, profile)),
        ("tricubic_", Tricubic(scale, profile)),
        ("zero_fill_", ZeroFill(scale, profile)),
    ):
        tested = evaluate(method, test_data, scale, tmp_path, save_sr=False)
        for metric in ("psnr", "ssim"):
            assert scores[f"{prefix}{metric}"] == pytest.approx(tested[metric].mean(), abs=1e-12), (prefix, metric)


def test_validation_uses_the_first_val_volumes_subjects() -> None:
    scale = Scale(2, 2, 2)
    data = _validation_data(scale, n_validation=3)
    profile = load_profile("tiny", ["val_volumes=1"])
    chosen = ValidationSet(data.validation, scale, profile, torch.device("cpu")).pairs
    assert [pair.hr.subject for pair in chosen] == ["v0"]
    network = TSRCAN(3, scale, n_resgroups=1, n_rcab=1, n_feats=8, reduction=4)
    alone = [pair for pair in data.validation if pair.hr.subject == "v0"]
    assert (
        validate_network(network, data.validation, scale, profile, torch.device("cpu"))["psnr"]
        == (validate_network(network, alone, scale, profile, torch.device("cpu"))["psnr"])
    )


# ------------------------------------------------------------------------------ reading histories
def _cell(runs: Path, method: str, seed: int = 0) -> Path:
    folder = runs / "demo" / "2x2x2" / "misaligned" / method / "quick" / "kspace" / f"seed{seed}"
    folder.mkdir(parents=True)
    config = {"dataset": "demo", "scale": "2x2x2", "setting": "misaligned", "method": method}
    (folder / "config.json").write_text(json.dumps({**config, "profile": {"name": "quick"}, "seed": seed}))
    (folder / "DONE").write_text("{}")
    return folder


def _losses(folder: Path, steps: int, validated: dict[int, float], **columns: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for step in range(1, steps + 1):
        row = {"step": step, "lr": 1e-4, **columns}
        if step in validated:
            row.update(val_psnr=validated[step], val_ssim=0.9, val_tricubic_psnr=30.0, val_tricubic_ssim=0.95)
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "losses.csv", index=False)


def test_stages_are_joined_and_zssr_left_out(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    dasr = _cell(runs, "dasr")
    stage1 = pd.DataFrame({"step": [1, 2, 3, 4], "g_total": 1.0, "d_total": 0.5, "val_lr_psnr": [None, 30, None, 31]})
    (dasr / "stage1").mkdir()
    stage1.to_csv(dasr / "stage1" / "losses.csv", index=False)
    _losses(dasr / "stage2", 4, {2: 25.0, 4: 26.0}, g_total=2.0, d_total=0.4)
    _losses(_cell(runs, "zssr") / "zssr" / "volume-0", 4, {})  # per test volume, no validation
    _cell(runs, "tricubic")
    unfinished = _cell(runs, "supervised")
    _losses(unfinished, 4, {4: 20.0})
    (unfinished / "DONE").unlink()

    (history,) = find_training_histories(runs, "quick")
    assert history.cell.method == "dasr" and history.stage_starts == (0, 4) and history.adversarial
    assert history.losses["step"].tolist() == list(range(1, 9))
    curve = history.validation()
    assert curve["step"].tolist() == [6, 8] and curve["val_psnr"].tolist() == [25.0, 26.0]
    assert history.tricubic() == {"psnr": 30.0, "ssim": 0.95}
    assert find_training_histories(runs, "paper") == []

    table = convergence_table([history])
    assert table.loc[0, "steps"] == 8 and table.loc[0, "status"] == STILL_RISING  # window 7.2 → 8 gained 1 dB
    assert pd.isna(table.loc[0, "flattened_at"]) and table.loc[0, "final_minus_tricubic_db"] == pytest.approx(-4.0)
    assert "still rising" in convergence_markdown(table) and "still rising" in convergence_latex(table)


def test_cells_without_tricubic_columns_draw_no_line_and_print_a_dash(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    folder = _cell(runs, "supervised")
    pd.DataFrame({"step": [1, 2, 3, 4], "l1": 0.1, "val_psnr": [None, 20.0, None, 20.01]}).to_csv(
        folder / "losses.csv", index=False
    )
    histories = find_training_histories(runs)
    table = convergence_table(histories)
    assert table.loc[0, "status"] == FLATTENED and int(table.loc[0, "flattened_at"]) == 2
    assert "| Supervised | 0 | 4 | 20.01 @ 4 | 20.01 | – | – | – | – | – | 2 |" in convergence_markdown(table)
    figure = learning_curves.learning_curve_figure(histories, "title")
    assert not [line for axis in figure.axes for line in axis.lines if line.get_linestyle() == "--"]


def test_cells_validated_on_other_crops_get_their_own_tricubic_line(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed, tricubic in ((0, 30.0), (1, 31.0)):
        folder = _cell(runs, "supervised", seed)
        frame = pd.DataFrame({"step": [2, 4], "val_psnr": [20.0, 21.0], "val_tricubic_psnr": tricubic})
        frame.to_csv(folder / "losses.csv", index=False)
    histories = find_training_histories(runs)
    figure = learning_curves.learning_curve_figure(histories, "title")
    dashed = [line for line in figure.axes[0].lines if line.get_linestyle() == "--" and len(line.get_ydata())]
    assert sorted(line.get_ydata()[0] for line in dashed) == [30.0, 31.0]
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["Supervised (seed 0)", "Supervised (seed 1)"]


# ------------------------------------------------------------------------------ end to end
def _tricubic_psnr_by_hand(runs: Path, data: Path) -> float:
    """Tricubic's mean PSNR on the validation crops of the supervised cell, from its split and the raw volumes.

    The tiny profile's ``val_crop`` (48, 48, 12) covers the whole 12×12×8 LR of these 24×24×16
    volumes, so the crop is the whole volume; LR by k-space truncation (the default degradation).
    """
    (config_path,) = runs.rglob("supervised/**/config.json")
    subjects = json.loads(config_path.read_text())["data_records"]["split"]["validation"]
    dataset = DATASETS.create("folder", data_root=data)
    values = []
    for subject in subjects:
        hr = dataset.load(subject).data.astype(np.float64)
        lr = kspace_truncate(hr.astype(np.float32), Scale.parse("2x2x2")).astype(np.float64)
        sr = ndimage.affine_transform(lr, np.full(3, 0.5), output_shape=hr.shape, order=3, mode="grid-wrap")
        sr = np.clip(sr.astype(np.float32).astype(np.float64), 0, 1)
        values.append(10 * math.log10(1 / np.mean((sr - hr) ** 2)))
    return float(np.mean(values))


def test_bench_report_draws_curves_and_the_convergence_table(monkeypatch, capsys, tmp_path: Path) -> None:
    data = write_folder_dataset(tmp_path / "data")
    runs = tmp_path / "runs"
    args = ["run", "--methods", "supervised,udean", "--dataset", "folder", "--data-root", str(data)]
    code, _, err = bench(
        monkeypatch, capsys, *args, "--setting", "misaligned", "--runs-dir", str(runs), "--profile", "tiny"
    )
    assert code == 0, err

    drawn: list = []
    draw = learning_curves.learning_curve_figure

    def spy(histories, *rest):
        figure = draw(histories, *rest)
        drawn.append((histories, figure))
        return figure

    monkeypatch.setattr(learning_curves, "learning_curve_figure", spy)
    monkeypatch.setattr(error_maps, "error_map_figure", lambda *args: Figure(figsize=(1, 1)))  # not tested here
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    assert code == 0, err
    report = runs / "report"
    for stem in ("learning_curves", "adversarial_losses"):
        assert (report / "figures" / f"{stem}_folder_2x2x2_misaligned.png").read_bytes()[:4] == b"\x89PNG"
        assert (report / "figures" / f"{stem}_folder_2x2x2_misaligned.pdf").read_bytes()[:4] == b"%PDF"
    table = pd.read_csv(report / "convergence.csv")
    assert table["method"].tolist() == ["supervised", "udean"]
    assert (table["steps"] == 4).all() and (table["validations"] == 2).all()
    assert "Supervised" in (report / "convergence.md").read_text()
    assert r"\toprule" in (report / "convergence.tex").read_text()

    # The dashed tricubic line is the value recorded by validation, equal for both cells (same crops).
    ((histories, figure),) = drawn
    (psnr_line,) = [line for line in figure.axes[0].lines if line.get_linestyle() == "--"]
    recorded = {h.cell.method: h.losses["val_tricubic_psnr"].dropna().unique().tolist() for h in histories}
    assert recorded["supervised"] == recorded["udean"] and len(recorded["udean"]) == 1
    assert psnr_line.get_ydata()[0] == pytest.approx(recorded["udean"][0], abs=0)
    assert table["tricubic_val_psnr"].tolist() == pytest.approx(recorded["udean"] * 2, abs=1e-12)
    assert psnr_line.get_ydata()[0] == pytest.approx(_tricubic_psnr_by_hand(runs, data), abs=1e-9)
    metrics = pd.read_csv(runs / "results.csv")
    assert set(metrics.columns).isdisjoint({"val_tricubic_psnr", "tricubic_val_psnr"})
