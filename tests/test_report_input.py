"""`bench report` on bad input ends in one sentence: a file as --runs-dir or --out, a damaged results.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.errors import BenchError
from reports.build import write_reports
from reports.results_store import read_results
from tests.test_cli import assert_one_sentence as _one_sentence
from tests.test_cli import bench

HEADER = "dataset,scale,setting,method,profile,seed,subject,ssim,psnr,oracle\n"
ROWS = [f"demo,2x2x2,n/a,tricubic,quick,0,s{index:02d},0.8{index},28.{index},False\n" for index in range(3)]


def _bench(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """Run ``bench *args`` in-process; returns (exit status, stderr)."""
    code, _, err = bench(monkeypatch, capsys, *args)
    return code, err


def _store(tmp_path: Path, text: str | bytes) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    path = runs / "results.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return runs


def test_complete_store_is_read(tmp_path: Path) -> None:
    results = read_results(_store(tmp_path, HEADER + "".join(ROWS)))
    assert len(results) == 3 and results["ssim"].tolist() == pytest.approx([0.80, 0.81, 0.82])


# ---------------------------------------------------------------------------- --runs-dir and --out


def test_runs_dir_that_is_a_file(monkeypatch, capsys, tmp_path: Path) -> None:
    runs = _store(tmp_path, HEADER + "".join(ROWS))
    code, err = _bench(monkeypatch, capsys, "report", "--runs-dir", str(runs / "results.csv"))
    line = _one_sentence(err)
    assert code == 2
    assert "is a file, not a results folder" in line and "does not exist" not in line


def test_runs_dir_that_is_a_symlink_loop(monkeypatch, capsys, tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    code, err = _bench(monkeypatch, capsys, "report", "--runs-dir", str(loop))
    assert code == 2 and "symlink loop" in _one_sentence(err)


def test_out_that_is_a_file(monkeypatch, capsys, tmp_path: Path) -> None:
    runs = _store(tmp_path, HEADER + "".join(ROWS))
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    code, err = _bench(monkeypatch, capsys, "report", "--runs-dir", str(runs), "--out", str(blocker))
    line = _one_sentence(err)
    assert code == 2 and "is a file, not a folder" in line and str(blocker) in line


# ---------------------------------------------------------------------------- damaged results.csv


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "".join(ROWS) + "demo,2x2x2,n/a,tricubic,quick,0,s03,0.8\n",  # last row short
        HEADER + "".join(ROWS) + "demo,2x2x2,n/a,tricubic,quick,0,s03,0.83,28.3,Fal",  # no final newline
        HEADER + "".join(ROWS).rstrip("\n")[:-3],  # the last value cut: '28.2,False' -> '28.2,Fa'
    ],
    ids=["short-last-row", "no-final-newline", "cut-value"],
)
def test_truncated_results_are_refused_with_the_rebuild(tmp_path: Path, text: str) -> None:
    runs = _store(tmp_path, text)
    with pytest.raises(BenchError, match="is truncated") as error:
        read_results(runs)
    message = str(error.value)
    assert str(runs / "results.csv") in message
    assert "rerun your `bench run` command" in message and "rewrites results.csv" in message


def test_row_of_the_wrong_length_in_the_middle(tmp_path: Path) -> None:
    text = HEADER + ROWS[0] + "demo,2x2x2,n/a,tricubic,quick,0,s09,0.8,28,False,extra,fields\n" + ROWS[1]
    with pytest.raises(BenchError, match=r"is damaged \(line 3 has 12 fields, the header 10\)"):
        read_results(_store(tmp_path, text))


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    runs = _store(tmp_path, (HEADER + "".join(ROWS)).encode().replace(b"s01", b"s\xff1"))
    with pytest.raises(BenchError, match=r"is not UTF-8 text \(byte 0xff at offset \d+\)") as error:
        read_results(runs)
    assert str(runs / "results.csv") in str(error.value)


def test_other_parser_errors_are_one_sentence(tmp_path: Path) -> None:
    unterminated = HEADER + "".join(ROWS) + 'demo,2x2x2,n/a,tricubic,quick,0,s03,0.83,28.3,"False\n'
    with pytest.raises(BenchError, match="cannot be read as CSV") as error:
        read_results(_store(tmp_path, unterminated))
    assert "\n" not in str(error.value) and str(error.value).endswith(".")


def test_seed_that_is_not_an_integer(tmp_path: Path) -> None:
    text = HEADER + ROWS[0] + ROWS[1].replace(",0,s01,", ",x,s01,")
    with pytest.raises(BenchError, match="has 'x' in column seed on line 3, not an integer"):
        read_results(_store(tmp_path, text))


def test_damaged_store_through_the_cli(monkeypatch, capsys, tmp_path: Path) -> None:
    runs = _store(tmp_path, (HEADER + "".join(ROWS))[:-4])
    code, err = _bench(monkeypatch, capsys, "report", "--runs-dir", str(runs))
    line = _one_sentence(err)
    assert code == 2 and "is truncated" in line
    assert not (runs / "report").exists()  # nothing written from a damaged table


def test_report_folder_is_not_created_without_results(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    with pytest.raises(BenchError, match="run `bench run` first"):
        write_reports(runs, runs / "report", None)
    assert not (runs / "report").exists()
