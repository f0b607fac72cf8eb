"""How well, and how fast, ANTs Atropos segments the demo's HR volumes: Dice against the true tissue maps; a table.

Issue 26's downstream score segments grey matter, white matter and CSF in each SR volume and in its HR
volume with one established method.  This probe measures one candidate, ANTs Atropos (k-means
initialised, 3 classes, MRF weight 0.2, inside the true brain mask), on the demo's HR volumes
against the maps the cohort was made from (:meth:`datasets.demo.DemoDataset.tissue_maps`), and
times it.  It needs ``antspyx``, which the project does not install (``pip install antspyx``)::

    python benchmarks/tissue_segmentation_probe.py --datasets demo-small,demo --subject sub-02 --iterations 3

Atropos's k-means classes come out in order of mean intensity; on T1 that is CSF, GM, WM.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmark.data.dataset import TISSUES, default_cache_dir
from benchmark.plugins import DATASETS

ATROPOS_ORDER = (2, 0, 1)
"""Atropos class 1, 2, 3 (darkest first) → index into :data:`TISSUES` (CSF, GM, WM on T1)."""


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean volumes."""
    total = int(a.sum() + b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0


def main() -> None:
    import ants

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="demo-small,demo")
    parser.add_argument("--subject", default="sub-02")
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    table = Table(title=f"ANTs Atropos on {args.subject}'s HR volume: Dice against the true maps")
    for column in ("dataset", "shape", "seconds", *(f"Dice {name.upper()}" for name in TISSUES)):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for name in args.datasets.split(","):
        dataset = DATASETS.create(name, data_root=None, cache_dir=default_cache_dir())
        volume = dataset.load(args.subject)
        tissues = dataset.tissue_maps(args.subject)
        brain = tissues.sum(axis=0) >= 0.5
        truth = np.where(brain, tissues.argmax(axis=0), -1)
        spacing = tuple(float(v) for v in np.sqrt((volume.affine[:3, :3] ** 2).sum(axis=0)))
        image = ants.from_numpy(volume.data, spacing=spacing)
        mask = ants.from_numpy(brain.astype(np.float32), spacing=spacing)
        started = time.perf_counter()
        result = ants.atropos(a=image, x=mask, i="kmeans[3]", m="[0.2,1x1x1]", c=f"[{args.iterations},0]")
        seconds = time.perf_counter() - started
        classes = result["segmentation"].numpy().astype(int)
        labels = np.full(classes.shape, -1)
        for atropos_class, tissue in enumerate(ATROPOS_ORDER, start=1):
            labels[classes == atropos_class] = tissue
        scores = [dice(labels == k, truth == k) for k in range(len(TISSUES))]
        table.add_row(name, "×".join(map(str, volume.shape)), f"{seconds:.1f}", *(f"{s:.3f}" for s in scores))
    Console().print(table)


if __name__ == "__main__":
    main()
