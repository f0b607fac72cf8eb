"""Property-based tests of cutting volumes into slabs and tiles and putting them back.

``benchmark.inference.slabs.super_resolve_slabs`` (slabs of 3 slices, in-plane tiles) and the generic
``benchmark.inference.tiling.super_resolve_tiled`` under it are checked with stand-in "networks" whose
right answer is known: nearest-neighbour up-sampling, and predictions of each voxel's own
coordinate.  LR volumes are ``(X/sx, Y/sy, Z/sz)``, SR volumes ``(X, Y, Z)``, voxels.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from benchmark.inference.slabs import SLAB_DEPTH, from_slabs, super_resolve_slabs, to_slabs
from benchmark.inference.tiling import super_resolve_tiled, tile_starts
from benchmark.scale import Scale

PROPERTY = settings(max_examples=20, deadline=None, derandomize=True, database=None)
CPU = torch.device("cpu")

scales = st.builds(Scale, st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
lr_shapes = st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))
seeds = st.integers(0, 2**31 - 1)


def upsample_nearest(volume: torch.Tensor, scale: Scale, first_dim: int = 0) -> torch.Tensor:
    """Repeat each voxel ``s`` times along dims ``first_dim … first_dim + 2`` (the factors of ``scale``)."""
    for offset, factor in enumerate(scale.factors):
        volume = volume.repeat_interleave(factor, first_dim + offset)
    return volume


def random_lr(shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """``shape`` float32 volume of uniform noise in ``[0, 1)``."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


class NearestSlabs(nn.Module):
    """Slab "network" ``(B, M, h, w) → (B, M·sz, sx·h, sy·w)``: nearest-neighbour up-sampling."""

    def __init__(self, scale: Scale) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, slabs: torch.Tensor) -> torch.Tensor:
        sx, sy, sz = self.scale.factors
        return slabs.repeat_interleave(sz, 1).repeat_interleave(sx, 2).repeat_interleave(sy, 3)


class CoordinateSlabs(nn.Module):
    """Slab "network" for a volume that holds its own index along ``axis`` (0 = X, 1 = Y, 2 = Z).

    Output voxel ``i`` along ``axis`` of a slab whose first LR index is ``j0`` is predicted as the
    LR coordinate ``j0 + i / s``: right only if the slab's output is put back at HR index ``s·j0 + i``.
    """

    def __init__(self, scale: Scale, axis: int) -> None:
        super().__init__()
        self.scale, self.axis = scale, axis

    def forward(self, slabs: torch.Tensor) -> torch.Tensor:  # (B, M, h, w), M along Z
        sx, sy, sz = self.scale.factors
        b, m, h, w = slabs.shape
        out_shape = (b, m * sz, h * sx, w * sy)
        start = slabs[:, :1, :1, :1]  # (B, 1, 1, 1): j0, the slab's first index along the axis
        dim, factor = {0: (2, sx), 1: (3, sy), 2: (1, sz)}[self.axis]
        steps = torch.arange(out_shape[dim], dtype=slabs.dtype) / factor
        view = [1, 1, 1, 1]
        view[dim] = -1
        return (start + steps.view(view)).expand(out_shape)


@PROPERTY
@given(shape=st.tuples(*[st.integers(1, 6)] * 4), seed=seeds)
def test_slab_layout_round_trip_is_exact(shape, seed):
    patches = torch.rand(shape, generator=torch.Generator().manual_seed(seed))  # (B, px, py, pz)
    slabs = to_slabs(patches)
    assert slabs.shape == (shape[0], shape[3], shape[1], shape[2]) and slabs.is_contiguous()
    for k in range(shape[3]):
        assert torch.equal(slabs[:, k], patches[..., k])  # slice k becomes channel k
    assert torch.equal(from_slabs(slabs), patches)


@PROPERTY
@given(shape=lr_shapes, scale=scales, tile=st.integers(1, 8), batch=st.integers(1, 9), seed=seeds)
def test_identity_slab_network_reassembles_the_volume(shape, scale, tile, batch, seed):
    """Nearest up-sampling through slabs and tiles gives the up-sampled volume back (``1x1x1``: the volume)."""
    lr = random_lr(shape, seed)
    sr = super_resolve_slabs(NearestSlabs(scale), lr, scale, tile=tile, batch_size=batch, device=CPU)
    assert sr.shape == tuple(n * s for n, s in zip(shape, scale.factors)) and sr.dtype == torch.float32
    torch.testing.assert_close(sr, upsample_nearest(lr, scale), rtol=1e-6, atol=1e-7)
    again = super_resolve_slabs(NearestSlabs(scale), lr, scale, tile=tile, batch_size=1, device=CPU)
    assert torch.equal(again, sr)  # the batch size changes nothing


@PROPERTY
@given(shape=lr_shapes, scale=scales, tile=st.integers(1, 8), axis=st.integers(0, 2))
def test_every_slab_output_goes_back_to_its_own_place(shape, scale, tile, axis):
    """Each tile's voxel ``i`` along ``axis`` lands on HR index ``s·j0 + i``: the SR volume is ``h / s``."""
    index = torch.arange(shape[axis], dtype=torch.float32)
    view = [1, 1, 1]
    view[axis] = -1
    lr = index.view(view).expand(shape).clone()
    sr = super_resolve_slabs(CoordinateSlabs(scale, axis), lr, scale, tile=tile, batch_size=4, device=CPU)
    hr_index = torch.arange(shape[axis] * scale.factors[axis], dtype=torch.float32) / scale.factors[axis]
    expected = hr_index.view(view).expand(sr.shape)
    torch.testing.assert_close(sr, expected, rtol=0, atol=1e-5)


class CentralMarker(nn.Module):
    """Slab "network" predicting 0 on a slab's central slices (LR coordinate ``i/sz`` in [0.5, 1.5]), 1 elsewhere."""

    def __init__(self, scale: Scale) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, slabs: torch.Tensor) -> torch.Tensor:
        sx, sy, sz = self.scale.factors
        b, m, h, w = slabs.shape
        position = torch.arange(m * sz, dtype=torch.float64) / sz
        off_centre = ((position - 1.0).abs() > 0.5 + 1e-9).float()
        return off_centre.view(1, -1, 1, 1).expand(b, m * sz, h * sx, w * sy)


@PROPERTY
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(SLAB_DEPTH, 7)),
    scale=scales,
    tile=st.integers(1, 6),
)
def test_hr_slices_come_from_the_slabs_holding_them_in_their_centre(shape, scale, tile):
    """Module docstring: a slice at LR coordinate ``h/sz`` in ``[0.5, Z − 1.5]`` is the mean of central predictions.

    The output is the share of off-centre predictions in each HR slice's weighted mean: at most
    two off-centre slabs at weight 10⁻³ against at least one central slab at weight 1 inside,
    all off-centre on the first and last slices, which no slab holds in its centre.
    """
    sr = super_resolve_slabs(CentralMarker(scale), torch.zeros(shape), scale, tile=tile, batch_size=8, device=CPU)
    sz = scale.sz
    for h in range(sr.shape[2]):
        share = sr[:, :, h]
        if 0.5 - 1e-9 <= h / sz <= shape[2] - 1.5 + 1e-9:
            assert share.max() <= 2.5e-3, (h, share.max())
        else:
            torch.testing.assert_close(share, torch.ones_like(share))


@PROPERTY
@given(length=st.integers(1, 40), data=st.data())
def test_tile_starts_cover_the_axis(length, data):
    tile = data.draw(st.integers(1, length))
    step = data.draw(st.integers(1, tile))  # steps up to the tile leave no gap
    starts = tile_starts(length, tile, step)
    assert starts[0] == 0 and starts[-1] == length - tile
    assert starts == sorted(set(starts))
    assert all(b - a <= step for a, b in pairwise(starts))
    covered = torch.zeros(length, dtype=torch.bool)
    for start in starts:
        covered[start : start + tile] = True
    assert bool(covered.all())


@PROPERTY
@given(
    shape=lr_shapes,
    scale=scales,
    tile=st.tuples(*[st.integers(1, 5)] * 3),
    data=st.data(),
    seed=seeds,
)
def test_generic_tiled_inference_reassembles_the_volume(shape, scale, tile, data, seed):
    """``super_resolve_tiled`` with Gaussian blending and any overlap: nearest up-sampling comes back."""
    step = tuple(data.draw(st.integers(1, min(t, n))) for t, n in zip(tile, shape))
    lr = random_lr(shape, seed)

    def nearest(tiles: torch.Tensor) -> torch.Tensor:  # (B, 1, tx, ty, tz) -> (B, 1, sx·tx, sy·ty, sz·tz)
        return upsample_nearest(tiles, scale, first_dim=2)

    sr = super_resolve_tiled(nearest, lr, scale, tile=tile, step=step, batch_size=3)
    torch.testing.assert_close(sr, upsample_nearest(lr, scale), rtol=1e-6, atol=1e-7)
