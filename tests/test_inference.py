import torch

from benchmark.inference.tiling import blending_weights, super_resolve_tiled, tile_starts
from benchmark.scale import Scale


def nearest_tile_fn(scale):
    def fn(tiles):  # (B, 1, tx, ty, tz) -> (B, 1, tx*sx, ty*sy, tz*sz)
        out = tiles
        for axis, factor in zip((2, 3, 4), scale.factors):
            out = out.repeat_interleave(factor, dim=axis)
        return out

    return fn


def test_tile_starts_cover_every_voxel():
    for length, tile, step in [(10, 4, 3), (9, 3, 1), (5, 5, 2), (17, 8, 8)]:
        starts = tile_starts(length, tile, step)
        covered = set()
        for start in starts:
            covered.update(range(start, start + tile))
        assert covered == set(range(length))
        assert starts[-1] == length - tile


def test_tiled_inference_equals_whole_volume_inference():
    scale = Scale(2, 2, 2)
    lr = torch.rand(13, 11, 7, generator=torch.Generator().manual_seed(0))
    fn = nearest_tile_fn(scale)
    whole = fn(lr[None, None])[0, 0]
    tiled = super_resolve_tiled(fn, lr, scale, tile=(6, 5, 3), step=(4, 3, 1), batch_size=3)
    assert tiled.shape == (26, 22, 14)
    torch.testing.assert_close(tiled, whole)


def test_overlaps_are_blended_not_overwritten():
    # Each tile adds its own start index; the blend is a weighted mean, so it lies between tile values.
    scale = Scale(1, 1, 1)
    lr = torch.zeros(10, 4, 4)
    calls = []

    def fn(tiles):
        calls.append(tiles.shape[0])
        return tiles + torch.arange(tiles.shape[0], dtype=torch.float32).view(-1, 1, 1, 1, 1)

    out = super_resolve_tiled(fn, lr, scale, tile=(4, 4, 4), step=(2, 4, 4), batch_size=8)
    assert sum(calls) == 4
    assert out.min() >= 0 and out.max() <= 3
    assert len(torch.unique(out)) > 4  # smooth transitions, not four constant blocks


def test_blending_weights_peak_in_the_centre():
    weights = blending_weights((8, 8, 6))
    assert weights.shape == (8, 8, 6)
    assert weights[3:5, 3:5, 2:4].min() > weights[0, 0, 0]
    assert weights.min() > 0
