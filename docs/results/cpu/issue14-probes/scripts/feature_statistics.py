"""Feature statistics of an untrained UDEAN or of UDEAN checkpoints (issue 14).

For 8 random central patches (source HR from demo sub-05, target LR = k-space truncation of sub-07):
the spatial std of the features ``f_s`` / ``f_t`` (per channel, averaged), their mean magnitude, the
RMS of the SR decoder's residual on ``f_t``, the RMS of ``X_{s→t}`` minus plain sampling, and the
feature discriminator's mean scores.

    python feature_statistics.py <he|pytorch> init [RUNS_DIR ...]
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
from benchmark.training.seeding import seed_everything
from methods.udean import UDEAN

torch.set_num_threads(1)
SCALE = Scale.parse("2x2x2")


def volume(subject: int) -> np.ndarray:
    path = default_cache_dir() / "demo" / "demo" / f"sub-{subject:02d}.nii.gz"
    data = nib.load(path).get_fdata().astype(np.float32)
    return data / np.percentile(data, 99.5)


def slabs(array: np.ndarray, n: int, side: int, depth: int, rng: np.random.Generator) -> torch.Tensor:
    out = []
    for _ in range(n):
        i, j, k = (int(rng.integers(array.shape[d] // 4, array.shape[d] * 3 // 4 - side)) for d in range(3))
        out.append(np.moveaxis(array[i : i + side, j : j + side, k : k + depth], 2, 0))
    return torch.tensor(np.stack(out))


def spatial(features: torch.Tensor) -> str:
    return f"{float(features.std(dim=(2, 3)).mean()):.4f} {float(features.abs().mean()):.4f}"


def main(init: str, paths: list[str]) -> None:
    rng = np.random.default_rng(1)
    y_s = slabs(volume(5), 8, 64, 6, rng)
    x_t = slabs(kspace_truncate(volume(7)[:160, :196, :162], SCALE).astype(np.float32), 8, 32, 3, rng)
    for path in paths:
        seed_everything(0)
        method = UDEAN(scale=SCALE, profile=load_profile("quick", [f"udean_encoder_init={init}"]))
        net, step = method.networks, 0
        if path != "init":
            checkpoint = glob.glob(path + "/**/checkpoints/last.pt", recursive=True)[0]
            state = torch.load(checkpoint, weights_only=True, map_location="cpu")
            for name, weights in state["networks"].items():
                net[name].load_state_dict(weights)
            step = state["step"]
        with torch.no_grad():
            f_s, f_t = net["downsampling_extractor"](y_s), net["lr_encoder"](x_t)
            residual = net["lr_decoder"](f_s)
            sr_residual = net["sr_decoder"](f_t)
            d_s, d_t = net["feature_discriminator"](f_s), net["feature_discriminator"](f_t)
        print(
            f"{path} step {step}: f_s spatial std / mean |f| {spatial(f_s)}; f_t {spatial(f_t)}; "
            f"SR residual rms {float(sr_residual.pow(2).mean().sqrt()):.4f}; "
            f"LR decoder output (X_s→t − sampling) rms {float(residual.pow(2).mean().sqrt()):.4f}; "
            f"D_fa f_s {float(d_s.mean()):.3f} f_t {float(d_t.mean()):.3f}"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
