"""The separable cubic-spline up-sampling equals the tricubic row's interpolation."""

import numpy as np
import pytest
import torch

from benchmark.profiles import load_profile
from benchmark.scale import Scale
from methods.cubic_upsampling import cubic_bspline, upsample_cubic
from methods.tricubic import Tricubic


@pytest.mark.parametrize(
    ("shape", "factors"),
    [
        ((6, 5, 3), (2, 2, 2)),
        ((7, 4, 3), (3, 2, 1)),
        ((1, 4, 3), (2, 2, 2)),
        ((2, 3, 3), (2, 1, 3)),
        ((5, 5, 4), (1, 1, 1)),
    ],
    ids=str,
)
def test_upsample_cubic_equals_tricubic(shape, factors):
    lr = np.random.default_rng(0).random(shape).astype(np.float32)
    scale = Scale(*factors)
    expected = Tricubic(scale=scale, profile=load_profile("tiny")).super_resolve(torch.from_numpy(lr)).numpy()
    out = upsample_cubic(lr, factors)
    assert out.shape == tuple(n * f for n, f in zip(shape, factors)) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # An interpolating spline: HR voxel s·j is LR voxel j.
    np.testing.assert_allclose(out[:: factors[0], :: factors[1], :: factors[2]], lr, atol=1e-6)


def test_cubic_bspline_is_a_partition_of_unity():
    for t in np.linspace(0, 1, 7):
        assert sum(cubic_bspline(t - k) for k in (-1, 0, 1, 2)) == pytest.approx(1.0)
    assert cubic_bspline(2.0) == 0.0 and cubic_bspline(0.0) == pytest.approx(2 / 3)


def test_upsample_cubic_needs_one_positive_factor_per_axis():
    with pytest.raises(ValueError, match="factor"):
        upsample_cubic(np.zeros((4, 4, 4)), (2, 2))
    with pytest.raises(ValueError, match="factor"):
        upsample_cubic(np.zeros((4, 4, 4)), (2, 0, 1))
