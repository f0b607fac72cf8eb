"""Does the paper profile learn, with and without the warm-up? (issue 23, ``run_paper_start.sh``)

    python docs/results/cpu/issue23-table1/paper_start.py runs/issue23

Per finished UDEAN cell at the paper profile on demo-small (300 steps, validated every 50): its
revision, warm-up and seed; validation PSNR at the first validation (step 50) and at the end (dB);
the mean of X_{s→t} and of the target LR X_t over the validation volumes at those two steps; and
whether the cell *learns* by the criterion fixed before the cells ran:

    learns  ⇔  final validation PSNR > first validation PSNR  and  final mean X_{s→t} ≥ ½ · final mean X_t

Then per row (revision, warm-up): the count of seeds that learn, and the final validation PSNR as
mean ± sample std over seeds. Between the two rows of one revision, the warm-up is *shown* to matter
when the gap of their final validation PSNR is at least twice the larger of their two spreads (the
issue's rule for Table I rows). Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from validation_swings import markdown  # this folder: the script's own folder leads sys.path


def warmup_of(config: dict) -> float:
    """The cell's ``udean_warmup``: its override, else its revision's default (0.1 at revision 0, else 0)."""
    for pair in config["overrides"].split(";"):
        if pair.startswith("udean_warmup="):
            return float(pair.split("=", 1)[1])
    return 0.1 if config.get("revision", 0) == 0 else 0.0


def cell_rows(runs: Path) -> pd.DataFrame:
    """One row per finished paper-profile UDEAN cell on demo-small."""
    rows = []
    for losses in sorted(runs.glob("demo-small/2x2x2/misaligned/udean*/paper/*/seed*/losses.csv")):
        if not (losses.parent / "DONE").is_file():
            continue
        config = json.loads((losses.parent / "config.json").read_text())
        if config["method"] != "udean":
            continue
        validation = pd.read_csv(losses).dropna(subset=["val_psnr"]).sort_values("step")
        first, last = validation.iloc[0], validation.iloc[-1]
        learns = last["val_psnr"] > first["val_psnr"] and last["val_x_s_t_mean"] >= 0.5 * last["val_x_t_mean"]
        rows.append(
            {
                "revision": int(config.get("revision", 0)),
                "warmup": warmup_of(config),
                "seed": int(config["seed"]),
                "psnr_first": first["val_psnr"],
                "psnr_final": last["val_psnr"],
                "x_s_t_first": first["val_x_s_t_mean"],
                "x_s_t_final": last["val_x_s_t_mean"],
                "x_t_final": last["val_x_t_mean"],
                "learns": "yes" if learns else "no",
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path)
    args = parser.parse_args()
    cells = cell_rows(args.runs)
    if cells.empty:
        raise SystemExit(f"no finished paper-profile UDEAN cell under {args.runs}")
    cells = cells.sort_values(["revision", "warmup", "seed"])
    print(markdown(cells))
    print()
    per_row = (
        cells.groupby(["revision", "warmup"])
        .agg(
            seeds=("seed", "count"),
            learn=("learns", lambda s: int((s == "yes").sum())),
            final_mean=("psnr_final", "mean"),
            final_std=("psnr_final", "std"),
        )
        .reset_index()
    )
    print(markdown(per_row))
    for revision, rows in per_row.groupby("revision"):
        if len(rows) != 2:
            continue
        off, on = rows.sort_values("warmup").itertuples()
        gap, spread = on.final_mean - off.final_mean, max(off.final_std, on.final_std)
        verdict = "shown" if abs(gap) >= 2 * spread else "not shown"
        print(
            f"\nrevision {revision}: warm-up {on.warmup:g} − {off.warmup:g} = {gap:+.2f} dB of final validation PSNR; "
            f"twice the larger spread {2 * spread:.2f} dB: {verdict}"
        )


if __name__ == "__main__":
    main()
