"""Writing files whole: through a temporary file and a rename, so a reader never sees half a file.

Every file of a results folder is written so (``config.json``, ``metrics.csv``, ``DONE``,
``model.pt``, checkpoints, ``results.csv``).  The temporary file is ``.<name>.<random>`` beside
its target; a killed write leaves only such a file, which :func:`remove_temporaries` deletes under
the cell's lock.  The rename replaces a symbolic link planted at the target, never its target
(:mod:`benchmark.results.no_follow`).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.results.cell_lock import LOCK

TEMPORARY_PREFIX = "."
"""Temporary files of atomic writes are ``.<name>.<random>`` beside their target."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so readers never see half a file.

    The rename replaces ``path`` itself, so a symbolic link planted there is replaced, never
    written through; the file gets the mode a plain ``open`` would (0666 less the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from a shared folder's group
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_through(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Have ``write`` fill a temporary file beside ``path``, then rename it onto ``path``: never half a file.

    For writers that need a path of their own (``nib.save``, an archive): the temporary file is
    ``.<name>.<random><suffix>`` (keep ``suffix`` when the writer reads the format from it), gets
    the mode a plain ``open`` would (0666 less the umask) and is removed if ``write`` fails.  As
    :func:`write_atomic`, the rename replaces a link planted at ``path``, never its target.

    Raises:
        OSError: the folder cannot be written, or ``write`` failed to; ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and back: there is no other portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Atomically write a DataFrame as CSV without its index."""
    write_atomic(path, frame.to_csv(index=False).encode())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write compressed arrays."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def remove_temporaries(cell_dir: Path) -> list[Path]:
    """Delete the temporary files that killed atomic writes left in a cell folder (``.last.pt.*``, ``.DONE.*``).

    Every ``.``-file below the cell is one (:func:`write_atomic` names them so), except the
    cell's lock.  Call it only while holding that lock (:mod:`benchmark.results.cell_lock`):
    then no write of this cell is in flight.  Returns the removed paths.
    """
    removed = []
    for path in sorted(cell_dir.rglob(f"{TEMPORARY_PREFIX}*")):
        if path.is_file() and path.name != LOCK:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
