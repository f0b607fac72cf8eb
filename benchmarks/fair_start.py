"""Where learned methods start: whole-volume test scores of the references and of untrained networks; prints a table.

Usage::

    python benchmarks/fair_start.py                       # demo, 2x2x2 and 2x2x1, quick profile
    python benchmarks/fair_start.py --dataset demo-small --scales 2x2x2

For each test subject of the dataset's split (split seed 0, misaligned setting; the test group
does not depend on the setting), every row super-resolves the whole LR volume and scores it
with the test's metrics (:data:`benchmark.evaluation.metrics.METRICS`):

* ``tricubic`` and ``zero-fill``, the two fixed references;
* the untrained ``supervised`` method of the profile (its TS-RCAN with the global skip), once per
  ``skip_interpolation`` kernel: what every learned method of the profile outputs before its
  first step, through the same tiled slab inference as the test.

Not a timing: nothing here is timed.
"""

from __future__ import annotations

import argparse

import torch
from rich.console import Console
from rich.table import Table

from benchmark.data.dataset import default_cache_dir
from benchmark.plugins import DATASETS, METHODS
from benchmark.profiles import load_profile
from benchmark.protocol.groups import build_groups
from benchmark.registry import load_plugins
from benchmark.scale import Scale
from methods.networks.interpolation_skip import SKIP_INTERPOLATIONS
from methods.validation import volume_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--scales", default="2x2x2,2x2x1")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_plugins()
    console = Console()
    dataset = DATASETS.create(args.dataset, data_root=None, cache_dir=default_cache_dir())
    for text in args.scales.split(","):
        scale = Scale.parse(text)
        profile = load_profile(args.profile)
        data = build_groups(dataset, scale, "misaligned", split_seed=0, misalign_seed=0, lr_patch=(32, 32, 3))
        rows: dict[str, list[str]] = {}
        methods = {"tricubic": METHODS.create("tricubic", scale=scale, profile=profile)}
        methods["zero-fill"] = METHODS.create("zero-fill", scale=scale, profile=profile)
        for kernel in SKIP_INTERPOLATIONS:
            skip_profile = load_profile(args.profile, [f"skip_interpolation='{kernel}'"])
            torch.manual_seed(0)
            methods[f"untrained, {kernel} skip"] = METHODS.create("supervised", scale=scale, profile=skip_profile)
        for name, method in methods.items():
            for pair in data.test:
                scores = volume_scores(method.super_resolve(torch.from_numpy(pair.lr.data)), pair.hr.data)
                rows.setdefault(name, []).append(f"{scores['psnr']:.3f} / {scores['ssim']:.4f}")
        table = Table(title=f"{args.dataset} {scale}, profile {args.profile}: whole-volume PSNR (dB) / SSIM")
        table.add_column("method")
        for pair in data.test:
            table.add_column(pair.hr.subject, justify="right")
        for name, cells in rows.items():
            table.add_row(name, *cells)
        console.print(table)


if __name__ == "__main__":
    main()
