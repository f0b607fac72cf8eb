"""How well, and how fast, ANTs Atropos segments the demo's HR volumes: Dice against the true tissue maps; a table.

The downstream score (``bench run --downstream``) segments grey matter, white matter and CSF in
each SR volume and in its HR volume with ANTs Atropos. This probe measures two settings on the
demo's HR volumes against the maps the cohort was made from
(:meth:`datasets.demo.DemoDataset.tissue_maps`), inside the true brain mask, on one ITK thread:

* ``used``: the harness's (:data:`benchmark.evaluation.tissue_segmentation.ATROPOS_SETTINGS`):
  Otsu start, no MRF prior, one EM iteration;
* ``conventional``: k-means start, MRF weight 0.2 on a 1-voxel neighbourhood, three iterations.

It needs ``antspyx`` (``pip install -e '.[downstream]'``)::

    python benchmarks/tissue_segmentation_probe.py --datasets demo-small,demo --subject sub-02
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console
from rich.table import Table

from benchmark.data.dataset import TISSUES, default_cache_dir
from benchmark.evaluation.downstream import dice
from benchmark.evaluation.tissue_segmentation import ATROPOS_SETTINGS, segment_tissues, true_labels
from benchmark.plugins import DATASETS

SETTINGS: dict[str, dict[str, str]] = {
    "used": ATROPOS_SETTINGS,
    "conventional": {"i": "kmeans[3]", "m": "[0.2,1x1x1]", "c": "[3,0]"},
}


def main() -> None:
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="demo-small,demo")
    parser.add_argument("--subject", default="sub-02")
    args = parser.parse_args()
    table = Table(title=f"ANTs Atropos on {args.subject}'s HR volume: Dice against the true maps (one thread)")
    for column in ("dataset", "settings", "shape", "seconds", *(f"Dice {name.upper()}" for name in TISSUES)):
        table.add_column(column, justify="left" if column in ("dataset", "settings") else "right")
    for name in args.datasets.split(","):
        dataset = DATASETS.create(name, data_root=None, cache_dir=default_cache_dir())
        volume = dataset.load(args.subject)
        mask = dataset.brain_mask(args.subject)
        truth = true_labels(dataset.tissue_maps(args.subject), mask)
        for label, settings in SETTINGS.items():
            started = time.perf_counter()
            labels = segment_tissues(volume.data, mask, settings=settings)
            seconds = time.perf_counter() - started
            scores = [dice(labels == k, truth == k) for k in range(len(TISSUES))]
            shape = "×".join(map(str, volume.shape))
            table.add_row(name, label, shape, f"{seconds:.1f}", *(f"{score:.3f}" for score in scores))
    Console().print(table)


if __name__ == "__main__":
    main()
