"""Which input volumes a cell used, so that a changed file reruns the cells that read it.

A cell's ``DONE`` marker records, for every subject whose volume it loaded, the file's size
(bytes), modification time (ns) and SHA-256, plus the dataset's subject list (the split
depends on it).  Before a finished cell is skipped, :func:`changed_inputs` compares that record
with the files as they are now: equal size and modification time mean unchanged without
reading the file; otherwise the SHA-256 decides, so a file copied or regenerated with the same
bytes (the demo cohort rebuilt in a fresh cache) does not rerun anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.data.dataset import Dataset
from benchmark.results.hash_cache import Key, file_key

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: Path, hashes: dict[Key, str] | None = None) -> dict[str, Any]:
    """``{"file", "bytes", "mtime_ns", "sha256"}`` of one input file.

    Args:
        path: the file.
        hashes: a cache ``file_key → sha256`` (a run's :class:`~benchmark.results.hash_cache.HashCache`,
            kept in the cache folder), so a volume is read once, not once per cell process.
    """
    status = Path(path).stat()
    key = file_key(Path(path))
    if hashes is not None and key in hashes:
        digest = hashes[key]
    else:
        digest = file_sha256(Path(path))
        if hashes is not None:
            hashes[key] = digest
    return {"file": str(path), "bytes": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": digest}


def input_record(
    dataset: Dataset,
    subjects: Iterable[str],
    all_subjects: list[str],
    hashes: dict[Key, str] | None = None,
) -> dict[str, Any]:
    """The record of a cell's inputs: the subject list and one :func:`file_record` per used subject.

    Args:
        dataset: the dataset plugin.
        subjects: the subjects whose volumes the cell loaded.
        all_subjects: every subject the split was drawn from, in order.
        hashes: the run's SHA-256 cache (see :func:`file_record`).
    """
    files = {}
    for subject in sorted(subjects):
        path = dataset.source_file(subject)
        files[subject] = file_record(path, hashes) if path is not None else None
    return {"subjects": list(all_subjects), "files": files}


def changed_inputs(
    dataset: Dataset,
    recorded: dict[str, Any],
    all_subjects: list[str],
    hashes: dict[Key, str] | None = None,
) -> list[str]:
    """What changed since ``recorded`` was written: one short phrase per change, ``[]`` when nothing did.

    Args:
        dataset: the dataset plugin as it is now.
        recorded: an :func:`input_record` from a ``DONE`` marker.
        all_subjects: the subjects the split would be drawn from now.
        hashes: the run's SHA-256 cache.
    """
    changes = []
    if list(recorded.get("subjects", [])) != list(all_subjects):
        changes.append("the dataset's list of subjects")
    for subject, before in sorted(recorded.get("files", {}).items()):
        if before is None:
            continue
        path = dataset.source_file(subject) if subject in all_subjects else None
        if path is None or not Path(path).is_file():
            changes.append(f"{subject} (file gone)")
            continue
        status = Path(path).stat()
        if (str(path), status.st_size, status.st_mtime_ns) == (before["file"], before["bytes"], before["mtime_ns"]):
            continue
        if file_record(Path(path), hashes)["sha256"] != before["sha256"]:
            changes.append(f"{subject} ({path})")
    return changes
