"""A worker process: the concurrency probe, then probe and real cells with the runner's ``run_cell``.

Each cell's wall time, training steps and seconds (its ``timing.csv`` files), peak GPU memory (in
the worker's own process) and precision are measured and sent back to the parent.
"""

from __future__ import annotations

import gc
import json
import pickle
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks.gpu_run.builtin_plugins import register_builtins
from benchmarks.gpu_run.concurrency_probe import measure_concurrency
from benchmarks.gpu_run.machine_record import device_record
from benchmarks.gpu_run.process_output import redirect_output
from benchmarks.gpu_run.worker_setup import WorkerSetup


def training_record(cell_dir: Path) -> tuple[int, float]:
    """Training steps and seconds of a cell: the sums over every ``timing.csv`` under its folder.

    Methods with stages (DASR) or per-volume training (ZSSR) write one ``timing.csv`` per run
    of the trainer, in sub-folders.
    """
    steps, seconds = 0, 0.0
    for path in sorted(cell_dir.rglob("timing.csv")):
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            continue
        if {"steps", "total_s"} <= set(table.columns):
            steps += int(table["steps"].sum())
            seconds += float(table["total_s"].sum())
    return steps, seconds


def run_cell_task(task: dict[str, Any], device: torch.device, data_cache: dict[str, Any]) -> dict[str, Any]:
    """Run one cell (or one probe cell) with the runner's ``run_cell``; measure time and peak GPU memory."""
    from benchmark.app.cell_run import run_cell

    gc.collect()  # the last cell's networks: out of this cell's peak memory
    if device.type == "cuda":
        torch.cuda.empty_cache()
    cell = task["cell"]
    path = task["data_path"]
    if path not in data_cache:
        with open(path, "rb") as handle:
            data_cache[path] = pickle.load(handle)
    data, inputs = data_cache[path]["data"], data_cache[path]["inputs"]
    runs_dir = Path(task["runs_dir"])
    cell_dir = cell.folder(runs_dir)
    torch.set_num_threads(task["threads"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    status, error, started = "done", "", time.perf_counter()
    try:
        run_cell(cell, data, runs_dir, device, None, inputs, False, lambda message: print(f"warning: {message}"))
    except Exception as failure:  # recorded per cell, as bench run does; the other cells go on
        status, error = "failed", f"{type(failure).__name__}: {failure}".splitlines()[0][:300]
        cell_dir.mkdir(parents=True, exist_ok=True)
        (cell_dir / "error.txt").write_text(traceback.format_exc())
        print(traceback.format_exc())
    wall_s = time.perf_counter() - started
    steps, train_s = training_record(cell_dir)
    peak = reserved = None
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        reserved = torch.cuda.max_memory_reserved(device) / 2**20
        torch.cuda.empty_cache()
    try:
        precision = json.loads((cell_dir / "environment.json").read_text()).get("precision", cell.precision)
    except (OSError, ValueError):
        precision = cell.precision
    return {
        "kind": task["kind"],
        "label": cell.label(),
        "method": cell.method,
        "setting": cell.setting,
        "status": status,
        "error": error,
        "wall_s": wall_s,
        "train_s": train_s,
        "steps": steps,
        "peak_mem_mib": peak,
        "peak_reserved_mib": reserved,
        "precision": precision,
        "cell_dir": str(cell_dir),
        "worker": task["worker"],
    }


def worker_main(setup: WorkerSetup, barrier: Any, tasks: Any, results: Any) -> None:
    """A worker process: the concurrency probe, then probe and cell tasks until it gets ``None``."""
    redirect_output(setup.log_path)
    try:
        register_builtins()
        from benchmark.device import resolve_device

        torch.set_num_threads(setup.threads)
        device = resolve_device(setup.device)
        print(f"{time.strftime('%H:%M:%S')} worker {setup.index} ready on {device}", flush=True)
        result = measure_concurrency(setup, barrier, device, timeout=120)
        print(f"{time.strftime('%H:%M:%S')} concurrency probe: {result['rows']}", flush=True)
        result["device"] = device_record(device)
    except Exception as failure:  # the parent falls back to one worker
        barrier.abort()
        print(traceback.format_exc())
        results.put(
            {"kind": "concurrency", "worker": setup.index, "rows": [], "error": f"{type(failure).__name__}: {failure}"}
        )
        return
    results.put(result)
    data_cache: dict[str, Any] = {}
    while True:
        task = tasks.get()
        if task is None:
            return
        task = {**task, "worker": setup.index}
        cell = task["cell"]
        results.put({"kind": "started", "label": cell.label(), "worker": setup.index})
        print(f"{time.strftime('%H:%M:%S')} {task['kind']} {cell.label()}", flush=True)
        try:
            results.put(run_cell_task(task, device, data_cache))
        except Exception as failure:  # outside the cell (its data did not load): reported, the worker goes on
            print(traceback.format_exc())
            error = f"{type(failure).__name__}: {failure}"
            results.put(
                {
                    "kind": task["kind"],
                    "label": cell.label(),
                    "method": cell.method,
                    "setting": cell.setting,
                    "status": "failed",
                    "error": error,
                    "wall_s": 0.0,
                    "train_s": 0.0,
                    "steps": 0,
                    "worker": setup.index,
                }
            )
