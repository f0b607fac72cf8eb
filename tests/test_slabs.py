"""Cutting volumes into thin slabs and assembling SR slabs back."""

from __future__ import annotations

import pytest
import torch

from methods.slabs import SlabAssembler, assemble_slabs, cut_slabs, slab_starts


def _index_volume(x: int, y: int, z: int) -> torch.Tensor:
    """``v[..., k] = k``."""
    return torch.arange(z, dtype=torch.float32).expand(x, y, z).clone()


@pytest.mark.parametrize(
    ("z", "stride", "starts"), [(7, 1, [0, 1, 2, 3, 4]), (7, 3, [0, 3, 4]), (3, 2, [0]), (8, 2, [0, 2, 4, 5])]
)
def test_slab_starts_cover_every_slice(z: int, stride: int, starts: list[int]) -> None:
    assert slab_starts(z, 3, stride) == starts


def test_cut_slabs_shapes_and_contents() -> None:
    volume = torch.rand(5, 4, 9)
    slabs, starts = cut_slabs(volume, depth=3, stride=2)
    assert slabs.shape == (len(starts), 3, 5, 4)
    for slab, start in zip(slabs, starts):
        for j in range(3):
            assert torch.equal(slab[j], volume[:, :, start + j])


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("sz", [1, 2])
def test_index_volume_survives_cut_and_assemble(stride: int, sz: int) -> None:
    volume = _index_volume(4, 5, 10)
    slabs, starts = cut_slabs(volume, 3, stride)
    sr = slabs.repeat_interleave(sz, dim=1)  # identity "SR": each slice repeated sz times
    out = assemble_slabs(sr, starts, (4, 5, 10 * sz), sz)
    expected = volume.repeat_interleave(sz, dim=2)
    assert torch.equal(out, expected)


def test_overlaps_are_averaged() -> None:
    volume = _index_volume(2, 2, 5)
    slabs, starts = cut_slabs(volume, 3, 1)  # starts 0, 1, 2
    labelled = torch.stack([torch.full_like(s, float(n)) for n, s in enumerate(slabs)])
    out = assemble_slabs(labelled, starts, (2, 2, 5), 1)
    # slice 0: slab 0; 1: slabs 0, 1; 2: 0, 1, 2; 3: 1, 2; 4: 2.
    assert out[0, 0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_assembler_in_batches_and_errors() -> None:
    volume = torch.rand(3, 3, 6)
    slabs, starts = cut_slabs(volume, 3, 1)
    assembler = SlabAssembler((3, 3, 6), sz=1)
    assembler.add(slabs[:2], starts[:2])
    with pytest.raises(ValueError, match="covered"):
        assembler.result()
    assembler.add(slabs[2:], starts[2:])
    assert torch.allclose(assembler.result(), volume)
    with pytest.raises(ValueError):
        assemble_slabs(slabs, starts[:-1], (3, 3, 6), 1)
    with pytest.raises(ValueError, match="thinner"):
        cut_slabs(torch.rand(3, 3, 2))
