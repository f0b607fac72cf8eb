"""How close UDEAN's learned degradation ``X_{s→t}`` comes to the target's: PSNR against the true target LR; a table.

Usage::

    python benchmarks/learned_degradation.py RUNS/…/udean/quick/<variant>/seed0 [CELL …] [--subjects 4]

For each trained UDEAN cell (any variant), the script rebuilds the cell's data as ``bench run``
does, at the training normalisation (every volume min–max scaled to ``[0, 1]``), and takes the
first ``--subjects`` target subjects (by subject): their aligned HR volume ``Y`` and their target
LR ``X`` (the protocol's degradation of ``Y``: what the degradation path should learn). The HR
volume is cut into thin slabs of ``3·sz`` slices, whole slices in-plane, and the degradation
path (down-sampling feature extractor → LR decoder, plus the decimated ``Y`` where the cell's
profile has ``udean_down_skip``) maps each to 3 LR slices. The table gives the PSNR (dB, peak 1)
of the result against ``X`` per subject, for:

* plain sampling (LR voxel ``j`` = HR voxel ``s·j``);
* the cell's degradation path untrained (a fresh UDEAN of the cell's profile and seed: its start);
* the cell's trained degradation path (``model.pt``).

Not a timing: nothing here is timed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from benchmark.app.infer.restored_method import restore_cell
from benchmark.data.dataset import default_cache_dir
from benchmark.plugins import DATASETS
from benchmark.protocol.groups import build_groups
from benchmark.protocol.training_data import VolumePair
from benchmark.registry import load_plugins
from benchmark.results.cell_record import read_config
from benchmark.scale import Scale
from methods.networks.downsampling_generator import DownsamplingGenerator, sample_slab
from methods.thin_slab import downsampling_psnr
from methods.udean import starts_at_sampling

WHOLE = (10_000, 10_000, 10_000)
"""A crop larger than any volume: :func:`downsampling_psnr` clips it to the whole volume."""


class PlainSampling(nn.Module):
    """LR voxel ``j`` = HR voxel ``s·j``, per slab."""

    def __init__(self, factors: tuple[int, int, int]) -> None:
        super().__init__()
        self.factors = factors

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return sample_slab(hr, self.factors)


def _degradation_path(networks: dict[str, nn.Module], scale: Scale, skip: bool) -> DownsamplingGenerator:
    """UDEAN's ``Y_s → X_{s→t}``: its extractor and LR decoder (plus the sampling skip where the profile has it)."""
    return DownsamplingGenerator(networks["downsampling_extractor"], networks["lr_decoder"], scale, skip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cells", nargs="+", type=Path)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_plugins()
    console = Console()
    device = torch.device("cpu")
    for folder in args.cells:
        restored = restore_cell(folder)
        method, scale, profile = restored.method, restored.scale, restored.profile
        recorded = read_config(folder)
        protocol = recorded.protocol
        dataset = DATASETS.create(
            recorded.dataset,
            data_root=protocol.data_root and Path(protocol.data_root),
            cache_dir=default_cache_dir(),
        )
        data = build_groups(
            dataset,
            scale,
            recorded.setting,
            split_seed=protocol.split_seed,
            misalign_seed=protocol.misalign_seed,
            lr_patch=tuple(profile["lr_patch"]),
            train_degradation=protocol.built_train_degradation,
            test_degradation=protocol.test_degradation,
        )
        view = data.training.for_method(setting=recorded.setting, uses_source_hr=True, uses_aligned_target_hr=True)
        pairs = sorted(
            (VolumePair(lr, hr) for lr, hr in zip(view.target_lr, view.target_hr)), key=lambda p: p.hr.subject
        )[: args.subjects]
        torch.manual_seed(restored.seed)
        fresh = type(method)(scale=scale, profile=profile)
        skip = starts_at_sampling(profile)
        paths = {
            "plain sampling": PlainSampling(scale.factors),
            "untrained start": _degradation_path(fresh.networks, scale, skip),
            "trained": _degradation_path(method.networks, scale, skip),
        }
        table = Table(title=f"{folder}: X_s→t against the target LR, PSNR (dB)")
        table.add_column("degradation path")
        for pair in pairs:
            table.add_column(pair.hr.subject, justify="right")
        table.add_column("mean", justify="right")
        for name, network in paths.items():
            values = [downsampling_psnr(network, [pair], scale, WHOLE, device) for pair in pairs]
            table.add_row(name, *(f"{v:.2f}" for v in values), f"{sum(values) / len(values):.2f}")
        console.print(table)


if __name__ == "__main__":
    main()
