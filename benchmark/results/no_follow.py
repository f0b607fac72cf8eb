"""Writing inside a results folder without ever following a symbolic link.

A results folder is often shared. A link planted in a cell folder under a name the harness
writes (``model.pt``, ``log.txt``, ``process.log``, ``error.txt``, ``.lock``) must not make
``bench run`` truncate, overwrite or append to its target elsewhere. Two ways are used:

* whole files are written under a temporary name and renamed over the target
  (:func:`benchmark.results.store.write_atomic`): a rename replaces a link itself, never its target;
* files opened in place (appended logs, the lock) are opened with ``O_NOFOLLOW``: opening a link
  fails, and the harness refuses it in one sentence (:class:`LinkInCellError`).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from benchmark.errors import BenchError

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LinkInCellError(BenchError):
    """A file the harness writes in a results folder is a symbolic link."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is a symbolic link; the harness never writes through links in a results folder, "
            "so remove it and rerun."
        )


def open_no_follow(path: Path, flags: int, mode: int = 0o666) -> int:
    """``os.open`` with ``O_NOFOLLOW`` (and ``O_CLOEXEC``): a file descriptor, never one of a link's target.

    Raises:
        LinkInCellError: ``path`` is a symbolic link.
    """
    try:
        return os.open(path, flags | _NO_FOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as error:
        if error.errno == errno.ELOOP or (error.errno == errno.EMLINK and Path(path).is_symlink()):
            raise LinkInCellError(Path(path)) from None
        raise


def append_text(path: Path, text: str) -> None:
    """Append ``text`` (UTF-8) to ``path``, creating it; never through a link."""
    fd = open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(text)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, truncating it; never through a link."""
    fd = open_no_follow(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def refuse_links(folder: Path, names: tuple[str, ...]) -> None:
    """Refuse a cell folder where one of ``names`` is a symbolic link (one sentence).

    Raises:
        LinkInCellError: the first such name.
    """
    for name in names:
        if (folder / name).is_symlink():
            raise LinkInCellError(folder / name)
