"""3D SSIM of the harness against scikit-image: time and value of one volume pair; prints a table.

Usage::

    python benchmarks/ssim_speed.py                 # 160×196×162 (the demo volumes), 5 repeats, 1 and all threads
    python benchmarks/ssim_speed.py --quick         # 96×112×96, 3 repeats
    python benchmarks/ssim_speed.py --shape 260x311x260 --repeats 3 --threads 1

A random float32 pair in ``[0, 1]`` (an HR volume and a noisy copy) is compared by
:func:`benchmark.evaluation.metrics.ssim3d` on the float32 tensors, as the runner passes them, and by
``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)``, the call the harness matches, on the same volumes
as float64 arrays (conversion not timed).  For information, scikit-image is also timed on the
float32 arrays, which it then computes in float32 (5e-10 away at 96×112×96, 1.5e-12 at
160×196×162 in our runs).  The calls are interleaved, repeat by repeat, so that other load on
the machine slows all of them alike; the table shows medians, the ratio to scikit-image's
float64 time (below 1: the harness is faster) and the absolute difference of the SSIM values.
scikit-image runs on one thread whatever the setting; the harness uses
``torch.get_num_threads()`` threads.  With CUDA, the harness also runs on CUDA tensors
(synchronised; transfers included).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from machine import describe_machine
from rich.console import Console
from rich.table import Table
from skimage.metrics import structural_similarity

from benchmark.evaluation.metrics import ssim3d


def volume_pair(shape: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(sr, hr)`` float32 ``shape`` volumes in ``[0, 1]``: uniform noise and a noisy (σ 0.1), clipped copy."""
    rng = np.random.default_rng(seed)
    hr = rng.random(shape, dtype=np.float32)
    sr = np.clip(hr + rng.normal(0.0, 0.1, shape).astype(np.float32), 0, 1)
    return sr, hr


def skimage_ssim(sr: np.ndarray, hr: np.ndarray) -> float:
    """scikit-image's 3D SSIM with the harness's settings (computed in ``sr``'s float precision)."""
    return float(
        structural_similarity(sr, hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)
    )


def time_interleaved(calls: dict[str, Callable[[], float]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median seconds and the value of each call, the calls run in turn ``repeats`` times (after one warm-up)."""
    values = {name: call() for name, call in calls.items()}
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)
    return {name: (statistics.median(seconds[name]), values[name]) for name in calls}


def cuda_ssim(sr: torch.Tensor, hr: torch.Tensor) -> float:
    """Harness SSIM of CPU tensors moved to CUDA, synchronised."""
    value = ssim3d(sr.cuda(), hr.cuda())
    torch.cuda.synchronize()
    return value


def measure(shape: tuple[int, int, int], repeats: int, threads: int, with_cuda: bool) -> list[dict[str, str]]:
    """Rows of the table for one thread count."""
    torch.set_num_threads(threads)
    sr, hr = volume_pair(shape)
    sr64, hr64 = sr.astype(np.float64), hr.astype(np.float64)
    sr_t, hr_t = torch.from_numpy(sr), torch.from_numpy(hr)
    calls: dict[str, Callable[[], float]] = {
        "scikit-image, float64": lambda: skimage_ssim(sr64, hr64),
        "scikit-image, float32 (computed in float32)": lambda: skimage_ssim(sr, hr),
        "harness ssim3d, CPU": lambda: ssim3d(sr_t, hr_t),
    }
    if with_cuda:
        calls["harness ssim3d, CUDA"] = lambda: cuda_ssim(sr_t, hr_t)
    results = time_interleaved(calls, repeats)
    reference_seconds, reference_value = results["scikit-image, float64"]
    return [
        {
            "threads": str(threads),
            "implementation": name,
            "median s": f"{seconds:.3f}",
            "÷ scikit-image f64": f"{seconds / reference_seconds:.2f}",
            "|Δ SSIM|": f"{abs(value - reference_value):.1e}",
        }
        for name, (seconds, value) in results.items()
    ]


def main() -> None:
    """Parse arguments, measure at each thread count, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="160x196x162", help="volume shape XxYxZ (voxels)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default=None, help="comma-separated torch thread counts [default: 1 and all]")
    parser.add_argument("--quick", action="store_true", help="96x112x96, 3 repeats")
    args = parser.parse_args()
    shape = (96, 112, 96) if args.quick else tuple(int(n) for n in args.shape.split("x"))
    repeats = 3 if args.quick else args.repeats
    default_threads = torch.get_num_threads()
    threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, default_threads})
    machine_before = describe_machine()
    rows = []
    for index, count in enumerate(threads):
        rows += measure(shape, repeats, count, with_cuda=torch.cuda.is_available() and index == 0)  # type: ignore[arg-type]
    torch.set_num_threads(default_threads)
    table = Table(title=f"3D SSIM, {'×'.join(map(str, shape))} float32 pair, median of {repeats}")
    for column in rows[0]:
        table.add_column(column, justify="left" if column == "implementation" else "right")
    for row in rows:
        table.add_row(*row.values())
    console = Console(width=160)
    console.print(table)
    console.print(f"machine: {machine_before}; load after: {describe_machine().rsplit('load ', 1)[1]}")


if __name__ == "__main__":
    main()
