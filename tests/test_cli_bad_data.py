"""`bench run` on bad data ends in one sentence and exit status 2: unusable NIfTI affines, symlink-loop data roots."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import smooth_volume
from tests.test_cli import assert_one_sentence as _one_sentence
from tests.test_cli import bench


def _bench(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """Run ``bench *args`` in-process; returns (exit status, stderr)."""
    code, _, err = bench(monkeypatch, capsys, *args)
    return code, err


def _run_args(data_root: Path, runs: Path) -> list[str]:
    return [
        "run",
        *("--dataset", "folder", "--data-root", str(data_root), "--methods", "tricubic"),
        *("--profile", "tiny", "--runs-dir", str(runs)),
    ]


def test_zero_affine_nifti_stops_the_run_naming_the_file(monkeypatch, capsys, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for index in range(10):
        header = nib.Nifti1Header()
        header.set_data_dtype(np.float32)
        header["sform_code"], header["qform_code"] = 1, 0  # srow_* stay zero: an all-zero affine
        image = nib.Nifti1Image(smooth_volume((24, 24, 16), index) * 800.0, None, header=header)
        image.to_filename(data / f"sub{index:02d}.nii.gz")
    code, err = _bench(monkeypatch, capsys, *_run_args(data, tmp_path / "runs"))
    line = _one_sentence(err)
    assert code == 2
    assert "singular affine" in line and str(data / "sub") in line


def test_symlink_loop_data_root_is_one_sentence(monkeypatch, capsys, tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")  # ln -s loop loop
    code, err = _bench(monkeypatch, capsys, *_run_args(loop, tmp_path / "runs"))
    line = _one_sentence(err)
    assert code == 2
    assert "symlink loop" in line and str(loop) in line
