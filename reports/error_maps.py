"""Error-map figures: the same slice super-resolved by every method, and its |SR − HR| map.

One figure per dataset × scale × setting group and plane (axial, sagittal).  Layout:

* columns: HR, LR (nearest-neighbour on the HR grid, as stored), then one per method — the
  ``n/a`` methods (tricubic, ZSSR) first, as they appear in every setting's figure, then the
  setting's methods in the tables' order, oracles (with a dagger) last; more than
  :data:`MAX_COLUMNS` panels wrap into bands of equal width, each an image row over its error row;
* first row: the images, gray, shared ``vmin=0, vmax=1``;
* second row: ``|SR − HR|`` with one colour scale (``inferno``) for the whole figure and one
  labelled colour bar.  Its top, ``vmax``, is the 99.5th percentile of the methods' error
  maps pooled, so a few extreme voxels do not wash out the rest.  Under HR the error row is
  blank; under LR it shows ``|LR − HR|`` on the *same* scale (it is usually larger and then
  saturates: a reference for how much each method recovers, not an input to ``vmax``).

The slices come from the cells' ``slices.npz`` (the runner cuts them already oriented for
display); each method's error is taken against the HR slice stored in its own cell.  When a
method ran with several seeds, the lowest seed's slices are shown (of its fp32 cells, when it also ran
in another precision).  Rendering uses matplotlib's
object interface with the Agg canvas, so no global pyplot state or display is involved.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmark.protocol.setting_names import NO_SETTING, setting_file_name
from benchmark.results.schema import DEFAULT_PRECISION
from reports.display import (
    dataset_name,
    method_name,
    method_sort_key,
    ordered,
    scale_text,
    setting_name,
    setting_sort_key,
)
from reports.results_store import SliceCell, find_slice_cells

PLANES: tuple[str, ...] = ("axial", "sagittal")
ERROR_CMAP = "inferno"
ERROR_PERCENTILE = 99.5
DPI = 150
FORMATS: tuple[str, ...] = ("png", "pdf")
PANEL_INCHES = 1.9
_LEFT_INCHES, _RIGHT_INCHES, _TOP_INCHES, _BOTTOM_INCHES = 0.3, 0.6, 0.75, 0.1
_COLORBAR_RATIO = 0.07
_BAND_GAP_INCHES = 0.35
# Columns per band: wider figures wrap into bands of image + error rows (HR, LR and 13 methods
# make two bands of 8), so a figure fits a page.
MAX_COLUMNS = 8


def band_columns(n_columns: int, max_columns: int = MAX_COLUMNS) -> list[range]:
    """Split ``n_columns`` panels into the fewest bands of at most ``max_columns``, as even as possible."""
    n_bands = max(1, -(-n_columns // max_columns))
    per_band = -(-n_columns // n_bands)
    return [range(start, min(start + per_band, n_columns)) for start in range(0, n_columns, per_band)]


def error_map_figure(
    hr: np.ndarray,
    lr: np.ndarray,
    methods: Sequence[tuple[str, np.ndarray, np.ndarray]],
    title: str,
) -> Figure:
    """Draw one error-map figure.

    Args:
        hr: HR slice ``(H, W)`` in [0, 1].
        lr: LR slice on the HR grid ``(H, W)``.
        methods: ``(column title, SR slice, HR slice of that cell)`` per method, in column order.
        title: the figure's title.

    Returns:
        The figure (Agg canvas attached); save it with ``savefig``.
    """
    errors = [np.abs(sr.astype(np.float64) - ref.astype(np.float64)) for _, sr, ref in methods]
    pooled = np.concatenate([error.ravel() for error in errors]) if errors else np.zeros(1)
    vmax = float(np.percentile(pooled, ERROR_PERCENTILE)) if pooled.size else 0.0
    vmax = vmax if vmax > 0 else 1e-3
    images = [("HR", hr), ("LR", lr), *((name, sr) for name, sr, _ in methods)]
    lr_error = np.abs(lr.astype(np.float64) - hr.astype(np.float64))
    error_panels = [None, lr_error, *errors]  # none under HR
    bands = band_columns(len(images))
    n_columns = len(bands[0])
    aspect = hr.shape[0] / max(hr.shape[1], 1)
    width = PANEL_INCHES * (n_columns + _COLORBAR_RATIO) + _LEFT_INCHES + _RIGHT_INCHES
    height = 2 * len(bands) * PANEL_INCHES * aspect + _TOP_INCHES + _BOTTOM_INCHES + _BAND_GAP_INCHES * (len(bands) - 1)
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    # A fixed grid (no layout engine: it would cost more than the drawing): per band an image
    # row and an error row, a thin spacer row between bands, the colour bar in a thin last
    # column next to each error row (one scale for the whole figure).
    spacer = _BAND_GAP_INCHES / (PANEL_INCHES * aspect)
    height_ratios: list[float] = []
    for band in range(len(bands)):
        height_ratios += [1.0, 1.0] + ([spacer] if band < len(bands) - 1 else [])
    grid = figure.add_gridspec(
        len(height_ratios),
        n_columns + 1,
        width_ratios=[1.0] * n_columns + [_COLORBAR_RATIO],
        height_ratios=height_ratios,
        left=_LEFT_INCHES / width,
        right=1 - _RIGHT_INCHES / width,
        bottom=_BOTTOM_INCHES / height,
        top=1 - _TOP_INCHES / height,
        wspace=0.06,
        hspace=0.12,
    )
    for band, columns in enumerate(bands):
        image_row, error_row = 3 * band, 3 * band + 1
        mappable = None
        for slot, index in enumerate(columns):
            name, image = images[index]
            top = figure.add_subplot(grid[image_row, slot])
            bottom = figure.add_subplot(grid[error_row, slot])
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
            top.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            top.set_title(name, fontsize=9)
            error = error_panels[index]
            if error is None:
                bottom.axis("off")
                bottom.text(0.5, 0.5, "error maps\n|· − HR|", ha="center", va="center", fontsize=9)
            else:
                mappable = bottom.imshow(error, cmap=ERROR_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
            if slot == 0:
                top.set_ylabel("image", fontsize=9)
                bottom.set_ylabel("|· − HR|", fontsize=9)
        if mappable is not None:
            colorbar = figure.colorbar(mappable, cax=figure.add_subplot(grid[error_row, -1]))
            colorbar.set_label(f"|SR − HR| (top: {ERROR_PERCENTILE:g}th pct.)", fontsize=8)
            colorbar.ax.tick_params(labelsize=7)
    figure.suptitle(title, fontsize=10)
    return figure


def _planes(arrays: Mapping[str, np.ndarray]) -> list[str]:
    found = {key[: -len("_sr")] for key in arrays if key.endswith("_sr")}
    return [p for p in PLANES if p in found] + sorted(found - set(PLANES))


def _subject(arrays: Mapping[str, np.ndarray]) -> str:
    values = np.asarray(arrays.get("subject", [])).ravel()
    return str(values[0]) if values.size else "?"


def _preference(cell: SliceCell) -> tuple[bool, int]:
    """Which of a method's cells a figure shows: fp32 before another precision, then the lowest seed."""
    return (cell.precision != DEFAULT_PRECISION, cell.seed)


def _figure_groups(cells: list[SliceCell]) -> dict[tuple[str, str, str], list[SliceCell]]:
    """Cells per (dataset, scale, setting group), ``n/a`` cells in every group, lowest seed per method (fp32 first)."""
    lowest: dict[tuple[str, str, str, str], SliceCell] = {}
    for cell in cells:
        key = (cell.dataset, cell.scale, cell.setting, cell.method)
        if key not in lowest or _preference(cell) < _preference(lowest[key]):
            lowest[key] = cell
    groups: dict[tuple[str, str, str], list[SliceCell]] = {}
    for dataset, scale in sorted({(c.dataset, c.scale) for c in lowest.values()}):
        members = [c for c in lowest.values() if c.dataset == dataset and c.scale == scale]
        settings = [s for s in ordered((c.setting for c in members), setting_sort_key) if s != NO_SETTING]
        shared = [c for c in members if c.setting == NO_SETTING]
        for setting in settings or [NO_SETTING]:
            groups[(dataset, scale, setting)] = shared + [
                c for c in members if c.setting == setting and setting != NO_SETTING
            ]
    return groups


def write_error_maps(
    runs_dir: Path,
    out_dir: Path,
    profile: str | None,
    oracle_methods: frozenset[str] = frozenset(),
    display_names: Mapping[str, str] | None = None,
    suffix: str = "",
    notes: list[str] | None = None,
) -> list[Path]:
    """Write every error-map figure of one profile as PNG (dpi 150) and PDF.

    Files are ``error_map_<dataset>_<scale>_<setting>_<plane><suffix>.{png,pdf}`` (setting
    ``n/a`` written ``na``, for groups with no other setting).

    Args:
        runs_dir: the results store.
        out_dir: folder for the figures (created).
        profile: the profile whose cells are drawn; ``None`` takes every cell, which is only
            meaningful when the store holds a single profile.
        oracle_methods: raw names of oracle methods (their titles get a dagger).
        display_names: method display-name overrides.
        suffix: appended to every file stem (e.g. ``"_quick"``).
        notes: where to add one sentence per cell whose ``slices.npz`` cannot be read (it is left
            out of its figure; the others are drawn).

    Returns:
        The written paths, PNG and PDF of each figure in turn; empty when no cell has slices.
    """
    cells = [c for c in find_slice_cells(runs_dir) if profile is None or c.profile == profile]
    written: list[Path] = []
    for (dataset, scale, setting), members in _figure_groups(cells).items():
        members = sorted(
            members, key=lambda c: (setting_sort_key(c.setting), c.method in oracle_methods, method_sort_key(c.method))
        )
        loaded = []
        for cell in members:
            try:
                loaded.append((cell, cell.load()))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                if notes is not None:
                    notes.append(f"{cell.path} cannot be read ({type(error).__name__}); its error map is left out.")
        if not loaded:
            continue
        first = loaded[0][1]
        subject = _subject(first)
        for plane in _planes(first):
            methods = []
            for cell, arrays in loaded:
                if f"{plane}_sr" not in arrays or f"{plane}_hr" not in arrays:
                    continue
                name = method_name(cell.method, display_names) + ("†" if cell.method in oracle_methods else "")
                methods.append((name, arrays[f"{plane}_sr"], arrays[f"{plane}_hr"]))
            title = (
                f"{dataset_name(dataset)} {scale_text(scale)}, setting {setting_name(setting)}, "
                f"{plane} plane, test subject {subject}"
            )
            figure = error_map_figure(first[f"{plane}_hr"], first[f"{plane}_lr"], methods, title)
            out_dir.mkdir(parents=True, exist_ok=True)
            stem = f"error_map_{dataset}_{scale}_{setting_file_name(setting)}_{plane}{suffix}"
            for extension in FORMATS:
                path = out_dir / f"{stem}.{extension}"
                figure.savefig(path, dpi=DPI)
                written.append(path)
    return written
