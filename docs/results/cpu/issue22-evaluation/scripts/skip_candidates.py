"""The skip candidates of issue 22: local up-samplings of one slab, through the test's slab inference (a record).

Each candidate is a fixed "network" ``(B, 3, h, w) → (B, 3·sz, sx·h, sy·w)``: an in-plane kernel
(applied with a replicated border) and a through-plane rule on the slab's 3 slices. It
super-resolves the demo's test volumes with ``super_resolve_slabs`` (tile 128, the quick profile's)
and is scored with the test's PSNR and 3D SSIM. Run from the repository root:

    python docs/results/cpu/issue22-evaluation/scripts/skip_candidates.py
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from benchmark.data.dataset import default_cache_dir
from benchmark.evaluation.metrics import psnr, ssim3d
from benchmark.inference.slabs import super_resolve_slabs
from benchmark.plugins import DATASETS
from benchmark.protocol.groups import build_groups
from benchmark.registry import load_plugins
from benchmark.scale import Scale

SCALE = Scale.parse("2x2x2")


def tri(t):
    return max(0.0, 1 - abs(t))


def keys(t, a=-0.5):
    t = abs(t)
    if t < 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0


def lanczos(n):
    return lambda t: float(np.sinc(t) * np.sinc(t / n)) if abs(t) < n else 0.0


_IMPULSE = np.zeros(201)
_IMPULSE[100] = 1
_C = ndimage.spline_filter1d(_IMPULSE, order=3, mode="mirror")


def b3(t):
    t = abs(t)
    return 2 / 3 - t * t + t**3 / 2 if t < 1 else ((2 - t) ** 3 / 6 if t < 2 else 0.0)


def cardinal(t):
    return float(sum(_C[100 + m] * b3(t - m) for m in range(-14, 15))) if abs(t) < 12 else 0.0


def up_axis(x, s, dim, phi, k):
    if s == 1:
        return x
    offsets = list(range(-k, k + 1))
    weights = [[phi(r / s - o) for o in offsets] for r in range(s)]
    n = x.shape[dim]
    xm = x.movedim(dim, -1)
    shape = xm.shape
    xp = torch.nn.functional.pad(xm.reshape(-1, 1, n), (k, k), mode="replicate").reshape(*shape[:-1], n + 2 * k)
    parts = [sum(w * xp[..., k + o : k + o + n] for o, w in zip(offsets, weights[r]) if w) for r in range(s)]
    return torch.stack(parts, -1).reshape(*shape[:-1], n * s).movedim(-1, dim)


def quadratic(x, sz):
    outs = []
    for i in range(3 * sz):
        p = i / sz
        w = [np.prod([(p - m) / (j - m) for m in range(3) if m != j]) for j in range(3)]
        outs.append(sum(w[j] * x[:, j] for j in range(3)))
    return torch.stack(outs, 1)


def linear(x, sz):
    return up_axis(x, sz, 1, tri, 1)


def blended(a):
    def rule(x, sz):
        w0 = 2 * a
        w2 = 0.5 + w0
        w1 = 1 - w0 - w2
        outs = []
        for i in range(3 * sz):
            p = i / sz
            if p == 1.5:
                outs.append(w0 * x[:, 0] + w1 * x[:, 1] + w2 * x[:, 2])
            elif p == 0.5:
                outs.append(w2 * x[:, 0] + w1 * x[:, 1] + w0 * x[:, 2])
            elif p == int(p):
                outs.append(x[:, int(p)])
            else:
                outs.append(x[:, 2])
        return torch.stack(outs, 1)

    return rule


class Skip(torch.nn.Module):
    def __init__(self, phi, k, through):
        super().__init__()
        self.phi, self.k, self.through = phi, k, through

    def forward(self, x):
        sx, sy, sz = SCALE.factors
        return up_axis(up_axis(self.through(x, sz), sx, 2, self.phi, self.k), sy, 3, self.phi, self.k)


CANDIDATES = {
    "linear / linear": Skip(tri, 1, linear),
    "linear / quadratic": Skip(tri, 1, quadratic),
    "Keys / quadratic": Skip(keys, 2, quadratic),
    "Lanczos-3 / quadratic": Skip(lanczos(3), 3, quadratic),
    "Lanczos-4 / quadratic": Skip(lanczos(4), 4, quadratic),
    "Lanczos-8 / quadratic": Skip(lanczos(8), 8, quadratic),
    "cardinal / quadratic": Skip(cardinal, 12, quadratic),
    "cardinal / blended a=-0.1347": Skip(cardinal, 12, blended(-0.1347)),
    "Lanczos-8 / blended a=-0.1347": Skip(lanczos(8), 8, blended(-0.1347)),
}


def main() -> None:
    load_plugins()
    dataset = DATASETS.create("demo", data_root=None, cache_dir=default_cache_dir())
    data = build_groups(dataset, SCALE, "misaligned", split_seed=0, misalign_seed=0, lr_patch=(32, 32, 3))
    for name, net in CANDIDATES.items():
        scores = []
        for pair in data.test:
            sr = super_resolve_slabs(net, torch.from_numpy(pair.lr.data), SCALE, 128, 8, torch.device("cpu"), "fp32")
            hr = torch.from_numpy(pair.hr.data)
            scores.append(f"{pair.hr.subject} {psnr(sr, hr):.3f} / {ssim3d(sr, hr):.4f}")
        print(f"{name:32s}", "  ".join(scores), flush=True)


if __name__ == "__main__":
    main()
