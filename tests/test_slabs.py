"""Slab layout, and cutting a volume into slabs and putting SR slabs back (one place: the core)."""

import pytest
import torch
from torch import nn

from benchmark.inference.slabs import from_slabs, super_resolve_slabs, to_slabs
from benchmark.scale import Scale


class RepeatSlices(nn.Module):
    """An 'SR network' on slabs that repeats each slice sz times and each pixel sx×sy times."""

    def __init__(self, scale: Scale) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, slabs: torch.Tensor) -> torch.Tensor:  # (B, M, h, w) -> (B, M·sz, sx·h, sy·w)
        sx, sy, sz = self.scale.factors
        return slabs.repeat_interleave(sz, 1).repeat_interleave(sx, 2).repeat_interleave(sy, 3)


def index_volume(x: int, y: int, z: int) -> torch.Tensor:
    """``v[..., k] = k``: every slice carries its own index."""
    return torch.arange(z, dtype=torch.float32).expand(x, y, z).clone()


def test_slab_layout_round_trip():
    patches = torch.rand(2, 5, 4, 3)
    slabs = to_slabs(patches)
    assert slabs.shape == (2, 3, 5, 4)
    assert torch.equal(slabs[1, 2], patches[1, :, :, 2])
    assert torch.equal(from_slabs(slabs), patches)


@pytest.mark.parametrize("factors", [(1, 1, 1), (2, 2, 2), (2, 2, 1), (3, 2, 1)])
@pytest.mark.parametrize("tile", [4, 16])
def test_index_volume_survives_cutting_and_reassembly(factors, tile):
    scale = Scale(*factors)
    volume = index_volume(9, 7, 10)
    out = super_resolve_slabs(RepeatSlices(scale), volume, scale, tile=tile, batch_size=5, device=torch.device("cpu"))
    expected = index_volume(9 * factors[0], 7 * factors[1], 10 * factors[2]) // factors[2]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_overlapping_slabs_are_averaged():
    # A network that adds the slab's first slice index: slice k is predicted by slabs starting at
    # k-2, k-1, k; the result is a (weighted) average of those predictions, not any single one.
    class AddFirst(nn.Module):
        def forward(self, slabs):
            return slabs + slabs[:, :1]

    volume = index_volume(4, 4, 6)
    out = super_resolve_slabs(AddFirst(), volume, Scale(1, 1, 1), tile=4, batch_size=8, device=torch.device("cpu"))
    middle = out[0, 0, 3].item()  # slabs start at 1, 2, 3 -> predictions 3+1, 3+2, 3+3
    assert 4.0 < middle < 6.0


def test_slab_centre_weights_pick_the_central_slice_interval():
    from benchmark.inference.slabs import slab_centre_weights

    edge = 1e-3
    torch.testing.assert_close(slab_centre_weights(6, 2), torch.tensor([edge, 1, 1, 1, edge, edge]))
    torch.testing.assert_close(slab_centre_weights(3, 1), torch.tensor([edge, 1, edge]))


def test_each_hr_slice_comes_from_the_slabs_holding_it_in_their_centre():
    # Output slice i of the slab starting at LR slice j0 is the constant 10·j0 + i.
    class Label(nn.Module):
        def forward(self, slabs):
            first = slabs[:, :1, :1, :1]  # the index volume: the slab's first LR slice index
            labels = 10 * first + torch.arange(6, dtype=slabs.dtype).view(1, 6, 1, 1)
            return labels.expand(-1, 6, 2 * slabs.shape[2], 2 * slabs.shape[3])

    scale = Scale(2, 2, 2)
    out = super_resolve_slabs(Label(), index_volume(4, 4, 8), scale, tile=4, batch_size=8, device=torch.device("cpu"))
    k = 4
    # Between LR slices k and k+1: slab k at slab coordinate 0.5 (i = 1) and slab k−1 at 1.5 (i = 3).
    assert abs(out[0, 0, 2 * k + 1].item() - ((10 * k + 1) + (10 * (k - 1) + 3)) / 2) < 0.05
    # On LR slice k: the slab centred on it, k−1, at i = 2.
    assert abs(out[0, 0, 2 * k].item() - (10 * (k - 1) + 2)) < 0.05
