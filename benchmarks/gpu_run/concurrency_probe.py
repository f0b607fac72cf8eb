"""Phase 1, the concurrency probe: training steps per second of 1, 2, 4 … processes sharing the device.

This is a measurement, not a way of running cells (the cells run in the local queue of ``bench run
--executor local``).  Each probe process trains the profile's supervised TS-RCAN plan on synthetic
volumes in barrier-bounded windows, so that exactly ``L`` processes train together in level ``L``'s
window; the parent aggregates the windows per level and picks the concurrency.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.gpu_run.builtin_plugins import register_builtins
from benchmarks.gpu_run.machine_record import device_record
from benchmarks.gpu_run.process_output import redirect_output
from benchmarks.gpu_run.worker_setup import WorkerSetup

CONCURRENCY_TOLERANCE = 0.05
"""Share of the best aggregate steps/s within which the smallest level is chosen."""


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


def _synthetic_supervised_step(setup: WorkerSetup, device: torch.device) -> tuple[Callable[[], None], int]:
    """One training step of the profile's supervised TS-RCAN plan on synthetic volumes, and its batch size."""
    from benchmark.profiles import load_profile
    from benchmark.protocol.training_data import VolumePair
    from benchmark.scale import Scale
    from benchmark.training.run_context import RunContext
    from benchmark.training.trainer import Trainer
    from benchmarks.synthetic_volumes import synthetic_pairs
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


def concurrency_main(setup: WorkerSetup, barrier: Any, results: Any) -> None:
    """A probe process: train in each level's window, put its rows (and its device) on ``results``, exit."""
    redirect_output(setup.log_path)
    try:
        register_builtins()
        from benchmark.device import resolve_device

        torch.set_num_threads(setup.threads)
        device = resolve_device(setup.device)
        print(f"{time.strftime('%H:%M:%S')} probe process {setup.index} ready on {device}", flush=True)
        result = measure_concurrency(setup, barrier, device, timeout=120)
        print(f"{time.strftime('%H:%M:%S')} concurrency probe: {result['rows']}", flush=True)
        result["device"] = device_record(device)
    except Exception as failure:  # the parent falls back to one process
        barrier.abort()
        print(traceback.format_exc())
        error = f"{type(failure).__name__}: {failure}"
        result = {"kind": "concurrency", "worker": setup.index, "rows": [], "error": error}
    results.put(result)
