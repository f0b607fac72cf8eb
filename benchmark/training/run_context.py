"""Everything a method needs from the harness while it runs, besides data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import Progress

from benchmark.inference.tiling import TileCallback
from benchmark.precision import Precision
from benchmark.profiles import Profile
from benchmark.scale import Scale


def _no_log(message: str) -> None:
    del message


@dataclass
class RunContext:
    """Device, seed, budget and places to write, for one cell.

    Attributes:
        device: torch device to train and infer on.
        seed: the cell's seed; every random choice derives from it.
        profile: sizes and budgets.
        scale: the cell's scale.
        cell_dir: the cell's folder (training losses, logs).
        checkpoint_dir: where checkpoints go; a method resumes from the last one found there.
        progress: a rich progress display to add tasks to, or ``None`` (quiet).
        log: one-line messages to the cell's log.
        precision: the resolved precision (:func:`benchmark.precision.resolve_precision`): autocast
            dtype of forward passes, and a loss scaler for ``fp16``.
        config_hash: hash of the cell's configuration and input volumes; checkpoints carry it
            and one written under another hash is refused.
        warn: a message the user should see (a refused or damaged checkpoint); also logged.
        on_tiles: progress of each tiled inference pass, ``(done, total)`` (``bench infer`` shows
            it), or ``None``.

    A method reads all of these from here, in ``fit`` and in ``super_resolve`` alike
    (``Method.run``): whole-volume inference takes its ``precision`` and ``on_tiles``.
    """

    device: torch.device
    seed: int
    profile: Profile
    scale: Scale
    cell_dir: Path
    checkpoint_dir: Path
    progress: Progress | None = None
    log: Callable[[str], None] = field(default=_no_log)
    precision: Precision = "fp32"
    config_hash: str = ""
    warn: Callable[[str], None] = field(default=_no_log)
    on_tiles: TileCallback | None = None
