"""The degradation-shift table and the per-variant Tables I/II (reports.degradation_shift, reports.variants, build).

A synthetic store with the protocol columns the runner records: hcp 2x2x2, three subjects,
tricubic (n/a), cyclegan and udean (misaligned, unpaired for udean), trained and tested on
several degradations, one cell with profile overrides.  Each value is a base per method plus a
shift per (train → test) pair plus a subject offset, so every mean and drop is known exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from reports.build import write_reports
from reports.degradation_shift import ShiftValue, shift_blocks, shift_summary
from reports.degradation_shift_tables import shift_latex, shift_markdown
from reports.latex import standalone_document
from reports.results_store import read_results
from reports.summary import summarise
from reports.variants import Variant, split_variants

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reports" / "reference"
SUBJECTS = ("s01", "s02", "s03")
SUBJECT_OFFSETS = {"ssim": (-0.004, 0.001, 0.006), "psnr": (-0.5, 0.1, 0.7)}
BASE = {"tricubic": (0.80, 28.0), "cyclegan": (0.88, 32.0), "udean": (0.92, 33.0)}
# (method, setting) -> the (train, test) pairs it ran, each with its (ssim, psnr) shift.
PAIRS = {
    ("tricubic", "n/a"): {("kspace", "kspace"): (0.0, 0.0), ("kspace", "kspace-noise"): (-0.05, -2.0)},
    ("cyclegan", "misaligned"): {
        ("kspace", "kspace"): (0.0, 0.0),
        ("kspace", "kspace-noise"): (-0.04, -1.5),
        ("kspace-noise", "kspace-noise"): (-0.01, -0.5),
        ("kspace", "elliptical"): (-0.03, -1.0),  # no elliptical -> elliptical: drop "–"
    },
    ("udean", "misaligned"): {
        ("kspace", "kspace"): (0.0, 0.0),
        ("kspace", "kspace-noise"): (-0.02, -0.8),
        ("kspace-noise", "kspace-noise"): (-0.005, -0.2),
        ("kspace-noise", "kspace"): (-0.015, -0.6),
    },
    ("udean", "unpaired"): {("kspace", "kspace"): (-0.01, -0.3)},
}
OVERRIDES = "epochs=2;lr=0.001"


def _value(method: str, pair: tuple[str, str], setting: str, metric: str, subject: int) -> float:
    index = 0 if metric == "ssim" else 1
    return BASE[method][index] + PAIRS[(method, setting)][pair][index] + SUBJECT_OFFSETS[metric][subject]


def _rows(overrides: str = "", methods: tuple[str, ...] = ("tricubic", "cyclegan", "udean")) -> list[dict]:
    rows = []
    for (method, setting), pairs in PAIRS.items():
        if method not in methods:
            continue
        for pair in pairs:
            seeds = (0, 1) if (method, pair) == ("udean", ("kspace", "kspace")) and setting == "misaligned" else (0,)
            for seed in seeds:
                for index, subject in enumerate(SUBJECTS):
                    rows.append(
                        {
                            "dataset": "hcp",
                            "scale": "2x2x2",
                            "setting": setting,
                            "method": method,
                            "profile": "quick",
                            "seed": seed,
                            "subject": subject,
                            "ssim": _value(method, pair, setting, "ssim", index) + 0.002 * seed,
                            "psnr": _value(method, pair, setting, "psnr", index) + 0.2 * seed,
                            "oracle": False,
                            "train_degradation": pair[0],
                            "test_degradation": pair[1],
                            "split_seed": 0,
                            "misalign_seed": 0,
                            "data_root": "",  # the demo has none: an all-empty column must not become a metric
                            "overrides": overrides,
                            "config_hash": f"{len(rows) // 3:016d}",  # all digits: must still not be a metric
                        }
                    )
    return rows


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    frame = pd.DataFrame([*_rows(), *_rows(OVERRIDES, methods=("udean",))])
    frame.to_csv(runs / "results.csv", index=False)
    return runs


@pytest.fixture
def cheap_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    import reports.error_maps as error_maps

    monkeypatch.setattr(error_maps, "error_map_figure", lambda *args: Figure(figsize=(1, 1)))


def _summary_row(summary: pd.DataFrame, method: str, setting: str, train: str, test: str, overrides: str = ""):
    chosen = summary[
        (summary["method"] == method)
        & (summary["setting"] == setting)
        & (summary["train_degradation"] == train)
        & (summary["test_degradation"] == test)
        & (summary["overrides"] == overrides)
    ]
    assert len(chosen) == 1
    return chosen.iloc[0]


# ---------------------------------------------------------------------------- reading the protocol columns


def test_protocol_columns_are_read_as_protocol_not_metrics(runs_dir: Path) -> None:
    results = read_results(runs_dir)
    assert results["split_seed"].dtype == "Int64" and results["misalign_seed"].dtype == "Int64"
    assert set(results["overrides"]) == {"", OVERRIDES}  # an empty field is "no override", not NaN
    assert set(results["data_root"]) == {""}
    assert pd.api.types.is_string_dtype(results["config_hash"]) and results["config_hash"].iloc[0] == "0" * 16
    summary = summarise(results[results["overrides"] == ""])
    assert [c for c in summary.columns if c.endswith("_mean")] == ["ssim_mean", "psnr_mean"]


def test_empty_degradation_fields_read_as_the_default(runs_dir: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    frame.loc[frame.index[:3], ["train_degradation", "test_degradation"]] = ""
    frame.to_csv(runs_dir / "results.csv", index=False)
    results = read_results(runs_dir)
    assert (results.loc[results.index[:3], "train_degradation"] == "kspace").all()


# ---------------------------------------------------------------------------- the shift table's numbers


def test_means_and_drops_match_the_definition(runs_dir: Path) -> None:
    summary = shift_summary(read_results(runs_dir))
    # udean trained on kspace, tested on kspace-noise, against udean trained and tested on kspace-noise
    row = _summary_row(summary, "udean", "misaligned", "kspace", "kspace-noise")
    for metric, index in (("ssim", 0), ("psnr", 1)):
        values = [_value("udean", ("kspace", "kspace-noise"), "misaligned", metric, i) for i in range(3)]
        matched = [_value("udean", ("kspace-noise", "kspace-noise"), "misaligned", metric, i) for i in range(3)]
        assert row[f"{metric}_mean"] == pytest.approx(np.mean(values), abs=1e-12)
        assert row[f"{metric}_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
        assert row[f"{metric}_matched"] == pytest.approx(np.mean(matched), abs=1e-12)
        expected = (
            PAIRS[("udean", "misaligned")][("kspace", "kspace-noise")][index]
            - (PAIRS[("udean", "misaligned")][("kspace-noise", "kspace-noise")][index])
        )
        assert row[f"{metric}_drop"] == pytest.approx(expected, abs=1e-12)
    # the matched case of kspace-noise -> kspace is kspace -> kspace (seeds averaged per subject first)
    row = _summary_row(summary, "udean", "misaligned", "kspace-noise", "kspace")
    matched = np.mean([_value("udean", ("kspace", "kspace"), "misaligned", "ssim", i) + 0.001 for i in range(3)])
    assert row["ssim_matched"] == pytest.approx(matched, abs=1e-12)
    assert _summary_row(summary, "udean", "misaligned", "kspace", "kspace")["n_runs"] == 2
    assert _summary_row(summary, "udean", "misaligned", "kspace", "kspace")["ssim_drop"] == 0.0
    # cyclegan never trained on elliptical: no matched case
    assert np.isnan(_summary_row(summary, "cyclegan", "misaligned", "kspace", "elliptical")["ssim_drop"])


def test_overrides_are_never_matched_across(runs_dir: Path) -> None:
    summary = shift_summary(read_results(runs_dir))
    row = _summary_row(summary, "udean", "misaligned", "kspace", "kspace-noise", OVERRIDES)
    # same numbers as without overrides, matched within the same overrides set only
    assert row["ssim_drop"] == pytest.approx(-0.015, abs=1e-12)
    assert row["n_subjects"] == 3


def test_blocks_columns_rows_and_na_rows_in_every_setting(runs_dir: Path) -> None:
    blocks = shift_blocks(shift_summary(read_results(runs_dir)))
    # no override: misaligned (shift) and unpaired (tricubic's shift is shared into it); overrides: misaligned
    assert [(b.setting, b.overrides) for b in blocks] == [
        ("unpaired", ""),
        ("misaligned", ""),
        ("misaligned", OVERRIDES),
    ]
    misaligned = blocks[1]
    assert misaligned.pairs == (  # by test degradation (kspace first), matched case first
        ("kspace", "kspace"),
        ("kspace-noise", "kspace"),
        ("kspace", "elliptical"),
        ("kspace-noise", "kspace-noise"),
        ("kspace", "kspace-noise"),
    )
    assert [row.method for row in misaligned.rows] == ["tricubic", "cyclegan", "udean"]
    assert [row.method for row in blocks[2].rows] == ["udean"]


def test_no_table_without_a_shift(runs_dir: Path) -> None:
    results = read_results(runs_dir)
    default_only = results[(results["train_degradation"] == "kspace") & (results["test_degradation"] == "kspace")]
    assert shift_blocks(shift_summary(default_only)) == []


def test_markdown_values_drops_and_dashes(runs_dir: Path) -> None:
    markdown = shift_markdown(shift_blocks(shift_summary(read_results(runs_dir))))
    sections = markdown.split("#### ")
    assert [section.splitlines()[0] for section in sections[1:]] == [
        "HCP, 2×2×2, Unpaired",
        "HCP, 2×2×2, Misaligned",
        "HCP, 2×2×2, Misaligned, overrides `epochs=2;lr=0.001`",
    ]
    misaligned = sections[2].splitlines()
    cells = [cell.strip() for cell in next(li for li in misaligned if li.startswith("| UDEAN |")).strip("|").split("|")]
    assert len(cells) == 1 + 2 * 5
    base = BASE["udean"][0] + np.mean(SUBJECT_OFFSETS["ssim"])
    ssim_kk = np.mean([_value("udean", ("kspace", "kspace"), "misaligned", "ssim", i) + 0.001 for i in range(3)])
    assert cells[1] == f"{ssim_kk:.4f}"  # the matched column: the mean alone
    assert cells[2] == f"{base - 0.015:.4f} (−0.0160)"  # kspace-noise -> kspace against the seed-averaged kspace
    assert cells[3] == "–"  # udean did not run kspace -> elliptical
    assert cells[5] == f"{base - 0.02:.4f} (−0.0150)"  # kspace -> kspace-noise: -0.02 - (-0.005)
    cyclegan = [cell.strip() for cell in next(li for li in misaligned if li.startswith("| CycleGAN |")).split("|")]
    # kspace -> elliptical, and no elliptical -> elliptical to compare with
    assert cyclegan[4] == f"{BASE['cyclegan'][0] + 0.001 - 0.03:.4f} (–)"
    tricubic = next(li for li in sections[1].splitlines() if li.startswith("| Tricubic |"))
    assert tricubic == "| Tricubic | 0.8010 | 0.7510 (–) | 28.10 | 26.10 (–) |"  # n/a rows: in the unpaired block too
    assert "SSIM, kspace → kspace-noise" in markdown and "PSNR (dB), kspace → kspace" in markdown
    assert "overrides `epochs=2;lr=0.001`" in markdown


def test_latex_is_booktabs_and_balanced(runs_dir: Path) -> None:
    tex = shift_latex(shift_blocks(shift_summary(read_results(runs_dir))))
    document = standalone_document(tex)
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\cmidrule(lr){2-6}", "\\cmidrule(lr){7-11}"):
        assert rule in tex
    depth = 0
    for token in re.findall(r"\\.|[{}]", document):
        depth += {"{": 1, "}": -1}.get(token, 0)
        assert depth >= 0
    assert depth == 0
    rows = [line for line in tex.splitlines() if line.startswith(("Tricubic", "CycleGAN", "UDEAN", "Method"))]
    assert rows and all(len(re.findall(r"(?<!\\)&", row)) == 10 for row in rows)  # method + 2 metrics × 5 pairs
    assert "kspace $\\to$ kspace-noise" in tex and "$-$0.0150" in tex
    assert "\\texttt{epochs=2;lr=0.001}" in tex


# ---------------------------------------------------------------------------- variants and the build


def test_variants_split_default_first_and_suffixes(runs_dir: Path) -> None:
    variants = [variant for variant, _ in split_variants(read_results(runs_dir))]
    assert variants[0] == Variant() and variants[0].suffix() == ""
    suffixes = {variant.suffix() for variant in variants}
    assert {"_kspace-to-kspace-noise", "_kspace-noise", "_kspace-noise-to-kspace", "_epochs-2-lr-0.001"} <= suffixes
    assert Variant("kspace", "kspace", "x=" + "9" * 60).suffix().startswith("_overrides-")
    old = read_results(runs_dir).drop(columns=["train_degradation", "test_degradation", "overrides"])
    assert [variant for variant, _ in split_variants(old)] == [Variant()]


@pytest.mark.usefixtures("cheap_figures")
def test_table_ii_reports_each_variant_apart(runs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_reports(runs_dir, out, REFERENCE_DIR)
    names = {path.name for kind in ("latex", "markdown", "csv") for path in written[kind]}
    assert {"degradation_shift.md", "degradation_shift.tex", "degradation_shift.csv"} <= names
    assert {"table2.md", "table2_kspace-to-kspace-noise.md", "table2_epochs-2-lr-0.001.md"} <= names
    assert "paper_comparison.md" in names and "paper_comparison_epochs-2-lr-0.001.md" in names
    assert not any(name.startswith("paper_comparison_kspace") for name in names)  # other degradations: no paper
    table2 = pd.read_csv(out / "table2.csv", keep_default_na=False, na_values=[""])
    # the default variant only: one row per cell, udean misaligned averaged over its two seeds, not over degradations
    assert len(table2) == 4
    assert set(table2["train_degradation"]) == {"kspace"} and set(table2["test_degradation"]) == {"kspace"}
    udean = table2[(table2["method"] == "udean") & (table2["setting"] == "misaligned")].iloc[0]
    expected = np.mean([_value("udean", ("kspace", "kspace"), "misaligned", "ssim", i) + 0.001 for i in range(3)])
    assert udean["ssim_mean"] == pytest.approx(expected, abs=1e-12)
    shifted = (out / "table2_kspace-to-kspace-noise.md").read_text()
    assert shifted.startswith("*Training LR by kspace, test LR by kspace-noise; no override.*")
    assert "Training LR by kspace, test LR by kspace-noise" in (out / "table2_kspace-to-kspace-noise.tex").read_text()
    shift_csv = pd.read_csv(out / "degradation_shift.csv", keep_default_na=False, na_values=[""])
    assert {"ssim_mean", "ssim_drop", "psnr_matched", "train_degradation", "test_degradation"} <= set(shift_csv.columns)


@pytest.mark.usefixtures("cheap_figures")
def test_old_store_and_default_only_store_write_no_shift_table(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    default = frame[(frame["train_degradation"] == "kspace") & (frame["test_degradation"] == "kspace")]
    default = default[default["overrides"] == ""]
    for name, table in (("new", default), ("old", default.drop(columns=["train_degradation", "test_degradation"]))):
        table.to_csv(runs_dir / "results.csv", index=False)
        written = write_reports(runs_dir, tmp_path / name, None)
        names = {path.name for kind in written.values() for path in kind}
        assert "table2.md" in names
        assert not any(n.startswith("degradation_shift") for n in names)
        assert not any(n.startswith("table2_") for n in names)


def test_drop_texts() -> None:
    assert ShiftValue(0.5, -1e-7, 4, matched=False).drop_text == "+0.0000"  # never "-0.0000"
    assert ShiftValue(0.5, -0.01234, 4, matched=False).drop_text == "-0.0123"
    assert ShiftValue(30.0, 0.456, 2, matched=False).drop_text == "+0.46"
    assert ShiftValue(0.5, float("nan"), 4, matched=False).drop_text == "–"
    assert ShiftValue(0.5, 0.0, 4, matched=True).drop_text == ""
