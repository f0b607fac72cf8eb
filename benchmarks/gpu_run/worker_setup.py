"""What a spawned worker process is given to start: its device, the concurrency probe's windows, its log."""

from __future__ import annotations

import dataclasses


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
