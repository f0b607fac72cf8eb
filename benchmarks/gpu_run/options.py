"""The command line of ``benchmarks/gpu_paper_run.py``: its options, their GPU and dry-run defaults."""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.gpu_run.source_digest import source_digest

COMMAND_SUMMARY = (
    "The ``paper`` profile on one GPU machine in one command: cohort, throughput probes, budgeted cells, report."
)
"""The first line of the script's docstring: the ``--help`` description."""


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
    parser = argparse.ArgumentParser(description=COMMAND_SUMMARY)
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
