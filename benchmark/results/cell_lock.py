"""A per-cell lock, so two ``bench run`` processes on one results folder never train the same cell.

The lock is an advisory ``flock`` on ``<cell>/.lock``, taken without waiting: a second process
skips a cell the first holds and says so.  The kernel drops the lock when its holder exits, even
when it is killed, so a lock never outlives a crash (no stale lock files to clean up).  The file
holds the holder's host and process id, for the message.  Where ``fcntl`` does not exist
(Windows), cells are not locked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.results.no_follow import open_no_follow

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK = ".lock"


def lock_holder(cell_dir: Path) -> str:
    """``"host:pid"`` of the process that holds (or last held) the cell's lock, or ``"another process"``."""
    try:
        text = (cell_dir / LOCK).read_text().strip()
    except OSError:
        text = ""
    return text or "another process"


@contextmanager
def cell_lock(cell_dir: Path) -> Iterator[bool]:
    """Hold the cell's lock for the ``with`` block; yields ``False`` (and holds nothing) when another process has it."""
    cell_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield True
        return
    fd = open_no_follow(cell_dir / LOCK, os.O_RDWR | os.O_CREAT)  # never a planted link's target
    handle = os.fdopen(fd, "a+")  # the lock lives as long as the file is open
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()}:{os.getpid()}\n")
        handle.flush()
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def is_locked(cell_dir: Path) -> bool:
    """Whether a process holds the cell's lock now (it is running the cell); never creates the lock file."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        handle = os.fdopen(open_no_follow(cell_dir / LOCK, os.O_RDONLY))  # closed below
    except OSError:  # no lock file, or a link (BenchError is not an OSError: see below)
        return False
    except BenchError:
        return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
    finally:
        handle.close()
