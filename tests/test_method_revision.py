"""Method revisions: a bumped revision trains new cells, and the reports show the newest revision only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmark.app.matrix import build_matrix
from benchmark.errors import BenchError
from benchmark.profiles import load_profile
from benchmark.results.cell import Cell, ProtocolOptions, config_hash
from benchmark.results.cell_record import read_config
from benchmark.scale import Scale
from methods.tricubic import Tricubic
from reports.results_store import read_results
from reports.revisions import newest_revision_rows
from tests.test_cli import assert_one_sentence, bench, write_folder_dataset


def _cell(revision: int) -> Cell:
    profile = load_profile("tiny")
    return Cell("demo", Scale(2, 2, 2), "misaligned", "udean", 0, profile, ProtocolOptions(), "fp32", revision)


def test_revision_0_cells_keep_their_identity_and_a_bump_gets_its_own():
    old, new = _cell(0), _cell(1)
    assert Cell("demo", Scale(2, 2, 2), "misaligned", "udean", 0, load_profile("tiny")) == old
    assert "revision" not in old.config()  # as before revisions were recorded: same hash, same folder
    assert old.folder(Path("r")).parts[-2] == "kspace_to_kspace_split0_mis0"
    assert new.config()["revision"] == 1
    assert config_hash(new.config()) != config_hash(old.config())
    assert new.folder(Path("r")).parts[-2] == "kspace_to_kspace_split0_mis0_rev1"
    assert (old.columns()["revision"], new.columns()["revision"]) == (0, 1)
    assert "rev1" in new.label() and "rev" not in old.label()


def test_the_matrix_takes_the_revision_from_the_method(monkeypatch):
    monkeypatch.setattr(Tricubic, "revision", 3)
    (cell,) = build_matrix(["tricubic"], ["demo"], [Scale(2, 2, 2)], ["misaligned"], [0], load_profile("tiny"))
    assert cell.revision == 3


@pytest.mark.parametrize("revision", [-1, 1.5, "1", True])
def test_a_revision_that_is_not_an_integer_of_at_least_0_is_named(monkeypatch, revision):
    monkeypatch.setattr(Tricubic, "revision", revision)
    with pytest.raises(BenchError, match=r"method 'tricubic' declares revision .*; a revision is an integer ≥ 0"):
        build_matrix(["tricubic"], ["demo"], [Scale(2, 2, 2)], ["misaligned"], [0], load_profile("tiny"))


def test_a_bumped_revision_runs_again_and_the_report_shows_it_alone(monkeypatch, capsys, tmp_path):
    data, runs, out = write_folder_dataset(tmp_path / "data"), tmp_path / "runs", tmp_path / "report"
    args = ["run", "--methods", "tricubic,zero-fill", "--dataset", "folder", "--data-root", str(data)]
    args += ["--profile", "tiny", "--runs-dir", str(runs)]
    assert bench(monkeypatch, capsys, *args)[0] == 0
    monkeypatch.setattr(Tricubic, "revision", 1)
    code, out_text, err = bench(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "done 1, already done 1" in " ".join(out_text.split())  # the new revision trains; zero-fill is done
    (new,) = [read_config(m.parent) for m in runs.rglob("DONE") if m.parent.parent.name.endswith("_rev1")]
    assert (new.method, new.revision) == ("tricubic", 1)

    table = pd.read_csv(runs / "results.csv", keep_default_na=False)
    assert sorted(set(zip(table["method"], table["revision"]))) == [("tricubic", 0), ("tricubic", 1), ("zero-fill", 0)]
    kept, notes = newest_revision_rows(read_results(runs))
    assert sorted(set(zip(kept["method"], kept["revision"]))) == [("tricubic", 1), ("zero-fill", 0)]
    assert notes == [
        "tricubic: 1 cell of revision 0 left out, superseded by revision 1 "
        "(their folders and rows of results.csv are kept)."
    ]
    code, out_text, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(runs), "--out", str(out))
    assert code == 0, err
    assert "tricubic: 1 cell of revision 0 left out" in " ".join((out_text + err).split())
    table_ii = pd.read_csv(out / "table2.csv")
    assert (table_ii["method"] == "tricubic").sum() == 1  # one row: revision 1, never averaged with revision 0


def test_a_store_written_before_revisions_reads_as_revision_0(tmp_path):
    rows = "dataset,scale,setting,method,profile,seed,subject,ssim,psnr\ndemo,2x2x2,n/a,tricubic,tiny,0,s1,0.9,30\n"
    (tmp_path / "results.csv").write_text(rows)
    assert read_results(tmp_path)["revision"].tolist() == [0]


def test_a_damaged_revision_in_results_csv_is_named(tmp_path):
    rows = "dataset,scale,setting,method,profile,revision,seed,subject,ssim,psnr\n"
    rows += "demo,2x2x2,n/a,tricubic,tiny,x,0,s1,0.9,30\n"
    (tmp_path / "results.csv").write_text(rows)
    with pytest.raises(BenchError, match="'x' in column revision on line 2, not an integer") as info:
        read_results(tmp_path)
    assert_one_sentence(f"error: {info.value}")
