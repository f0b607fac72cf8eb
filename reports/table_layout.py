"""What the tables show, before any markup: row order, groups, number formats, bold and stars.

The LaTeX and Markdown renderers both draw from this layout, so they always agree.

Rules (the paper's Table II, made explicit):

* A *block* is one dataset × scale × setting.  Rows of setting ``n/a`` (tricubic, ZSSR: no
  source HR needed) belong to every setting block of their dataset × scale and are listed
  once, at the top of the dataset × scale group.  With no setting other than ``n/a`` in a
  group, the ``n/a`` rows form one block by themselves.
* Best per block and metric is set in bold.  It is decided on the values *as printed*
  (rounded to :data:`DECIMALS`), so ties in print are all bold.  Higher is better for SSIM
  and PSNR (and Dice); the smallest in absolute value for the signed tissue-volume errors.  An
  ``n/a`` row is bold when it is the best of at least one of its blocks.
* Oracle methods (an upper bound, e.g. supervised on perfectly aligned pairs) are marked with
  a dagger and never bold.
* With p-values, a metric value of a method other than the reference is starred when the
  reference differs from it at a Holm-adjusted p < :data:`ALPHA`.  The Holm family is every
  comparison the table marks: each method against the reference in each block where a test
  was possible, for each metric column shown (:func:`reports.significance.table_family`); the
  note under the table gives its size.  Rows of setting ``n/a`` take the largest adjusted
  p-value over their blocks (:func:`reports.significance.attach_p_values`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from benchmark.data.dataset import TISSUES
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING
from reports.display import (
    dataset_sort_key,
    method_sort_key,
    ordered,
    scale_sort_key,
    setting_sort_key,
)
from reports.significance import HOLM_PREFIX, MIN_SUBJECTS, attach_p_values, family_size, table_family

DECIMALS: dict[str, int] = {
    "ssim": 4,
    "psnr": 2,
    "ssim_brain": 4,
    "psnr_brain": 2,
    "ssim2d": 4,
    **{f"volume_error_{tissue}": 1 for tissue in TISSUES},
}
DEFAULT_DECIMALS = 4
ALPHA = 0.05
TABLE_METRICS: tuple[str, ...] = ("ssim", "psnr")
BRAIN_METRICS: tuple[str, ...] = ("ssim_brain", "psnr_brain")
"""The metrics of the brain-mask variant of Table II (``table2_brain``), where the cells have them."""
DICE_METRICS: tuple[str, ...] = tuple(f"dice_{tissue}" for tissue in TISSUES)
"""The downstream table's Dice of each tissue, SR vs HR segmentation (:mod:`benchmark.evaluation.downstream`)."""
TRUE_DICE_METRICS: tuple[str, ...] = tuple(f"dice_{tissue}_true" for tissue in TISSUES)
"""The downstream table's Dice against the true tissue maps, where the dataset has them (the demo)."""
VOLUME_ERROR_METRICS: tuple[str, ...] = tuple(f"volume_error_{tissue}" for tissue in TISSUES)
"""The downstream table's tissue-volume errors, SR vs HR, in % (signed)."""
METRIC_UNITS: dict[str, str] = {
    "psnr": " (dB)",
    "psnr_brain": " (dB)",
    **{metric: " (%)" for metric in VOLUME_ERROR_METRICS},
}
"""Unit appended to a metric's column header."""
LOWER_IS_BETTER: frozenset[str] = frozenset()
CLOSEST_TO_ZERO_IS_BEST: frozenset[str] = frozenset(VOLUME_ERROR_METRICS)
"""Signed errors: the best is the smallest in absolute value."""
ABLATION_METHODS: tuple[str, ...] = (
    "supervised",
    "supervised-rigid",
    "udean-feature-da",
    "udean-image-da",
    "udean",
)
ABLATION_TRIGGERS: frozenset[str] = frozenset(ABLATION_METHODS) - {"udean"}
MISSING = "–"


@dataclass(frozen=True)
class MetricCell:
    """One metric of one row: the numbers and how to print them."""

    mean: float
    std: float
    decimals: int
    bold: bool = False
    significant: bool = False

    @property
    def mean_text(self) -> str:
        """The mean with its fixed decimals, or "–" when missing."""
        return MISSING if math.isnan(self.mean) else f"{self.mean:.{self.decimals}f}"

    @property
    def std_text(self) -> str:
        """The standard deviation, or "–" when undefined (a single subject)."""
        return MISSING if math.isnan(self.std) else f"{self.std:.{self.decimals}f}"

    @property
    def printed_mean(self) -> float:
        """The mean rounded as printed (NaN stays NaN); what "best" is decided on."""
        return self.mean if math.isnan(self.mean) else float(self.mean_text)


@dataclass(frozen=True)
class TableRow:
    """One cell of the matrix as a table row."""

    dataset: str
    scale: str
    setting: str
    method: str
    oracle: bool
    n_subjects: int
    cells: dict[str, MetricCell] = field(default_factory=dict)
    profile: str = ""
    note: str = ""
    """Printed after the name in brackets: ``diverged``, or ``k of n seeds diverged``; empty otherwise."""


def divergence_note(n_diverged: int, n_seeds: int) -> str:
    """``""``, ``"diverged"`` (every seed) or ``"k of n seeds diverged"``."""
    if n_diverged <= 0:
        return ""
    return "diverged" if n_diverged >= n_seeds else f"{n_diverged} of {n_seeds} seeds diverged"


@dataclass(frozen=True)
class ScaleGroup:
    """The rows of one dataset × scale, ``n/a`` rows first, then one block per setting."""

    dataset: str
    scale: str
    rows: tuple[TableRow, ...]


def _single_profile(summary: pd.DataFrame) -> None:
    if "profile" in summary.columns and summary["profile"].nunique() > 1:
        profiles = ", ".join(sorted(summary["profile"].unique()))
        raise ValueError(f"the summary holds several profiles ({profiles}); filter it to one first")


def _row(record: pd.Series, metrics: tuple[str, ...], alpha: float, reference: str) -> TableRow:
    cells = {}
    for metric in metrics:
        p = record.get(f"{HOLM_PREFIX}{metric}", float("nan"))
        significant = record["method"] != reference and bool(pd.notna(p) and p < alpha)
        cells[metric] = MetricCell(
            mean=float(record.get(f"{metric}_mean", float("nan"))),
            std=float(record.get(f"{metric}_std", float("nan"))),
            decimals=DECIMALS.get(metric, DEFAULT_DECIMALS),
            significant=significant,
        )
    return TableRow(
        dataset=str(record["dataset"]),
        scale=str(record["scale"]),
        setting=str(record["setting"]),
        method=str(record["method"]),
        oracle=bool(record["oracle"]),
        n_subjects=int(record["n_subjects"]),
        cells=cells,
        profile=str(record.get("profile", "")),
        note=divergence_note(int(record.get("n_diverged", 0) or 0), int(record.get("n_seeds", 1) or 1)),
    )


def _best_indices(rows: list[TableRow], indices: list[int], metric: str) -> set[int]:
    """Indices among ``indices`` holding the best printed value of ``metric`` (oracles excluded)."""
    candidates = [i for i in indices if not rows[i].oracle and not math.isnan(rows[i].cells[metric].printed_mean)]
    if not candidates:
        return set()
    values = {i: rows[i].cells[metric].printed_mean for i in candidates}
    if metric in CLOSEST_TO_ZERO_IS_BEST:
        values = {i: abs(value) for i, value in values.items()}
    best = (
        min(values.values())
        if metric in CLOSEST_TO_ZERO_IS_BEST
        else min(values.values())
        if metric in LOWER_IS_BETTER
        else max(values.values())
    )
    return {i for i, value in values.items() if value == best}


def _with_bold(rows: list[TableRow], blocks: list[list[int]], metrics: tuple[str, ...]) -> list[TableRow]:
    bold: dict[int, set[str]] = {i: set() for i in range(len(rows))}
    for block in blocks:
        for metric in metrics:
            for i in _best_indices(rows, block, metric):
                bold[i].add(metric)
    out = []
    for i, row in enumerate(rows):
        cells = {
            metric: MetricCell(cell.mean, cell.std, cell.decimals, metric in bold[i], cell.significant)
            for metric, cell in row.cells.items()
        }
        out.append(replace(row, cells=cells))
    return out


def _row_sort_key(row: TableRow) -> tuple:
    return (setting_sort_key(row.setting), row.oracle, method_sort_key(row.method))


def table_ii_layout(
    summary: pd.DataFrame,
    p_values: pd.DataFrame | None = None,
    metrics: tuple[str, ...] = TABLE_METRICS,
    alpha: float = ALPHA,
    reference: str = "udean",
) -> list[ScaleGroup]:
    """Rows of Table II grouped by dataset × scale, with bold and stars decided.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        p_values: the output of :func:`reports.significance.paired_tests`, or ``None`` (no stars).
        metrics: metric columns to show, in order.
        alpha: significance level for the stars, applied to the Holm-adjusted p-values (the
            family: every p-value of ``p_values`` that the table's rows and ``metrics`` mark).
        reference: the method the p-values compare against (never starred itself).

    Returns:
        The groups in the paper's order (HCP, BraTS, others; larger scale first).

    Raises:
        ValueError: when ``summary`` holds more than one profile.
    """
    _single_profile(summary)
    table = attach_p_values(summary, p_values, metrics)
    groups = []
    for dataset in ordered(table["dataset"], dataset_sort_key):
        of_dataset = table[table["dataset"] == dataset]
        for scale in ordered(of_dataset["scale"], scale_sort_key):
            records = of_dataset[of_dataset["scale"] == scale]
            rows = sorted(
                (_row(record, metrics, alpha, reference) for _, record in records.iterrows()), key=_row_sort_key
            )
            settings = [s for s in ordered((r.setting for r in rows), setting_sort_key) if s != NO_SETTING]
            shared = [i for i, row in enumerate(rows) if row.setting == NO_SETTING]
            if settings:
                blocks = [shared + [i for i, row in enumerate(rows) if row.setting == s] for s in settings]
            else:
                blocks = [shared]
            groups.append(ScaleGroup(dataset, scale, tuple(_with_bold(rows, blocks, metrics))))
    return groups


def table_i_layout(
    summary: pd.DataFrame,
    dataset: str = "hcp",
    scale: str = "2x2x2",
    setting: str = MISALIGNED,
    metrics: tuple[str, ...] = TABLE_METRICS,
) -> list[TableRow] | None:
    """Columns of the ablation table (Table I) for one dataset × scale × setting.

    The configurations are :data:`ABLATION_METHODS` in that order, only those present.

    Args:
        summary: the output of :func:`reports.summary.summarise` for one profile.
        dataset: raw dataset name.
        scale: scale string, e.g. ``"2x2x2"``.
        setting: ``"misaligned"`` (the paper) or ``"unpaired"``.
        metrics: metric columns to show, in order (one table row each).

    Returns:
        One :class:`TableRow` per configuration (best per metric marked bold), or ``None`` when
        none of supervised, supervised-rigid, udean-feature-da, udean-image-da is present: an
        ablation of UDEAN alone says nothing.

    Raises:
        ValueError: when ``summary`` holds more than one profile.
    """
    _single_profile(summary)
    chosen = summary[
        (summary["dataset"] == dataset)
        & (summary["scale"] == scale)
        & (summary["setting"] == setting)
        & summary["method"].isin(ABLATION_METHODS)
    ]
    if not set(chosen["method"]) & ABLATION_TRIGGERS:
        return None
    rows = [_row(record, metrics, ALPHA, "") for _, record in chosen.iterrows()]
    rows.sort(key=lambda row: ABLATION_METHODS.index(row.method))
    return _with_bold(rows, [list(range(len(rows)))], metrics)


def ablation_blocks(summary: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Every (dataset, scale, setting) of the summary for which :func:`table_i_layout` has a table."""
    chosen = summary[summary["method"].isin(ABLATION_TRIGGERS)]
    keys = {(str(d), str(sc), str(se)) for d, sc, se in zip(chosen["dataset"], chosen["scale"], chosen["setting"])}
    return sorted(keys, key=lambda k: (dataset_sort_key(k[0]), scale_sort_key(k[1]), setting_sort_key(k[2])))


def subject_counts(rows: list[TableRow]) -> list[int]:
    """Distinct numbers of test subjects over ``rows`` (one value when all cells agree)."""
    return sorted({row.n_subjects for row in rows})


@dataclass(frozen=True)
class NoteMarkup:
    """How a renderer writes the few symbols the table notes use."""

    pm: str
    dagger: str
    star: str
    dash: str
    p_lt: str


def table_notes(
    rows: list[TableRow],
    markup: NoteMarkup,
    reference_name: str | None = None,
    p_values: pd.DataFrame | None = None,
    shared_rows: bool = True,
) -> list[str]:
    """The caption sentences under a table: statistics, bold rule, dagger, stars.

    Args:
        rows: every row of the table.
        markup: the renderer's symbols.
        reference_name: display name of the reference method of the p-values.
        p_values: the p-value table, or ``None`` when no test was run (no star sentence); the
            star sentence gives the size of the Holm family of ``rows`` (the same family as
            :func:`table_ii_layout`'s).
        shared_rows: ``True`` for Table II (blocks, shared ``n/a`` rows); ``False`` for Table I.

    Returns:
        Sentences, already in the renderer's markup (names must be escaped by the caller).
    """

    counts = subject_counts(rows)
    if len(counts) == 1:
        n_text = f"n = {counts[0]}"
    else:
        n_text = f"n = {counts[0]}{markup.dash}{counts[-1]} (per row in the CSV)"
    notes = [
        f"Mean {markup.pm} sample standard deviation (ddof = 1) over {n_text} test subjects, "
        f"each averaged over seeds first; {markup.dash} where undefined."
    ]
    if shared_rows:
        rule = "Bold: best per dataset, scale and setting (values as printed)"
        if any(row.setting == NO_SETTING for row in rows):
            rule += "; N/A rows compete in every setting"
    else:
        rule = "Bold: best configuration per metric (values as printed)"
    notes.append(rule + ".")
    if any(row.oracle for row in rows):
        notes.append(f"{markup.dagger} Oracle (upper bound), not ranked.")
    if any(row.note for row in rows):
        notes.append(
            "Diverged: a training loss stopped being a finite number; such a seed has no metrics and is left "
            f"out of its row's means ({markup.dash} when every seed diverged)."
        )
    if p_values is not None and reference_name:
        comparisons = _comparisons(rows, p_values)
        if comparisons == 0:
            notes.append(
                f"No significance marks: the paired Wilcoxon test needs at least {MIN_SUBJECTS} test subjects "
                "whose values differ between the two methods."
            )
        else:
            notes.append(
                f"{markup.star} {reference_name} differs at p {markup.p_lt} {ALPHA:g}, "
                f"Holm-corrected across the {comparisons} comparisons of this table "
                "(paired Wilcoxon signed-rank over test subjects; N/A rows: in every setting)."
            )
    return notes


def _comparisons(rows: list[TableRow], p_values: pd.DataFrame) -> int:
    """Size of the Holm family of a table: the finite p-values its rows and metric columns mark."""
    if not rows or p_values.empty:
        return 0
    shown = pd.DataFrame(
        {
            "dataset": [row.dataset for row in rows],
            "scale": [row.scale for row in rows],
            "profile": [row.profile for row in rows],
            "method": [row.method for row in rows],
            "setting": [row.setting for row in rows],
        }
    )
    keys = p_values[["dataset", "scale", "profile"]].astype(str)
    p_values = p_values.assign(**{column: keys[column] for column in keys.columns})
    return family_size(table_family(p_values, shown, tuple(rows[0].cells)))
