"""benchmark.folders: a folder the user names is created and checked, or the run ends in one sentence."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from benchmark.errors import BenchError
from benchmark.folders import existing_folder, path_stat, writable_folder

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _one_sentence(error: BenchError) -> str:
    text = str(error)
    assert "\n" not in text and text.endswith(".")
    return text


def test_missing_folder_is_created_with_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "runs"
    assert writable_folder(target, "--runs-dir") == target
    assert target.is_dir()
    assert list(target.iterdir()) == []  # the write probe is removed


def test_existing_folder_is_kept_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert writable_folder(tmp_path, "--runs-dir") == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert writable_folder(Path("~/cache"), "--cache-dir") == tmp_path / "cache"
    assert (tmp_path / "cache").is_dir()


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    target.write_text("x")
    with pytest.raises(BenchError) as error:
        writable_folder(target, "--runs-dir")
    assert _one_sentence(error.value) == f"--runs-dir {target} is a file, not a folder."
    assert target.read_text() == "x"


def test_a_path_under_a_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target in (blocker / "runs", blocker / "deeper" / "runs"):
        with pytest.raises(BenchError, match=r"because .* is a file") as error:
            writable_folder(target, "--runs-dir")
        assert str(blocker) in _one_sentence(error.value)


@pytest.mark.skipif(AS_ROOT, reason="root ignores file permissions")
def test_read_only_folder_cannot_be_written(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(BenchError, match="cannot be written") as error:
            writable_folder(locked, "--cache-dir")
        assert _one_sentence(error.value).startswith(f"--cache-dir {locked} ")
        with pytest.raises(BenchError, match="cannot be created") as error:
            writable_folder(locked / "sub", "--cache-dir")
        _one_sentence(error.value)
    finally:
        locked.chmod(0o700)


def test_unwritable_folder_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only file system stops root too; simulated, since tests cannot mount one."""
    import benchmark.folders as folders

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(folders.tempfile, "mkstemp", read_only)
    with pytest.raises(BenchError) as error:
        writable_folder(tmp_path, "--runs-dir")
    assert _one_sentence(error.value) == f"--runs-dir {tmp_path} cannot be written (read-only file system)."


def test_symlink_loop_and_broken_link(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    with pytest.raises(BenchError, match="is a symlink loop") as error:
        writable_folder(loop, "--runs-dir")
    _one_sentence(error.value)
    with pytest.raises(BenchError, match="passes through a symlink loop"):
        writable_folder(loop / "runs", "--runs-dir")
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "nowhere")
    with pytest.raises(BenchError, match=r"symbolic link to .*nowhere, which does not exist"):
        writable_folder(broken, "--runs-dir")


def test_existing_folder_and_path_stat(tmp_path: Path) -> None:
    assert existing_folder(tmp_path, "--data-root") == tmp_path
    assert path_stat(tmp_path / "missing", "--data-root") is None
    with pytest.raises(BenchError, match="does not exist"):
        existing_folder(tmp_path / "missing", "--data-root")
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchError, match="is a file, not a folder"):
        existing_folder(tmp_path / "file", "--data-root")
    assert not (tmp_path / "missing").exists()  # checking never creates anything
