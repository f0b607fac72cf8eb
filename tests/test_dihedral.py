"""The in-plane dihedral group: elements, inverses, NumPy and torch alike, PseudoSR's order, the k-space grid."""

import numpy as np
import pytest
import torch

from methods.dihedral import (
    IDENTITY,
    InPlane,
    apply,
    geometric_transforms,
    in_plane_transforms,
    invert,
    quarter_turns,
    unmirror,
)
from methods.networks.interpolation_skip import upsample_slab


def _rot90_flip(k: int, flip: bool):
    """PseudoSR's formulation before the shared module: quarter turns of (H, W), then a flip of W."""

    def forward(t):
        t = torch.rot90(t, k, dims=(2, 3))
        return torch.flip(t, dims=(3,)) if flip else t

    def inverse(t):
        t = torch.flip(t, dims=(3,)) if flip else t
        return torch.rot90(t, -k, dims=(2, 3))

    return forward, inverse


def test_the_eight_elements_are_the_whole_group_and_invert_exactly():
    t = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    elements = in_plane_transforms(transposes=True)
    assert len(elements) == 8 and elements[0] == IDENTITY
    images = [apply(t, e, axes=(2, 3)) for e in elements]
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8
    for e, image in zip(elements, images):
        assert torch.equal(invert(image, e, axes=(2, 3)), t)
        assert torch.equal(image.sum(dim=(2, 3)), t.sum(dim=(2, 3)))  # slices (channels) keep their order
    keep = in_plane_transforms(transposes=False)
    assert keep == [e for e in elements if not e.transpose] and len(keep) == 4
    rect = torch.rand(2, 3, 4, 6)
    assert all(apply(rect, e, axes=(2, 3)).shape == rect.shape for e in keep)


def test_numpy_and_torch_give_the_same_voxels():
    patch = np.random.default_rng(0).random((6, 6, 3)).astype(np.float32)
    for e in in_plane_transforms(transposes=True):
        assert np.array_equal(apply(patch, e), apply(torch.from_numpy(patch), e).numpy())
        assert isinstance(apply(patch, e), np.ndarray)
    assert InPlane(*(True, False, True)) == InPlane(mirror_x=True, transpose=True)  # plain tuples convert


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_quarter_turns_are_torchs_rot90(k, flip):
    t = torch.rand(2, 3, 5, 5)
    forward, inverse = _rot90_flip(k, flip)
    element = quarter_turns(k, flip)
    assert torch.equal(apply(t, element, axes=(2, 3)), forward(t))
    assert torch.equal(invert(t, element, axes=(2, 3)), inverse(t))


@pytest.mark.parametrize("square", [True, False])
def test_geometric_transforms_keep_pseudosrs_order_and_values(square):
    t = torch.rand(2, 3, 4, 4) if square else torch.rand(2, 3, 4, 6)
    turns = (0, 1, 2, 3) if square else (0, 2)
    reference = [_rot90_flip(k, flip) for flip in (False, True) for k in turns]
    pairs = geometric_transforms(square)
    assert len(pairs) == len(reference) == (8 if square else 4)
    for (forward, inverse), (ref_forward, ref_inverse) in zip(pairs, reference):
        assert torch.equal(forward(t), ref_forward(t))
        assert torch.equal(inverse(forward(t)), t) and torch.equal(inverse(t), ref_inverse(t))


def _linear(x: torch.Tensor, scale: tuple[int, int, int]) -> torch.Tensor:
    """A stand-in SR network on the k-space grid: linear interpolation."""
    return upsample_slab(x, scale, "linear")


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_unmirror_maps_a_mirrored_input_back_onto_the_hr_grid(factor):
    x = torch.rand(2, 3, 7, 5)
    direct = _linear(x, (factor, 1, 1))
    mirrored = _linear(torch.flip(x, dims=(2,)), (factor, 1, 1))
    back = unmirror(mirrored, 2, factor)
    # Equal wherever both interpolate between two LR samples (the last s − 1 voxels extrapolate).
    interior = slice(0, direct.shape[2] - factor + 1)
    torch.testing.assert_close(back[:, :, interior], direct[:, :, interior])


@pytest.mark.parametrize("factors", [(2, 2), (3, 3), (2, 1)], ids=str)
def test_invert_puts_an_sr_output_of_a_transformed_input_back_on_the_hr_grid(factors):
    sx, sy = factors
    x = torch.rand(1, 3, 6, 6)
    direct = _linear(x, (sx, sy, 1))  # a stand-in SR network on the k-space grid
    for e in in_plane_transforms(transposes=sx == sy):
        back = invert(_linear(apply(x, e, axes=(2, 3)), (sx, sy, 1)), e, axes=(2, 3), factors=factors)
        assert back.shape == direct.shape
        interior = (slice(None), slice(None), slice(0, direct.shape[2] - sx + 1), slice(0, direct.shape[3] - sy + 1))
        torch.testing.assert_close(back[interior], direct[interior])
