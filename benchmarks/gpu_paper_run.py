"""The ``paper`` profile on one GPU machine in one command: cohort, throughput probes, budgeted cells, report.

Device command (the ``run`` tool, ``carry: [".whl"]``, ``timeout_s`` 600; ``.whl`` holds the
nibabel and nilearn wheels, see the README section "The paper profile on a GPU")::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 \\
        && python3 benchmarks/gpu_paper_run.py --out $OUT --minutes 7

CPU dry run (what ``tests/test_gpu_paper_run.py`` runs; every phase, tiny sizes, about a minute)::

    PYTHONPATH=. python benchmarks/gpu_paper_run.py --dry-run --out /tmp/gpu-dry \\
        --methods tricubic,supervised-aligned,zssr

The project is not pip-installed on the GPU machine, so its entry points (``bench.plugins``)
do not exist there: :func:`register_builtins` imports the built-in plugins by module, in this
process and in every worker.  Everything runs in this process and its spawned children; the
parent never trains.  Phases, all inside ``--minutes``:

1. **Concurrency probe.**  ``max(--levels)`` worker processes start; each trains the
   supervised TS-RCAN plan of the profile (paper network, patch and batch) on synthetic
   volumes through the shared trainer.  For each level ``L`` in ``--levels`` the first ``L``
   workers train together for ``--level-seconds`` (a barrier starts and ends each window) and
   the aggregate steps/s is recorded.  The chosen concurrency ``P`` is the smallest level
   within 5 % of the best aggregate; the other workers exit.
2. **Cohort and data** (meanwhile, on the CPU): the demo cohort is generated (the dataset
   plugin, as ``bench run`` does), then each setting's cell data is built once, by the
   runner's own data path, in one spawned process per setting, and handed to the workers as a
   pickle, so that no cell rebuilds it (building the misaligned demo data takes longer than
   many cells train).
3. **Method probe.**  One cell per method trains ``K`` steps (``K`` from the concurrency
   probe: about ``--probe-seconds`` of the supervised plan) on the ``P`` workers, so each
   method's seconds per step are measured under the sharing the real cells will see, together
   with its fixed cost (data view, validation, checkpoint, test-volume inference, metrics).
   Every probe uses the data built first (a step costs the same in either setting), so the
   probes overlap the building of the other setting's data; probe cells are thrown away.
   A method whose probe fails (e.g. ``supervised-rigid`` where SimpleITK is missing) is
   skipped; the reason is recorded.
4. **Budget.**  ``--budget steps`` (default): one step count ``N`` for every method (the paper
   trains every method for the same epochs; one set of overrides keeps every cell in one
   report table), the largest whose longest-first schedule of all cells on ``P`` workers ends
   inside the window.  ``--budget time``: the same seconds of training per cell, so
   ``N_m = seconds / (seconds per step of m)`` (cells then land in one report table per
   method).  ``N`` never exceeds the profile's own budget (paper: 30 epochs of ``auto``
   steps).  Cells get ``--set epochs=1 steps_per_epoch=N`` (and each method's own ``*_steps``
   key, e.g. ``zssr_steps``), ``val_every = N // --curve-points`` and ``checkpoint_every = N``.
5. **Cells.**  The cells go, longest first, to the ``P`` workers, which run them with the
   runner's :func:`~benchmark.runner.run_cell`; each records its wall time, its training
   time and steps (``timing.csv``), its peak GPU memory (``torch.cuda.max_memory_allocated`` in
   its own process) and its precision (``environment.json``).  Workers still running at the
   deadline are killed and their cells reported as unfinished.
6. **Report and packaging** into ``--out``, at most 8 files of at most 16 MiB, named with
   ``[A-Za-z0-9._-]``: ``results.csv``, ``cells.csv``, ``summary.md``, ``run.json`` (command,
   harness commit and source digest, machine, probes, budget, phases), ``log.txt``,
   ``report.tar.gz`` (the ``bench report`` folder and each cell's small files),
   ``learning_curves.png`` and ``error_maps.png`` (the report's figures, stacked).  ``bench
   report`` draws error maps only of cells without ``--set`` overrides, so where it drew none
   the script draws them with the report's own figure function.

The exit status is 0 when every planned cell finished and the outputs fit the limits, else 1;
the outputs are written either way.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import hashlib
import importlib
import io
import json
import math
import multiprocessing as mp
import os
import pickle
import platform
import queue
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmark.protocol.setting_names import NO_SETTING

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_PLUGINS: tuple[str, ...] = ("benchmark.protocol.degradations", "datasets", "methods")
"""The modules of the ``bench.plugins`` entry points in ``pyproject.toml`` (a test keeps them equal)."""
OUTPUT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_OUTPUT_FILES = 8
MAX_OUTPUT_BYTES = 16 * 2**20
CONCURRENCY_TOLERANCE = 0.05
SMALL_FILE_SUFFIXES = (".csv", ".json", ".txt", ".md")


def register_builtins() -> None:
    """Import the built-in plugins by module, so that they register without installed entry points.

    Where the project is only on ``PYTHONPATH`` (the GPU machine), ``importlib.metadata`` finds
    no ``bench.plugins`` entry points and the registries would stay empty.  Where it is
    installed, the entry points name these same modules, already imported, so nothing
    registers twice.
    """
    for module in BUILTIN_PLUGINS:
        importlib.import_module(module)


# ----------------------------------------------------------------------------- options
@dataclasses.dataclass(frozen=True)
class Options:
    """The resolved command line (see :func:`parse_options` for each option's meaning)."""

    out: Path
    work: Path
    cache_dir: Path
    minutes: float
    device: str
    precision: str
    profile: str
    dataset: str
    scale: str
    settings: tuple[str, ...]
    methods: str
    seed: int
    budget: str
    levels: tuple[int, ...]
    level_seconds: float
    warmup_steps: int
    probe_seconds: float
    curve_points: int
    min_steps: int
    max_steps: int | None
    report_seconds: float
    margin: float
    dry_run: bool


GPU_DEFAULTS: dict[str, Any] = {
    "minutes": 7.0,
    "device": "auto",
    "profile": "paper",
    "dataset": "demo",
    "levels": "1,2,4,8",
    "level_seconds": 4.0,
    "warmup_steps": 5,
    "probe_seconds": 2.5,
    "report_seconds": 45.0,
    "max_steps": None,
}
DRY_RUN_DEFAULTS: dict[str, Any] = {
    "minutes": 1.5,
    "device": "cpu",
    "profile": "tiny",
    "dataset": "demo-small",
    "levels": "1,2",
    "level_seconds": 1.0,
    "warmup_steps": 1,
    "probe_seconds": 0.5,
    "report_seconds": 25.0,
    "max_steps": 30,
}


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Parse the command line; ``--dry-run`` changes the defaults of the options not given."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder [default: $OUT, else ./gpu-run]")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder: runs, data [default: a new temp dir]")
    parser.add_argument("--cache-dir", type=Path, default=None, help="demo cohort cache [default: <work>/cache]")
    parser.add_argument("--minutes", type=float, help="wall-clock budget of the whole script [7; dry run 1.5]")
    parser.add_argument("--device", help="auto, cuda, cuda:N or cpu [auto; dry run cpu]")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16 (as bench run) [auto]")
    parser.add_argument("--profile", help="profile [paper; dry run tiny]")
    parser.add_argument("--dataset", help="dataset [demo; dry run demo-small]")
    parser.add_argument("--scale", default="2x2x2", help="scale [2x2x2]")
    parser.add_argument("--settings", default="misaligned,unpaired", help="settings [misaligned,unpaired]")
    parser.add_argument("--methods", default="all", help="methods or wildcards [all]")
    parser.add_argument("--seed", type=int, default=0, help="training seed [0]")
    parser.add_argument("--budget", choices=("steps", "time"), default="steps", help="same steps or same seconds")
    parser.add_argument("--levels", help="concurrency levels to measure [1,2,4,8; dry run 1,2]")
    parser.add_argument("--level-seconds", type=float, help="length of each concurrency window [4; dry run 1]")
    parser.add_argument("--warmup-steps", type=int, help="steps before the concurrency windows [5; dry run 1]")
    parser.add_argument("--probe-seconds", type=float, help="target length of each method probe [2.5; dry run 0.5]")
    parser.add_argument("--curve-points", type=int, default=15, help="validations per learning curve [15]")
    parser.add_argument("--min-steps", type=int, default=1, help="fewest training steps of a cell [1]")
    parser.add_argument("--max-steps", type=int, help="most steps [the profile's own budget; dry run 30]")
    parser.add_argument("--report-seconds", type=float, help="time kept for report and packaging [45; dry 25]")
    parser.add_argument("--margin", type=float, default=0.12, help="share of the cell window kept free [0.12]")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny profile, demo-small, 1.5 minutes")
    parser.add_argument("--source-digest", action="store_true", help="print the source digest and exit")
    args = parser.parse_args(argv)
    if args.source_digest:
        print(source_digest())
        raise SystemExit(0)
    defaults = DRY_RUN_DEFAULTS if args.dry_run else GPU_DEFAULTS
    values = {key: getattr(args, key) if getattr(args, key) is not None else defaults[key] for key in defaults}
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-paper-run-"))
    out = args.out or Path(os.environ.get("OUT") or "gpu-run")
    return Options(
        out=out.resolve(),
        work=work.resolve(),
        cache_dir=(args.cache_dir or work / "cache").resolve(),
        minutes=float(values["minutes"]),
        device=str(values["device"]),
        precision=args.precision,
        profile=str(values["profile"]),
        dataset=str(values["dataset"]),
        scale=args.scale,
        settings=tuple(s.strip() for s in args.settings.split(",") if s.strip()),
        methods=args.methods,
        seed=args.seed,
        budget=args.budget,
        levels=tuple(sorted({int(x) for x in str(values["levels"]).split(",") if x.strip()})),
        level_seconds=float(values["level_seconds"]),
        warmup_steps=int(values["warmup_steps"]),
        probe_seconds=float(values["probe_seconds"]),
        curve_points=args.curve_points,
        min_steps=args.min_steps,
        max_steps=values["max_steps"],
        report_seconds=float(values["report_seconds"]),
        margin=args.margin,
        dry_run=args.dry_run,
    )


# ----------------------------------------------------------------------------- pure helpers
def source_digest(root: Path = ROOT) -> str:
    """SHA-256 of the harness sources (``*.py``, ``*.csv`` of its packages, ``pyproject.toml``).

    Identifies the code a run used where git is absent (the GPU machine gets no ``.git``):
    ``python benchmarks/gpu_paper_run.py --source-digest`` at a commit prints the same value.
    """
    files = [root / "pyproject.toml"]
    for folder in ("benchmark", "methods", "datasets", "reports", "benchmarks"):
        files += [
            path
            for path in (root / folder).rglob("*")
            if path.is_file() and path.suffix in (".py", ".csv") and "__pycache__" not in path.parts
        ]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def aggregate_levels(rows: Sequence[dict[str, Any]], batch_size: int) -> list[dict[str, float]]:
    """Per concurrency level: aggregate steps/s and patches/s, and the mean seconds per step of one process.

    Args:
        rows: one row per (worker, level) it trained in: ``level``, ``steps``, ``seconds``.
        batch_size: patches per step.
    """
    levels: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        levels.setdefault(int(row["level"]), []).append(row)
    table = []
    for level, members in sorted(levels.items()):
        rates = [r["steps"] / r["seconds"] for r in members if r["seconds"] > 0 and r["steps"] > 0]
        aggregate = float(sum(rates))
        table.append(
            {
                "level": level,
                "processes": len(members),
                "aggregate_steps_per_s": aggregate,
                "aggregate_patches_per_s": aggregate * batch_size,
                "s_per_step_per_process": float(np.mean([1 / r for r in rates])) if rates else math.inf,
            }
        )
    return table


def choose_concurrency(table: Sequence[dict[str, float]], tolerance: float = CONCURRENCY_TOLERANCE) -> int:
    """The smallest level whose aggregate steps/s is within ``tolerance`` of the best (1 if none measured)."""
    usable = [row for row in table if row["aggregate_steps_per_s"] > 0]
    if not usable:
        return 1
    best = max(row["aggregate_steps_per_s"] for row in usable)
    return int(min(row["level"] for row in usable if row["aggregate_steps_per_s"] >= (1 - tolerance) * best))


def longest_first_makespan(durations: Sequence[float], workers: int) -> float:
    """Finish time of ``durations`` handed out longest first to the least-loaded of ``workers``."""
    loads = [0.0] * max(1, workers)
    for duration in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += duration
    return max(loads)


@dataclasses.dataclass(frozen=True)
class MethodCost:
    """What a method's probe measured: fixed seconds per cell and training seconds per step."""

    overhead_s: float
    step_s: float


def plan_steps(
    costs: dict[str, MethodCost],
    cell_methods: Sequence[str],
    workers: int,
    window_s: float,
    mode: str,
    min_steps: int,
    max_steps: int,
) -> tuple[dict[str, int], float]:
    """Training steps per method so that every cell ends inside ``window_s`` on ``workers``.

    Args:
        costs: each method's probe costs; a method with ``step_s == 0`` does not train.
        cell_methods: the method of every cell to run (a method may have several cells).
        workers: processes running cells at once.
        window_s: seconds from the first cell's start to the last cell's end.
        mode: ``"steps"``: the same step count ``N`` for every training method, the largest that
            fits; ``"time"``: the same training seconds ``B`` per cell, ``N_m = B / step_s``.
        min_steps, max_steps: bounds of every step count.

    Returns:
        ``(steps per method, planned makespan in seconds)``; with ``min_steps`` the plan may
        not fit, which the makespan shows.
    """

    def steps_for(knob: float) -> dict[str, int]:
        steps = {}
        for method in set(cell_methods):
            cost = costs[method]
            if cost.step_s <= 0:
                steps[method] = 0
            elif mode == "steps":
                steps[method] = int(knob)
            else:
                steps[method] = min(max_steps, max(min_steps, int(knob / cost.step_s)))
        return steps

    def makespan(steps: dict[str, int]) -> float:
        durations = [costs[m].overhead_s + steps[m] * costs[m].step_s for m in cell_methods]
        return longest_first_makespan(durations, workers)

    if mode == "steps":
        low, high = min_steps, max(min_steps, max_steps)
        if makespan(steps_for(high)) <= window_s:
            low = high
        while low < high:  # the largest N that fits (low always fits or is min_steps)
            middle = (low + high + 1) // 2
            if makespan(steps_for(middle)) <= window_s:
                low = middle
            else:
                high = middle - 1
        chosen = steps_for(low)
    else:
        low_s, high_s = 0.0, max(window_s, 0.0)
        for _ in range(60):
            middle_s = (low_s + high_s) / 2
            if makespan(steps_for(middle_s)) <= window_s:
                low_s = middle_s
            else:
                high_s = middle_s
        chosen = steps_for(low_s)
    return chosen, makespan(chosen)


def budget_overrides(steps: int, knobs: Sequence[str], curve_points: int) -> list[str]:
    """``--set`` overrides giving ``steps`` training steps: ``epochs=1``, each step key, validation and checkpoints."""
    overrides = ["epochs=1", f"val_every={max(1, steps // max(1, curve_points))}", f"checkpoint_every={steps}"]
    overrides += [f"{knob}={steps}" for knob in sorted(set(knobs))]
    return overrides


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


# ----------------------------------------------------------------------------- worker side
@dataclasses.dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs to start: device, the concurrency probe, its log file."""

    index: int
    device: str
    precision: str
    profile: str
    scale: str
    levels: tuple[int, ...]
    level_seconds: float
    warmup_steps: int
    threads: int
    log_path: str
    scratch: str


def _redirect_output(log_path: str) -> None:
    """Send this process's stdout and stderr (C level too) to ``log_path``."""
    handle = open(log_path, "a", buffering=1)  # noqa: SIM115 (kept open for the process's life)
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle


def _synthetic_supervised_step(setup: WorkerSetup, device: torch.device) -> tuple[Callable[[], None], int]:
    """One training step of the profile's supervised TS-RCAN plan on synthetic volumes, and its batch size."""
    from synthetic_volumes import synthetic_pairs

    from benchmark.profiles import load_profile
    from benchmark.protocol.training_data import VolumePair
    from benchmark.scale import Scale
    from benchmark.training.run_context import RunContext
    from benchmark.training.trainer import Trainer
    from methods.networks import ts_rcan_from_profile
    from methods.supervised import PairedSlabPlan

    profile = load_profile(setup.profile)
    scale = Scale.parse(setup.scale)
    px, py, _ = profile["lr_patch"]
    hr_shape = (2 * px * scale.sx, 2 * py * scale.sy, 16 * scale.sz)
    lrs, hrs = synthetic_pairs(hr_shape, scale, 2)
    torch.manual_seed(setup.index)
    network = ts_rcan_from_profile(profile, scale).to(device)
    plan = PairedSlabPlan(network, lrs, hrs, [VolumePair(lrs[0], hrs[0])], scale, profile, device)
    folder = Path(setup.scratch) / f"concurrency-{setup.index}"
    run = RunContext(device, setup.index, profile, scale, folder, folder / "checkpoints", precision=setup.precision)
    trainer = Trainer(plan, run, total_steps=1)
    rng = np.random.default_rng(setup.index)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        plan.train_step(plan.sample_batch(rng), trainer)
        synchronize()

    return step, int(profile["batch_size"])


def measure_concurrency(setup: WorkerSetup, barrier: Any, device: torch.device, timeout: float) -> dict[str, Any]:
    """Warm up, then train in each level's window whose first ``level`` workers include this one."""
    started = time.perf_counter()
    step, batch_size = _synthetic_supervised_step(setup, device)
    for _ in range(setup.warmup_steps):
        step()
    warmup_s = time.perf_counter() - started
    rows = []
    for level in setup.levels:
        barrier.wait(timeout)
        if setup.index < level:
            steps, window_start = 0, time.perf_counter()
            while time.perf_counter() - window_start < setup.level_seconds:
                step()
                steps += 1
            rows.append(
                {"level": level, "worker": setup.index, "steps": steps, "seconds": time.perf_counter() - window_start}
            )
        barrier.wait(timeout)
    return {"kind": "concurrency", "worker": setup.index, "rows": rows, "batch_size": batch_size, "warmup_s": warmup_s}


def device_record(device: torch.device) -> dict[str, Any]:
    """Torch, CUDA and GPU facts of this process's device."""
    record: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        record.update(
            gpu=properties.name,
            gpu_memory_mib=round(properties.total_memory / 2**20),
            multiprocessors=properties.multi_processor_count,
            cudnn=torch.backends.cudnn.version(),
        )
    return record


def run_cell_task(task: dict[str, Any], device: torch.device, data_cache: dict[str, Any]) -> dict[str, Any]:
    """Run one cell (or one probe cell) with the runner's ``run_cell``; measure time and peak GPU memory."""
    from benchmark.runner import run_cell

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
    _redirect_output(setup.log_path)
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


def build_data_main(dataset_name: str, cell: Any, cache_dir: str, out_path: str, log_path: str, ready: Any) -> None:
    """A data process: once the cohort is ``ready``, build one setting's cell data as ``bench run`` does.

    The data and their input record (what ``DONE`` records) are pickled to ``out_path``, a few
    facts (seconds, the profile's own step budget, shapes) to ``out_path + ".json"``.
    """
    _redirect_output(log_path)
    register_builtins()
    if not ready.wait(timeout=3600):
        raise RuntimeError("the cohort was never made")
    from benchmark.plugins import DATASETS
    from benchmark.protocol.groups import cohort
    from benchmark.results.inputs import input_record
    from benchmark.runner import _build  # the runner's own data path: the same volumes as bench run
    from benchmark.training.trainer import total_steps

    started = time.perf_counter()
    dataset = DATASETS.create(dataset_name, data_root=None, cache_dir=Path(cache_dir))
    data = _build(dataset, cell, None)
    subjects = cohort(dataset, cell.profile.get("max_subjects"))
    inputs = input_record(dataset, data.records.get("hr_shapes", {}).keys(), subjects, {})
    record = {"data": data, "inputs": inputs}
    with open(out_path + ".tmp", "wb") as handle:
        pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(out_path + ".tmp", out_path)
    facts = {
        "setting": cell.setting,
        "seconds": time.perf_counter() - started,
        "profile_steps": total_steps(cell.profile, [v.shape for v in data.training.target_lr]),
        "lr_shapes": [list(v.shape) for v in data.training.target_lr],
        "test_subjects": [pair.hr.subject for pair in data.test],
    }
    Path(out_path + ".json").write_text(json.dumps(facts))


# ----------------------------------------------------------------------------- parent side
class RunLog:
    """Timestamped lines (seconds since the start) to stdout and to a file."""

    def __init__(self, path: Path, started: float) -> None:
        self.path, self.started = path, started
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f}s] {message}"
        print(line, flush=True)
        with self.path.open("a") as handle:
            handle.write(line + "\n")

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.started


@dataclasses.dataclass
class Run:
    """Everything the parent learns along the way; written to ``run.json``."""

    options: Options
    phases: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    machine: dict[str, Any] = dataclasses.field(default_factory=dict)
    concurrency: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    probe: dict[str, Any] = dataclasses.field(default_factory=dict)
    budget: dict[str, Any] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    cells: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)


class Phase:
    """Context manager recording a phase's start and end (seconds since the start) in ``run.phases``."""

    def __init__(self, run: Run, log: RunLog, name: str) -> None:
        self.run, self.log, self.name = run, log, name

    def __enter__(self) -> None:
        self.run.phases[self.name] = [round(self.log.elapsed(), 1)]
        self.log(f"phase {self.name}")

    def __exit__(self, *exc: object) -> None:
        self.run.phases[self.name].append(round(self.log.elapsed(), 1))


def step_knobs(method_names: Sequence[str]) -> dict[str, str | None]:
    """The ``--set`` key giving each method's training steps, or ``None`` for a method that does not train.

    A method's own ``<name>_steps`` setting (ZSSR's per-volume iterations) wins; a method trained
    by the shared trainer uses ``steps_per_epoch`` (with ``epochs=1``).
    """
    from benchmark.plugins import METHODS
    from benchmark.settings import declared
    from methods.thin_slab import ThinSlabMethod

    settings = declared()
    knobs: dict[str, str | None] = {}
    for name in method_names:
        own = f"{name}_steps"
        if own in settings and settings[own].owner == name:
            knobs[name] = own
        elif issubclass(METHODS.factory(name), ThinSlabMethod):
            knobs[name] = "steps_per_epoch"
        else:
            knobs[name] = None
    return knobs


def patches_per_step(method: str, scale: str, profile: Any) -> int:
    """Patches (or son/father pairs) per training step: a method's own ``settings.batch_size``, else the profile's."""
    from benchmark.plugins import METHODS
    from benchmark.scale import Scale

    instance = METHODS.create(method, scale=Scale.parse(scale), profile=profile)
    own = getattr(getattr(instance, "settings", None), "batch_size", None)
    return int(own if own is not None else profile["batch_size"])


class Session:
    """The parent's side of one run: the worker and data processes, their queues, phases 1–5.

    The parent never trains; it only starts processes, generates the cohort, sizes the budget
    and hands out cells.  Results stay in ``<work>/runs``; what was learned goes to ``run``.
    """

    def __init__(self, options: Options, run: Run, log: RunLog, deadline: float) -> None:
        from benchmark.device import resolve_device
        from benchmark.plugins import METHODS
        from benchmark.precision import resolve_precision
        from benchmark.profiles import load_profile
        from benchmark.results.cell import ProtocolOptions
        from benchmark.runner import build_matrix
        from benchmark.scale import Scale

        self.options, self.run, self.log, self.deadline = options, run, log, deadline
        device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, device)
        self.base_profile = load_profile(options.profile)
        self.cells = build_matrix(
            METHODS.resolve(options.methods),
            [options.dataset],
            [Scale.parse(options.scale)],
            list(options.settings),
            [options.seed],
            self.base_profile,
            ProtocolOptions(),
            precision=self.precision,
        )
        self.methods = list(dict.fromkeys(cell.method for cell in self.cells))
        log(f"{len(self.cells)} cells, {len(self.methods)} methods, device {device}, precision {self.precision}")
        self.cpus = os.cpu_count() or 1
        self.levels = tuple(level for level in options.levels if level >= 1) or (1,)
        self.logs = options.work / "logs"
        for folder in (self.logs, options.work / "scratch", options.work / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        context = mp.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.barrier = context.Barrier(max(self.levels))  # kept: its semaphores must outlive the spawns
        self.workers = [
            context.Process(
                target=worker_main,
                args=(self._worker_setup(index), self.barrier, self.tasks, self.results),
                daemon=True,
            )
            for index in range(max(self.levels))
        ]
        # One data process per setting; cells without source HR (n/a) use the first setting's data.
        settings = [s for s in dict.fromkeys(c.setting for c in self.cells) if s in options.settings]
        self.data_settings = settings or [options.settings[0]]
        self.data_paths = {s: str(options.work / "data" / f"data-{s}.pkl") for s in self.data_settings}
        self.cohort_ready = context.Event()
        self.builders = [
            context.Process(
                target=build_data_main,
                args=(
                    options.dataset,
                    next((c for c in self.cells if c.setting == s), self.cells[0]),
                    str(options.cache_dir),
                    self.data_paths[s],
                    str(self.logs / f"data-{s}.txt"),
                    self.cohort_ready,
                ),
                daemon=True,
            )
            for s in self.data_settings
        ]
        self.workers_running = len(self.workers)

    def _worker_setup(self, index: int) -> WorkerSetup:
        o = self.options
        return WorkerSetup(
            index=index,
            device=o.device,
            precision=self.precision,
            profile=o.profile,
            scale=o.scale,
            levels=self.levels,
            level_seconds=o.level_seconds,
            warmup_steps=o.warmup_steps,
            threads=max(1, self.cpus // max(self.levels)),
            log_path=str(self.logs / f"worker-{index}.txt"),
            scratch=str(o.work / "scratch"),
        )

    # ------------------------------------------------------------------ process plumbing
    def alive(self) -> bool:
        """Whether some worker still runs."""
        return any(worker.is_alive() for worker in self.workers)

    def submit(self, kind: str, cell: Any, runs_dir: Path, threads: int, setting: str | None = None) -> None:
        """Queue one cell for the next free worker, with the data of ``setting`` (default: the cell's)."""
        setting = setting or cell.setting
        path = self.data_paths.get(setting, self.data_paths[self.data_settings[0]])
        self.tasks.put({"kind": kind, "cell": cell, "data_path": path, "runs_dir": str(runs_dir), "threads": threads})

    def collect(self, wanted: int, until: float, kind: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """Gather ``wanted`` results of ``kind`` until the monotonic time ``until``; also who runs what."""
        gathered: list[dict[str, Any]] = []
        running: dict[int, str] = {}
        while len(gathered) < wanted:
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            try:
                result = self.results.get(timeout=min(remaining, 5.0))
            except queue.Empty:
                if not self.alive():
                    self.log("every worker has exited")
                    break
                continue
            if result["kind"] == "started":
                running[result["worker"]] = result["label"]
                continue
            running.pop(result.get("worker", -1), None)
            if result["kind"] != kind:
                continue
            gathered.append(result)
            if kind != "concurrency":
                self.log(
                    f"{kind} {result['label']}: {result['status']} in {result['wall_s']:.1f} s "
                    f"({result['steps']} steps, {result['train_s']:.1f} s training)"
                    + (f"; {result['error']}" if result["error"] else "")
                )
        return gathered, running

    def stop(self) -> None:
        """Tell every worker to exit; kill the ones still in a cell after 5 s, and any data process left."""
        for _ in range(self.workers_running):
            self.tasks.put(None)
        stop_by = time.monotonic() + 5
        for process in [*self.workers, *self.builders]:
            if process.pid is None:
                continue
            process.join(timeout=max(0.1, stop_by - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    # ------------------------------------------------------------------ phases
    def execute(self) -> None:
        """Phases 1–5; the processes are stopped whatever happens."""
        try:
            chosen = self.concurrency_and_data()
            costs, knobs = self.probe(chosen)
            self.cells_phase(chosen, costs, knobs)
        finally:
            self.stop()

    def concurrency_and_data(self) -> int:
        """Phases 1–2: the concurrency probe on the workers while the cohort and the data are made."""
        options, log = self.options, self.log
        with Phase(self.run, log, "concurrency_probe"):
            for process in [*self.workers, *self.builders]:
                process.start()
            log(f"{len(self.workers)} workers, levels {list(self.levels)} of {options.level_seconds:g} s")
            with Phase(self.run, log, "cohort"):
                from benchmark.plugins import DATASETS

                DATASETS.create(options.dataset, data_root=None, cache_dir=options.cache_dir)
            self.cohort_ready.set()
            self.run.phases["data"] = [round(log.elapsed(), 1)]
            found, _ = self.collect(len(self.workers), self.deadline, "concurrency")
        batch = next((r["batch_size"] for r in found if "batch_size" in r), int(self.base_profile["batch_size"]))
        table = aggregate_levels([row for r in found for row in r.get("rows", [])], batch)
        chosen = max(1, min(choose_concurrency(table), len(self.cells), len(self.workers)))
        self.run.machine.update(next((r["device"] for r in found if "device" in r), {}))
        self.run.concurrency = {
            "plan": f"supervised TS-RCAN, {options.profile} profile, synthetic volumes, batch {batch}",
            "window_s": options.level_seconds,
            "levels": table,
            "chosen": chosen,
            "rule": f"smallest level within {CONCURRENCY_TOLERANCE:.0%} of the best aggregate steps/s",
            "warmup_s": [round(r.get("warmup_s", 0.0), 2) for r in found],
            "errors": [r["error"] for r in found if r.get("error")],
            "note": "measured while the cohort and the data were made on the CPU",
        }
        for row in table:
            log(
                f"concurrency {row['level']}: {row['aggregate_steps_per_s']:.2f} steps/s in all, "
                f"{row['s_per_step_per_process']:.3f} s/step per process"
            )
        log(f"chosen concurrency: {chosen}")
        for _ in range(len(self.workers) - chosen):
            self.tasks.put(None)  # the first workers to ask exit; `chosen` remain
        self.workers_running = chosen
        self.wait_for_data(first_only=True)
        return chosen

    def wait_for_data(self, first_only: bool) -> None:
        """Wait for the first (or every) setting's data; record the facts of those built.

        Raises:
            RuntimeError: a data process ended without its data, or the deadline came first.
        """
        while True:
            for setting, path in self.data_paths.items():
                facts = Path(path + ".json")
                if setting not in self.run.data and facts.is_file():
                    self.run.data[setting] = json.loads(facts.read_text())
                    self.log(f"data {setting}: {self.run.data[setting]['seconds']:.1f} s")
            if len(self.run.data) == len(self.data_paths) or (first_only and self.run.data):
                break
            for setting, builder in zip(self.data_paths, self.builders):
                if (
                    setting not in self.run.data
                    and not builder.is_alive()
                    and not Path(self.data_paths[setting] + ".json").is_file()
                ):
                    raise RuntimeError(f"the {setting} data were not built; see {self.logs / f'data-{setting}.txt'}")
            if time.monotonic() > self.deadline:
                raise RuntimeError("the data were not built before the deadline")
            time.sleep(0.2)
        if len(self.run.data) == len(self.data_paths) and len(self.run.phases["data"]) == 1:
            self.run.phases["data"].append(round(self.log.elapsed(), 1))

    def probe(self, chosen: int) -> tuple[dict[str, MethodCost], dict[str, str | None]]:
        """Phase 3: one short cell per method on the ``chosen`` workers; failed methods are skipped."""
        from benchmark.profiles import load_profile

        options, run = self.options, self.run
        profile_steps = int(next(iter(run.data.values()))["profile_steps"])
        self.max_steps = options.max_steps or profile_steps
        self.threads = max(1, self.cpus // chosen)
        knobs = step_knobs(self.methods)
        table = run.concurrency["levels"]
        per_step = next((r["s_per_step_per_process"] for r in table if r["level"] == chosen), math.inf)
        guess = round(options.probe_seconds / per_step) if math.isfinite(per_step) else 3
        probe_steps = int(min(self.max_steps, max(3, guess)))
        # As many validations as a cell will do: their cost is part of the fixed cost measured.
        probe_overrides = budget_overrides(probe_steps, [k for k in knobs.values() if k], options.curve_points)
        profile = load_profile(options.profile, probe_overrides)
        with Phase(run, self.log, "method_probe"):
            # A method probes on the data built first when one of its cells uses that setting (or
            # none: n/a), so these probes overlap the building of the other setting's data; the
            # others (e.g. supervised: misaligned only) wait for theirs.  Probe cells are not kept.
            ready = next(s for s in self.data_paths if s in run.data)
            probe_cells = {}
            for method in self.methods:
                mine = [c for c in self.cells if c.method == method]
                probe_cells[method] = next((c for c in mine if c.setting in (ready, NO_SETTING)), mine[0])
            now = [m for m in self.methods if probe_cells[m].setting in (ready, NO_SETTING)]
            later = [m for m in self.methods if m not in now]
            run.budget["probe_data"] = {m: ready if m in now else probe_cells[m].setting for m in self.methods}
            for method in [*now, None, *later]:
                if method is None:
                    self.wait_for_data(first_only=False)
                    continue
                cell = dataclasses.replace(probe_cells[method], profile=profile)
                self.submit(
                    "probe", cell, options.work / "probe-runs", self.threads, setting=ready if method in now else None
                )
            probes, _ = self.collect(len(self.methods), self.deadline, "probe")
        costs: dict[str, MethodCost] = {}
        for method in self.methods:
            found = next((p for p in probes if p["method"] == method), None)
            if found is None or found["status"] != "done":
                run.skipped[method] = found["error"] if found else "its probe did not finish in time"
                self.log(f"skipped {method}: {run.skipped[method]}")
                continue
            trains = knobs[method] is not None and found["steps"] > 0
            step_s = found["train_s"] / probe_steps if trains else 0.0
            costs[method] = MethodCost(overhead_s=max(0.0, found["wall_s"] - found["train_s"]), step_s=step_s)
            run.probe[method] = {
                "steps": probe_steps if trains else 0,
                "trainer_steps": found["steps"],
                "train_s": round(found["train_s"], 3),
                "s_per_step": round(step_s, 5),
                "overhead_s": round(costs[method].overhead_s, 2),
                "wall_s": round(found["wall_s"], 2),
                "peak_mem_mib": found["peak_mem_mib"],
                "peak_reserved_mib": found["peak_reserved_mib"],
            }
        run.budget["profile_budget_steps"] = profile_steps
        run.budget["probe_steps"] = probe_steps
        return costs, knobs

    def fit_in_memory(self, chosen: int, share: float = 0.85) -> int:
        """Fewer workers if ``chosen`` copies of the largest probe's peak GPU memory exceed ``share`` of the GPU."""
        total = self.run.machine.get("gpu_memory_mib")
        peaks = [p["peak_reserved_mib"] for p in self.run.probe.values() if p.get("peak_reserved_mib")]
        if not total or not peaks:
            return chosen
        fits = max(1, int(share * total // max(peaks)))
        if fits >= chosen:
            return chosen
        self.log(f"{chosen} workers would need {chosen * max(peaks):.0f} MiB of {total} MiB: {fits} run the cells")
        for _ in range(chosen - fits):
            self.tasks.put(None)  # idle workers: the first ones to ask exit
        self.workers_running = fits
        self.run.concurrency["chosen_for_memory"] = fits
        return fits

    def cells_phase(self, chosen: int, costs: dict[str, MethodCost], knobs: dict[str, str | None]) -> None:
        """Phases 4–5: size the steps to the time left, run every cell, record what each did."""
        from benchmark.profiles import load_profile

        options, run, log = self.options, self.run, self.log
        self.wait_for_data(first_only=False)
        chosen = self.fit_in_memory(chosen)
        main_cells = [c for c in self.cells if c.method in costs]
        kill_at = self.deadline - options.report_seconds
        window = max(0.0, (kill_at - time.monotonic()) * (1 - options.margin))
        methods = [c.method for c in main_cells]
        steps, makespan = plan_steps(costs, methods, chosen, window, options.budget, options.min_steps, self.max_steps)
        common = max([n for n in steps.values() if n > 0], default=options.min_steps)
        profiles = {}
        for method in costs:
            if options.budget == "steps":  # one set of overrides for every cell: one report table
                own = [k for m, k in knobs.items() if k and m in costs]
                profiles[method] = load_profile(options.profile, budget_overrides(common, own, options.curve_points))
            else:
                own = [knobs[method]] if knobs[method] else []
                overrides = budget_overrides(max(steps[method], options.min_steps), own, options.curve_points)
                profiles[method] = load_profile(options.profile, overrides)
        estimates = {m: costs[m].overhead_s + steps[m] * costs[m].step_s for m in costs}
        run.budget.update(
            mode=options.budget,
            steps=steps,
            step_keys=knobs,
            overrides={m: p.overrides_text() for m, p in profiles.items()},
            max_steps=self.max_steps,
            capped_at_max_steps=any(n >= self.max_steps for n in steps.values()),
            workers=chosen,
            threads_per_worker=self.threads,
            window_s=round(window, 1),
            planned_makespan_s=round(makespan, 1),
            estimates_s={m: round(v, 1) for m, v in estimates.items()},
        )
        log(f"budget ({options.budget}): {steps}; window {window:.0f} s, planned {makespan:.0f} s on {chosen} workers")
        runs_dir = options.work / "runs"
        planned = sorted(
            (dataclasses.replace(c, profile=profiles[c.method]) for c in main_cells),
            key=lambda c: -estimates[c.method],
        )
        with Phase(run, log, "cells"):
            for cell in planned:
                self.submit("cell", cell, runs_dir, self.threads)
            finished, running = self.collect(len(planned), kill_at, "cell")
        reported = {r["label"] for r in finished}
        for cell in planned:
            if cell.label() not in reported:
                state = "killed at the deadline" if cell.label() in running.values() else "not started in time"
                finished.append(
                    {"label": cell.label(), "method": cell.method, "setting": cell.setting, "status": state}
                )
                log(f"cell {cell.label()}: {state}")
        batches = {method: patches_per_step(method, options.scale, profiles[method]) for method in costs}
        for record in finished:
            method = record["method"]
            train_s, n = record.get("train_s") or 0.0, record.get("steps") or 0
            record.update(
                planned_steps=steps.get(method, 0),
                batch=batches[method],
                steps_per_s=n / train_s if train_s > 0 else None,
                patches_per_s=n * batches[method] / train_s if train_s > 0 else None,
                overrides=profiles[method].overrides_text(),
                estimate_s=round(estimates[method], 1),
            )
        order = {c.label(): i for i, c in enumerate(planned)}
        run.cells = sorted(finished, key=lambda r: (r["setting"], r["method"], order.get(r["label"], 0)))


# ----------------------------------------------------------------------------- outputs
def write_report(runs_dir: Path, report_dir: Path, run: Run, log: RunLog) -> None:
    """``results.csv`` from the finished cells, then ``bench report`` (in this process) into ``report_dir``."""
    from benchmark.cli import app
    from benchmark.results.store import collect_results

    collected = collect_results(runs_dir)
    run.report["damaged"] = [f"{path}: {reason}" for path, reason in collected.damaged]
    started = time.perf_counter()
    arguments = ["report", "--runs-dir", str(runs_dir), "--out", str(report_dir)]
    try:
        app(arguments, standalone_mode=False)
    except SystemExit as stop:  # typer's Exit in some versions
        run.report["exit"] = stop.code
    run.report["seconds"] = round(time.perf_counter() - started, 1)
    log(f"bench report in {run.report['seconds']} s")
    if not list((report_dir / "figures").glob("error_map_*.png")):
        drawn = draw_error_maps(run.cells, report_dir / "figures")
        run.report["error_maps"] = f"drawn by this script (bench report skips overridden cells): {len(drawn)} figures"
        log(run.report["error_maps"])


def draw_error_maps(cells: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Error maps of the finished cells, one figure per setting and plane (``n/a`` cells in each setting).

    ``bench report`` draws error maps only for cells without ``--set`` overrides, and every cell
    of a budgeted run has some; these are drawn with the report's own
    :func:`reports.error_maps.error_map_figure` from each cell's ``slices.npz``.
    """
    import matplotlib.pyplot as plt

    from reports.error_maps import error_map_figure

    done = [c for c in cells if c.get("status") == "done" and (Path(c["cell_dir"]) / "slices.npz").is_file()]
    settings = sorted({c["setting"] for c in done if c["setting"] != NO_SETTING}) or [NO_SETTING]
    written = []
    for setting in settings:
        loaded = []
        for cell in (c for c in done if c["setting"] in (setting, NO_SETTING)):
            with np.load(Path(cell["cell_dir"]) / "slices.npz") as arrays:
                loaded.append((cell["method"], dict(arrays)))
        if not loaded:
            continue
        first = loaded[0][1]
        subject = str(np.asarray(first.get("subject", "?")).ravel()[0])
        for plane in sorted(key.removesuffix("_sr") for key in first if key.endswith("_sr")):
            methods = [(name, a[f"{plane}_sr"], a[f"{plane}_hr"]) for name, a in loaded if f"{plane}_sr" in a]
            title = f"setting {setting}, {plane} plane, test subject {subject}"
            figure = error_map_figure(first[f"{plane}_hr"], first[f"{plane}_lr"], methods, title)
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"error_map_budgeted_{setting.replace('/', '')}_{plane}.png"
            figure.savefig(path, dpi=150)
            plt.close(figure)
            written.append(path)
    return written


def stack_images(paths: Sequence[Path], out: Path, max_bytes: int = MAX_OUTPUT_BYTES) -> bool:
    """Stack PNG figures vertically into one PNG (halved in size until it is under ``max_bytes``)."""
    import matplotlib.image as mpimg

    images = []
    for path in paths:
        image = mpimg.imread(path)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.shape[2] == 3:
            image = np.concatenate([image, np.ones((*image.shape[:2], 1), image.dtype)], axis=-1)
        images.append(image.astype(np.float32))
    if not images:
        return False
    width = max(image.shape[1] for image in images)
    padded = [np.pad(i, ((0, 0), (0, width - i.shape[1]), (0, 0)), constant_values=1.0) for i in images]
    stacked = np.concatenate(padded, axis=0)
    while True:
        mpimg.imsave(out, np.clip(stacked, 0, 1))
        if out.stat().st_size <= max_bytes or min(stacked.shape[:2]) < 64:
            return True
        stacked = stacked[::2, ::2]


def write_archive(out: Path, report_dir: Path, runs_dir: Path, with_pdf: bool) -> None:
    """``report/`` (the bench report) and ``cells/`` (each cell's small text files) as a gzipped tar."""
    with tarfile.open(out, "w:gz") as archive:
        if report_dir.is_dir():
            for path in sorted(report_dir.rglob("*")):
                if path.is_file() and (with_pdf or path.suffix != ".pdf"):
                    archive.add(path, arcname=f"report/{path.relative_to(report_dir).as_posix()}")
        if runs_dir.is_dir():
            for path in sorted(runs_dir.rglob("*")):
                if path.is_file() and (path.suffix in SMALL_FILE_SUFFIXES or path.name == "DONE"):
                    archive.add(path, arcname=f"cells/{path.relative_to(runs_dir).as_posix()}")


def summary_markdown(results: pd.DataFrame, cells: list[dict[str, Any]], run: Run) -> str:
    """Per setting and method: test SSIM/PSNR, PSNR against tricubic and supervised-aligned, steps, speed, memory."""
    lines = [
        f"# {run.options.profile} profile on {run.machine.get('gpu') or run.machine.get('device', '?')}",
        "",
        f"Concurrency {run.concurrency.get('chosen')} (measured: "
        + ", ".join(
            f"{r['level']}: {r['aggregate_steps_per_s']:.2f} steps/s" for r in run.concurrency.get("levels", [])
        )
        + f"); budget {run.budget.get('mode')}, steps {run.budget.get('steps')}; "
        f"profile's own budget {run.budget.get('profile_budget_steps')} steps.",
        "",
    ]
    if run.skipped:
        lines += [f"Skipped: {', '.join(f'{m} ({why})' for m, why in run.skipped.items())}.", ""]
    by_label = {(c["method"], c["setting"]): c for c in cells}
    means = (
        results.groupby(["setting", "method"])[["ssim", "psnr"]].mean().reset_index()
        if not results.empty
        else pd.DataFrame(columns=["setting", "method", "ssim", "psnr"])
    )
    tricubic = means[means["method"] == "tricubic"]["psnr"]
    reference = float(tricubic.iloc[0]) if len(tricubic) else math.nan
    header = (
        "| setting | method | steps | SSIM | PSNR | ΔPSNR vs tricubic | ΔPSNR vs supervised-aligned | patches/s "
        "| peak MiB | precision | status |"
    )
    lines += [header, "|---" * 11 + "|"]
    for cell in cells:
        row = means[(means["method"] == cell["method"]) & (means["setting"] == cell["setting"])]
        aligned = means[(means["method"] == "supervised-aligned") & (means["setting"] == cell["setting"])]["psnr"]
        ssim = float(row["ssim"].iloc[0]) if len(row) else math.nan
        psnr = float(row["psnr"].iloc[0]) if len(row) else math.nan
        oracle = float(aligned.iloc[0]) if len(aligned) else math.nan
        record = by_label[(cell["method"], cell["setting"])]

        def number(value: Any, digits: int) -> str:
            return (
                "–"
                if value is None or (isinstance(value, float) and not math.isfinite(value))
                else f"{value:.{digits}f}"
            )

        lines.append(
            f"| {cell['setting']} | {cell['method']} | {record.get('steps', '–')} "
            f"| {number(ssim, 4)} | {number(psnr, 2)} "
            f"| {number(psnr - reference, 2)} | {number(psnr - oracle, 2)} | {number(record.get('patches_per_s'), 1)} "
            f"| {number(record.get('peak_mem_mib'), 0)} | {record.get('precision', '–')} | {record['status']} |"
        )
    return "\n".join(lines) + "\n"


def machine_facts() -> dict[str, Any]:
    """Host, CPU count, Python, platform and ``nvidia-smi``'s GPU and driver, where there is one."""
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
    }
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            facts["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            ).stdout.strip()
    return facts


def package(options: Options, run: Run, log: RunLog) -> list[Path]:
    """Write the (at most 8) output files into ``options.out``; returns them."""
    from benchmark.environment import harness_commit

    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    runs_dir, report_dir = options.work / "runs", options.work / "report"
    written: list[Path] = []
    results_path = runs_dir / "results.csv"
    results = pd.read_csv(results_path, keep_default_na=False) if results_path.is_file() else pd.DataFrame()
    if results_path.is_file():
        shutil.copyfile(results_path, out / "results.csv")
        written.append(out / "results.csv")
    columns = [
        "label",
        "method",
        "setting",
        "status",
        "planned_steps",
        "steps",
        "train_s",
        "wall_s",
        "estimate_s",
        "steps_per_s",
        "batch",
        "patches_per_s",
        "peak_mem_mib",
        "peak_reserved_mib",
        "precision",
        "overrides",
        "worker",
        "error",
    ]
    pd.DataFrame(run.cells).reindex(columns=columns).to_csv(out / "cells.csv", index=False)
    written.append(out / "cells.csv")
    (out / "summary.md").write_text(summary_markdown(results, run.cells, run))
    written.append(out / "summary.md")
    figures = report_dir / "figures"
    for name, pattern in (("learning_curves.png", "learning_curves_*.png"), ("error_maps.png", "error_map_*.png")):
        if figures.is_dir() and stack_images(sorted(figures.glob(pattern)), out / name):
            written.append(out / name)
        else:
            log(f"no {pattern} in the report: {name} not written")
    archive = out / "report.tar.gz"
    write_archive(archive, report_dir, runs_dir, with_pdf=True)
    if archive.stat().st_size > MAX_OUTPUT_BYTES:
        write_archive(archive, report_dir, runs_dir, with_pdf=False)
    written.append(archive)
    run_json = out / "run.json"
    record = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "cwd": os.getcwd(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": round(log.elapsed(), 1),
        "harness": {"git_commit": harness_commit(), "source_sha256": source_digest()},
        "machine": run.machine,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()},
        "phases_s": run.phases,
        "concurrency": run.concurrency,
        "data": run.data,
        "probe": run.probe,
        "budget": run.budget,
        "skipped": run.skipped,
        "cells": run.cells,
        "report": run.report,
        "errors": run.errors,
        "files": [path.name for path in [*written, run_json, out / "log.txt"]],
    }
    run_json.write_text(json.dumps(record, indent=1, default=str))
    written.append(run_json)
    log_out = out / "log.txt"
    text = io.StringIO()
    text.write(log.path.read_text() if log.path.is_file() else "")
    for path in sorted((options.work / "logs").glob("*.txt")):
        body = path.read_text(errors="replace")
        text.write(f"\n===== {path.name} (last 200 kB) =====\n{body[-200_000:]}")
    log_out.write_text(text.getvalue())
    written.append(log_out)
    return written


def check_outputs(out: Path, written: Sequence[Path]) -> list[str]:
    """What breaks the device tool's limits: more than 8 files, a bad name, a file over 16 MiB."""
    problems = []
    files = [path for path in out.iterdir() if path.is_file()]
    if len(files) > MAX_OUTPUT_FILES:
        problems.append(f"{len(files)} files in {out}, more than {MAX_OUTPUT_FILES}")
    for path in written:
        if not OUTPUT_NAME.match(path.name):
            problems.append(f"{path.name}: a name outside [A-Za-z0-9._-]")
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            problems.append(f"{path.name}: {path.stat().st_size} bytes, over 16 MiB")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run every phase; always package what there is. Exit status 0 when every planned cell finished."""
    options = parse_options(argv)
    started = time.monotonic()
    deadline = started + options.minutes * 60
    options.work.mkdir(parents=True, exist_ok=True)
    log = RunLog(options.work / "logs" / "parent.log", started)
    log(f"gpu_paper_run: out {options.out}, work {options.work}, {options.minutes:g} min")
    register_builtins()
    run = Run(options)
    run.machine.update(machine_facts())
    try:
        Session(options, run, log, deadline).execute()
    except Exception as failure:  # packaged below: what ran is still worth having
        run.errors.append(traceback.format_exc())
        log(f"run stopped: {type(failure).__name__}: {failure}")
    with Phase(run, log, "report"):
        try:
            write_report(options.work / "runs", options.work / "report", run, log)
        except Exception as failure:
            run.errors.append(traceback.format_exc())
            log(f"report failed: {type(failure).__name__}: {failure}")
    written = package(options, run, log)
    problems = check_outputs(options.out, written)
    for problem in problems:
        log(f"output problem: {problem}")
    complete = bool(run.cells) and all(c["status"] == "done" for c in run.cells) and not run.errors and not problems
    log(f"{'complete' if complete else 'INCOMPLETE'}: {len(written)} files in {options.out}, {log.elapsed():.0f} s")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
