"""The local queue's cell data: built once per group, stored, and loaded equal to what a cell would build."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from benchmark.app.cell_run import build_cell_data
from benchmark.app.executors.cell_data_store import CellDataStore, data_group, load_cell_data
from benchmark.app.executors.local_queue import (
    QueuedCells,
    _data_for,
    _DataBuildError,
    _Queued,
    local_slots,
    run_local,
    run_queue,
)
from benchmark.app.executors.request import RunRequest
from benchmark.data.dataset import Dataset
from benchmark.errors import BenchError
from benchmark.plugins import DATASETS
from benchmark.profiles import load_profile
from benchmark.results.cell import Cell
from benchmark.results.cell_state import cell_state
from benchmark.scale import Scale


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def dataset(cache):
    return DATASETS.create("demo-small", data_root=None, cache_dir=cache)


def _cell(setting: str = "misaligned", method: str = "udean", *overrides: str) -> Cell:
    return Cell("demo-small", Scale(2, 2, 2), setting, method, 0, load_profile("tiny", overrides))


def _volumes(data) -> list[np.ndarray]:
    training = data.training  # every group, read past the method's access checks
    arrays = [v.data for v in training._target_lr + training._source_hr + training._target_hr]
    pairs = training._validation + data.test
    return arrays + [pair.lr.data for pair in pairs] + [pair.hr.data for pair in pairs]


def test_a_stored_group_loads_equal_to_the_data_a_cell_builds(tmp_path, dataset):
    cell = _cell()
    store = CellDataStore(tmp_path)
    path = store.ensure(cell, dataset)
    loaded, built = load_cell_data(path), build_cell_data(dataset, cell, None)
    assert loaded.records == built.records
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(_volumes(loaded), _volumes(built)))
    assert len(_volumes(loaded)) == len(_volumes(built)) > 0


def test_a_group_is_built_once_and_cells_that_differ_in_their_data_get_their_own(tmp_path, dataset):
    store = CellDataStore(tmp_path)
    first = store.ensure(_cell(method="udean"), dataset)
    written = first.stat().st_mtime_ns
    time.sleep(0.01)
    # Another method, seed or training key: the same data, not built again.
    again = store.ensure(dataclasses.replace(_cell("misaligned", "supervised", "steps_per_epoch=7"), seed=3), dataset)
    assert again == first and first.stat().st_mtime_ns == written
    # Another setting, LR patch or protocol seed: other data.
    others = {
        store.path(_cell(setting="unpaired")),
        store.path(_cell("misaligned", "udean", "lr_patch=(12,12,3)")),
        store.path(dataclasses.replace(_cell(), protocol=dataclasses.replace(_cell().protocol, misalign_seed=1))),
    }
    assert first not in others and len(others) == 3
    assert data_group(_cell())["setting"] == "misaligned"


def test_the_queue_gives_every_cell_of_a_group_the_one_stored_file(tmp_path, cache):
    request = RunRequest(
        methods="tricubic,zero-fill",
        dataset="demo-small",
        setting="misaligned",
        profile="tiny",
        runs_dir=str(tmp_path / "runs"),
        cache_dir=str(cache),
        device="cpu",
        threads=1,
    )
    matrix = request.matrix()
    data_dir = tmp_path / "data"
    summary = run_local(request, matrix, local_slots(None, 2, "cpu"), Console(quiet=True), data_dir=data_dir)
    assert len(summary.done) == 2 and not summary.failed
    stored = sorted(data_dir.iterdir())
    assert len(stored) == 1  # tricubic and zero-fill are both n/a cells of demo-small at 2x2x2
    commands = [(cell.folder(matrix.runs_dir) / "process.log").read_text().splitlines()[0] for cell in matrix.cells]
    assert all(command.endswith(str(stored[0])) for command in commands)
    assert set(summary.wall_seconds) == {cell.folder(Path(".")) for cell in matrix.cells}


def test_a_deadline_stops_the_running_cells_and_leaves_the_rest(tmp_path, cache, dataset):
    request = RunRequest(
        methods="udean,supervised",
        dataset="demo-small",
        setting="misaligned",
        profile="quick",
        overrides=("steps_per_epoch=100000",),
        runs_dir=str(tmp_path / "runs"),
        cache_dir=str(cache),
        device="cpu",
        threads=1,
    )
    matrix = request.matrix()
    udean, supervised = matrix.cells
    job = QueuedCells(request, matrix, [udean, supervised])
    data_dir = tmp_path / "data"
    CellDataStore(data_dir).ensure(udean, dataset)  # the cohort and the data first: the deadline is for training
    slots = local_slots(None, 1, "cpu")
    summary = run_queue([job], slots, Console(quiet=True), data_dir=data_dir, deadline=time.monotonic() + 25)
    assert summary.unfinished == [(udean, "stopped at the deadline"), (supervised, "not started before the deadline")]
    assert not summary.done and not summary.failed
    assert cell_state(udean.folder(matrix.runs_dir)).state != "done"


class _Unreadable(Dataset):
    """Ten subjects whose volumes cannot be read: ``error`` is raised by every load."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def subjects(self) -> list[str]:
        return [f"sub-{k:02d}" for k in range(1, 11)]

    def load(self, subject: str):
        raise self.error


def test_data_that_cannot_be_built_fail_their_cell_with_the_reason_and_a_users_error_stops_the_queue(tmp_path):
    cell = _cell()
    store = CellDataStore(tmp_path / "data")
    broken = _Queued(cell, 0, tmp_path, {}, {"demo-small": _Unreadable(RuntimeError("disk on fire"))})
    with pytest.raises(_DataBuildError, match="RuntimeError: disk on fire"):
        _data_for(broken, store, None)
    assert "disk on fire" in (cell.folder(tmp_path) / "error.txt").read_text()
    refused = _Queued(cell, 0, tmp_path, {}, {"demo-small": _Unreadable(BenchError("not a NIfTI file."))})
    with pytest.raises(BenchError, match="not a NIfTI file"):
        _data_for(refused, store, None)
    assert not any((tmp_path / "data").glob("*.pkl"))
