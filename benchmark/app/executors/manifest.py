"""Matrix manifests: which cells a ``bench run`` asked for, so ``bench status`` can show those not started yet.

Every ``bench run`` writes ``<runs-dir>/_matrices/<id>.json``, where ``<id>`` is a hash of the
matrix's cell folders (the same matrix asked twice has one manifest, updated).  It holds the
executor, the command, and per cell its index, label and folder (relative to the runs folder);
the Slurm executor adds each cell's job id.  Manifests only describe: results never depend on them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.results.atomic_files import write_json
from benchmark.results.cell import Cell

MANIFESTS = "_matrices"


@dataclass(frozen=True)
class PlannedCell:
    """A cell as a manifest records it."""

    folder: Path
    label: str
    index: int
    executor: str
    job_id: str | None = None


def manifest_path(runs_dir: Path, cells: Sequence[Cell]) -> Path:
    """Where the manifest of this matrix lives (16 hex digits of SHA-256 of its cell folders)."""
    text = "\n".join(str(cell.folder(Path("."))) for cell in cells)
    return Path(runs_dir, MANIFESTS, hashlib.sha256(text.encode()).hexdigest()[:16] + ".json")


def write_manifest(
    runs_dir: Path,
    cells: Sequence[Cell],
    executor: str,
    command: Sequence[str],
    job_ids: dict[int, str] | None = None,
) -> Path:
    """Record the matrix ``cells`` run by ``executor``; returns the manifest's path."""
    path = manifest_path(runs_dir, cells)
    entries = []
    for index, cell in enumerate(cells):
        entry: dict[str, Any] = {"index": index, "label": cell.label(), "folder": str(cell.folder(Path(".")))}
        if job_ids and index in job_ids:
            entry["job_id"] = job_ids[index]
        entries.append(entry)
    payload = {
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "executor": executor,
        "command": list(command),
        "cells": entries,
    }
    write_json(path, payload)
    return path


def planned_cells(runs_dir: Path) -> list[PlannedCell]:
    """Every cell of every manifest in ``runs_dir``, oldest manifest first; a later one wins for a folder.

    An unreadable manifest is skipped: it only describes, and the cells' own folders are the truth.
    """
    folder = Path(runs_dir, MANIFESTS)
    found: dict[Path, PlannedCell] = {}
    if not folder.is_dir():
        return []
    manifests = []
    for path in folder.glob("*.json"):
        try:
            manifests.append((path.stat().st_mtime, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    for _, payload in sorted(manifests, key=lambda item: item[0]):
        try:
            for entry in payload["cells"]:
                cell_dir = Path(runs_dir, entry["folder"])
                found[cell_dir] = PlannedCell(
                    cell_dir, str(entry["label"]), int(entry["index"]), str(payload["executor"]), entry.get("job_id")
                )
        except (KeyError, TypeError, ValueError):
            continue
    return list(found.values())
