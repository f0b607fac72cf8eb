"""Checking the folders a user names on the command line, so a bad path ends in one sentence.

Python reports a bad path in many ways: ``Path.exists()`` says ``False`` for a symlink loop,
``Path.resolve()`` raises ``RuntimeError`` (3.11) or ``OSError`` (3.13) for it, ``mkdir``
raises ``FileExistsError`` below a file and ``PermissionError`` in a read-only folder.  These
functions turn each case into a :class:`BenchError` whose message names the path and says
what is wrong with it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from benchmark.errors import BenchError


def _reason(error: OSError) -> str:
    """``"Permission denied"`` → ``"permission denied"``; the errno name when there is no text."""
    text = error.strerror or errno.errorcode.get(error.errno or 0, type(error).__name__)
    return text[:1].lower() + text[1:]


def _file_above(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that exists and is not a folder, or ``None``."""
    for parent in path.parents:
        try:
            if not stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except OSError:
            continue
    return None


def path_stat(path: Path, what: str) -> os.stat_result | None:
    """The status of ``path`` (symlinks followed), or ``None`` when nothing is there.

    Args:
        path: the path the user gave.
        what: how the message names it, e.g. ``"--runs-dir"`` or ``"results folder"``.

    Returns:
        ``os.stat`` of the path, or ``None`` when it does not exist.

    Raises:
        BenchError: the path is a symlink loop, lies below a file, is a symlink to a missing
            target, or cannot be looked at (e.g. permission denied on a parent folder).
    """
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            target = os.readlink(path)
            raise BenchError(f"{what} {path} is a symbolic link to {target}, which does not exist.") from None
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            where = "is" if os.path.islink(path) else "passes through"
            raise BenchError(
                f"{what} {path} {where} a symlink loop (a symbolic link that leads back to itself); "
                "point it at a real folder."
            ) from None
        if error.errno == errno.ENOTDIR:
            above = _file_above(Path(path))
            where = f"{above} is a file" if above is not None else "a part of it is not a folder"
            raise BenchError(f"{what} {path} cannot exist because {where}.") from None
        raise BenchError(f"{what} {path} cannot be looked at ({_reason(error)}).") from None


def existing_folder(path: Path, what: str) -> Path:
    """Check that ``path`` is an existing folder (following symlinks).

    Args:
        path: the path the user gave (``~`` is expanded).
        what: how the message names it, e.g. ``"--data-root"``.

    Returns:
        The path, ``~`` expanded (not resolved: the user's spelling is kept for messages).

    Raises:
        BenchError: the path does not exist, is a file, or fails :func:`path_stat`.
    """
    path = Path(path).expanduser()
    status = path_stat(path, what)
    if status is None:
        raise BenchError(f"{what} {path} does not exist.")
    if not stat.S_ISDIR(status.st_mode):
        raise BenchError(f"{what} {path} is a file, not a folder.")
    return path


def writable_folder(path: Path, what: str) -> Path:
    """Make sure ``path`` is a folder this process can write into, creating it when missing.

    Writability is tested by creating and removing a temporary file in it, which also catches
    read-only file systems and access control lists that permission bits do not show.

    Args:
        path: the path the user gave (``~`` is expanded).
        what: how the message names it, e.g. ``"--runs-dir"`` or ``"--cache-dir"``.

    Returns:
        The path, ``~`` expanded, now an existing writable folder.

    Raises:
        BenchError: the path is a file, lies below a file, is a symlink loop, cannot be
            created, or cannot be written.
    """
    path = Path(path).expanduser()
    status = path_stat(path, what)
    if status is None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            above = _file_above(path)
            if above is not None:
                raise BenchError(f"{what} {path} cannot be created because {above} is a file.") from None
            raise BenchError(f"{what} {path} cannot be created ({_reason(error)}).") from None
    elif not stat.S_ISDIR(status.st_mode):
        raise BenchError(f"{what} {path} is a file, not a folder.")
    try:
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise BenchError(f"{what} {path} cannot be written ({_reason(error)}).") from None
    return path
