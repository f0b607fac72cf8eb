"""A method ready to super-resolve new scans: restored from a finished cell, or built fresh when it learns nothing.

``bench infer --run <cell>`` restores the cell's method: its registered name, scale, profile
(every recorded setting), seed and precision from ``config.json``, its weights from
``model.pt`` (read with ``weights_only=True``: a weights file cannot run code).
``bench infer --method tricubic --scale 2x2x2`` builds a method that needs no training data
(``Method.needs_training_data`` is ``False``: tricubic, and ZSSR, which trains on each input).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmark.app.matrix import method_revision
from benchmark.errors import BenchError
from benchmark.method import Method
from benchmark.plugins import METHODS
from benchmark.precision import DEFAULT_PRECISION, PRECISIONS, resolve_precision
from benchmark.profiles import Profile, load_profile
from benchmark.results.cell_record import CONFIG, DONE, MODEL, DamagedCellError, check_finished, read_config
from benchmark.scale import Scale
from benchmark.training.divergence import DIVERGED, describe


@dataclass
class RestoredMethod:
    """A method and what it was trained with.

    Attributes:
        method: the method, its state restored (not yet given a device: see ``Method.prepare_inference``).
        name: its registered name.
        scale: the scale it super-resolves by.
        profile: its sizes and budgets.
        seed: the seed of its cell (seeds ZSSR's training on each input).
        precision: the precision its cell ran in.
        source: where it came from, for messages (the cell folder or ``"--method <name>"``).
    """

    method: Method
    name: str
    scale: Scale
    profile: Profile
    seed: int
    precision: str
    source: str

    def precision_on(self, device: torch.device) -> str:
        """The cell's precision where ``device`` can run it, else fp32 (a bf16/fp16 GPU cell on the CPU)."""
        if device.type == "cpu" and self.precision == "fp16":
            return DEFAULT_PRECISION
        try:
            return resolve_precision(self.precision, device)
        except BenchError:
            return DEFAULT_PRECISION


def _recorded_profile(name: str, values: dict[str, Any]) -> Profile:
    """The profile a cell recorded, every recorded key applied as an override of profile ``name``."""
    return load_profile(name, [f"{key}={value!r}" for key, value in values.items()])


def restore_cell(cell_dir: Path) -> RestoredMethod:
    """The method a finished cell trained, with its weights.

    Raises:
        BenchError: the folder is not a cell, its training did not finish (no ``model.pt``), its
            method is not registered here, or its files cannot be read.
    """
    cell_dir = Path(cell_dir).expanduser()
    config_path, model_path = cell_dir / CONFIG, cell_dir / MODEL
    if not cell_dir.is_dir():
        raise BenchError(f"--run {cell_dir} is not a folder; give a cell folder of `bench run` (…/seed0).")
    if not config_path.is_file():
        raise BenchError(f"--run {cell_dir} has no {CONFIG}, so it is not a cell folder of `bench run` (…/seed0).")
    finished = _verified(cell_dir)
    if finished is not None and DIVERGED in finished:
        raise BenchError(f"cell {cell_dir} {describe(finished[DIVERGED])}: it has no trained weights to restore.")
    if not model_path.is_file():
        raise BenchError(f"cell {cell_dir} has no {MODEL}: its training has not finished; rerun its bench run first.")
    try:
        recorded = read_config(cell_dir)
    except DamagedCellError as error:
        raise BenchError(f"cannot read {config_path}: {error}.") from None
    name, seed = recorded.method, recorded.seed
    cls = METHODS.factory(name)
    scale = Scale.parse(recorded.scale)
    profile = _recorded_profile(recorded.profile, recorded.profile_values)
    method = cls(scale=scale, profile=profile)
    try:
        state = torch.load(model_path, map_location="cpu", weights_only=True)
        method.load_state_dict(state)
    except Exception as error:  # a damaged or foreign file: pickle, zip and key errors alike
        raise BenchError(f"cannot restore {model_path}: {type(error).__name__}: {error}.") from None
    if not (cell_dir / DONE).is_file():
        source = f"{cell_dir} (trained; its evaluation did not finish)"
    else:
        source = str(cell_dir)
    revision = method_revision(name, cls)
    if recorded.revision != revision:  # its declared defaults are today's, not those it trained with
        source += (
            f" (trained by revision {recorded.revision} of {name}; this harness has revision {revision}, "
            "whose defaults it is run with)"
        )
    precision = recorded.precision
    if precision not in PRECISIONS:
        raise BenchError(f"{config_path} records precision '{precision}', not one of {', '.join(PRECISIONS)}.")
    return RestoredMethod(method, name, scale, profile, seed, precision, source)


def _verified(cell_dir: Path) -> dict[str, Any] | None:
    """The cell's ``DONE`` record when it has one and its ``config.json`` is the configuration it finished.

    Raises:
        BenchError: ``DONE`` and ``config.json`` disagree (an edited ``config.json`` would otherwise
            restore another method or scale under the cell's name), or the cell's files are damaged.
    """
    try:
        found = check_finished(cell_dir)
    except DamagedCellError as error:
        raise BenchError(f"cell {cell_dir} cannot be trusted: {error}.") from None
    return None if found is None else found[0]


def fresh_method(name: str, scale: Scale, profile: Profile, seed: int, precision: str) -> RestoredMethod:
    """A method that learns nothing from training data, built for ``scale`` and ``profile``.

    Raises:
        BenchError: the method is unknown, or it must be trained first (give ``--run``).
    """
    cls = METHODS.factory(name)
    if getattr(cls, "needs_training_data", True):
        raise BenchError(
            f"method '{name}' learns from training data; give --run with one of its finished cells "
            "(e.g. runs/hcp/2x2x2/misaligned/udean/paper/<variant>/seed0)."
        )
    return RestoredMethod(cls(scale=scale, profile=profile), name, scale, profile, seed, precision, f"--method {name}")
