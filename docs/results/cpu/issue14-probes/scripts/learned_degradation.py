"""How close UDEAN's learned degradation ``X_{s→t}`` comes to the protocol's (issue 14).

Source HR = demo sub-05 (divided by its 99.5th percentile, cropped to a multiple of 2), cut into
central 64×64×6 slabs; the true target-domain LR of the same HR is its k-space truncation
(2×2×2). Prints the PSNR (dB, peak 1) against that truth of plain sampling (UDEAN's untrained
``X_{s→t}``) and of each trained UDEAN's ``X_{s→t}``.

    python learned_degradation.py RUNS_DIR [RUNS_DIR ...]
"""

from __future__ import annotations

import glob
import sys

import nibabel as nib
import numpy as np
import torch

from benchmark.data.dataset import default_cache_dir
from benchmark.profiles import load_profile
from benchmark.protocol.degradations import kspace_truncate
from benchmark.scale import Scale
from methods.networks.downsampling_generator import sample_slab
from methods.udean import UDEAN

torch.set_num_threads(1)
SCALE = Scale.parse("2x2x2")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a - b).pow(2).mean()))


def main(roots: list[str]) -> None:
    path = default_cache_dir() / "demo" / "demo" / "sub-05.nii.gz"
    hr = nib.load(path).get_fdata().astype(np.float32)
    hr = hr[:160, :196, :162] / np.percentile(hr, 99.5)
    lr = kspace_truncate(hr, SCALE).astype(np.float32)
    corners = [(i, j, k) for i in (40, 60) for j in (50, 80) for k in (60, 72, 84)]
    y_s = torch.tensor(np.stack([np.moveaxis(hr[i : i + 64, j : j + 64, k : k + 6], 2, 0) for i, j, k in corners]))
    truth = torch.tensor(
        np.stack(
            [
                np.moveaxis(lr[i // 2 : i // 2 + 32, j // 2 : j // 2 + 32, k // 2 : k // 2 + 3], 2, 0)
                for i, j, k in corners
            ]
        )
    )
    print(f"plain sampling: {psnr(sample_slab(y_s, SCALE.factors), truth):.2f} dB")
    for root in roots:
        for model in sorted(glob.glob(f"{root}/**/udean*/quick/*/seed0/model.pt", recursive=True)):
            method = UDEAN(scale=SCALE, profile=load_profile("quick", []))
            method.load_state_dict(torch.load(model, weights_only=True, map_location="cpu"))
            with torch.no_grad():
                f_s = method.networks["downsampling_extractor"](y_s)
                x_s_t = method.networks["lr_decoder"](f_s) + sample_slab(y_s, SCALE.factors)
            print(f"{model.split('/')[-5]}: X_s→t {psnr(x_s_t, truth):.2f} dB")


if __name__ == "__main__":
    main(sys.argv[1:])
