"""One schema of results.csv: the runner writes and the reports read the columns it names, with its types."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.profiles import load_profile
from benchmark.results import schema as schema
from benchmark.results.atomic_files import write_csv, write_json
from benchmark.results.cell import Cell, ProtocolOptions
from benchmark.results.cell_record import CONFIG, METRICS, mark_done
from benchmark.results.store import collect_results
from benchmark.scale import Scale
from reports.results_store import metric_columns, read_results


def _finished_cell(runs: Path, cell: Cell, metrics: pd.DataFrame) -> None:
    """A cell folder as the runner leaves it: config, metrics, DONE."""
    folder = cell.folder(runs)
    config = {**cell.config(), "oracle": False}
    write_json(folder / CONFIG, config)
    write_csv(folder / METRICS, metrics)
    mark_done(folder, config, {})


def _store(runs: Path) -> list[Cell]:
    cells = [
        Cell("demo", Scale(2, 2, 2), "n/a", "tricubic", 0, load_profile("tiny")),
        Cell(
            "demo",
            Scale(2, 2, 1),
            "unpaired",
            "udean",
            1,
            load_profile("tiny", ["batch_size=3"]),
            ProtocolOptions(None, 2, 3, "kspace-noise", "elliptical"),
        ),
    ]
    for number, cell in enumerate(cells):
        metrics = pd.DataFrame({"subject": ["007", "b"], "ssim": [0.8, 0.9], "psnr": [30.0 + number, 31.0]})
        _finished_cell(runs, cell, metrics)
    return cells


def test_the_written_table_has_the_schema_columns_in_order(tmp_path):
    runs = tmp_path / "runs"
    _store(runs)
    table = collect_results(runs).table
    assert list(table.columns) == list(schema.COLUMNS)
    on_disk = pd.read_csv(runs / schema.RESULTS_FILE, keep_default_na=False, nrows=0)
    assert list(on_disk.columns) == list(schema.COLUMNS)


def test_the_reader_types_every_column_as_the_schema_says(tmp_path):
    runs = tmp_path / "runs"
    cells = _store(runs)
    collect_results(runs)
    results = read_results(runs)
    assert list(results.columns) == list(schema.COLUMNS)
    for name in schema.INTEGER_COLUMNS:
        assert pd.api.types.is_integer_dtype(results[name]), name
    for name in set(schema.KEY_COLUMNS) - set(schema.INTEGER_COLUMNS) | set(schema.TEXT_DEFAULTS):
        assert all(isinstance(value, str) for value in results[name]), name
    assert results["subject"].tolist().count("007") == 2  # a subject is text, never the number 7
    assert results[schema.ORACLE].dtype == bool
    assert metric_columns(results) == list(schema.METRIC_COLUMNS)
    # Each row's identity is its cell's, as the cell spells it.
    for cell in cells:
        rows = results[results["method"] == cell.method]
        identity = rows[list(schema.IDENTITY_COLUMNS)].drop_duplicates()
        assert len(identity) == 1
        row = {k: (int(v) if k in schema.INTEGER_COLUMNS else v) for k, v in identity.iloc[0].items()}
        assert row == cell.columns()


def test_an_older_store_gets_the_defaults_of_the_schema(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    old = pd.DataFrame(
        {"dataset": ["hcp"], "scale": ["2x2x2"], "setting": ["n/a"], "method": ["tricubic"], "profile": ["quick"]}
    ).assign(seed=0, subject="s1", ssim=0.9, psnr=30.0, lpips=0.1)
    old.to_csv(runs / schema.RESULTS_FILE, index=False)
    results = read_results(runs)
    assert not results[schema.ORACLE].any()
    assert metric_columns(results) == ["ssim", "psnr", "lpips"]  # a further numeric column is a metric
    assert set(schema.REQUIRED_COLUMNS) <= set(results.columns)
