"""`bench report` reads the paper's tables as package data of ``reports``, wherever it is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reports.paper_comparison import load_paper_tables, packaged_reference

ROOT = Path(__file__).resolve().parents[1]
MARKER_SSIM = 0.1234


def _results(runs: Path) -> None:
    """A results store with one cell that the paper's Table II holds (tricubic, hcp 2x2x2)."""
    runs.mkdir()
    rows = [
        {
            "dataset": "hcp",
            "scale": "2x2x2",
            "setting": "n/a",
            "method": "tricubic",
            "profile": "quick",
            "seed": 0,
            "subject": f"s{index}",
            "ssim": 0.80 + 0.01 * index,
            "psnr": 28.0 + index,
            "oracle": False,
        }
        for index in range(3)
    ]
    pd.DataFrame(rows).to_csv(runs / "results.csv", index=False)


def test_packaged_reference_holds_both_tables():
    paper = load_paper_tables(packaged_reference())
    assert set(paper["paper_table"]) == {"I", "II"}
    assert ((paper["method"] == "tricubic") & (paper["dataset"] == "hcp")).any()


@pytest.mark.slow  # a subprocess
def test_bench_report_reads_the_tables_of_the_reports_package_it_imports(tmp_path):
    # A copy of the reports package elsewhere (as in site-packages), whose Table II differs.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "reports", site / "reports", ignore=shutil.ignore_patterns("__pycache__"))
    table2 = site / "reports" / "reference" / "paper_table2.csv"
    paper = pd.read_csv(table2, keep_default_na=False, dtype={"scale": str})
    row = (paper["dataset"] == "hcp") & (paper["scale"] == "2x2x2") & (paper["method"] == "tricubic")
    assert row.sum() == 1
    paper.loc[row, "ssim_mean"] = MARKER_SSIM
    paper.to_csv(table2, index=False)
    runs = tmp_path / "runs"
    _results(runs)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import reports\n"
        f"assert reports.__file__.startswith({str(site)!r}), reports.__file__\n"
        "from benchmark.app.cli import main\n"
        f"sys.argv = ['bench', 'report', '--runs-dir', {str(runs)!r}]\n"
        "main()\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert finished.returncode == 0, finished.stderr
    comparison = pd.read_csv(runs / "report" / "paper_comparison.csv", keep_default_na=False)
    assert comparison["ssim_paper_mean"].tolist() == [MARKER_SSIM]
