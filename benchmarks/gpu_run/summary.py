"""``summary.md``: one Markdown table of the run, per setting and method."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from benchmarks.gpu_run.run_record import Run


def summary_markdown(results: pd.DataFrame, cells: list[dict[str, Any]], run: Run) -> str:
    """Per setting and method: test SSIM/PSNR, PSNR against tricubic and supervised-aligned, steps, speed, memory."""
    lines = [
        f"# {run.options.profile} profile on {run.machine.get('gpu') or run.machine.get('device', '?')}",
        "",
        f"Concurrency {run.concurrency.get('chosen')} (measured: "
        + ", ".join(
            f"{r['level']}: {r['aggregate_steps_per_s']:.2f} steps/s" for r in run.concurrency.get("levels", [])
        )
        + f"); budget {run.budget.get('mode')}, steps {run.budget.get('steps')}; "
        f"profile's own budget {run.budget.get('profile_budget_steps')} steps.",
        "",
    ]
    if run.skipped:
        lines += [f"Skipped: {', '.join(f'{m} ({why})' for m, why in run.skipped.items())}.", ""]
    by_label = {(c["method"], c["setting"]): c for c in cells}
    means = (
        results.groupby(["setting", "method"])[["ssim", "psnr"]].mean().reset_index()
        if not results.empty
        else pd.DataFrame(columns=["setting", "method", "ssim", "psnr"])
    )
    tricubic = means[means["method"] == "tricubic"]["psnr"]
    reference = float(tricubic.iloc[0]) if len(tricubic) else math.nan
    header = (
        "| setting | method | steps | SSIM | PSNR | ΔPSNR vs tricubic | ΔPSNR vs supervised-aligned | patches/s "
        "| peak MiB | precision | status |"
    )
    lines += [header, "|---" * 11 + "|"]
    for cell in cells:
        row = means[(means["method"] == cell["method"]) & (means["setting"] == cell["setting"])]
        aligned = means[(means["method"] == "supervised-aligned") & (means["setting"] == cell["setting"])]["psnr"]
        ssim = float(row["ssim"].iloc[0]) if len(row) else math.nan
        psnr = float(row["psnr"].iloc[0]) if len(row) else math.nan
        oracle = float(aligned.iloc[0]) if len(aligned) else math.nan
        record = by_label[(cell["method"], cell["setting"])]

        def number(value: Any, digits: int) -> str:
            return (
                "–"
                if value is None or (isinstance(value, float) and not math.isfinite(value))
                else f"{value:.{digits}f}"
            )

        lines.append(
            f"| {cell['setting']} | {cell['method']} | {record.get('steps', '–')} "
            f"| {number(ssim, 4)} | {number(psnr, 2)} "
            f"| {number(psnr - reference, 2)} | {number(psnr - oracle, 2)} | {number(record.get('patches_per_s'), 1)} "
            f"| {number(record.get('peak_mem_mib'), 0)} | {record.get('precision', '–')} | {record['status']} |"
        )
    return "\n".join(lines) + "\n"
