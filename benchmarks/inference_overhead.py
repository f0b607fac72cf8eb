"""Whole-volume inference: tiled, blended slab inference against one plain forward; time and peak memory.

Usage::

    python benchmarks/inference_overhead.py            # 4 LR volumes up to 128×128×64 (~2 min on 2 idle cores)
    python benchmarks/inference_overhead.py --quick    # 3 small volumes, 1 repeat
    python benchmarks/inference_overhead.py --sizes 80x98x81 --repeats 3    # the demo volumes' LR size

For each LR volume size, the quick-profile TS-RCAN (seeded, untrained: speed and memory only)
super-resolves a random volume at 2×2×2 in two ways:

* ``tiled``: :func:`benchmark.inference.slabs.super_resolve_slabs`, what every thin-slab method runs: slabs
  of 3 slices advancing one slice, in-plane tiles of the profile's ``infer_tile`` LR voxels
  overlapping by a quarter, ``infer_batch`` tiles per forward pass, Gaussian / slab-centre
  blending into HR accumulators;
* ``plain``: one forward pass of the same network over every slab of the whole volume at once
  (``(Z−2, 3, X, Y)``), with no tiling, no blending and no reassembly: the compute floor.

Time: both run in this process, interleaved ``--repeats`` times, and the table shows the best
of each and their ratio (the network is warmed up on a small volume first).  Memory: each way
runs once more in a fresh subprocess, which reports its peak resident set size (``VmHWM``; not
``ru_maxrss``, which on Linux starts from the parent's peak, inherited through fork and exec)
minus its resident size just before the call (``VmRSS``), with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed at
64 KiB so that freed tensors go back to the system and the peak follows live tensors, not the
allocator's cache; on CUDA, ``torch.cuda.max_memory_allocated`` during the call.  A
least-squares line over the sizes whose in-plane size reaches ``infer_tile`` splits the tiled
path's memory into a part that grows with the volume (bytes per HR voxel: the float32 HR
accumulators) and a constant part (the network's activations for one batch of tiles, set by
``infer_tile`` and ``infer_batch``, not by the volume).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from machine import describe_machine
from rich.console import Console
from rich.table import Table

from benchmark.device import resolve_device
from benchmark.inference.slabs import SLAB_DEPTH, super_resolve_slabs, to_slabs
from benchmark.inference.tiling import tile_starts
from benchmark.profiles import load_profile
from benchmark.scale import Scale
from methods.networks import ts_rcan_from_profile

DEFAULT_SIZES = "128x128x16,192x192x16,128x128x32,128x128x64"
QUICK_SIZES = "64x64x16,128x128x16,128x128x32"
MMAP_THRESHOLD = "65536"


def status_mb(field: str) -> float:
    """A memory field of ``/proc/self/status`` in MB: ``VmRSS`` (resident now) or ``VmHWM`` (peak resident)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def plain_forward(network: torch.nn.Module, lr: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Every slab of ``lr`` ``(X, Y, Z)`` through ``network`` in one batch: ``(Z−2, 3·sz, sx·X, sy·Y)``."""
    slabs = lr.unfold(2, SLAB_DEPTH, 1).permute(2, 0, 1, 3)  # (Z-2, X, Y, 3)
    with torch.no_grad():
        return network(to_slabs(slabs).to(device))


def child(mode: str, lr_shape: tuple[int, int, int], profile_name: str, scale: Scale, device_name: str) -> dict:
    """Peak extra memory of one call in this (fresh) process, after a warm-up on a small volume."""
    device = resolve_device(device_name)
    lr, run = setup(lr_shape, profile_name, scale, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = status_mb("VmRSS")
    out = run[mode](lr)
    result = {"extra_mb": status_mb("VmHWM") - before, "out_shape": list(out.shape)}
    if device.type == "cuda":
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def setup(
    lr_shape: tuple[int, int, int], profile_name: str, scale: Scale, device: torch.device
) -> tuple[torch.Tensor, dict[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """A random LR volume and both ways of running the seeded network on one, warmed up on a small volume."""
    profile = load_profile(profile_name, [])
    torch.manual_seed(0)
    network = ts_rcan_from_profile(profile, scale).to(device).eval()
    tile, batch = int(profile["infer_tile"]), int(profile["infer_batch"])
    lr = torch.from_numpy(np.random.default_rng(0).random(lr_shape, dtype=np.float32))
    run = {
        "tiled": lambda volume: super_resolve_slabs(network, volume, scale, tile, batch, device),
        "plain": lambda volume: plain_forward(network, volume, device),
    }
    small = lr[:16, :16, :4].clone()
    for call in run.values():
        call(small)
    return lr, run


def best_seconds(
    run: dict[str, Callable[[torch.Tensor], torch.Tensor]], lr: torch.Tensor, repeats: int, device: torch.device
) -> dict[str, float]:
    """Best wall time of each way over ``repeats`` interleaved calls."""
    seconds: dict[str, list[float]] = {mode: [] for mode in run}
    for _ in range(repeats):
        for mode, call in run.items():
            started = time.perf_counter()
            call(lr)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[mode].append(time.perf_counter() - started)
    return {mode: min(values) for mode, values in seconds.items()}


def measure(lr_shape: tuple[int, int, int], args: argparse.Namespace) -> dict[str, dict]:
    """Times of both ways in this process; the memory of each in a fresh subprocess."""
    device = resolve_device(args.device)
    lr, run = setup(lr_shape, args.profile, Scale.parse(args.scale), device)
    times = best_seconds(run, lr, args.repeats, device)
    results: dict[str, dict] = {}
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD}
    for mode in run:
        command = [sys.executable, __file__, "--child", mode, "--sizes", "x".join(map(str, lr_shape))]
        command += ["--profile", args.profile, "--scale", args.scale, "--device", args.device]
        command += ["--threads", str(torch.get_num_threads())]
        completed = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
        if completed.returncode != 0:
            raise RuntimeError(f"{mode} {lr_shape} failed:\n{completed.stderr[-2000:]}")
        results[mode] = {**json.loads(completed.stdout.strip().splitlines()[-1]), "seconds": times[mode]}
    return results


def tile_count(lr_shape: tuple[int, int, int], tile: int) -> int:
    """Tiles :func:`super_resolve_slabs` cuts from an LR volume (in-plane tiles × slabs)."""
    step = max(tile * 3 // 4, 1)
    in_plane = [len(tile_starts(n, min(tile, n), step)) for n in lr_shape[:2]]
    return in_plane[0] * in_plane[1] * len(tile_starts(lr_shape[2], SLAB_DEPTH, 1))


def main() -> None:
    """Parse arguments, measure every size (or be a child), print the table and the memory fit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help=f"LR sizes XxYxZ, comma-separated [default {DEFAULT_SIZES}]")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 1 repeat")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved timing repeats (best is shown)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--scale", default="2x2x2")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads [default: torch's choice]")
    parser.add_argument("--child", choices=("tiled", "plain"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.quick:
        args.repeats = 1
    shapes = [tuple(int(n) for n in size.split("x")) for size in sizes.split(",")]
    scale = Scale.parse(args.scale)
    if args.child:
        print(json.dumps(child(args.child, shapes[0], args.profile, scale, args.device)))  # type: ignore[arg-type]
        return
    profile = load_profile(args.profile, [])
    tile, batch = int(profile["infer_tile"]), int(profile["infer_batch"])
    machine = describe_machine()
    rows, hr_voxels, tiled_extra = [], [], []
    for shape in shapes:
        result = measure(shape, args)  # type: ignore[arg-type]
        voxels = int(np.prod(shape)) * int(np.prod(scale.factors))
        tiled, plain = result["tiled"], result["plain"]
        if min(shape[:2]) >= tile:  # tiles of full size: the activations no longer depend on the volume
            hr_voxels.append(voxels)
            tiled_extra.append(tiled["extra_mb"])
        row = {
            "LR volume": "×".join(map(str, shape)),
            "HR voxels (M)": f"{voxels / 1e6:.2f}",
            "tiles": str(tile_count(shape, tile)),  # type: ignore[arg-type]
            "tiled s": f"{tiled['seconds']:.2f}",
            "plain s": f"{plain['seconds']:.2f}",
            "tiled ÷ plain": f"{tiled['seconds'] / plain['seconds']:.2f}",
            "tiled extra MB": f"{tiled['extra_mb']:.0f}",
            "B / HR voxel": f"{tiled['extra_mb'] * 2**20 / voxels:.1f}",
            "plain extra MB": f"{plain['extra_mb']:.0f}",
        }
        if "cuda_peak_mb" in tiled:
            row["tiled CUDA MB"] = f"{tiled['cuda_peak_mb']:.0f}"
            row["plain CUDA MB"] = f"{plain['cuda_peak_mb']:.0f}"
        rows.append(row)
    title = f"{args.profile} TS-RCAN, {scale}, infer_tile {tile}, infer_batch {batch}, {resolve_device(args.device)}"
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*row.values())
    console = Console(width=200)
    console.print(table)
    if len(hr_voxels) > 1:
        slope, intercept = np.polyfit(np.array(hr_voxels, dtype=float), np.array(tiled_extra) * 2**20, 1)
        console.print(
            f"tiled extra memory ≈ {intercept / 2**20:.0f} MB + {slope:.1f} B × HR voxels (least squares over the "
            f"{len(hr_voxels)} sizes with in-plane ≥ {tile}; each float32 HR accumulator is 4 B per voxel)"
        )
    console.print(f"machine: {machine}")


if __name__ == "__main__":
    main()
