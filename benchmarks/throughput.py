"""Training and inference throughput of the shared thin-slab backbone; prints a table.

Usage::

    python benchmarks/throughput.py [--profiles quick,paper] [--steps 10] [--device auto]

For each profile it trains the supervised TS-RCAN plan (the simplest learned pipeline; every
method's generator step costs at least this much) on synthetic in-memory volumes through the
shared :class:`benchmark.training.trainer.Trainer`, and reports patches per second and the split of the
time between data sampling, forward/backward and optimiser steps; then it super-resolves one
whole volume and reports voxels per second (HR voxels produced).  Also prints parameter counts
and the measured dense matmul rate of the device, to scale estimates to other hardware.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from synthetic_volumes import synthetic_pairs

from benchmark.device import resolve_device
from benchmark.inference.slabs import super_resolve_slabs
from benchmark.precision import resolve_precision
from benchmark.profiles import load_profile
from benchmark.protocol.training_data import VolumePair
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
from methods.networks import count_parameters, ts_rcan_from_profile
from methods.supervised import PairedSlabPlan


def matmul_gflops(device: torch.device) -> float:
    """Dense float32 matmul rate (GFLOP/s) of the device, 2048² matrices."""
    a = torch.rand(2048, 2048, device=device)
    a @ a
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(5):
        a @ a
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 5 * 2 * 2048**3 / (time.perf_counter() - started) / 1e9


def measure(profile_name: str, scale: Scale, steps: int, device: torch.device) -> dict[str, float | str]:
    """Train ``steps`` steps (after 2 warm-up steps) and super-resolve one volume."""
    profile = load_profile(profile_name, [f"val_every={10**9}", f"checkpoint_every={10**9}"])
    lr_patch = profile["lr_patch"]
    hr_shape = tuple(max(2 * p * s, 64 * s) for p, s in zip(lr_patch, scale.factors))
    hr_shape = (hr_shape[0], hr_shape[1], 24 * scale.sz)
    lrs, hrs = synthetic_pairs(hr_shape, scale, 4)
    torch.manual_seed(0)
    network = ts_rcan_from_profile(profile, scale).to(device)
    plan = PairedSlabPlan(network, lrs, hrs, [VolumePair(lrs[0], hrs[0])], scale, profile, device)
    with tempfile.TemporaryDirectory() as folder:
        run = RunContext(
            device, 0, profile, scale, Path(folder), Path(folder) / "ckpt", precision=resolve_precision("auto", device)
        )
        Trainer(plan, run, total_steps=2).fit()  # warm-up
        trainer = Trainer(plan, run, total_steps=steps)
        trainer.checkpoint_path.unlink(missing_ok=True)
        trainer.fit()
    times = trainer.times.as_dict()
    patches = times["steps"] * int(profile["batch_size"])
    lr_volume = torch.from_numpy(lrs[0].data)
    started = time.perf_counter()
    sr = super_resolve_slabs(network, lr_volume, scale, int(profile["infer_tile"]), int(profile["infer_batch"]), device)
    infer_seconds = time.perf_counter() - started
    return {
        "profile": profile_name,
        "params": f"{count_parameters(network):,}",
        "patch (LR)": "×".join(str(p) for p in lr_patch),
        "batch": str(profile["batch_size"]),
        "patches/s": patches / times["total_s"],
        "data %": 100 * times["data_s"] / times["total_s"],
        "fwd/bwd %": 100 * times["forward_backward_s"] / times["total_s"],
        "optim %": 100 * times["optimiser_s"] / times["total_s"],
        "s/step": times["total_s"] / times["steps"],
        "infer voxels/s": sr.numel() / infer_seconds,
        "infer volume": "×".join(str(n) for n in sr.shape),
    }


def main() -> None:
    """Parse arguments, measure every profile, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="quick,paper")
    parser.add_argument("--scale", default="2x2x2")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    scale = Scale.parse(args.scale)
    rows = [measure(name, scale, args.steps, device) for name in args.profiles.split(",")]
    table = Table(title=f"TS-RCAN throughput, scale {scale}, {device} ({torch.get_num_threads()} threads)")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(f"{v:,.1f}" if isinstance(v, float) else v for v in row.values()))
    console = Console(width=220)
    console.print(table)
    console.print(f"dense float32 matmul: {matmul_gflops(device):,.1f} GFLOP/s on {device}")


if __name__ == "__main__":
    main()
