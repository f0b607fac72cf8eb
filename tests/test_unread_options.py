"""Cells that cannot change: a cell's identity holds only what its method reads.

Tricubic and zero-fill read neither the training data nor the seed; ZSSR reads no training data
(it trains on each test volume); a cell outside the misaligned setting never moves a volume.
Before, each of these was rerun for every ``--train-degradation``, ``--misalign-seed`` and (for
the first two) ``--seed``, giving the same numbers again under another name.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.app.matrix import build_matrix
from benchmark.app.method_contract import NotApplicable, check_declared_inputs
from benchmark.profiles import load_profile
from benchmark.results.cell import ProtocolOptions
from benchmark.results.schema import UNREAD_DEGRADATION
from benchmark.scale import Scale
from reports.degradation_shift import shift_blocks, shift_summary
from reports.results_store import read_results
from reports.shared_cells import place_shared_cells
from reports.variants import split_variants
from tests.test_cli import bench, write_folder_dataset


def _matrix(methods: list[str], settings: list[str], protocol: ProtocolOptions):
    return build_matrix(methods, ["demo"], [Scale(2, 2, 2)], settings, [0, 1, 2], load_profile("tiny"), protocol)


def test_matrix_drops_what_a_method_cannot_read() -> None:
    protocol = ProtocolOptions(None, 1, 5, "kspace-noise", "elliptical")
    cells = _matrix(["tricubic", "zero-fill", "zssr", "udean"], ["misaligned", "unpaired"], protocol)
    by_method: dict[str, list] = {}
    for cell in cells:
        by_method.setdefault(cell.method, []).append(cell)
    for method in ("tricubic", "zero-fill"):  # no seed, no training data: one cell
        (cell,) = by_method[method]
        assert cell.seed == 0 and cell.setting == "n/a"
        assert (cell.protocol.train_degradation, cell.protocol.misalign_seed) == (UNREAD_DEGRADATION, 0)
        assert (cell.protocol.test_degradation, cell.protocol.split_seed) == ("elliptical", 1)  # read: kept
        assert cell.variant() == "na_to_elliptical_split1_mis0"
    zssr = by_method["zssr"]  # trains on each test volume: its seed is read, the training data is not
    assert [c.seed for c in zssr] == [0, 1, 2]
    assert {(c.protocol.train_degradation, c.protocol.misalign_seed) for c in zssr} == {(UNREAD_DEGRADATION, 0)}
    misaligned = [c for c in by_method["udean"] if c.setting == "misaligned"]
    unpaired = [c for c in by_method["udean"] if c.setting == "unpaired"]
    assert {(c.protocol.train_degradation, c.protocol.misalign_seed) for c in misaligned} == {("kspace-noise", 5)}
    assert {(c.protocol.train_degradation, c.protocol.misalign_seed) for c in unpaired} == {("kspace-noise", 0)}
    assert len(misaligned) == len(unpaired) == 3


def test_default_protocol_keeps_the_folders_of_learned_cells() -> None:
    cells = _matrix(["supervised", "udean"], ["misaligned"], ProtocolOptions())
    # UDEAN's revision 1 adds its own suffix (tests/test_method_revision.py); the protocol adds none.
    assert {cell.variant() for cell in cells} == {"kspace_to_kspace_split0_mis0", "kspace_to_kspace_split0_mis0_rev1"}


def _run(monkeypatch, capsys, data: Path, runs: Path, *extra: str) -> tuple[int, str]:
    args = ["run", "--methods", "tricubic,zero-fill", "--setting", "misaligned", "--dataset", "folder"]
    code, out, _ = bench(
        monkeypatch, capsys, *args, "--profile", "tiny", "--data-root", str(data), "--runs-dir", str(runs), *extra
    )
    return code, out


def test_unread_options_never_rerun_a_finished_cell(monkeypatch, capsys, tmp_path) -> None:
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    code, out = _run(monkeypatch, capsys, data, runs)
    assert code == 0 and "done 2, already done 0" in out
    for extra in (("--train-degradation", "kspace-noise"), ("--misalign-seed", "4"), ("--seed", "0,1,2")):
        code, out = _run(monkeypatch, capsys, data, runs, *extra)
        assert code == 0 and "done 0, already done 2" in out, (extra, out)
    assert len(list(runs.rglob("DONE"))) == 2
    table = pd.read_csv(runs / "results.csv", keep_default_na=False)
    assert set(table["train_degradation"]) == {UNREAD_DEGRADATION}
    # An option the method reads still makes its own cell.
    code, out = _run(monkeypatch, capsys, data, runs, "--test-degradation", "elliptical")
    assert code == 0 and "done 2, already done 0" in out


def _row(method: str, setting: str, train: str, psnr: float, seed: int = 0) -> dict:
    return {
        "dataset": "hcp",
        "scale": "2x2x2",
        "setting": setting,
        "method": method,
        "profile": "quick",
        "overrides": "",
        "train_degradation": train,
        "test_degradation": "kspace",
        "split_seed": 0,
        "misalign_seed": 0,
        "data_root": "",
        "precision": "fp32",
        "seed": seed,
        "subject": "s01",
        "ssim": 0.9,
        "psnr": psnr,
        "oracle": False,
        "config_hash": "",
        "state": "done",
    }


def test_a_shared_cell_is_placed_beside_every_training_degradation(tmp_path) -> None:
    rows = [
        _row("udean", "misaligned", "kspace", 33.0),
        _row("udean", "misaligned", "kspace-noise", 32.0),
        _row("tricubic", "n/a", UNREAD_DEGRADATION, 30.0),
        _row("tricubic", "n/a", "kspace", 30.0, seed=1),  # an older store's cell: the n/a one replaces it
    ]
    placed = place_shared_cells(pd.DataFrame(rows))
    tricubic = placed[placed["method"] == "tricubic"]
    assert sorted(tricubic["train_degradation"]) == ["kspace", "kspace-noise"]
    assert set(tricubic["seed"]) == {0}
    assert len(placed[placed["method"] == "udean"]) == 2
    # read_results places them, so every table does: both variants hold tricubic.
    runs = tmp_path / "runs"
    runs.mkdir()
    pd.DataFrame(rows).to_csv(runs / "results.csv", index=False)
    results = read_results(runs)
    for variant, of_variant in split_variants(results):
        assert "tricubic" in set(of_variant["method"]), variant
    (block,) = shift_blocks(shift_summary(results))
    (row,) = [row for row in block.rows if row.method == "tricubic"]
    assert set(row.values) == {("kspace", "kspace"), ("kspace-noise", "kspace")}


def test_a_shared_cell_alone_is_matched_to_its_test_degradation() -> None:
    placed = place_shared_cells(pd.DataFrame([_row("zero-fill", "n/a", UNREAD_DEGRADATION, 31.0)]))
    assert list(placed["train_degradation"]) == ["kspace"]


# check_declared_inputs runs on every registered method in tests/test_method_contract.py.
def test_declared_inputs_catch_a_method_that_reads_what_it_declared_it_does_not(tmp_path: Path) -> None:
    from benchmark.method import Method

    class SeededNoise(Method):
        uses_source_hr = False
        needs_training_data = False
        uses_seed = False  # a false declaration: its output depends on the seed

        def fit(self, data, run) -> None:
            self.run = run
            self.offset = float(torch.rand(()).item())

        def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
            up = torch.nn.functional.interpolate(lr[None, None], scale_factor=self.scale.factors, mode="nearest")
            return (up[0, 0] + self.offset).float()

    with pytest.raises(AssertionError, match="declares uses_seed = False"):
        check_declared_inputs(SeededNoise, tmp_path)


def test_declared_inputs_do_not_apply_to_a_method_reading_everything(tmp_path: Path) -> None:
    with pytest.raises(NotApplicable, match="reads its seed and the training data"):
        check_declared_inputs("supervised", tmp_path)
