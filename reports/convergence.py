"""The convergence table: did each learned cell's validation PSNR stop rising before training ended?

For every finished learned cell with a validation curve (:mod:`reports.training_histories`):
its best and final validation PSNR, tricubic's on the same validation crops, and the step at
which the curve flattened, or "still rising".  A reader sees at a glance whether a test number
comes from a trained model or from one stopped mid-climb.

**Definition** (:func:`convergence`, on the validation points ``(s_i, v_i)`` of one curve, in
order of step, NaN left out; ``start`` is the step the curve's training started from, ``end``
its last validated step):

* the *window* is the last :data:`FLAT_WINDOW` (20 %) of the training steps, the steps after
  ``w = end − 0.2 · (end − start)``;
* its *gain* is the final value minus the value at the last validation at or before ``w``;
* the curve is **still rising** when the gain is at least :data:`FLAT_GAIN_DB` (0.05 dB);
  otherwise it has **flattened**, at the first validation step whose value is within 0.05 dB
  of the curve's best (a curve that peaked and fell is flattened at its peak);
* with no validation at or before ``w`` (a single validation, or validations only at the end)
  the gain cannot be measured: "too few validations".

The table is written per profile × variant (file names as Table II's) as Markdown, booktabs
LaTeX and CSV: one block per dataset × scale × setting, one row per cell (seed), in the
tables' method order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.display import (
    dataset_name,
    dataset_sort_key,
    method_name,
    method_sort_key,
    scale_sort_key,
    scale_text,
    setting_name,
    setting_sort_key,
)
from reports.latex import escape_latex
from reports.markdown import escape_markdown
from reports.training_histories import REFERENCES, VALIDATION_PSNR, VALIDATION_SSIM, TrainingHistory

FLAT_WINDOW = 0.2
"""Share of the training steps, at the end, whose gain decides whether a curve still rises."""
FLAT_GAIN_DB = 0.05
"""Gain (dB) over the window below which a curve has flattened."""
FLATTENED = "flattened"
STILL_RISING = "still rising"
TOO_FEW = "too few validations"
_DASH = "–"


@dataclass(frozen=True)
class Convergence:
    """The convergence of one validation curve (see the module docstring).

    Attributes:
        best, best_step: the highest value and the first step reaching it.
        final, final_step: the value at the last validation and its step.
        window_gain: final value minus the value at the window's start (NaN: too few validations).
        status: :data:`FLATTENED`, :data:`STILL_RISING` or :data:`TOO_FEW`.
        flattened_at: the step at which the curve flattened; ``None`` unless flattened.
    """

    best: float
    best_step: int
    final: float
    final_step: int
    window_gain: float
    status: str
    flattened_at: int | None


def convergence(
    steps: Sequence[float],
    values: Sequence[float],
    start: int = 0,
    window: float = FLAT_WINDOW,
    tolerance: float = FLAT_GAIN_DB,
) -> Convergence | None:
    """Best, final, and where the curve ``values`` over ``steps`` flattened (a pure function).

    Args:
        steps: validation steps (any order; sorted here).
        values: the validation values (dB), NaN where not measured.
        start: the step the curve's training started from (its first trained step is ``start + 1``).
        window: the final share of the steps ``start … end`` whose gain is measured.
        tolerance: the gain (dB) below which the curve has flattened, and the distance from the
            best within which the flattening step lies.

    Returns:
        The :class:`Convergence`, or ``None`` when no value is finite.
    """
    points = sorted((int(s), float(v)) for s, v in zip(steps, values) if np.isfinite(v))
    if not points:
        return None
    xs = np.array([s for s, _ in points])
    ys = np.array([v for _, v in points])
    best_index = int(np.argmax(ys))
    end = int(xs[-1])
    window_start = end - window * (end - start)
    before = np.nonzero(xs <= window_start)[0]
    gain, status, flattened_at = math.nan, TOO_FEW, None
    if before.size and before[-1] < len(xs) - 1:
        gain = float(ys[-1] - ys[before[-1]])
        if gain >= tolerance:
            status = STILL_RISING
        else:
            status = FLATTENED
            flattened_at = int(xs[np.nonzero(ys >= ys[best_index] - tolerance)[0][0]])
    return Convergence(float(ys[best_index]), int(xs[best_index]), float(ys[-1]), end, gain, status, flattened_at)


def history_sort_key(history: TrainingHistory) -> tuple:
    """Sort key of a cell: the tables' order of dataset, scale, setting, method, then the seed."""
    cell = history.cell
    return (
        dataset_sort_key(cell.dataset),
        scale_sort_key(cell.scale),
        setting_sort_key(cell.setting),
        method_sort_key(cell.method),
        cell.seed,
    )


def convergence_table(histories: Sequence[TrainingHistory], oracles: frozenset[str] = frozenset()) -> pd.DataFrame:
    """One row per cell with a validation curve, in the tables' order (full precision, for the CSV).

    Columns: ``dataset, scale, setting, method, seed, oracle, steps`` (the cell's last validated
    step), ``validations``, ``best_val_psnr, best_step, final_val_psnr, final_val_ssim,
    window_gain_db, status, flattened_at`` (empty unless flattened), ``tricubic_val_psnr,
    tricubic_val_ssim, final_minus_tricubic_db`` and the same three for ``zero_fill`` (empty when
    the cell did not record them).
    """
    rows = []
    for history in sorted(histories, key=history_sort_key):
        curve = history.validation()
        result = convergence(curve["step"], curve[VALIDATION_PSNR], start=history.validation_start)
        if result is None:
            continue
        references = {name: history.reference(name) or {"psnr": math.nan, "ssim": math.nan} for name in REFERENCES}
        final_ssim = pd.to_numeric(curve[VALIDATION_SSIM], errors="coerce").iloc[-1]
        cell = history.cell
        rows.append(
            {
                "dataset": cell.dataset,
                "scale": cell.scale,
                "setting": cell.setting,
                "method": cell.method,
                "seed": cell.seed,
                "oracle": cell.method in oracles,
                "steps": result.final_step,
                "validations": len(curve),
                "best_val_psnr": result.best,
                "best_step": result.best_step,
                "final_val_psnr": result.final,
                "final_val_ssim": float(final_ssim),
                "window_gain_db": result.window_gain,
                "status": result.status,
                "flattened_at": pd.NA if result.flattened_at is None else result.flattened_at,
                **{
                    column: value
                    for name, reference in references.items()
                    for column, value in (
                        (f"{name}_val_psnr", reference["psnr"]),
                        (f"{name}_val_ssim", reference["ssim"]),
                        (f"final_minus_{name}_db", result.final - reference["psnr"]),
                    )
                },
            }
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["flattened_at"] = table["flattened_at"].astype("Int64")
    return table


# ------------------------------------------------------------------------------ rendering
_HEADER = (
    "Method",
    "Seed",
    "Steps",
    "Best val. PSNR (dB) @ step",
    "Final val. PSNR (dB)",
    "Tricubic (dB)",
    "Final − tricubic (dB)",
    "Zero-fill (dB)",
    "Final − zero-fill (dB)",
    "Final val. SSIM",
    "Flattened at",
)
CAPTION = (
    "Validation PSNR of whole validation volumes, the same at every validation, scored as the test is; "
    "tricubic and zero-fill on those same volumes. "
    f"Flattened at: the first validation step within {FLAT_GAIN_DB} dB of the curve's best, when its "
    f"last {FLAT_WINDOW:.0%} of training steps gained less than {FLAT_GAIN_DB} dB; otherwise still rising."
)
LATEX_NOTES: tuple[str, ...] = (
    "Validation PSNR of whole validation volumes, the same at every validation, scored as the test is.",
    "Tricubic, zero-fill: on those same volumes.",
    f"Flattened at: the first validation step within {FLAT_GAIN_DB} dB of the curve's best,",
    f"when its last {FLAT_WINDOW:.0%} of training steps gained less than {FLAT_GAIN_DB} dB; otherwise still rising.",
)


def _number(value: float, digits: int, minus: str = "−") -> str:
    if value is None or pd.isna(value) or not math.isfinite(float(value)):
        return _DASH
    return f"{float(value):.{digits}f}".replace("-", minus)


def _cells(row: pd.Series, minus: str) -> list[str]:
    flattened = row["status"] if row["status"] != FLATTENED else f"{int(row['flattened_at'])}"
    references = []
    for name in REFERENCES:
        difference = _number(row.get(f"final_minus_{name}_db"), 2, minus)
        if difference != _DASH and not difference.startswith(minus):
            difference = "+" + difference
        references += [_number(row.get(f"{name}_val_psnr"), 2, minus), difference]
    return [
        str(row["seed"]),
        str(row["steps"]),
        f"{_number(row['best_val_psnr'], 2, minus)} @ {row['best_step']}",
        _number(row["final_val_psnr"], 2, minus),
        *references,
        _number(row["final_val_ssim"], 4, minus),
        flattened,
    ]


def _blocks(table: pd.DataFrame) -> list[tuple[tuple[str, str, str], pd.DataFrame]]:
    keys = list(dict.fromkeys(zip(table["dataset"], table["scale"], table["setting"])))
    return [
        (key, table[(table["dataset"] == key[0]) & (table["scale"] == key[1]) & (table["setting"] == key[2])])
        for key in keys
    ]


def _where(key: tuple[str, str, str]) -> str:
    return f"{dataset_name(key[0])}, {scale_text(key[1])}, {setting_name(key[2])}"


def convergence_markdown(
    table: pd.DataFrame, display_names: Mapping[str, str] | None = None, caption: str | None = None
) -> str:
    """The table of :func:`convergence_table` (not empty) as Markdown: one table per block, then the caption."""
    lines = ["**Convergence.** Validation PSNR of each learned cell over training.", ""]
    if caption:
        lines += [f"*{escape_markdown(caption)}*", ""]
    for key, rows in _blocks(table):
        lines += [f"#### {escape_markdown(_where(key))}", ""]
        lines.append("| " + " | ".join(_HEADER) + " |")
        lines.append("| " + " | ".join([":---", *("---:" for _ in _HEADER[1:])]) + " |")
        for _, row in rows.iterrows():
            name = escape_markdown(method_name(row["method"], display_names)) + ("†" if row["oracle"] else "")
            lines.append("| " + " | ".join([name, *_cells(row, "−")]) + " |")
        lines.append("")
    notes = [CAPTION]
    if table["oracle"].any():
        notes.append("† Oracle (upper bound).")
    return "\n".join([*lines, " ".join(notes), ""])


def convergence_latex(
    table: pd.DataFrame, display_names: Mapping[str, str] | None = None, caption: str | None = None
) -> str:
    """The table of :func:`convergence_table` (not empty) as one booktabs ``tabular``, a spanning row per block.

    Wrap it with :func:`reports.latex.standalone_document`; ``caption`` (plain text) goes above the header.
    """
    n_columns = len(_HEADER)
    header = [_latex_text(h) for h in _HEADER]
    lines = [f"\\begin{{tabular}}{{l{'r' * (n_columns - 1)}}}"]
    if caption:
        lines.append(f"\\multicolumn{{{n_columns}}}{{l}}{{\\footnotesize {_latex_text(caption)}}} \\\\")
    lines += [r"\toprule", " & ".join(header) + r" \\"]
    for key, rows in _blocks(table):
        lines.append(r"\midrule")
        where = _latex_text(_where(key)).replace("×", r"$\times$")
        lines.append(f"\\multicolumn{{{n_columns}}}{{l}}{{\\textit{{{where}}}}} \\\\")
        for _, row in rows.iterrows():
            name = escape_latex(method_name(row["method"], display_names)) + (r"$^{\dagger}$" if row["oracle"] else "")
            cells = [_latex_text(c).replace(_DASH, "--") for c in _cells(row, "−")]
            lines.append(" & ".join([name, *cells]) + r" \\")
    lines.append(r"\bottomrule")
    notes = [_latex_text(note) for note in LATEX_NOTES]
    if table["oracle"].any():
        notes.append(r"$^{\dagger}$ Oracle (upper bound).")
    lines += [f"\\multicolumn{{{n_columns}}}{{l}}{{\\footnotesize {note}}} \\\\" for note in notes]
    lines.append(r"\end{tabular}")
    return "\n".join(lines)


def _latex_text(text: str) -> str:
    """Plain text for LaTeX: specials escaped, the minus sign as math."""
    return escape_latex(text).replace("−", "$-$")
