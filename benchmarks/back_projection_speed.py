"""ZSSR's back-projection: torch on the method's device against the NumPy/SciPy version it replaced; prints a table.

Usage::

    python benchmarks/back_projection_speed.py                  # demo size: LR 80×98×81 → SR 160×196×162, 2×2×2
    python benchmarks/back_projection_speed.py --quick          # LR 40×48×40
    python benchmarks/back_projection_speed.py --threads 1

One back-projection step (k-space up-projection, ZSSR's default) of a random SR volume against
the k-space truncation of a smooth one, by the harness's :func:`methods.zssr_inference.back_projection_step`
(torch, float64, on the CPU and, when there is one, on CUDA) and by the NumPy/SciPy step that ran
before issue 24 (kept below as the reference). The calls are interleaved repeat by repeat, so that
other load slows them alike; the table gives medians, the ratio to NumPy's time (below 1: faster)
and the largest absolute difference from NumPy's output over ``--steps`` chained steps.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.fft
import torch
from machine import describe_machine
from rich.console import Console
from rich.table import Table
from scipy import ndimage

from benchmark.protocol.degradations import kspace_truncate
from benchmark.scale import Scale
from methods.zssr_inference import back_projection_step

SCALE = Scale(2, 2, 2)


def numpy_step(sr: np.ndarray, lr: np.ndarray, scale: Scale) -> np.ndarray:
    """The step before issue 24: SciPy FFTs on the CPU (workers = torch's threads), k-space up-projection."""
    workers = torch.get_num_threads()
    lr_shape = scale.lr_shape(sr.shape)
    block = [np.arange(-(m // 2), m - m // 2) % n for n, m in zip(sr.shape, lr_shape)]
    centred = scipy.fft.fftn(sr, workers=workers)[np.ix_(*block)] * (np.prod(lr_shape) / sr.size)
    z = scipy.fft.ifftn(scipy.fft.ifftshift(centred), workers=workers)
    residual = lr * np.exp(1j * np.angle(z)) - z
    spectrum = np.zeros(sr.shape, dtype=np.complex128)
    frequencies = [np.round(np.fft.fftfreq(m) * m).astype(int) % n for m, n in zip(lr.shape, sr.shape)]
    spectrum[np.ix_(*frequencies)] = scipy.fft.fftn(residual, workers=workers)
    up = scipy.fft.ifftn(spectrum, workers=workers).real * (sr.size / lr.size)
    return np.clip(sr + up, 0.0, 1.0)


def volumes(lr_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(sr, lr)`` float64: a noisy SR volume and the truncation of the smooth volume it came from."""
    rng = np.random.default_rng(0)
    hr_shape = SCALE.hr_shape(lr_shape)
    hr = ndimage.gaussian_filter(rng.random(hr_shape), 2.0)
    hr = (hr - hr.min()) / (hr.max() - hr.min())
    lr = kspace_truncate(hr.astype(np.float32), SCALE).astype(np.float64)
    return np.clip(hr + 0.05 * rng.standard_normal(hr_shape), 0, 1), lr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lr_shape = (40, 48, 40) if args.quick else (80, 98, 81)
    sr, lr = volumes(lr_shape)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])

    def torch_call(device: torch.device):
        sr_t, lr_t = torch.from_numpy(sr).to(device), torch.from_numpy(lr).to(device)

        def call() -> None:
            back_projection_step(sr_t, lr_t, SCALE)
            if device.type == "cuda":
                torch.cuda.synchronize()

        return call

    calls = {"numpy (before)": lambda: numpy_step(sr, lr, SCALE)}
    calls.update({f"torch {device.type}": torch_call(device) for device in devices})
    for call in calls.values():
        call()  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - started)

    expected = sr
    differences = {}
    outputs = {device.type: torch.from_numpy(sr).to(device) for device in devices}
    lr_on = {device.type: torch.from_numpy(lr).to(device) for device in devices}
    for _ in range(args.steps):
        expected = numpy_step(expected, lr, SCALE)
        for device in devices:
            outputs[device.type] = back_projection_step(outputs[device.type], lr_on[device.type], SCALE)
    for device in devices:
        differences[f"torch {device.type}"] = float(np.abs(outputs[device.type].cpu().numpy() - expected).max())

    baseline = statistics.median(seconds["numpy (before)"])
    table = Table(title=f"one back-projection step, LR {lr_shape} → SR {SCALE.hr_shape(lr_shape)}, 2×2×2")
    for column in ("implementation", "median s", "ratio to numpy", f"max |Δ| after {args.steps} steps"):
        table.add_column(column, justify="right")
    for name, values in seconds.items():
        median = statistics.median(values)
        difference = "–" if name not in differences else f"{differences[name]:.1e}"
        table.add_row(name, f"{median:.3f}", f"{median / baseline:.2f}", difference)
    console = Console()
    console.print(table)
    console.print(describe_machine())


if __name__ == "__main__":
    main()
