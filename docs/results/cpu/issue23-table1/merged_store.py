"""A results store for ``bench report`` that holds this study's committed rows and a live store's cells.

    python docs/results/cpu/issue23-table1/merged_store.py OUT runs/issue23 \
        docs/results/cpu/issue23-table1/revision1-partial/results.csv [more committed results.csv …]

The sixth session's store was lost with its machine (README, "Seventh session"); its scores survive
in the committed ``results.csv`` files, its curves and error maps in the committed reports. ``OUT``
gets a copy of the live store's finished cell folders (without their checkpoints) and a
``results.csv`` that is the union of the live store's rows and the committed ones. A row present in
both (same cell and subject, a cell rerun) keeps the live store's metrics, whose curves and figures
the report shows; the script prints every such pair and says whether they agree to 1e-9 (a cell
rerun on the same machine does; on another CPU the sums round differently and an adversarial
training can amplify that: README, "Seventh session"). Then ``bench report --runs-dir OUT`` reports
every seed in its tables, and curves and figures for the live cells only.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from benchmark.results.schema import KEY_COLUMNS

METRICS = ("psnr", "ssim")


def read_rows(path: Path) -> pd.DataFrame:
    """A ``results.csv`` as text, so that rows compare and write back exactly as stored."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def copy_cells(live: Path, out: Path) -> int:
    """Copy every finished cell folder of ``live`` into ``out`` (same relative path, no checkpoints)."""
    copied = 0
    for marker in sorted(live.rglob("DONE")):
        folder = marker.parent
        shutil.copytree(folder, out / folder.relative_to(live), ignore=shutil.ignore_patterns("checkpoints"))
        copied += 1
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("live", type=Path)
    parser.add_argument("committed", type=Path, nargs="+")
    args = parser.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; give a new folder")
    live = read_rows(args.live / "results.csv")
    committed = pd.concat([read_rows(p) for p in args.committed], ignore_index=True)
    committed = committed.drop_duplicates(subset=[c for c in KEY_COLUMNS if c in committed.columns], keep="last")
    key = [c for c in KEY_COLUMNS if c in live.columns and c in committed.columns]
    both = live.merge(committed, on=key, suffixes=("_live", "_committed"))
    for row in both.itertuples(index=False):
        pairs = {m: (float(getattr(row, f"{m}_live")), float(getattr(row, f"{m}_committed"))) for m in METRICS}
        label = f"{row.method}@{row.revision} seed {row.seed} {row.subject} ({row.overrides})"
        same = all(abs(a - b) <= 1e-9 for a, b in pairs.values())
        print(
            f"rerun {label}, live / committed: "
            + ", ".join(f"{m} {a:.6f} / {b:.6f}" for m, (a, b) in pairs.items())
            + (" (the same)" if same else " (DIFFERENT: the live row is kept)")
        )
    earlier = committed.merge(live[key], on=key, how="left", indicator=True)
    earlier = earlier[earlier["_merge"] == "left_only"].drop(columns="_merge")
    merged = pd.concat([live, earlier], ignore_index=True).fillna("")
    args.out.mkdir(parents=True)
    cells = copy_cells(args.live, args.out)
    merged[live.columns.tolist() + [c for c in merged.columns if c not in live.columns]].to_csv(
        args.out / "results.csv", index=False
    )
    print(f"{args.out}: {cells} cell folders from {args.live}, {len(merged)} rows ({len(earlier)} committed only)")


if __name__ == "__main__":
    main()
