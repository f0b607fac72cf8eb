"""Cell data built once per run and handed to every cell process that needs it, as one pickle per data group.

Building a cell's data (split, load, crop, degrade, misalign: :func:`~benchmark.app.cell_run.build_cell_data`)
costs the same for every cell of a group, and on the demo it can take longer than a short cell
trains.  The inline executor builds it once per group in its one process; a queue of cell
processes would build it once per cell.  So the local queue builds each group once, in the
queue's process, writes it here, and gives each cell process the file to load instead.

A group is everything the data depend on: dataset, data root, scale, setting, the protocol's
seeds and degradations, the LR patch and the subject cap (:func:`data_group`).  The files live in
a folder of one run (the queue's scratch folder, removed when the queue ends), so they never
outlive the code and the volumes they were built from.  Pickle round-trips the arrays exactly:
a cell given a stored group computes what it would compute from data it built itself
(``tests/test_cell_data_store.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

from rich.progress import Progress

from benchmark.app.cell_run import build_cell_data
from benchmark.data.dataset import Dataset
from benchmark.protocol.groups import CellData
from benchmark.protocol.setting_names import setting_file_name
from benchmark.results.cell import Cell


def data_group(cell: Cell) -> dict[str, object]:
    """What ``cell``'s data depend on: two cells with equal groups get equal data."""
    protocol = cell.protocol
    return {
        "dataset": cell.dataset,
        "data_root": protocol.root_text(),
        "scale": str(cell.scale),
        "setting": cell.setting,
        "split_seed": protocol.split_seed,
        "misalign_seed": protocol.misalign_seed,
        "train_degradation": protocol.built_train_degradation,
        "test_degradation": protocol.test_degradation,
        "lr_patch": list(cell.profile["lr_patch"]),
        "max_subjects": cell.profile.get("max_subjects"),
    }


class CellDataStore:
    """A folder of built cell data, one pickle per data group (:func:`data_group`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, cell: Cell) -> Path:
        """Where ``cell``'s group is (or will be) stored."""
        text = json.dumps(data_group(cell), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self.folder / f"{cell.dataset}-{setting_file_name(cell.setting)}-{digest}.pkl"

    def ensure(self, cell: Cell, dataset: Dataset, progress: Progress | None = None) -> Path:
        """The file of ``cell``'s group, built from ``dataset`` first when it is not there yet."""
        path = self.path(cell)
        if not path.is_file():
            self.put(cell, build_cell_data(dataset, cell, progress))
        return path

    def put(self, cell: Cell, data: CellData) -> Path:
        """Store ``data`` as ``cell``'s group (atomically: a reader never sees half a file)."""
        path = self.path(cell)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
        return path


def load_cell_data(path: Path) -> CellData:
    """Read what :meth:`CellDataStore.put` wrote (a file of this run's own scratch folder, never a user's)."""
    with open(path, "rb") as handle:
        data = pickle.load(handle)
    if not isinstance(data, CellData):
        raise TypeError(f"{path} holds a {type(data).__name__}, not cell data")
    return data
