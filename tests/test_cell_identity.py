"""A cell is everything that changes a result: options never overwrite each other, stale state is never used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from benchmark.profiles import load_profile
from benchmark.results.cell import Cell, ProtocolOptions
from benchmark.results.store import collect_results
from benchmark.scale import Scale
from tests.test_cli import bench, write_folder_dataset


def _run(monkeypatch, capsys, data: Path, runs: Path, *extra: str, methods: str = "tricubic") -> tuple[int, str, str]:
    args = ["run", "--methods", methods, "--setting", "misaligned", "--dataset", "folder", "--profile", "tiny"]
    return bench(monkeypatch, capsys, *args, "--data-root", str(data), "--runs-dir", str(runs), *extra)


def _results(runs: Path) -> pd.DataFrame:
    return pd.read_csv(runs / "results.csv", keep_default_na=False)


def test_test_degradation_and_overrides_keep_their_own_results(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    assert _run(monkeypatch, capsys, data, runs)[0] == 0
    assert _run(monkeypatch, capsys, data, runs, "--test-degradation", "elliptical")[0] == 0
    assert _run(monkeypatch, capsys, data, runs, "--split-seed", "1", "--misalign-seed", "2")[0] == 0
    assert _run(monkeypatch, capsys, data, runs, "--set", "infer_tile=32")[0] == 0
    table = _results(runs)
    variants = table.drop_duplicates(["test_degradation", "split_seed", "misalign_seed", "overrides"])
    assert len(variants) == 4
    assert set(table["test_degradation"]) == {"kspace", "elliptical"}
    assert set(table["overrides"]) == {"", "infer_tile=32"}
    assert len(list(runs.rglob("DONE"))) == 4
    kspace = table[(table["test_degradation"] == "kspace") & (table["split_seed"] == 0) & (table["overrides"] == "")]
    elliptical = table[table["test_degradation"] == "elliptical"]
    assert not np.allclose(kspace["psnr"].to_numpy(), elliptical["psnr"].to_numpy())
    # The same options again: every cell is found done, nothing is rerun.
    code, out, _ = _run(monkeypatch, capsys, data, runs, "--test-degradation", "elliptical")
    assert code == 0 and "done 0, already done 1" in out


def test_cell_folder_and_columns_name_every_option():
    profile = load_profile("tiny", ["batch_size=3"])
    protocol = ProtocolOptions(Path("/data/hcp"), 1, 2, "kspace-noise", "elliptical")
    cell = Cell("hcp", Scale(2, 2, 1), "unpaired", "udean", 3, profile, protocol)
    folder = cell.folder(Path("runs")).relative_to("runs").parts
    assert folder[:5] == ("hcp", "2x2x1", "unpaired", "udean", "tiny")
    assert folder[5].startswith("kspace-noise_to_elliptical_split1_mis2_set-") and "_root-" in folder[5]
    assert folder[6] == "seed3"
    columns = cell.columns()
    assert columns["overrides"] == "batch_size=3" and columns["data_root"] == "/data/hcp"
    assert columns["train_degradation"] == "kspace-noise" and columns["misalign_seed"] == 2
    default = Cell("hcp", Scale(2, 2, 1), "unpaired", "udean", 3, load_profile("tiny"), ProtocolOptions())
    assert default.folder(Path("r")).parts[-2] == "kspace_to_kspace_split0_mis0"


def test_changed_input_volume_reruns_the_cells_that_used_it(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    assert _run(monkeypatch, capsys, data, runs)[0] == 0
    before = _results(runs)
    cell_dir = next(runs.rglob("DONE")).parent
    done = json.loads((cell_dir / "DONE").read_text())
    test_subject = before["subject"].iloc[0]
    assert test_subject in done["inputs"]["files"]
    path = data / f"{test_subject}.nii.gz"
    image = nib.load(path)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj)[::-1].copy(), image.affine), path)  # flipped: new content

    code, out, _ = _run(monkeypatch, capsys, data, runs)
    assert code == 0 and "changed since it finished, so it reruns" in out and test_subject in out
    assert "done 1" in out

    # Same bytes with a new time stamp (a copy, a regenerated cache): nothing reruns.
    os.utime(path, ns=(1, 1))
    code, out, _ = _run(monkeypatch, capsys, data, runs)
    assert code == 0 and "already done 1" in out


def test_edited_config_beside_old_metrics_is_not_reported(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    assert _run(monkeypatch, capsys, data, runs)[0] == 0
    cell_dir = next(runs.rglob("DONE")).parent
    config = json.loads((cell_dir / "config.json").read_text())
    config["protocol"]["test_degradation"] = "elliptical"  # a new config beside the old metrics
    (cell_dir / "config.json").write_text(json.dumps(config))
    collected = collect_results(runs)
    assert collected.table.empty
    assert collected.damaged and "does not match" in collected.damaged[0][1]
    code, out, _ = _run(monkeypatch, capsys, data, runs)  # the cell is redone, not trusted
    assert code == 0 and "is damaged" in out and "done 1" in out
    assert len(_results(runs)) == 1


def test_damaged_cell_files_are_found_and_never_stop_the_others(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    assert _run(monkeypatch, capsys, data, runs, "--scale", "2x2x1,2x2x2")[0] == 0
    first, second = sorted(p.parent for p in runs.rglob("DONE"))
    full = collect_results(runs).table
    metrics = first / "metrics.csv"
    text = metrics.read_text()
    for damaged in (text.splitlines()[0] + "\n", text[: len(text) - 7]):  # cut to the header, cut mid-row
        metrics.write_text(damaged)
        collected = collect_results(runs)
        assert [path for path, _ in collected.damaged] == [first]
        assert len(collected.table) == len(full) - 1
        assert set(collected.table["scale"]) == {"2x2x2"}
    (second / "config.json").write_text("{ not json")
    collected = collect_results(runs)
    assert {path for path, _ in collected.damaged} == {first, second}
    assert collected.table.empty

    code, out, err = _run(monkeypatch, capsys, data, runs, "--scale", "2x2x1,2x2x2")
    assert code == 0, err
    assert "error" not in err and out.count("is damaged") == 2
    assert not (first / "error.txt").exists() and not (second / "error.txt").exists()
    pd.testing.assert_frame_equal(_results(runs), pd.read_csv(runs / "results.csv", keep_default_na=False))
    assert len(_results(runs)) == len(full)


def test_temporary_files_of_killed_writes_are_removed(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    assert _run(monkeypatch, capsys, data, runs, "--set", "steps_per_epoch=2", methods="supervised")[0] == 0
    cell_dir = next(runs.rglob("DONE")).parent
    leftovers = [cell_dir / ".DONE.abc123", cell_dir / "checkpoints" / ".last.pt.xyz789", cell_dir / ".metrics.csv.q"]
    for path in leftovers:
        path.write_bytes(b"half a write")
    (cell_dir / "DONE").unlink()  # the kill came before DONE
    assert _run(monkeypatch, capsys, data, runs, "--set", "steps_per_epoch=2", methods="supervised")[0] == 0
    assert not any(path.exists() for path in leftovers)
    assert (cell_dir / "DONE").is_file()


def test_checkpoint_from_before_an_input_change_is_refused(monkeypatch, capsys, tmp_path):
    data, runs = write_folder_dataset(tmp_path / "data"), tmp_path / "runs"
    extra = ("--set", "steps_per_epoch=4", "--set", "checkpoint_every=2")
    assert _run(monkeypatch, capsys, data, runs, *extra, methods="supervised")[0] == 0
    cell_dir = next(runs.rglob("DONE")).parent
    assert (cell_dir / "checkpoints" / "last.pt").is_file()
    (cell_dir / "DONE").unlink()  # as if killed after its last checkpoint
    trained_on = json.loads((cell_dir / "config.json").read_text())["data_records"]["split"]["target"][0]
    path = data / f"{trained_on}.nii.gz"
    image = nib.load(path)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj)[:, ::-1].copy(), image.affine), path)
    code, out, err = _run(monkeypatch, capsys, data, runs, *extra, methods="supervised")
    assert code == 0, err
    assert "was written for configuration" in out and "starts from step 0" in out
    losses = pd.read_csv(cell_dir / "losses.csv")
    assert list(losses["step"]) == [1, 2, 3, 4]  # trained again from step 0, not resumed at 4
