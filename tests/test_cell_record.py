"""One cell record: only ``benchmark/results/cell_record.py`` names the files of a cell folder, and reads them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from benchmark.app.matrix import cell_identity
from benchmark.profiles import load_profile
from benchmark.results import cell_record
from benchmark.results.cell import Cell, ProtocolOptions
from benchmark.results.cell_record import DamagedCellError, read_config, write_config
from benchmark.scale import Scale

ROOT = Path(__file__).resolve().parents[1]
CELL_FILE_NAMES = {
    cell_record.CONFIG,
    cell_record.ENVIRONMENT,
    cell_record.DONE,
    cell_record.METRICS,
    cell_record.ERROR_FILE,
    cell_record.LOG,
    cell_record.PROCESS_LOG,
    cell_record.LOSSES,
    cell_record.TIMING,
    cell_record.MODEL,
    cell_record.SLICES,
}


def test_no_other_module_spells_a_cell_file_name():
    """A literal ``"config.json"`` (or ``"DONE"``, ``"error.txt"``, …) anywhere else is a second reader or writer."""
    owner = ROOT / "benchmark" / "results" / "cell_record.py"
    spelled = []
    for package in ("benchmark", "reports", "methods", "datasets"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == owner:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and node.value in CELL_FILE_NAMES:
                    spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not spelled, "cell files named outside cell_record.py:\n" + "\n".join(spelled)


def _cell(**protocol) -> Cell:
    profile = load_profile("tiny", ["udean_lambda5=0.3", "steps_per_epoch=7"]).for_method("udean")
    return Cell("demo-small", Scale(2, 2, 1), "misaligned", "udean", 2, profile, ProtocolOptions(**protocol), "bf16")


def test_a_recorded_cell_reads_back_as_the_cell_that_wrote_it(tmp_path):
    cell = _cell(split_seed=1, misalign_seed=3, train_degradation="kspace-noise", data_root=tmp_path)
    write_config(tmp_path, cell_identity(cell), {"sub-01": {}})
    recorded = read_config(tmp_path)
    assert recorded.label() == cell.label()
    assert recorded.identity_columns() == cell.columns()
    assert recorded.profile == "tiny" and recorded.profile_values["steps_per_epoch"] == 7
    assert recorded.oracle is False and recorded.config["data_records"] == {"sub-01": {}}


def test_a_config_of_an_older_harness_means_the_default_protocol_and_fp32(tmp_path):
    old = {"dataset": "demo", "scale": "2x2x2", "setting": "unpaired", "method": "cyclegan", "seed": 0}
    (tmp_path / "config.json").write_text(json.dumps({**old, "profile": {"name": "quick"}}))
    recorded = read_config(tmp_path)
    assert recorded.protocol == ProtocolOptions() and recorded.precision == "fp32" and recorded.overrides == ""
    assert recorded.label() == "demo 2x2x2 unpaired cyclegan seed0"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "config.json is missing"),
        ("{not json", "config.json is not valid JSON"),
        ('{"dataset": "demo"}', "config.json lacks the cell's identity"),
        (
            '{"dataset": "demo", "scale": "2x2x2", "setting": "misaligned", "method": "udean", "seed": "x",'
            ' "profile": {"name": "quick"}}',
            "config.json holds values of the wrong type",
        ),
    ],
)
def test_a_damaged_config_is_named(tmp_path, text, reason):
    if text is not None:
        (tmp_path / "config.json").write_text(text)
    with pytest.raises(DamagedCellError, match=reason):
        read_config(tmp_path)
