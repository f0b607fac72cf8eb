"""Validation of thin-slab networks on central crops of the validation pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from benchmark.metrics import psnr
from benchmark.scale import Scale
from benchmark.slabs import super_resolve_slabs
from benchmark.training_data import VolumePair


def validation_psnr(
    network: nn.Module,
    pairs: Sequence[VolumePair],
    scale: Scale,
    crop: Sequence[int],
    batch_size: int,
    device: torch.device,
) -> float:
    """Mean PSNR (dB) of the network on a central LR crop ``crop`` (voxels) of each validation pair."""
    values = []
    for pair in pairs:
        lr = pair.lr.data
        size = [min(c, n) for c, n in zip(crop, lr.shape)]
        corner = [(n - c) // 2 for n, c in zip(lr.shape, size)]
        lr_crop = lr[tuple(slice(o, o + c) for o, c in zip(corner, size))]
        hr_crop = pair.hr.data[tuple(slice(o * f, (o + c) * f) for o, c, f in zip(corner, size, scale.factors))]
        sr = super_resolve_slabs(
            network,
            torch.from_numpy(np.ascontiguousarray(lr_crop)),
            scale,
            tile=max(size[0], size[1]),
            batch_size=batch_size,
            device=device,
        )
        values.append(psnr(sr, torch.from_numpy(np.ascontiguousarray(hr_crop))))
    return float(np.mean(values)) if values else float("nan")
