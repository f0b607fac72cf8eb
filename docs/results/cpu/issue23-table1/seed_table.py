"""The study's rows per seed: test PSNR and SSIM (mean of the test subjects) per seed, mean ± std over seeds,
and each row paired by seed with a base row.

    python docs/results/cpu/issue23-table1/seed_table.py runs/issue23 [--base udean@1] [--dataset demo]

A row is ``method@revision`` plus its ``--set`` overrides (without the study's ``steps_per_epoch=3000``).
Reads ``results.csv`` (rebuild it with the study's ``bench run`` first; a store written before revisions
reads as revision 0). Prints Markdown.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from reports.results_store import read_results

STUDY_OVERRIDE = "steps_per_epoch=3000"


def row_name(method: str, revision: int, overrides: str) -> str:
    extra = ";".join(part for part in overrides.split(";") if part and part != STUDY_OVERRIDE)
    return f"{method}@{revision}" + (f" ({extra})" if extra else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    parser.add_argument("--base", default="udean@1", help="the row the others are paired with")
    parser.add_argument("--dataset", default="demo")
    args = parser.parse_args()
    table = read_results(args.runs)
    table = table[(table["dataset"] == args.dataset) & (table["profile"] == "quick")]
    table = table.assign(row=[row_name(*v) for v in zip(table["method"], table["revision"], table["overrides"])])
    per_seed = table.groupby(["row", "seed"])[["psnr", "ssim"]].mean().reset_index()
    psnr = per_seed.pivot(index="row", columns="seed", values="psnr")
    ssim = per_seed.pivot(index="row", columns="seed", values="ssim")
    seeds = list(psnr.columns)
    print("| row | " + " | ".join(f"seed {s}" for s in seeds) + " | n | PSNR (dB) | SSIM | paired with the base (dB) |")
    print("|---|" + "---|" * len(seeds) + "---|---|---|---|")
    base = psnr.loc[args.base] if args.base in psnr.index else None
    for row in psnr.index:
        values = psnr.loc[row].dropna()
        cells = " | ".join("–" if pd.isna(psnr.loc[row, s]) else f"{psnr.loc[row, s]:.2f}" for s in seeds)
        std = f"{values.std():.2f}" if len(values) > 1 else "–"
        s_values = ssim.loc[row].dropna()
        s_std = f"{s_values.std():.3f}" if len(s_values) > 1 else "–"
        paired = "–"
        if base is not None and row != args.base:
            difference = (psnr.loc[row] - base).dropna()
            if len(difference) > 1:
                paired = f"{difference.mean():+.2f} ± {difference.std():.2f} (n = {len(difference)})"
        print(
            f"| {row} | {cells} | {len(values)} | {values.mean():.2f} ± {std} | {s_values.mean():.3f} ± {s_std} "
            f"| {paired} |"
        )


if __name__ == "__main__":
    main()
