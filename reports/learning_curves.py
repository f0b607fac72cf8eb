"""Learning-curve figures: validation PSNR/SSIM against the training step, and the adversarial losses.

Drawn from the cells' training histories (:mod:`reports.training_histories`), one figure per
dataset × scale × setting of one profile × variant:

* ``learning_curves_<dataset>_<scale>_<setting><suffix>.{png,pdf}`` — two panels, validation
  PSNR (dB) and validation SSIM against the cell's training step, one line (with markers) per
  learned cell (``(seed k)`` added when a method ran several seeds); a dashed horizontal line
  for tricubic and a dotted one for zero-fill on the same validation volumes, read from the
  cells' ``val_tricubic_*`` and ``val_zero_fill_*`` columns. When the cells of a figure did not
  validate on the same volumes (e.g. other split seeds), each cell gets its own reference lines
  in its own colour.  DASR's curve is its stage 2 (SR)
  validation, starting where stage 2 starts.
* ``adversarial_losses_<dataset>_<scale>_<setting><suffix>.{png,pdf}`` — one row per
  adversarial cell (a history with ``g_total`` and ``d_total``), generator loss on the left,
  discriminator loss on the right: each step's value, faint, under its running mean over
  :data:`SMOOTHING_SHARE` of the steps; dotted vertical lines at stage boundaries (DASR).

ZSSR has no validation data and tricubic no training: neither has a curve.  Rendering uses
matplotlib's object interface with the Agg canvas (no pyplot state, no display), PNG at
dpi 150, as the error maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmark.protocol.setting_names import setting_file_name
from reports.convergence import history_sort_key
from reports.display import dataset_name, method_name, scale_text, setting_name
from reports.training_histories import (
    DISCRIMINATOR_LOSS,
    GENERATOR_LOSS,
    REFERENCES,
    VALIDATION_PSNR,
    VALIDATION_SSIM,
    TrainingHistory,
)

DPI = 150
FORMATS: tuple[str, ...] = ("png", "pdf")
SMOOTHING_SHARE = 0.02
"""Window of the losses' running mean, as a share of the steps (at least one step)."""
TRICUBIC_STYLE = {"linestyle": "--", "linewidth": 1.2}
REFERENCE_STYLES = {"tricubic": TRICUBIC_STYLE, "zero_fill": {"linestyle": ":", "linewidth": 1.4}}
"""Line style of each reference of :data:`reports.training_histories.REFERENCES`."""
_TRICUBIC_DIGITS = 9


def block_stem(prefix: str, block: tuple[str, str, str], suffix: str) -> str:
    """``<prefix>_<dataset>_<scale>_<setting><suffix>`` (setting ``n/a`` written ``na``)."""
    dataset, scale, setting = block
    return f"{prefix}_{dataset}_{scale}_{setting_file_name(setting)}{suffix}"


def _labels(
    histories: Sequence[TrainingHistory], display_names: Mapping[str, str] | None, oracles: frozenset[str]
) -> list[str]:
    seeds: dict[str, int] = {}
    for history in histories:
        seeds[history.cell.method] = seeds.get(history.cell.method, 0) + 1
    labels = []
    for history in histories:
        cell = history.cell
        label = method_name(cell.method, display_names) + ("†" if cell.method in oracles else "")
        labels.append(label + (f" (seed {cell.seed})" if seeds[cell.method] > 1 else ""))
    return labels


def _title(block: tuple[str, str, str]) -> str:
    dataset, scale, setting = block
    return f"{dataset_name(dataset)} {scale_text(scale)}, setting {setting_name(setting)}"


def learning_curve_figure(
    histories: Sequence[TrainingHistory],
    title: str,
    display_names: Mapping[str, str] | None = None,
    oracles: frozenset[str] = frozenset(),
) -> Figure:
    """Validation PSNR and SSIM of ``histories`` (each with a validation curve) against the training step."""
    figure = Figure(figsize=(11.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    colours = [f"C{index % 10}" for index in range(len(histories))]
    labels = _labels(histories, display_names, oracles)
    for history, label, colour in zip(histories, labels, colours):
        curve = history.validation()
        for axis, column in zip(axes, (VALIDATION_PSNR, VALIDATION_SSIM)):
            values = pd.to_numeric(curve[column], errors="coerce")
            if values.notna().any():
                axis.plot(curve["step"], values, marker="o", markersize=3, color=colour, label=label)
    for name, display in REFERENCES.items():
        _reference_lines(axes, histories, colours, name, display)
    for axis, name in zip(axes, ("Validation PSNR (dB)", "Validation SSIM")):
        axis.set_xlabel("training step")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(f"{title}: validation on whole validation volumes, scored as the test")
    return figure


def _reference_lines(
    axes: Sequence, histories: Sequence[TrainingHistory], colours: Sequence[str], name: str, display: str
) -> None:
    """One black line per panel for reference ``name`` when every cell recorded the same value, else one per cell."""
    style = REFERENCE_STYLES.get(name, TRICUBIC_STYLE)
    recorded = [history.reference(name) for history in histories]
    shared = {round(r["psnr"], _TRICUBIC_DIGITS) for r in recorded if r is not None}
    if len(shared) == 1:
        baseline = next(r for r in recorded if r is not None)
        for axis, metric in zip(axes, ("psnr", "ssim")):
            if np.isfinite(baseline[metric]):
                axis.axhline(baseline[metric], color="black", label=f"{display} (same volumes)", **style)
    elif len(shared) > 1:
        for reference, colour in zip(recorded, colours):
            if reference is not None:
                for axis, metric in zip(axes, ("psnr", "ssim")):
                    axis.axhline(reference[metric], color=colour, alpha=0.8, **style)
        axes[0].plot([], [], color="grey", label=f"{display} (each cell's volumes)", **style)


def _running_mean(values: np.ndarray) -> np.ndarray:
    width = max(1, round(SMOOTHING_SHARE * len(values)))
    if width == 1:
        return values
    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def adversarial_loss_figure(
    histories: Sequence[TrainingHistory],
    title: str,
    display_names: Mapping[str, str] | None = None,
    oracles: frozenset[str] = frozenset(),
) -> Figure:
    """``g_total`` and ``d_total`` of each adversarial history against the training step, one row per cell."""
    figure = Figure(figsize=(11.0, 0.6 + 2.4 * len(histories)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(histories), 2, squeeze=False)
    for row, (history, label) in enumerate(zip(histories, _labels(histories, display_names, oracles))):
        losses = history.losses
        steps = losses["step"].to_numpy()
        for axis, column, name, colour in (
            (axes[row, 0], GENERATOR_LOSS, "generator", "C0"),
            (axes[row, 1], DISCRIMINATOR_LOSS, "discriminator", "C3"),
        ):
            values = pd.to_numeric(losses[column], errors="coerce").to_numpy(dtype=float)
            finite = np.isfinite(values)
            axis.plot(steps[finite], values[finite], color=colour, alpha=0.25, linewidth=0.6)
            if finite.any():
                axis.plot(steps[finite], _running_mean(values[finite]), color=colour, linewidth=1.4)
            for number, start in enumerate(history.stage_starts[1:], start=2):
                axis.axvline(start, color="grey", linestyle=":", linewidth=1)
                transform = axis.get_xaxis_transform()
                axis.text(start, 0.98, f" stage {number}", transform=transform, va="top", fontsize="x-small")
            axis.set_title(f"{label}: {name} ({column})", fontsize="medium")
            axis.set_xlabel("training step")
            axis.grid(alpha=0.3)
    figure.suptitle(f"{title}: adversarial losses (faint: each step; line: running mean)")
    return figure


def _save(figure: Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for extension in FORMATS:
        path = out_dir / f"{stem}.{extension}"
        figure.savefig(path, dpi=DPI)
        paths.append(path)
    return paths


def write_learning_curves(
    histories: Sequence[TrainingHistory],
    out_dir: Path,
    suffix: str = "",
    display_names: Mapping[str, str] | None = None,
    oracles: frozenset[str] = frozenset(),
) -> list[Path]:
    """Write the learning-curve and adversarial-loss figures of ``histories`` (one profile × variant).

    Args:
        histories: the cells' histories; those without a validation curve or adversarial losses draw nothing.
        out_dir: folder of the figures (created when something is drawn).
        suffix: appended to every file stem (profile and variant suffixes).
        display_names: method display-name overrides.
        oracles: raw names of oracle methods (their labels get a dagger).

    Returns:
        The written paths, PNG then PDF of each figure; empty when no cell has a curve.
    """
    written: list[Path] = []
    blocks: dict[tuple[str, str, str], list[TrainingHistory]] = {}
    for history in sorted(histories, key=history_sort_key):
        blocks.setdefault(history.block, []).append(history)
    for block, members in blocks.items():
        validated = [h for h in members if len(h.validation())]
        if validated:
            figure = learning_curve_figure(validated, _title(block), display_names, oracles)
            written += _save(figure, out_dir, block_stem("learning_curves", block, suffix))
        adversarial = [h for h in members if h.adversarial]
        if adversarial:
            figure = adversarial_loss_figure(adversarial, _title(block), display_names, oracles)
            written += _save(figure, out_dir, block_stem("adversarial_losses", block, suffix))
    return written
