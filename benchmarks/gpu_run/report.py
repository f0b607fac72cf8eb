"""Phase 6a, the report: ``bench report`` on the finished cells, and error maps where it drew none."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.protocol.setting_names import NO_SETTING
from benchmarks.gpu_run.run_record import Run, RunLog


def write_report(runs_dir: Path, report_dir: Path, run: Run, log: RunLog) -> None:
    """``results.csv`` from the finished cells, then ``bench report`` (in this process) into ``report_dir``."""
    from benchmark.app.cli import app
    from benchmark.results.store import collect_results

    collected = collect_results(runs_dir)
    run.report["damaged"] = [f"{path}: {reason}" for path, reason in collected.damaged]
    started = time.perf_counter()
    arguments = ["report", "--runs-dir", str(runs_dir), "--out", str(report_dir)]
    try:
        app(arguments, standalone_mode=False)
    except SystemExit as stop:  # typer's Exit in some versions
        run.report["exit"] = stop.code
    run.report["seconds"] = round(time.perf_counter() - started, 1)
    log(f"bench report in {run.report['seconds']} s")
    if not list((report_dir / "figures").glob("error_map_*.png")):
        drawn = draw_error_maps(run.cells, report_dir / "figures")
        run.report["error_maps"] = f"drawn by this script (bench report skips overridden cells): {len(drawn)} figures"
        log(run.report["error_maps"])


def draw_error_maps(cells: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Error maps of the finished cells, one figure per setting and plane (``n/a`` cells in each setting).

    ``bench report`` draws error maps only for cells without ``--set`` overrides, and every cell
    of a budgeted run has some; these are drawn with the report's own
    :func:`reports.error_maps.error_map_figure` from each cell's ``slices.npz``.
    """
    import matplotlib.pyplot as plt

    from reports.error_maps import error_map_figure

    done = [c for c in cells if c.get("status") == "done" and (Path(c["cell_dir"]) / "slices.npz").is_file()]
    settings = sorted({c["setting"] for c in done if c["setting"] != NO_SETTING}) or [NO_SETTING]
    written = []
    for setting in settings:
        loaded = []
        for cell in (c for c in done if c["setting"] in (setting, NO_SETTING)):
            with np.load(Path(cell["cell_dir"]) / "slices.npz") as arrays:
                loaded.append((cell["method"], dict(arrays)))
        if not loaded:
            continue
        first = loaded[0][1]
        subject = str(np.asarray(first.get("subject", "?")).ravel()[0])
        for plane in sorted(key.removesuffix("_sr") for key in first if key.endswith("_sr")):
            methods = [(name, a[f"{plane}_sr"], a[f"{plane}_hr"]) for name, a in loaded if f"{plane}_sr" in a]
            title = f"setting {setting}, {plane} plane, test subject {subject}"
            figure = error_map_figure(first[f"{plane}_hr"], first[f"{plane}_lr"], methods, title)
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"error_map_budgeted_{setting.replace('/', '')}_{plane}.png"
            figure.savefig(path, dpi=150)
            plt.close(figure)
            written.append(path)
    return written
