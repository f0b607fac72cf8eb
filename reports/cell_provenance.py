"""Where each finished cell's numbers come from: the command that reruns it, its commit and its environment.

Read from the cell folders (``config.json``, ``DONE``, ``environment.json``) through
:mod:`benchmark.results.cell_record`; never from a method or a dataset.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd

from benchmark.protocol.setting_names import NO_SETTING
from benchmark.results.cell import UNREAD_DEGRADATION
from benchmark.results.cell_record import DONE, DamagedCellError, RecordedCell, read_config, read_done, read_environment
from benchmark.results.schema import DEFAULT_DEGRADATION
from reports.revisions import newest_revisions

PROVENANCE_COLUMNS: tuple[str, ...] = (
    "cell",
    "command",
    "commit",
    "device",
    "cpu",
    "precision",
    "torch",
    "python",
    "threads",
    "fit_seconds",
    "finished",
)


def cpu_description(environment: dict) -> str:
    """``"<model> (<vector instruction set>)"`` from a cell's ``environment.json``; ``""`` where older cells lack it."""
    model, capability = environment.get("cpu") or "", environment.get("cpu_capability") or ""
    return f"{model} ({capability})" if model and capability else model or capability


def rerun_command(cell: RecordedCell) -> str:
    """The ``bench run`` command that runs exactly ``cell`` (its folder, hence its identity)."""
    words = ["bench", "run", "--methods", cell.method, "--dataset", cell.dataset, "--scale", cell.scale]
    if cell.setting != NO_SETTING:
        words += ["--setting", cell.setting]
    words += ["--seed", str(cell.seed), "--profile", cell.profile]
    for override in filter(None, cell.overrides.split(";")):
        words += ["--set", override]
    protocol = cell.protocol
    if protocol.train_degradation not in (DEFAULT_DEGRADATION, UNREAD_DEGRADATION):  # n/a: a method without training LR
        words += ["--train-degradation", protocol.train_degradation]
    if protocol.test_degradation != DEFAULT_DEGRADATION:
        words += ["--test-degradation", protocol.test_degradation]
    if protocol.split_seed:
        words += ["--split-seed", str(protocol.split_seed)]
    if protocol.misalign_seed:
        words += ["--misalign-seed", str(protocol.misalign_seed)]
    if protocol.data_root:
        words += ["--data-root", str(protocol.data_root)]
    words += ["--precision", cell.precision]
    return shlex.join(words)


def cell_provenance(runs_dir: Path, profile: str | None = None) -> pd.DataFrame:
    """One row per finished cell under ``runs_dir`` (of ``profile``, or all): :data:`PROVENANCE_COLUMNS`.

    A cell whose ``config.json`` cannot be read is left out (``bench run`` reruns it), as is a cell
    of a method revision that a newer one in the store superseded (:mod:`reports.revisions`).
    """
    recorded = []
    for marker in sorted(Path(runs_dir).rglob(DONE)):
        try:
            recorded.append((marker.parent, read_config(marker.parent)))
        except DamagedCellError:
            continue
    newest = newest_revisions((cell.method, cell.revision) for _, cell in recorded)
    rows = []
    for folder, cell in recorded:
        if (profile is not None and cell.profile != profile) or cell.revision < newest[cell.method]:
            continue
        environment = read_environment(folder)
        done = read_done(folder) or {}
        packages = environment.get("packages") or {}
        rows.append(
            {
                "cell": cell.label(),
                "command": rerun_command(cell),
                "commit": environment.get("git_commit") or "",
                "device": environment.get("device") or "",
                "cpu": cpu_description(environment),
                "precision": cell.precision,
                "torch": packages.get("torch", ""),
                "python": environment.get("python", ""),
                "threads": environment.get("torch_threads", ""),
                "fit_seconds": done.get("fit_seconds", ""),
                "finished": done.get("finished", ""),
            }
        )
    return pd.DataFrame(rows, columns=list(PROVENANCE_COLUMNS))
