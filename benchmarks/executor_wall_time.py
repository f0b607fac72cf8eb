"""Wall time of one matrix under each executor, measured in one sitting, and whether their results agree.

Usage::

    python benchmarks/executor_wall_time.py                       # the demo matrix (make demo's), ~40 min on 2 cores
    python benchmarks/executor_wall_time.py --profile tiny --dataset demo-small --methods tricubic,supervised,udean

Each configuration runs ``bench run`` of the same matrix into its own results folder under
``--work`` (emptied first), one after another, so every run starts with no finished cell:

* ``inline`` with torch's default threads (what ``make demo`` does);
* ``local --workers N --threads T`` (default: 2 workers, 1 thread each);
* ``inline --threads T``, the same per-cell thread count as the local workers.

The table gives each run's wall time and, for each results table, the largest difference of
any metric from the first run's and whether the file is byte-identical to that of the run with
the same thread count.  A cell's metrics depend on torch's CPU thread count (parallel float
reductions add in another order), not on the executor: compare runs with equal threads.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

METRICS = ("psnr", "ssim")


def bench_run(work: Path, name: str, matrix: list[str], extra: list[str]) -> tuple[float, Path]:
    """``bench run`` of ``matrix`` into ``work/name``; returns (wall seconds, results folder)."""
    runs = work / name
    shutil.rmtree(runs, ignore_errors=True)
    log = work / f"{name}.log"
    command = [sys.executable, "-m", "benchmark.app.cli", "run", *matrix, "--runs-dir", str(runs), *extra]
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{name} ended with exit status {code}; see {log}")
    return seconds, runs


def largest_difference(results: Path, reference: Path) -> float:
    """The largest absolute difference of any metric between two results tables (same cells and subjects)."""
    a = pd.read_csv(results / "results.csv", keep_default_na=False)
    b = pd.read_csv(reference / "results.csv", keep_default_na=False)
    keys = [column for column in a.columns if column not in METRICS]
    merged = a.merge(b, on=keys, suffixes=("", "_reference"), validate="one_to_one")
    if len(merged) != len(a) or len(a) != len(b):
        raise SystemExit(f"{results} and {reference} hold different cells")
    return float(max((merged[m] - merged[f"{m}_reference"]).abs().max() for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all")
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--scale", default="2x2x2")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads per local worker (and of the last inline run)")
    parser.add_argument("--work", type=Path, default=Path("runs/executor-wall-time"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    matrix = ["--methods", args.methods, "--dataset", args.dataset, "--scale", args.scale, "--profile", args.profile]
    runs = [
        ("inline", "inline", "default", []),
        (
            "local",
            f"local --workers {args.workers}",
            str(args.threads),
            ["--executor", "local", "--workers", str(args.workers), "--threads", str(args.threads)],
        ),
        ("inline-threads", "inline", str(args.threads), ["--threads", str(args.threads)]),
    ]
    rows = []
    for name, executor, threads, extra in runs:
        print(f"running {name} …", flush=True)
        seconds, folder = bench_run(args.work, name, matrix, extra)
        rows.append((name, executor, threads, seconds, folder))
    first = rows[0][4]
    print()
    print(
        "| run | executor | threads per cell | wall time | largest metric difference from inline | "
        "results.csv byte-identical to |"
    )
    print("|---|---|---|---|---|---|")
    for name, executor, threads, seconds, folder in rows:
        same = [
            other
            for other, _, t, _, f in rows
            if other != name
            and t == threads
            and (f / "results.csv").read_bytes() == (folder / "results.csv").read_bytes()
        ]
        difference = largest_difference(folder, first)
        print(
            f"| {name} | {executor} | {threads} | {seconds:.1f} s ({seconds / 60:.1f} min) | {difference:.2g} | "
            f"{', '.join(same) or '–'} |"
        )


if __name__ == "__main__":
    main()
