"""A persistent cache of input files' SHA-256, so that every cell process does not hash the whole cohort again.

``bench run`` records the SHA-256 of every input volume a cell read, and compares it before
skipping a finished cell (:mod:`benchmark.results.inputs`). On the paper's HCP cohort that is
gigabytes per process, and the local and Slurm executors run one process per cell. The cache
keeps each digest in ``<cache dir>/input-hashes.json`` under the file's identity as the kernel
reports it: resolved path, size, modification time (ns), status-change time (ns) and inode. A
file edited in place changes its modification and status-change times; a copy or a regenerated
file has a new inode; either is hashed again.

What it no longer catches: a file whose bytes change while its size, both times and inode stay
the same — possible only by setting the clock back or writing the disk below the file system.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CACHE_FILE = "input-hashes.json"
Key = tuple[str, int, int, int, int]
"""``(resolved path, bytes, mtime_ns, ctime_ns, inode)``."""


def file_key(path: Path) -> Key:
    """The identity of ``path`` as the cache keys it."""
    status = os.stat(path)
    return (str(Path(path).resolve()), status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)


class HashCache(dict):
    """``Key → sha256`` loaded from, and saved to, a JSON file (no file: in memory only).

    Several processes may save at once: each save merges what the file holds now with its own
    entries and replaces the file atomically, so no digest is lost and none is half-written.
    """

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path
        self.added = False
        if path is not None:
            self.update(_read(path))

    def __setitem__(self, key: Key, digest: str) -> None:
        super().__setitem__(key, digest)
        self.added = True

    def save(self) -> None:
        """Merge into the file (when there is one and something was added); a failed write is not an error."""
        if self.path is None or not self.added:
            return
        from benchmark.results.atomic_files import write_atomic

        merged = {**_read(self.path), **self}
        rows = [[*key, digest] for key, digest in sorted(merged.items())]
        try:
            write_atomic(self.path, json.dumps(rows).encode())
        except OSError:
            return  # a read-only cache costs only time: the digests are recomputed next time
        self.added = False


def _read(path: Path) -> dict[Key, str]:
    try:
        rows = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    found: dict[Key, str] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, list) and len(row) == 6 and isinstance(row[5], str):
            try:
                found[(str(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))] = row[5]
            except (TypeError, ValueError):
                continue
    return found
