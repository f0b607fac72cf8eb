"""The parent's record of a run: its timestamped log, what it learned (``run.json``), its phases' times."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from benchmarks.gpu_run.options import Options


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
