"""A ``bench run`` request as plain data, so that any executor can rebuild the same matrix anywhere.

The request holds the command line's choices as strings and numbers (it pickles and writes as
JSON), and :meth:`RunRequest.matrix` turns it into the checked matrix: cells, device, precision
and folders.  The local queue writes it to a file for each cell's subprocess; the Slurm executor
pickles it into each array task.  A process that rebuilds the matrix from the same request gets
the same cells in the same order, so a cell is named by its index (and checked by its folder).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import BenchError
from benchmark.results.cell import Cell


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


MAX_SEED = 2**32 - 1
"""The largest training seed: NumPy's legacy seeding (``np.random.seed``) takes 32-bit seeds."""


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``; anything else (no seed, a negative or too large one) is a :class:`BenchError`."""
    try:
        seeds = [int(part) for part in split_list(text)]
    except ValueError:
        raise BenchError(f"seeds '{text}' must be comma-separated integers, e.g. 0,1,2.") from None
    if not seeds:
        raise BenchError("--seed needs at least one seed, e.g. 0 or 0,1,2.")
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise BenchError(f"seed {seed} is outside 0..{MAX_SEED}; give seeds such as 0,1,2.")
    return seeds


@dataclass(frozen=True)
class Matrix:
    """A checked matrix: its cells in order and where and how they run."""

    cells: list[Cell]
    device: torch.device
    precision: str
    runs_dir: Path
    cache_dir: Path


@dataclass(frozen=True)
class RunRequest:
    """Everything ``bench run`` was asked, before any checking (see ``bench run --help`` for each)."""

    methods: str = "all"
    dataset: str = "demo"
    scale: str = "2x2x2"
    setting: str = "misaligned,unpaired"
    seed: str = "0"
    profile: str = "quick"
    overrides: tuple[str, ...] = ()
    data_root: str | None = None
    runs_dir: str = "runs"
    cache_dir: str | None = None
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    split_seed: int = 0
    misalign_seed: int = 0
    train_degradation: str = "kspace"
    test_degradation: str = "kspace"
    save_sr: bool = False
    retry_diverged: bool = False
    downstream: bool = False

    def with_changes(self, **changes: Any) -> RunRequest:
        """A copy with some fields changed (e.g. the device a subprocess gets)."""
        return replace(self, **changes)

    def to_json(self) -> str:
        """The request as JSON (:meth:`from_json` reads it back)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        """Read what :meth:`to_json` wrote."""
        values = json.loads(text)
        values["overrides"] = tuple(values.get("overrides", ()))
        return cls(**values)

    def check_threads(self) -> None:
        """Refuse ``--threads`` below 1 and negative seeds of the protocol."""
        if self.threads is not None and self.threads < 1:
            raise BenchError(f"--threads must be at least 1, got {self.threads}.")
        for name, value in (("--split-seed", self.split_seed), ("--misalign-seed", self.misalign_seed)):
            if value < 0:
                raise BenchError(f"{name} must be 0 or more, got {value}.")

    def matrix(self, make_folders: bool = True, planned_device: torch.device | None = None) -> Matrix:
        """Check every choice and build the matrix, in the order :func:`benchmark.app.matrix.build_matrix` gives.

        Args:
            make_folders: create the results and cache folders (``False`` only lists the cells).
            planned_device: the device the cells will run on elsewhere (a Slurm node's GPU),
                instead of ``--device`` resolved on this machine; a planned GPU is taken to
                support bf16 (the node refuses the cell in one sentence if it does not).

        Raises:
            BenchError: any choice is invalid (unknown name, bad scale, missing data root, no CUDA…).
        """
        from benchmark.app.matrix import build_matrix
        from benchmark.data.dataset import default_cache_dir
        from benchmark.device import resolve_device
        from benchmark.evaluation.tissue_segmentation import require_segmentation
        from benchmark.folders import existing_folder, writable_folder
        from benchmark.plugins import DATASETS, DEGRADATIONS, METHODS
        from benchmark.precision import check_precision_request, resolve_precision
        from benchmark.profiles import load_profile
        from benchmark.results.cell import ProtocolOptions
        from benchmark.scale import Scale

        self.check_threads()
        if self.downstream:
            require_segmentation()
        profile = load_profile(self.profile, self.overrides)
        for name in (self.train_degradation, self.test_degradation):
            DEGRADATIONS.factory(name)
        data_root = Path(self.data_root) if self.data_root is not None else None
        if data_root is not None:
            existing_folder(data_root, "--data-root")
        options = ProtocolOptions(
            data_root, self.split_seed, self.misalign_seed, self.train_degradation, self.test_degradation
        )
        check_precision_request(self.precision)  # before the device: a typo is named even where CUDA is missing
        if planned_device is None:
            device = resolve_device(self.device)
            precision = resolve_precision(self.precision, device)
        else:
            device = planned_device
            precision = resolve_precision(self.precision, device, bf16_supported=True)
        cells = build_matrix(
            METHODS.resolve(self.methods),
            DATASETS.resolve(self.dataset),
            [Scale.parse(text) for text in split_list(self.scale)],
            split_list(self.setting),
            parse_seeds(self.seed),
            profile,
            options,
            precision,
        )
        runs_dir = Path(self.runs_dir)
        cache_dir = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        if make_folders:
            runs_dir = writable_folder(runs_dir, "--runs-dir")
            cache_dir = writable_folder(cache_dir, "--cache-dir")
        return Matrix(cells, device, precision, runs_dir, cache_dir)
