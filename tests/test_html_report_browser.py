"""``report.html`` of a tiny demo-small run, opened in a real browser (Debian's headless Chromium).

``make test`` installs Chromium and its driver (``tests/install_browser.sh``) and selenium (dev
extra). Without them the test fails in one sentence naming them: it never skips.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from benchmark.errors import BenchError
from reports.browser_check import check_page, headless_chromium
from reports.cell_provenance import cell_provenance
from reports.markdown_blocks import markdown_blocks
from tests.test_cli import bench

METHODS = "tricubic,zero-fill,supervised"


def _run(monkeypatch, capsys, runs: Path, out: Path) -> None:
    args = ["--dataset", "demo-small", "--profile", "tiny", "--setting", "misaligned", "--runs-dir", str(runs)]
    code, stdout, stderr = bench(monkeypatch, capsys, "run", "--methods", METHODS, *args, "--downstream")
    assert code == 0, stdout + stderr
    code, stdout, stderr = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs), "--out", str(out))
    assert code == 0, stdout + stderr


def test_the_report_page_loads_in_chromium_without_errors(tmp_path, monkeypatch, capsys):
    runs, out = tmp_path / "runs", tmp_path / "report"
    _run(monkeypatch, capsys, runs, out)
    page = out / "report.html"
    assert page.is_file()
    try:
        browser = headless_chromium()
        driver = browser.__enter__()
    except BenchError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        seen = check_page(driver, page)
        assert seen.console_errors == []
        # Every figure of the report folder is on the page, and each one loaded.
        figures = sorted((out / "figures").glob("*.png"))
        assert figures and seen.images == len(figures)
        assert seen.broken_images == []
        # Every table the report wrote in Markdown is on the page, and so is the cells' provenance.
        expected = [
            path.stem
            for path in sorted(out.glob("*.md"))
            for block in markdown_blocks(path.read_text())
            if block.table is not None
        ]
        assert {"table2", "table2_brain", "downstream", "downstream_truth", "convergence"} <= set(expected)
        assert sorted(
            name for name in seen.tables if name not in ("cells",) and not name.startswith("paper")
        ) == sorted(expected)
        assert "cells" in seen.tables and "paper Table II" in seen.tables
        # A click on a header sorts its column; a click on a figure enlarges it.
        column = driver.execute_script(
            "const table = document.querySelector('table[data-name=\"cells\"]');"
            "table.querySelector('th').click();"
            "return Array.from(table.tBodies[0].rows, row => row.cells[0].dataset.sort);"
        )
        assert column == sorted(column)
        opened = driver.execute_script(
            "document.querySelector('img[data-enlarge]').click(); return document.getElementById('enlarged').open;"
        )
        assert opened is True
    finally:
        browser.__exit__(None, None, None)


def test_each_cells_command_rebuilds_exactly_that_cell(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    args = ["--dataset", "demo-small", "--profile", "tiny", "--setting", "misaligned", "--runs-dir", str(runs)]
    code, stdout, stderr = bench(monkeypatch, capsys, "run", "--methods", "tricubic,zero-fill", *args)
    assert code == 0, stdout + stderr
    provenance = cell_provenance(runs)
    assert len(provenance) == 2 and (provenance["commit"] != "").all()
    for command, label in zip(provenance["command"], provenance["cell"]):
        words = shlex.split(command)
        assert words[:2] == ["bench", "run"]
        code, stdout, stderr = bench(monkeypatch, capsys, *words[1:], "--runs-dir", str(runs), "--list-cells")
        assert code == 0, stderr
        assert label in " ".join(stdout.split()), stdout
