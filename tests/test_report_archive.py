"""``bench report --archive``: one file with the report, results.csv and every cell's record, and no weights.

Unpacked, the archive is a results folder that ``bench report`` reads as the original.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.test_cli import assert_one_sentence, bench, write_folder_dataset


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A results folder with two finished cells (tricubic, supervised; tiny profile, folder dataset)."""
    root = tmp_path_factory.mktemp("archive")
    data = write_folder_dataset(root / "data")
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as monkeypatch:
        capsys = _Capture()
        code, out, err = bench(
            monkeypatch, capsys, "run", "--methods", "tricubic,supervised", "--dataset", "folder",
            "--data-root", str(data), "--setting", "misaligned", "--profile", "tiny", "--runs-dir", str(runs),
        )  # fmt: skip
    assert code == 0, out + err
    return runs


class _Capture:
    """Enough of pytest's capsys for :func:`tests.test_cli.bench` in a module fixture (output not kept)."""

    def readouterr(self) -> tuple[str, str]:
        return "", ""


def _names(archive: Path) -> list[str]:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as packed:
            return packed.namelist()
    with tarfile.open(archive) as packed:
        return packed.getnames()


def _unpack(archive: Path, where: Path) -> Path:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as packed:
            packed.extractall(where)
    else:
        with tarfile.open(archive) as packed:
            packed.extractall(where, filter="data")
    (top,) = list(where.iterdir())
    return top


@pytest.mark.parametrize("name", ["run.tar.gz", "run.zip"])
def test_the_archive_is_a_results_folder_that_reports_the_same(monkeypatch, capsys, store, tmp_path, name):
    archive = tmp_path / name
    code, out, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(store), "--archive", str(archive))
    assert code == 0, err
    assert f"archive: {archive}" in " ".join(out.split())
    names = _names(archive)
    top = name.split(".")[0]
    assert f"{top}/results.csv" in names and f"{top}/report/table2.md" in names
    cells = [n for n in names if n.endswith("/config.json")]
    assert len(cells) == 2
    for cell in cells:
        folder = cell.removesuffix("config.json")
        assert {f"{folder}DONE", f"{folder}metrics.csv", f"{folder}slices.npz"} <= set(names)
    assert not any(n.endswith("model.pt") or "/checkpoints/" in n for n in names)  # no weights
    unpacked = _unpack(archive, tmp_path / "unpacked")
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(unpacked), "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert (tmp_path / "again" / "table2.md").read_text() == (store / "report" / "table2.md").read_text()
    code, out, _ = bench(monkeypatch, capsys, "status", "--runs-dir", str(unpacked))
    assert code == 0 and "done 2" in out


def test_a_wrong_suffix_is_one_sentence_before_any_report(monkeypatch, capsys, store, tmp_path):
    code, _, err = bench(monkeypatch, capsys, "report", "--runs-dir", str(store), "--out", str(tmp_path / "r"),
                         "--archive", str(tmp_path / "run.rar"))  # fmt: skip
    assert code == 2 and ".tar.gz" in assert_one_sentence(err)
    assert not (tmp_path / "r").exists()


def test_a_linked_cell_file_is_left_out_and_named(monkeypatch, capsys, store, tmp_path):
    (log,) = list(store.rglob("supervised/*/*/seed0/log.txt"))
    saved = log.read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the run")
    log.unlink()
    os.symlink(secret, log)
    try:
        archive = tmp_path / "run.tar.gz"
        code, out, _ = bench(monkeypatch, capsys, "report", "--runs-dir", str(store), "--archive", str(archive))
    finally:
        log.unlink()
        log.write_bytes(saved)
    assert code == 0 and "is a link; it was left out" in " ".join(out.split())
    assert not any(
        name.endswith("supervised/tiny/kspace_to_kspace_split0_mis0/seed0/log.txt") for name in _names(archive)
    )
