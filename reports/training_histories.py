"""Reading the cells' training histories (``losses.csv``) for the learning curves and the convergence table.

The trainer writes one ``losses.csv`` per run: one row per step (``step`` from 1, ``lr``, the
plan's losses) and, every ``val_every`` steps and at the last step, the validation columns
``val_*``.  Learned methods validated with :mod:`methods.validation` write ``val_psnr`` and
``val_ssim`` (the SR network's whole-volume SR of fixed validation volumes, scored as the test
is), ``val_tricubic_psnr`` / ``val_tricubic_ssim`` and ``val_zero_fill_psnr`` / ``val_zero_fill_ssim``
(the reference methods on those same volumes: one value per cell, repeated in every validation
row).  Cells validated before that (on central crops) have no ``val_zero_fill_*``.
Adversarial methods share ``g_total`` (the generator's
loss) and ``d_total`` (the discriminators').

Where the histories lie, and the choices made for methods trained in several runs:

* one trainer run (supervised, CycleGAN, PseudoSR, UDEAN): ``<cell>/losses.csv``;
* stages (DASR): ``<cell>/stage<k>/losses.csv``, run in the order of ``k``.  They are joined
  into one history whose ``step`` is the cell's training step: the steps of stage ``k`` are
  shifted by the last step of the stages before it, so DASR's SR validation (stage 2) starts
  half-way along the axis, where its SR network starts training.  The validation curve is the
  last stage with ``val_psnr``, the SR validation (DASR's stage 1 validates its degradation
  network, ``val_lr_psnr``, which is not drawn); its losses are drawn for every stage.
* ZSSR: ``<cell>/zssr/volume-<i>/losses.csv``, one per *test* volume, without validation (ZSSR
  never sees validation pairs).  It has no validation curve and is left out: not read here.

Only finished cells (``DONE`` marker, readable ``config.json``) are read; a ``losses.csv`` that
cannot be read as CSV leaves its cell out.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.results.cell_record import DONE, LOSSES
from reports.results_store import SliceCell, finished_cell, store_revisions
from reports.revisions import newest_revision_items
from reports.variants import Variant

LOSSES_FILE = LOSSES
VALIDATION_PSNR = "val_psnr"
VALIDATION_SSIM = "val_ssim"
TRICUBIC_PSNR = "val_tricubic_psnr"
TRICUBIC_SSIM = "val_tricubic_ssim"
REFERENCES: dict[str, str] = {"tricubic": "Tricubic", "zero_fill": "Zero-fill"}
"""Reference lines a validation records (``val_<name>_psnr``), with their display names."""
GENERATOR_LOSS = "g_total"
DISCRIMINATOR_LOSS = "d_total"
_STAGE = re.compile(r"stage(\d+)")


@dataclass(frozen=True)
class TrainingHistory:
    """The joined training history of one finished learned cell.

    Attributes:
        cell: the cell's identity (dataset, scale, setting, method, profile, seed, variant).
        losses: one row per training step; ``step`` is the cell's training step (stages joined),
            ``stage`` the stage folder (``""`` for a single run), then the columns of ``losses.csv``.
        stage_starts: the cell step before each stage's first step (``(0,)`` for a single run).
        validated_stage: index into :attr:`stage_starts` of the stage whose ``val_psnr`` is the
            validation curve, or ``None`` when no stage has one.
    """

    cell: SliceCell
    losses: pd.DataFrame
    stage_starts: tuple[int, ...]
    validated_stage: int | None

    @property
    def variant(self) -> Variant:
        """The cell's protocol variant (every field of :class:`~reports.variants.Variant`, read from the cell)."""
        return Variant(**{f.name: getattr(self.cell, f.name, f.default) for f in dataclasses.fields(Variant)})

    @property
    def block(self) -> tuple[str, str, str]:
        """``(dataset, scale, setting)``: the figure and table block of the cell."""
        return (self.cell.dataset, self.cell.scale, self.cell.setting)

    @property
    def validation_start(self) -> int:
        """The cell step at which the validated stage started (0 for a single run)."""
        return self.stage_starts[self.validated_stage or 0]

    def validation(self) -> pd.DataFrame:
        """The validation curve: ``step``, ``val_psnr``, ``val_ssim`` (NaN when not recorded), rows with a PSNR only."""
        if self.validated_stage is None:
            return pd.DataFrame({"step": [], VALIDATION_PSNR: [], VALIDATION_SSIM: []})
        stage = self.losses[self.losses["stage_index"] == self.validated_stage]
        rows = stage[np.isfinite(pd.to_numeric(stage[VALIDATION_PSNR], errors="coerce"))]
        ssim = rows[VALIDATION_SSIM] if VALIDATION_SSIM in rows.columns else np.nan
        return pd.DataFrame(
            {
                "step": rows["step"].astype(int),
                VALIDATION_PSNR: rows[VALIDATION_PSNR].astype(float),
                VALIDATION_SSIM: ssim,
            }
        ).reset_index(drop=True)

    def tricubic(self) -> dict[str, float] | None:
        """Tricubic's ``{"psnr", "ssim"}`` on the cell's validation volumes; ``None`` when not recorded."""
        return self.reference("tricubic")

    def reference(self, name: str) -> dict[str, float] | None:
        """Reference ``name``'s (:data:`REFERENCES`) ``{"psnr", "ssim"}`` on the cell's validation volumes;
        ``None`` when the cell did not record it (older cells)."""
        psnr_column, ssim_column = f"val_{name}_psnr", f"val_{name}_ssim"
        if self.validated_stage is None or psnr_column not in self.losses.columns:
            return None
        stage = self.losses[self.losses["stage_index"] == self.validated_stage]
        values = {}
        for metric, column in (("psnr", psnr_column), ("ssim", ssim_column)):
            recorded = pd.to_numeric(stage.get(column, pd.Series(dtype=float)), errors="coerce").dropna()
            values[metric] = float(recorded.iloc[0]) if len(recorded) else math.nan
        return None if math.isnan(values["psnr"]) else values

    @property
    def adversarial(self) -> bool:
        """Whether the history records a generator and a discriminator loss (``g_total``, ``d_total``)."""
        return {GENERATOR_LOSS, DISCRIMINATOR_LOSS} <= set(self.losses.columns)


def _stage_files(folder: Path) -> list[tuple[str, Path]]:
    """``(stage name, losses.csv)`` of a cell folder in training order; ``[]`` when it has none (tricubic, ZSSR)."""
    if (folder / LOSSES_FILE).is_file():
        return [("", folder / LOSSES_FILE)]
    stages = [
        (int(match.group(1)), path.name, path / LOSSES_FILE)
        for path in folder.iterdir()
        if path.is_dir() and (match := _STAGE.fullmatch(path.name)) and (path / LOSSES_FILE).is_file()
    ]
    return [(name, path) for _, name, path in sorted(stages)]


def _read_losses(path: Path) -> pd.DataFrame | None:
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if "step" not in frame.columns or frame.empty:
        return None
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce")
    return frame.dropna(subset=["step"])


def read_history(folder: Path) -> TrainingHistory | None:
    """The joined history of the finished cell in ``folder``; ``None`` for a cell without training history."""
    cell = finished_cell(folder)
    if cell is None:
        return None
    parts, starts, offset, validated = [], [], 0, None
    for index, (stage, path) in enumerate(_stage_files(folder)):
        frame = _read_losses(path)
        if frame is None:
            return None
        starts.append(offset)
        if VALIDATION_PSNR in frame.columns and frame[VALIDATION_PSNR].notna().any():
            validated = index
        parts.append(frame.assign(step=frame["step"].astype(int) + offset, stage=stage, stage_index=index))
        offset += int(frame["step"].max())
    if not parts:
        return None
    return TrainingHistory(cell, pd.concat(parts, ignore_index=True), tuple(starts), validated)


def find_training_histories(runs_dir: Path, profile: str | None = None) -> list[TrainingHistory]:
    """Every finished cell under ``runs_dir`` (of ``profile``, when given) with a training history, in folder order.

    Cells of a method revision that a newer one in the store superseded are left out (:mod:`reports.revisions`).
    """
    histories = []
    for marker in sorted(Path(runs_dir).rglob(DONE)):
        history = read_history(marker.parent)
        if history is not None and (profile is None or history.cell.profile == profile):
            histories.append(history)
    newest = store_revisions(runs_dir)
    return newest_revision_items(histories, lambda h: h.cell.method, lambda h: h.cell.revision, newest)
