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


# ------------------------------------------------------- a changed default comes with a bumped revision
def defaults_changed_without_a_bump(recorded: list[str], current: list[str]) -> list[str]:
    """The methods whose default lines (``tests/method_defaults/record.py``) differ at an unchanged revision."""

    def by_method(lines: list[str]) -> dict[str, tuple[str, set[str]]]:
        methods: dict[str, tuple[str, set[str]]] = {}
        for line in lines:
            method, revision, rest = line.split(" ", 2)
            methods.setdefault(method, (revision, set()))[1].add(rest)
        return methods

    before, now = by_method(recorded), by_method(current)
    return sorted(m for m in before.keys() & now.keys() if before[m][0] == now[m][0] and before[m][1] != now[m][1])


def test_no_method_changes_a_default_without_bumping_its_revision():
    from tests.method_defaults.record import default_lines

    recorded = (Path(__file__).parent / "method_defaults" / "recorded.txt").read_text().splitlines()
    current = default_lines()
    changed = defaults_changed_without_a_bump(recorded, current)
    assert not changed, f"{', '.join(changed)}: a declared default changed; bump the method's revision"
    assert current == recorded, "a revision changed: renew tests/method_defaults/recorded.txt (see record.py)"


def test_the_check_names_a_default_changed_at_the_same_revision():
    recorded = ["udean revision=0 quick udean_warmup=0.1", "tricubic revision=0 quick ssim_weight=0.5"]
    assert defaults_changed_without_a_bump(recorded, ["udean revision=0 quick udean_warmup=0.0", recorded[1]]) == [
        "udean"
    ]
    assert defaults_changed_without_a_bump(recorded, ["udean revision=1 quick udean_warmup=0.0", recorded[1]]) == []


def test_udean_and_its_ablations_are_at_revision_1():
    from methods.udean import UDEAN, UDEANFeatureDA, UDEANImageDA

    assert UDEAN.revision == UDEANImageDA.revision == UDEANFeatureDA.revision == 1
