"""How much each cell's validation PSNR swings late in training (steps after 2,000 of 3,000).

    python docs/results/cpu/issue23-table1/validation_swings.py runs/issue23

Per UDEAN cell of the study (demo, quick, 2×2×2, misaligned): its method, revision, overrides and seed,
the mean and standard deviation of its validation PSNR over the late validations, the largest
change between two consecutive validations (dB), and the standard deviation of its validation SSIM.
Then the same per row (method, revision, overrides), averaged over its seeds. Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

LATE_STEP = 2000


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, numbers with 3 decimals."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    args = parser.parse_args()
    rows = []
    for losses in sorted(args.runs.glob("demo/2x2x2/misaligned/udean*/quick/*/seed*/losses.csv")):
        if not (losses.parent / "DONE").is_file():
            continue
        config = json.loads((losses.parent / "config.json").read_text())
        overrides = ";".join(p for p in config["overrides"].split(";") if p and p != "steps_per_epoch=3000")
        validation = pd.read_csv(losses).dropna(subset=["val_psnr"])
        late = validation[validation["step"] > LATE_STEP]
        rows.append(
            {
                "row": f"{config['method']}@{config.get('revision', 0)}" + (f" ({overrides})" if overrides else ""),
                "seed": config["seed"],
                "late_psnr_mean": late["val_psnr"].mean(),
                "late_psnr_std": late["val_psnr"].std(),
                "largest_step_change": late["val_psnr"].diff().abs().max(),
                "late_ssim_std": late["val_ssim"].std(),
            }
        )
    table = pd.DataFrame(rows)
    print(markdown(table))
    print()
    per_row = table.groupby("row").agg(
        seeds=("seed", "count"),
        late_psnr_std=("late_psnr_std", "mean"),
        largest_step_change=("largest_step_change", "max"),
        late_ssim_std=("late_ssim_std", "mean"),
    )
    print(markdown(per_row.reset_index()))


if __name__ == "__main__":
    main()
