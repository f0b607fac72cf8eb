"""The run matrix: every cell a ``bench run`` asks for, each holding only what its method reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmark.errors import BenchError
from benchmark.plugins import METHODS
from benchmark.precision import DEFAULT_PRECISION, Precision
from benchmark.profiles import Profile
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING, SOURCE_HR_SETTINGS
from benchmark.results.cell import Cell, ProtocolOptions
from benchmark.scale import Scale


def build_matrix(
    methods: Sequence[str],
    datasets: Sequence[str],
    scales: Sequence[Scale],
    settings: Sequence[str],
    seeds: Sequence[int],
    profile: Profile,
    protocol: ProtocolOptions | None = None,
    precision: Precision = DEFAULT_PRECISION,
) -> list[Cell]:
    """Every cell, ordered so that cells sharing data are adjacent; methods without source HR run once (``n/a``).

    A cell holds only what its method reads (:meth:`ProtocolOptions.as_read`): a method without
    training data (``needs_training_data = False``) runs once for every training degradation
    and misalignment seed, a cell outside the misaligned setting once for every misalignment
    seed, and a method with ``uses_seed = False`` once, as seed 0, for every seed.

    ``precision`` is the resolved one (:func:`benchmark.precision.resolve_precision`); it is part
    of every cell's identity, as is the method's ``revision`` (:attr:`benchmark.method.Method.revision`).
    """
    protocol = protocol or ProtocolOptions()
    for setting in settings:
        if setting not in SOURCE_HR_SETTINGS:  # the settings `bench run --setting` accepts
            raise BenchError(f"unknown setting '{setting}'; known: {', '.join(SOURCE_HR_SETTINGS)}.")
    cells: list[Cell] = []
    for dataset in datasets:
        for scale in scales:
            for setting in settings:
                for method in methods:
                    cls = METHODS.factory(method)
                    accepted = getattr(cls, "settings", SOURCE_HR_SETTINGS)
                    if getattr(cls, "uses_source_hr", True) and setting not in accepted:
                        continue
                    cell_setting = setting if getattr(cls, "uses_source_hr", True) else NO_SETTING
                    read = protocol.as_read(
                        reads_training_lr=getattr(cls, "needs_training_data", True),
                        misaligned=cell_setting == MISALIGNED,
                    )
                    for seed in seeds:
                        cell_seed = seed if getattr(cls, "uses_seed", True) else 0
                        cell = Cell(
                            dataset,
                            scale,
                            cell_setting,
                            method,
                            cell_seed,
                            profile.for_method(method),
                            read,
                            precision,
                            method_revision(method, cls),
                        )
                        if cell not in cells:
                            cells.append(cell)
    return cells


def method_revision(method: str, cls: Any) -> int:
    """The revision method ``method`` declares (:attr:`benchmark.method.Method.revision`; 0 when it declares none).

    Raises:
        BenchError: the declaration is not an integer ≥ 0 (a plugin's mistake, named before any cell runs).
    """
    revision = getattr(cls, "revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise BenchError(f"method '{method}' declares revision {revision!r}; a revision is an integer ≥ 0.")
    return revision


def cell_identity(cell: Cell) -> dict[str, Any]:
    """The configuration that identifies a cell's results (its DONE marker holds its hash)."""
    cls = METHODS.factory(cell.method)
    return {**cell.config(), "oracle": bool(getattr(cls, "oracle", False))}
