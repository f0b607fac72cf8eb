"""Tests of the reports: summary, paired tests, LaTeX/Markdown tables, paper comparison, figures.

Everything runs on a small synthetic results store built in ``tmp_path``: datasets hcp and
demo at 2x2x2, three test subjects, methods tricubic and zssr (setting n/a), cyclegan and
udean (unpaired and misaligned) and the oracle supervised-aligned (misaligned).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import wilcoxon

from benchmark.errors import BenchError
from reports.build import write_reports
from reports.latex import escape_latex, standalone_document, table_i_latex, table_ii_latex
from reports.markdown import table_i_markdown, table_ii_markdown
from reports.paper_comparison import NO_MATCH, compare_with_paper, comparison_markdown, load_paper_tables
from reports.results_store import read_results
from reports.seed_spread import seed_spread, seed_spread_markdown
from reports.significance import MIN_SUBJECTS, attach_p_values, paired_tests
from reports.summary import summarise
from reports.table_layout import table_i_layout, table_ii_layout

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reports" / "reference"
PROFILE = "quick"
SCALE = "2x2x2"
SUBJECTS = ("s01", "s02", "s03")
OFFSETS = {"ssim": (-0.004, 0.001, 0.006), "psnr": (-0.5, 0.1, 0.7)}
ORACLES = {"supervised-aligned"}
# (dataset, setting, method) -> (ssim base, psnr base); subject offsets are added per row.
BASE = {
    ("hcp", "n/a", "tricubic"): (0.80, 28.0),
    ("hcp", "n/a", "zssr"): (0.92, 30.0),
    ("hcp", "unpaired", "cyclegan"): (0.88, 32.0),
    ("hcp", "unpaired", "udean"): (0.90, 31.0),
    ("hcp", "misaligned", "cyclegan"): (0.89, 32.5),
    ("hcp", "misaligned", "udean"): (0.93, 33.0),
    ("hcp", "misaligned", "supervised-aligned"): (0.97, 36.0),
    ("demo", "n/a", "tricubic"): (0.70, 25.0),
    ("demo", "n/a", "zssr"): (0.72, 26.0),
    ("demo", "unpaired", "cyclegan"): (0.75, 27.0),
    ("demo", "unpaired", "udean"): (0.78, 27.5),
    ("demo", "misaligned", "cyclegan"): (0.76, 28.0),
    ("demo", "misaligned", "udean"): (0.74, 27.8),
    ("demo", "misaligned", "supervised-aligned"): (0.90, 33.0),
}
# (dataset, setting, method, metric) set in bold: zssr (n/a) wins hcp's unpaired SSIM block.
EXPECTED_BOLD = {
    ("hcp", "n/a", "zssr", "ssim"),
    ("hcp", "misaligned", "udean", "ssim"),
    ("hcp", "unpaired", "cyclegan", "psnr"),
    ("hcp", "misaligned", "udean", "psnr"),
    ("demo", "unpaired", "udean", "ssim"),
    ("demo", "misaligned", "cyclegan", "ssim"),
    ("demo", "unpaired", "udean", "psnr"),
    ("demo", "misaligned", "cyclegan", "psnr"),
}
# The extra seed of one cell: each subject is averaged over both seeds.
EXTRA_SEED = ("hcp", "misaligned", "udean")
EXTRA_SEED_SHIFT = (0.002, 0.2)


def _rows(subjects: tuple[str, ...] = SUBJECTS, base: dict = BASE) -> list[dict]:
    rows = []
    for number, ((dataset, setting, method), (ssim, psnr)) in enumerate(base.items()):
        spread = 1.0 + 0.15 * number  # different spreads, so stds differ between cells
        seeds = [0, 1] if (dataset, setting, method) == EXTRA_SEED else [0]
        for seed in seeds:
            shift = EXTRA_SEED_SHIFT if seed == 1 else (0.0, 0.0)
            for index, subject in enumerate(subjects):
                rows.append(
                    {
                        "dataset": dataset,
                        "scale": SCALE,
                        "setting": setting,
                        "method": method,
                        "profile": PROFILE,
                        "seed": seed,
                        "subject": f"{dataset}-{subject}",
                        "ssim": ssim + shift[0] + spread * OFFSETS["ssim"][index % 3],
                        "psnr": psnr + shift[1] + spread * OFFSETS["psnr"][index % 3],
                        "oracle": method in ORACLES,
                    }
                )
    return rows


def _write_slices(runs_dir: Path, dataset: str, setting: str, method: str, seed: int, noise: float) -> None:
    folder = runs_dir / dataset / SCALE / ("na" if setting == "n/a" else setting) / method / PROFILE / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    grid = np.linspace(0.0, 1.0, 16, dtype=np.float32)
    hr = np.outer(grid, grid)
    lr = np.repeat(np.repeat(hr[::2, ::2], 2, axis=0), 2, axis=1)
    rng = np.random.default_rng(seed + len(method))
    sr = np.clip(hr + noise * rng.standard_normal(hr.shape), 0, 1).astype(np.float32)
    arrays = {
        f"{plane}_{kind}": image
        for plane in ("axial", "sagittal")
        for kind, image in (("hr", hr), ("lr", lr), ("sr", sr))
    }
    np.savez_compressed(folder / "slices.npz", **arrays, subject=np.array(f"{dataset}-s01"))
    config = {
        "dataset": dataset,
        "scale": SCALE,
        "setting": setting,
        "method": method,
        "profile": {"name": PROFILE},
        "seed": seed,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "DONE").write_text("{}")  # the figures show finished cells only


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A results store with results.csv and one slices.npz per cell."""
    runs = tmp_path / "runs"
    runs.mkdir()
    frame = pd.DataFrame(_rows())
    frame.to_csv(runs / "results.csv", index=False)
    cells = frame[["dataset", "setting", "method", "seed"]].drop_duplicates()
    for number, (dataset, setting, method, seed) in enumerate(cells.itertuples(index=False)):
        _write_slices(runs, dataset, setting, method, int(seed), 0.01 * (1 + number % 4))
    return runs


@pytest.fixture
def results(runs_dir: Path) -> pd.DataFrame:
    return read_results(runs_dir)


@pytest.fixture
def summary(results: pd.DataFrame) -> pd.DataFrame:
    return summarise(results)


def _many_subjects(n: int = 8) -> pd.DataFrame:
    """hcp only, n subjects with varied differences (so the Wilcoxon test is meaningful)."""
    rng = np.random.default_rng(7)
    rows = []
    for (dataset, setting, method), (ssim, psnr) in BASE.items():
        if dataset != "hcp":
            continue
        for index in range(n):
            rows.append(
                {
                    "dataset": dataset,
                    "scale": SCALE,
                    "setting": setting,
                    "method": method,
                    "profile": PROFILE,
                    "seed": 0,
                    "subject": f"s{index:02d}",
                    "ssim": ssim + 0.01 * rng.standard_normal(),
                    "psnr": psnr + 0.5 * rng.standard_normal(),
                    "oracle": method in ORACLES,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- store and summary


def test_read_results_keeps_na_setting_and_types(results: pd.DataFrame) -> None:
    assert set(results["setting"]) == {"n/a", "unpaired", "misaligned"}
    assert results["oracle"].dtype == bool
    assert results.loc[results["method"] == "supervised-aligned", "oracle"].all()
    assert not results.loc[results["method"] == "udean", "oracle"].any()
    assert results["ssim"].dtype == float


def test_summary_matches_numpy(results: pd.DataFrame, summary: pd.DataFrame) -> None:
    assert len(summary) == len(BASE)
    for (dataset, setting, method), _ in BASE.items():
        cell = results[
            (results["dataset"] == dataset) & (results["setting"] == setting) & (results["method"] == method)
        ]
        row = summary[
            (summary["dataset"] == dataset) & (summary["setting"] == setting) & (summary["method"] == method)
        ].iloc[0]
        seeds = sorted(cell["seed"].unique())
        assert row["n_seeds"] == len(seeds)
        assert row["n_subjects"] == len(SUBJECTS)
        for metric in ("ssim", "psnr"):
            per_seed = np.array([cell[cell["seed"] == s].sort_values("subject")[metric].to_numpy() for s in seeds])
            per_subject = per_seed.mean(axis=0)
            assert row[f"{metric}_mean"] == pytest.approx(np.mean(per_subject), abs=1e-12)
            assert row[f"{metric}_std"] == pytest.approx(np.std(per_subject, ddof=1), abs=1e-12)
    assert summary.loc[summary["method"] == "udean", "n_seeds"].max() == 2


def test_single_subject_std_is_nan_and_printed_as_dash(results: pd.DataFrame) -> None:
    one = results[results["subject"].str.endswith("s01")]
    summary = summarise(one)
    assert summary["ssim_std"].isna().all()
    markdown = table_ii_markdown(summary)
    assert "± –" in markdown
    assert "$\\pm$ --" in table_ii_latex(summary)


def test_later_metric_columns_are_summarised_and_text_columns_ignored(runs_dir: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    frame["lpips"] = 0.1
    frame["note"] = "synthetic"
    frame.to_csv(runs_dir / "results.csv", index=False)
    summary = summarise(read_results(runs_dir))
    assert [c for c in summary.columns if c.endswith("_mean")] == ["ssim_mean", "psnr_mean", "lpips_mean"]
    assert "SSIM" in table_ii_markdown(summary) and "LPIPS" not in table_ii_markdown(summary)


def test_missing_or_empty_results_raise_bench_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"no results in .*; run `bench run` first\."):
        read_results(tmp_path)
    (tmp_path / "results.csv").write_text("")
    with pytest.raises(BenchError, match="run `bench run` first"):
        read_results(tmp_path)
    (tmp_path / "results.csv").write_text("dataset,scale,setting,method,profile,seed,subject,ssim,psnr,oracle\n")
    with pytest.raises(BenchError, match="run `bench run` first"):
        write_reports(tmp_path, tmp_path / "out", None)


# ---------------------------------------------------------------------------- bold, daggers, stars


def _bold_cells(summary: pd.DataFrame, p_values: pd.DataFrame | None = None) -> set[tuple[str, str, str, str]]:
    cells = set()
    for group in table_ii_layout(summary, p_values):
        for row in group.rows:
            cells |= {(row.dataset, row.setting, row.method, m) for m, c in row.cells.items() if c.bold}
    return cells


def test_best_per_block_is_bold_exactly_where_expected(summary: pd.DataFrame) -> None:
    assert _bold_cells(summary) == EXPECTED_BOLD


def test_na_rows_listed_once_at_top_and_oracle_last(summary: pd.DataFrame) -> None:
    groups = table_ii_layout(summary)
    assert [(g.dataset, g.scale) for g in groups] == [("hcp", SCALE), ("demo", SCALE)]
    order = [(row.setting, row.method) for row in groups[0].rows]
    assert order == [
        ("n/a", "tricubic"),
        ("n/a", "zssr"),
        ("unpaired", "cyclegan"),
        ("unpaired", "udean"),
        ("misaligned", "cyclegan"),
        ("misaligned", "udean"),
        ("misaligned", "supervised-aligned"),
    ]


def test_ties_as_printed_are_all_bold(summary: pd.DataFrame) -> None:
    tied = summary.copy()
    chosen = (tied["dataset"] == "hcp") & (tied["setting"] == "misaligned") & (tied["method"] == "cyclegan")
    udean = (tied["dataset"] == "hcp") & (tied["setting"] == "misaligned") & (tied["method"] == "udean")
    tied.loc[udean, "psnr_mean"] = 33.001
    tied.loc[chosen, "psnr_mean"] = 33.004  # both print as 33.00
    bold = _bold_cells(tied)
    assert ("hcp", "misaligned", "cyclegan", "psnr") in bold
    assert ("hcp", "misaligned", "udean", "psnr") in bold


# ---------------------------------------------------------------------------- LaTeX


def _data_rows(tex: str) -> list[str]:
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    return [line for line in body.splitlines() if line.endswith("\\\\")]


def _braces_balanced(tex: str) -> bool:
    depth = 0
    for match in re.finditer(r"\\.|[{}]", tex):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _unescaped_ampersands(line: str) -> int:
    return len(re.findall(r"(?<!\\)&", line))


def test_latex_table_ii_structure(summary: pd.DataFrame) -> None:
    tex = table_ii_latex(summary)
    document = standalone_document(tex)
    assert document.startswith("\\documentclass[border=4pt]{standalone}")
    for package in ("booktabs", "multirow"):
        assert f"\\usepackage{{{package}}}" in document
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in tex
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    assert _braces_balanced(document)
    assert document.count("\\begin{") == document.count("\\end{")
    rows = _data_rows(tex)
    assert len(rows) == len(BASE)  # one row per (dataset, setting, method) cell
    assert all(_unescaped_ampersands(row) == 5 for row in rows)
    names = [row.split(" & ")[2] for row in rows]
    assert names.count("Tricubic") == 2 and names.count("ZSSR") == 2
    assert names.count("UDEAN") == 4 and names.count("CycleGAN") == 4
    assert names.count("Supervised (aligned, oracle)$^{\\dagger}$") == 2
    assert "\\multirow{7}{*}{HCP}" in tex and "\\multirow{7}{*}{$2 \\times 2 \\times 2$}" in tex
    assert "ddof = 1" in tex


def test_latex_bold_cells_match_layout(summary: pd.DataFrame) -> None:
    rows = _data_rows(table_ii_latex(summary))
    bold = set()
    dataset = None
    for row in rows:
        cells = row.removesuffix("\\\\").split(" & ")
        if "HCP" in cells[0] or "Demo" in cells[0]:
            dataset = "hcp" if "HCP" in cells[0] else "demo"
        method = {"Tricubic": "tricubic", "ZSSR": "zssr", "CycleGAN": "cyclegan", "UDEAN": "udean"}.get(
            cells[2], "supervised-aligned"
        )
        setting = {"N/A": "n/a", "Unpaired": "unpaired", "Misaligned": "misaligned"}[cells[3]]
        for metric, cell in zip(("ssim", "psnr"), cells[4:]):
            if "\\textbf" in cell:
                bold.add((dataset, setting, method, metric))
    assert bold == EXPECTED_BOLD
    assert re.search(r"\\textbf\{0\.\d{4} \$\\pm\$ 0\.\d{4}\}", "\n".join(rows))


def test_latex_escapes_specials_in_names(summary: pd.DataFrame) -> None:
    assert escape_latex("my_method & 50% #1") == r"my\_method \& 50\% \#1"
    renamed = table_ii_latex(summary, display_names={"udean": "UDEAN_v2 {ours}"})
    assert r"UDEAN\_v2 \{ours\}" in renamed
    assert _braces_balanced(renamed)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(summary: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "table2.tex"
    source.write_text(standalone_document(table_ii_latex(summary)))
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "table2.pdf").is_file()


# ---------------------------------------------------------------------------- Markdown


def test_markdown_bold_in_the_right_rows(summary: pd.DataFrame) -> None:
    markdown = table_ii_markdown(summary)
    lines = [line for line in markdown.splitlines() if line.startswith("| ")][1:]  # skip the header
    lines = [line for line in lines if not line.startswith("| :")]
    assert len(lines) == len(BASE)
    bold = set()
    dataset = None
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        dataset = {"HCP": "hcp", "Demo": "demo"}.get(cells[0], dataset)
        method = {"Tricubic": "tricubic", "ZSSR": "zssr", "CycleGAN": "cyclegan", "UDEAN": "udean"}.get(
            cells[2], "supervised-aligned"
        )
        setting = {"N/A": "n/a", "Unpaired": "unpaired", "Misaligned": "misaligned"}[cells[3]]
        if method == "supervised-aligned":
            assert cells[2] == "Supervised (aligned, oracle)†"
        for metric, cell in zip(("ssim", "psnr"), cells[4:]):
            if cell.startswith("**"):
                bold.add((dataset, setting, method, metric))
    assert bold == EXPECTED_BOLD
    assert "ddof = 1" in markdown


# ---------------------------------------------------------------------------- paired tests


def test_wilcoxon_p_values_equal_scipy() -> None:
    frame = _many_subjects(8)
    p_values = paired_tests(frame)
    subjects = frame.sort_values("subject")
    for _, row in p_values.iterrows():
        reference = subjects[(subjects["method"] == "udean") & (subjects["setting"] == row["setting"])]
        other = subjects[(subjects["method"] == row["method"]) & (subjects["setting"] == row["method_setting"])]
        for metric in ("ssim", "psnr"):
            expected = wilcoxon(reference[metric].to_numpy(), other[metric].to_numpy()).pvalue
            assert row[f"p_{metric}"] == pytest.approx(expected, rel=1e-12)
    # tricubic and zssr (n/a) are compared with UDEAN of both settings.
    compared = p_values[p_values["method"] == "zssr"]
    assert set(compared["setting"]) == {"unpaired", "misaligned"}
    assert set(compared["method_setting"]) == {"n/a"}
    assert (p_values["n_pairs"] == 8).all()


def test_too_few_subjects_give_nan(results: pd.DataFrame) -> None:
    assert len(SUBJECTS) < MIN_SUBJECTS
    p_values = paired_tests(results)
    assert not p_values.empty
    assert p_values[["p_ssim", "p_psnr"]].isna().all().all()
    markdown = table_ii_markdown(summarise(results), p_values)
    assert f"at least {MIN_SUBJECTS} test subjects" in markdown
    assert "\\*" not in markdown.split("\n\n")[1]  # no star in the table itself


def test_stars_mark_significant_baselines() -> None:
    frame = _many_subjects(12)
    unpaired = frame["setting"] == "unpaired"
    udean_ssim = frame.loc[(frame["method"] == "udean") & unpaired, "ssim"].to_numpy()
    # CycleGAN unpaired is worse than UDEAN on every subject, by varied amounts: p = 2 / 2^12,
    # small enough to stay below 0.05 after Holm's correction across the table's 14 comparisons.
    frame.loc[(frame["method"] == "cyclegan") & unpaired, "ssim"] = udean_ssim - 0.05 - np.linspace(0, 0.01, 12)
    p_values = paired_tests(frame)
    summary = summarise(frame)
    table = attach_p_values(summary, p_values)
    assert table["p_ssim"].notna().sum() == len(summary) - 2  # every row but the two UDEAN rows
    starred = {
        (row.setting, row.method)
        for group in table_ii_layout(summary, p_values)
        for row in group.rows
        if row.cells["ssim"].significant
    }
    unpaired_p = p_values[(p_values["method"] == "cyclegan") & (p_values["setting"] == "unpaired")]["p_ssim"].iloc[0]
    assert unpaired_p < 0.05
    assert table.loc[(table["method"] == "cyclegan") & (table["setting"] == "unpaired"), "p_holm_ssim"].iloc[0] < 0.05
    assert ("unpaired", "cyclegan") in starred
    assert not any(method == "udean" for _, method in starred)
    tex = table_ii_latex(summary, p_values)
    assert "$^{*}$" in tex and "Wilcoxon" in tex
    assert "\\*" in table_ii_markdown(summary, p_values)


def test_na_row_p_value_is_the_largest_over_blocks() -> None:
    frame = _many_subjects(8)
    p_values = paired_tests(frame)
    table = attach_p_values(summarise(frame), p_values)
    expected = p_values[p_values["method"] == "tricubic"]["p_psnr"].max()
    assert table[table["method"] == "tricubic"]["p_psnr"].iloc[0] == expected


# ---------------------------------------------------------------------------- Table I


def _ablation_summary(methods: list[str]) -> pd.DataFrame:
    values = {
        "supervised": (0.8939, 32.79),
        "supervised-rigid": (0.9025, 32.78),
        "udean-feature-da": (0.9162, 33.52),
        "udean-image-da": (0.9229, 33.56),
        "udean": (0.9247, 34.27),
    }
    rows = [
        {
            "dataset": "hcp",
            "scale": SCALE,
            "setting": "misaligned",
            "method": m,
            "profile": PROFILE,
            "oracle": False,
            "n_subjects": 3,
            "n_seeds": 1,
            "ssim_mean": values[m][0],
            "ssim_std": 0.01,
            "psnr_mean": values[m][1],
            "psnr_std": 1.5,
        }
        for m in methods
    ]
    return pd.DataFrame(rows)


def test_table_i_layout_and_skip() -> None:
    summary = _ablation_summary(["udean", "supervised", "udean-image-da"])
    columns = table_i_layout(summary)
    assert [c.method for c in columns] == ["supervised", "udean-image-da", "udean"]
    assert [c.cells["ssim"].bold for c in columns] == [False, False, True]
    tex = table_i_latex(summary)
    assert tex is not None and _braces_balanced(standalone_document(tex))
    assert tex.splitlines()[2].count("&") == 3  # one column per configuration
    assert "\\textbf{0.9247 $\\pm$ 0.0100}" in tex
    markdown = table_i_markdown(summary)
    assert "**0.9247 ± 0.0100**" in markdown and "UDEAN (image-space DA)" in markdown
    assert table_i_latex(_ablation_summary(["udean"])) is None
    assert table_i_markdown(_ablation_summary(["udean"])) is None
    assert table_i_layout(summary, dataset="brats") is None


# ---------------------------------------------------------------------------- paper comparison


def test_paper_comparison_matches_paper_numbers(summary: pd.DataFrame) -> None:
    paper = load_paper_tables(REFERENCE_DIR)
    comparison = compare_with_paper(summary, paper)
    published = pd.read_csv(REFERENCE_DIR / "paper_table2.csv", keep_default_na=False)
    ours = summary[(summary["dataset"] == "hcp") & (summary["method"] != "supervised-aligned")]
    assert len(comparison) == len(ours)  # every hcp cell but the oracle has a published row
    assert set(comparison["dataset"]) == {"hcp"}
    for _, row in comparison.iterrows():
        source = published[
            (published["dataset"] == row["dataset"])
            & (published["scale"] == row["scale"])
            & (published["setting"] == row["setting"])
            & (published["method"] == row["method"])
        ]
        assert len(source) == 1
        for metric in ("ssim", "psnr"):
            assert row[f"{metric}_paper_mean"] == pytest.approx(source[f"{metric}_mean"].iloc[0])
            assert row[f"{metric}_paper_std"] == pytest.approx(source[f"{metric}_std"].iloc[0])
            assert row[f"{metric}_diff"] == pytest.approx(row[f"{metric}_ours_mean"] - row[f"{metric}_paper_mean"])
    markdown = comparison_markdown(comparison)
    assert "0.8981 ± 0.0106" in markdown  # the paper's tricubic SSIM on hcp 2x2x2


def test_paper_comparison_maps_table_i_configurations() -> None:
    paper = load_paper_tables(REFERENCE_DIR)
    comparison = compare_with_paper(_ablation_summary(["supervised", "udean-image-da", "udean"]), paper)
    by_method = comparison.set_index("method")
    assert by_method.loc["supervised", "ssim_paper_mean"] == pytest.approx(0.8939)
    assert by_method.loc["udean-image-da", "psnr_paper_mean"] == pytest.approx(33.5642)
    assert by_method.loc["udean", "paper_table"] == "II"  # the same numbers are in both tables


def test_paper_comparison_empty_for_demo(summary: pd.DataFrame) -> None:
    comparison = compare_with_paper(summary[summary["dataset"] == "demo"], load_paper_tables(REFERENCE_DIR))
    assert comparison.empty
    assert "ssim_paper_mean" in comparison.columns
    markdown = comparison_markdown(comparison)
    assert NO_MATCH in markdown
    assert "no cell matches a published row (the paper reports hcp and brats only)" in markdown


# ---------------------------------------------------------------------------- build and figures


@pytest.fixture
def cheap_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the error-map drawing by an empty figure, for tests about file names only."""
    import reports.error_maps as error_maps

    monkeypatch.setattr(error_maps, "error_map_figure", lambda *args: Figure(figsize=(1, 1)))


def test_write_reports_writes_everything(runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reports.error_maps as error_maps

    columns: list[list[str]] = []
    draw = error_maps.error_map_figure

    def spy(hr: np.ndarray, lr: np.ndarray, methods: list, title: str) -> Figure:
        columns.append([name for name, _, _ in methods])
        return draw(hr, lr, methods, title)

    monkeypatch.setattr(error_maps, "error_map_figure", spy)
    out = tmp_path / "out"
    written = write_reports(runs_dir, out, REFERENCE_DIR)
    assert set(written) == {"latex", "markdown", "csv", "figures", "html"}
    assert [path.name for path in written["html"]] == ["report.html"]
    names = {path.name for kind in written.values() for path in kind}
    for name in (
        "table2.tex",
        "table2.md",
        "table2.csv",
        "paired_tests.csv",
        "paper_comparison.csv",
        "paper_comparison.md",
    ):
        assert name in names
        assert (out / name).is_file()
    assert not any(name.startswith("table1") for name in names)  # no ablation configuration ran
    table2 = pd.read_csv(out / "table2.csv", keep_default_na=False, na_values=[""])
    assert {"ssim_mean", "ssim_std", "psnr_mean", "psnr_std", "n_subjects", "n_seeds", "p_ssim", "p_psnr"} <= set(
        table2.columns
    )
    assert len(table2) == len(BASE)
    # figures: 2 datasets × 2 settings × 2 planes, PNG and PDF each
    figures = written["figures"]
    assert len(figures) == 16
    assert {p.suffix for p in figures} == {".png", ".pdf"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in figures)
    assert (out / "figures" / "error_map_hcp_2x2x2_unpaired_axial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figures" / "error_map_hcp_2x2x2_misaligned_sagittal.pdf").read_bytes()[:4] == b"%PDF"
    # tricubic and ZSSR (n/a) appear in every setting's figure; the oracle carries a dagger
    assert ["Tricubic", "ZSSR", "CycleGAN", "UDEAN"] in columns
    assert ["Tricubic", "ZSSR", "CycleGAN", "UDEAN", "Supervised (aligned, oracle)†"] in columns
    assert len(columns) == 8


@pytest.mark.usefixtures("cheap_figures")
def test_several_profiles_get_suffixes(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    frame = pd.concat([frame, frame.assign(profile="paper")], ignore_index=True)
    frame.to_csv(runs_dir / "results.csv", index=False)
    written = write_reports(runs_dir, tmp_path / "out", None)
    names = {path.name for path in written["latex"]}
    assert names == {"table2_quick.tex", "table2_paper.tex"}
    assert not any("paper_comparison" in path.name for path in written["csv"])
    figures = {path.name for path in written["figures"]}
    assert "error_map_hcp_2x2x2_unpaired_axial_quick.png" in figures
    assert not any(name.endswith("_paper.png") for name in figures)  # slices exist for "quick" only
    only = write_reports(runs_dir, tmp_path / "only", None, profile="paper")
    assert {path.name for path in only["latex"]} == {"table2.tex"}
    assert only["figures"] == []  # the synthetic store has slices for "quick" only
    with pytest.raises(BenchError, match="no results for profile 'tiny'"):
        write_reports(runs_dir, tmp_path / "none", None, profile="tiny")


@pytest.mark.usefixtures("cheap_figures")
def test_table_i_written_when_ablation_ran(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    extra = frame[(frame["method"] == "udean") & (frame["dataset"] == "hcp") & (frame["seed"] == 0)]
    extra = extra[extra["setting"] == "misaligned"].assign(method="udean-image-da", ssim=lambda f: f["ssim"] - 0.01)
    pd.concat([frame, extra], ignore_index=True).to_csv(runs_dir / "results.csv", index=False)
    written = write_reports(runs_dir, tmp_path / "out", REFERENCE_DIR)
    names = {path.name for kind in ("latex", "markdown", "csv") for path in written[kind]}
    assert {"table1.tex", "table1.md", "table1.csv"} <= names
    assert "\\documentclass[border=4pt]{standalone}" in (tmp_path / "out" / "table1.tex").read_text()


def test_error_map_panels_wrap_into_even_bands() -> None:
    from reports.error_maps import band_columns, error_map_figure

    assert [list(b) for b in band_columns(5, 8)] == [[0, 1, 2, 3, 4]]
    assert [len(b) for b in band_columns(15, 8)] == [8, 7]
    assert [len(b) for b in band_columns(17, 8)] == [6, 6, 5]
    assert [i for b in band_columns(17, 8) for i in b] == list(range(17))

    rng = np.random.default_rng(0)
    hr = rng.random((12, 10))
    methods = [(f"m{i}", rng.random((12, 10)), hr) for i in range(13)]
    figure = error_map_figure(hr, hr, methods, "title")
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["HR", "LR", *(f"m{i}" for i in range(13))]
    image_axes = [ax for ax in figure.axes if ax.images]
    assert len(image_axes) == 15 + 14  # 15 images, 14 error maps (none under HR)
    colorbars = [ax for ax in figure.axes if ax.get_ylabel().startswith("|SR − HR|")]
    assert len(colorbars) == 2  # one per band, one shared scale


# ---------------------------------------------------------------------------- protocol variants


def _with_protocol_columns(frame: pd.DataFrame, train: str = "kspace", test: str = "kspace", overrides: str = ""):
    """The columns the runner records since degradations and overrides are options."""
    return frame.assign(
        train_degradation=train,
        test_degradation=test,
        split_seed=0,
        misalign_seed=0,
        overrides=overrides,
        config_hash="0123456789012345",  # all digits: must not become a metric
    )


@pytest.mark.usefixtures("cheap_figures")
def test_table_ii_never_averages_over_degradations_or_overrides(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False)
    default = _with_protocol_columns(frame)
    noisy = _with_protocol_columns(frame, test="kspace-noise").assign(ssim=lambda f: f["ssim"] - 0.2)
    shorter = _with_protocol_columns(frame, overrides="epochs=2").assign(psnr=lambda f: f["psnr"] - 5.0)
    pd.concat([default, noisy, shorter], ignore_index=True).to_csv(runs_dir / "results.csv", index=False)
    out = tmp_path / "out"
    write_reports(runs_dir, out, REFERENCE_DIR)
    expected = summarise(read_results(runs_dir).query("test_degradation == 'kspace' and overrides == ''"))
    table2 = pd.read_csv(out / "table2.csv", keep_default_na=False, na_values=[""])
    assert len(table2) == len(BASE)  # one row per cell, not one per cell and variant
    assert not any(column.startswith(("split_seed", "misalign_seed", "config_hash")) for column in table2.columns)
    merged = table2.merge(expected, on=["dataset", "scale", "setting", "method", "profile"], suffixes=("", "_expected"))
    assert len(merged) == len(BASE)
    np.testing.assert_allclose(merged["ssim_mean"], merged["ssim_mean_expected"], atol=1e-12)
    np.testing.assert_allclose(merged["psnr_mean"], merged["psnr_mean_expected"], atol=1e-12)
    noisy_table = pd.read_csv(out / "table2_kspace-to-kspace-noise.csv", keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(noisy_table["ssim_mean"], merged["ssim_mean"] - 0.2, atol=1e-12)
    assert (out / "table2_epochs-2.md").read_text().startswith("*Training LR by kspace, test LR by kspace; overrides")
    assert (out / "paper_comparison_epochs-2.csv").is_file()
    assert not (out / "paper_comparison_kspace-to-kspace-noise.csv").exists()
    assert (out / "degradation_shift.md").is_file()  # udean and the others ran kspace -> kspace and -> kspace-noise


# ---------------------------------------------------------------------------- seeds next to subjects
def test_seed_spread_is_the_spread_of_per_seed_means(results: pd.DataFrame) -> None:
    table = seed_spread(results).set_index(["dataset", "setting", "method"])
    row = table.loc[EXTRA_SEED]
    cell = results[
        (results["dataset"] == EXTRA_SEED[0])
        & (results["setting"] == EXTRA_SEED[1])
        & (results["method"] == EXTRA_SEED[2])
    ]
    per_seed = cell.groupby("seed")["psnr"].mean()
    assert row["n_seeds"] == 2
    assert row["psnr_mean"] == pytest.approx(per_seed.mean())
    assert row["psnr_seed_std"] == pytest.approx(np.std(per_seed.to_numpy(), ddof=1))
    assert row["psnr_seed_std"] == pytest.approx(EXTRA_SEED_SHIFT[1] / np.sqrt(2))
    per_subject = cell.groupby("subject")["psnr"].mean()
    assert row["psnr_subject_std"] == pytest.approx(np.std(per_subject.to_numpy(), ddof=1))
    single = table.loc[("hcp", "unpaired", "udean")]
    assert single["n_seeds"] == 1 and np.isnan(single["psnr_seed_std"])
    text = seed_spread_markdown(seed_spread(results))
    assert f"| UDEAN | 2 | 3 | {row['psnr_mean']:.2f} ± {row['psnr_seed_std']:.2f} |" in text
    assert f"| UDEAN | 1 | 3 | {single['psnr_mean']:.2f} ± – |" in text


def test_bench_report_writes_the_seed_table_when_a_cell_has_seeds(runs_dir: Path, tmp_path: Path) -> None:
    written = write_reports(runs_dir, tmp_path / "report", None)
    names = {path.name for paths in written.values() for path in paths}
    assert {"seeds.md", "seeds.csv"} <= names
    assert len(pd.read_csv(tmp_path / "report" / "seeds.csv")) == len(BASE)


def test_a_brain_table_follows_table_ii_where_cells_have_brain_metrics(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False, na_values=[""])
    with_masks = frame["dataset"] == frame["dataset"].iloc[0]  # one dataset has masks, the others do not
    frame["psnr_brain"] = np.where(with_masks, frame["psnr"] - 1.0, np.nan)
    frame["ssim_brain"] = np.where(with_masks, frame["ssim"] - 0.01, np.nan)
    frame.to_csv(runs_dir / "results.csv", index=False)
    out = tmp_path / "out"
    write_reports(runs_dir, out, REFERENCE_DIR)
    brain = pd.read_csv(out / "table2_brain.csv", keep_default_na=False, na_values=[""])
    table2 = pd.read_csv(out / "table2.csv", keep_default_na=False, na_values=[""])
    assert set(brain["dataset"]) == {frame["dataset"].iloc[0]} and len(brain) < len(table2)
    merged = brain.merge(table2, on=["dataset", "scale", "setting", "method"], suffixes=("", "_all"))
    assert np.allclose(merged["psnr_brain_mean"], merged["psnr_mean"] - 1.0)
    assert "PSNR in the brain (dB)" in (out / "table2_brain.md").read_text()
    assert "Inside the brain mask" in (out / "table2_brain.tex").read_text()
    # Table II itself is unchanged: the paper's metrics only.
    assert "brain" not in (out / "table2.md").read_text()


def test_no_brain_table_without_brain_metrics(runs_dir: Path, tmp_path: Path) -> None:
    write_reports(runs_dir, tmp_path / "out", REFERENCE_DIR)
    assert not (tmp_path / "out" / "table2_brain.md").exists()


def test_the_downstream_tables_show_dice_and_volume_error_best_closest_to_zero(runs_dir: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(runs_dir / "results.csv", keep_default_na=False, na_values=[""])
    rng = np.random.default_rng(0)
    for tissue in ("gm", "wm", "csf"):
        frame[f"dice_{tissue}"] = rng.uniform(0.6, 0.9, len(frame))
        frame[f"volume_error_{tissue}"] = rng.uniform(-10, 10, len(frame))
        frame[f"dice_{tissue}_true"] = rng.uniform(0.5, 0.8, len(frame))
        frame[f"hr_dice_{tissue}_true"] = 0.8
    frame.to_csv(runs_dir / "results.csv", index=False)
    out = tmp_path / "out"
    write_reports(runs_dir, out, REFERENCE_DIR)
    downstream = pd.read_csv(out / "downstream.csv", keep_default_na=False, na_values=[""])
    assert len(downstream) == len(pd.read_csv(out / "table2.csv"))
    markdown = (out / "downstream.md").read_text()
    assert "Dice WM" in markdown and "WM volume error (%)" in markdown
    # Bold marks the volume error closest to 0 within each block, not the largest.
    layout = table_ii_layout(summarise(frame), None, ("volume_error_wm",))
    for group in layout:
        bold = [row.cells["volume_error_wm"].printed_mean for row in group.rows if row.cells["volume_error_wm"].bold]
        plain = [row.cells["volume_error_wm"].printed_mean for row in group.rows if not row.oracle]
        assert bold and min(abs(v) for v in bold) == min(abs(v) for v in plain)
    truth = (out / "downstream_truth.md").read_text()
    assert "Dice GM vs truth" in truth and "own segmentation scores GM 0.800, WM 0.800, CSF 0.800" in truth
