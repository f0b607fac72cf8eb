import numpy as np
import torch

from benchmark.profiles import load_profile
from benchmark.scale import Scale
from methods.tricubic import Tricubic


def test_tricubic_shape_and_exact_on_lr_sample_points():
    scale = Scale(2, 2, 1)
    lr = torch.rand(8, 6, 5, generator=torch.Generator().manual_seed(1))
    sr = Tricubic(scale=scale, profile=load_profile("tiny")).super_resolve(lr)
    assert sr.shape == (16, 12, 5)
    # LR voxel j samples HR voxel j*s: interpolation reproduces the samples there.
    torch.testing.assert_close(sr[::2, ::2, :], lr, atol=1e-5, rtol=0)


def test_tricubic_reproduces_a_smooth_band_limited_volume():
    scale = Scale(2, 2, 2)
    shape = np.array([32, 32, 16])
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    hr = 0.5 + 0.25 * np.cos(2 * np.pi * grid[0] / shape[0]) * np.sin(2 * np.pi * grid[2] / shape[2])
    lr = hr[::2, ::2, ::2]
    sr = Tricubic(scale=scale, profile=load_profile("tiny")).super_resolve(torch.tensor(lr, dtype=torch.float32))
    assert np.abs(sr.numpy() - hr).max() < 0.01
