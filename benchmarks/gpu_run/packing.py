"""Phase 6b, packing: the run as at most 8 files of at most 16 MiB each, named with ``[A-Za-z0-9._-]``.

Small enough to move off a GPU node by any means (``scp``, a size-limited transfer, an issue
attachment).  ``archive.tar.gz`` is what ``bench report --archive`` writes: the report, the
results table, the matrix manifests and every cell's record (:mod:`benchmark.app.run_archive`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.app.run_archive import write_archive
from benchmarks.gpu_run.options import Options
from benchmarks.gpu_run.run_record import Run, RunLog
from benchmarks.gpu_run.source_digest import source_digest
from benchmarks.gpu_run.summary import summary_markdown

OUTPUT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
"""The characters an output file's name may use."""
MAX_OUTPUT_FILES = 8
"""Most files in ``--out``."""
MAX_OUTPUT_BYTES = 16 * 2**20
"""Largest output file, in bytes (16 MiB)."""


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
    archive = out / "archive.tar.gz"
    packed = write_archive(runs_dir, report_dir, archive)  # what `bench report --archive` writes
    log(f"archive.tar.gz: {packed.members} files, {archive.stat().st_size / 2**20:.1f} MiB")
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
    """What breaks the output limits: more than 8 files, a bad name, a file over 16 MiB."""
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
