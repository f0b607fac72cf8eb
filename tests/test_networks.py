"""Shapes, pixel shuffle, parameter counts and a tiny training run of the shared thin-slab networks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from benchmark.profiles import load_profile
from benchmark.scale import Scale
from methods.losses import l1_loss, ssim_loss
from methods.networks import (
    TSRCAN,
    DownsamplingEncoder,
    SlabEncoder,
    TSRCANDecoder,
    VGGDiscriminator,
    auto_n_down,
    count_parameters,
    downsampling_generator_from_profile,
    pixel_shuffle_2d,
    slab_discriminator,
    ts_rcan_decoder_from_profile,
    ts_rcan_from_profile,
)

SCALES = [(2, 2, 1), (2, 2, 2), (1, 1, 1), (3, 2, 1), (2, 1, 2), (1, 3, 2)]
TINY = {"n_resgroups": 1, "n_rcab": 1, "n_feats": 8, "reduction": 4}
M = 3
FEATS = 8


@pytest.mark.parametrize("size", [8, 16])
@pytest.mark.parametrize("scale", SCALES)
def test_shapes_of_every_network(scale: tuple[int, int, int], size: int) -> None:
    sx, sy, sz = scale
    torch.manual_seed(0)
    lr = torch.rand(2, M, size, size)
    hr = torch.rand(2, M * sz, sx * size, sy * size)

    sr = TSRCAN(M, scale, **TINY)(lr)
    assert sr.shape == (2, M * sz, sx * size, sy * size)

    encoder = SlabEncoder(M, feats=FEATS)
    down = DownsamplingEncoder(M * sz, (sx, sy), feats=FEATS)
    f_t, f_s = encoder(lr), down(hr)
    assert f_t.shape == f_s.shape == (2, FEATS, size, size)

    sr_decoder = TSRCANDecoder(FEATS, M * sz, (sx, sy), **TINY)
    lr_decoder = TSRCANDecoder(FEATS, M, (1, 1), **TINY)
    assert sr_decoder(f_s).shape == hr.shape
    assert lr_decoder(f_s).shape == lr.shape

    for x in (lr, hr, f_t):
        patch = min(x.shape[-2:])
        disc = VGGDiscriminator(x.shape[1], feats=FEATS, patch_size=patch)
        score = disc(x)
        n = disc.n_down
        assert score.shape == (2, 1, -(-x.shape[-2] // 2**n), -(-x.shape[-1] // 2**n))


def test_scale_object_and_identity_grid() -> None:
    net = TSRCAN(3, Scale(1, 1, 1), **TINY)
    assert isinstance(net.upsample, torch.nn.Identity)
    assert net.scale == (1, 1, 1)
    assert net(torch.rand(1, 3, 5, 7)).shape == (1, 3, 5, 7)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_2d_equals_pixel_shuffle(r: int) -> None:
    x = torch.randn(2, 4 * r * r, 5, 6)
    assert torch.equal(pixel_shuffle_2d(x, r, r), F.pixel_shuffle(x, r))


@pytest.mark.parametrize(("sx", "sy"), [(3, 2), (2, 1), (1, 3), (2, 2)])
def test_pixel_shuffle_2d_places_sub_pixels(sx: int, sy: int) -> None:
    c, h, w = 2, 3, 4
    # Channel k = ch·sx·sy + i·sy + j is filled with 100·ch + 10·i + j, plus a per-pixel code.
    x = torch.zeros(1, c * sx * sy, h, w)
    pixel_code = torch.arange(h * w, dtype=torch.float32).reshape(h, w) * 1000
    for ch in range(c):
        for i in range(sx):
            for j in range(sy):
                x[0, ch * sx * sy + i * sy + j] = 100 * ch + 10 * i + j + pixel_code
    out = pixel_shuffle_2d(x, sx, sy)
    assert out.shape == (1, c, sx * h, sy * w)
    for ch in range(c):
        for row in range(sx * h):
            for col in range(sy * w):
                u, i = divmod(row, sx)
                v, j = divmod(col, sy)
                assert out[0, ch, row, col] == 100 * ch + 10 * i + j + 1000 * (u * w + v)


def _ts_rcan_parameters(m: int, sx: int, sy: int, sz: int, groups: int, blocks: int, c: int, r: int) -> int:
    """Hand count: a k×k conv a → b with bias has k²·a·b + b parameters."""

    def conv(a: int, b: int, k: int = 3) -> int:
        return k * k * a * b + b

    hidden = max(1, c // r)
    attention = conv(c, hidden, 1) + conv(hidden, c, 1)
    rcab = 2 * conv(c, c) + attention
    group = blocks * rcab + conv(c, c)
    body = groups * group + conv(c, c)
    upsampler = conv(c, c * sx * sy) if sx * sy > 1 else 0
    return conv(m, c) + body + upsampler + conv(c, m * sz)


def test_parameter_count_of_the_paper_configuration() -> None:
    net = TSRCAN(3, (2, 2, 2), n_resgroups=5, n_rcab=5, n_feats=64, reduction=16)
    expected = _ts_rcan_parameters(3, 2, 2, 2, 5, 5, 64, 16)
    # head 1,792 + body 5·(5·74,436 + 36,928) + 36,928 + up-sampler 147,712 + tail 3,462
    assert expected == 1_792 + 5 * (5 * 74_436 + 36_928) + 36_928 + 147_712 + 3_462 == 2_235_434
    assert count_parameters(net) == expected
    counts = {}
    for name in ("paper", "quick", "tiny"):
        profile = load_profile(name)
        net = ts_rcan_from_profile(profile, Scale(2, 2, 2))
        counts[name] = count_parameters(net)
        assert counts[name] == _ts_rcan_parameters(
            3, 2, 2, 2, profile["n_resgroups"], profile["n_rcab"], profile["n_feats"], profile["reduction"]
        )
    print("TS-RCAN parameters at 2x2x2:", counts)
    assert counts == {"paper": 2_235_434, "quick": 36_446, "tiny": 5_376}


def test_profile_factories() -> None:
    profile = load_profile("tiny")
    keep = ts_rcan_from_profile(profile, (2, 2, 2), out_scale=(1, 1, 1))
    assert keep(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)
    decoder = ts_rcan_decoder_from_profile(profile, in_channels=8, out_slices=6, scale=(2, 2))
    assert decoder(torch.rand(1, 8, 8, 8)).shape == (1, 6, 16, 16)


def test_downsampling_encoder_rejects_a_non_multiple() -> None:
    with pytest.raises(ValueError, match="multiple"):
        DownsamplingEncoder(6, (2, 2), feats=4)(torch.rand(1, 6, 15, 16))


def test_encoder_last_layer_activation_switch() -> None:
    assert isinstance(SlabEncoder(3, 4)(torch.zeros(1, 3, 4, 4)), torch.Tensor)
    assert len(SlabEncoder(3, 4).body) == 11
    assert len(SlabEncoder(3, 4, final_activation=True).body) == 12


def test_discriminator_depth_and_norms() -> None:
    assert [auto_n_down(p) for p in (None, 8, 16, 32, 64, 128, 256)] == [3, 1, 1, 2, 3, 4, 4]
    for norm in (None, "batch"):
        disc = VGGDiscriminator(3, feats=4, n_down=3, norm=norm)
        assert disc(torch.rand(2, 3, 8, 8)).shape == (2, 1, 1, 1)
    disc = VGGDiscriminator(3, feats=4, n_down=3, norm="instance")  # needs maps of more than 1 pixel
    assert disc(torch.rand(2, 3, 16, 16)).shape == (2, 1, 2, 2)
    disc = VGGDiscriminator(6, feats=4, n_down=4)
    assert disc(torch.rand(1, 6, 128, 128)).shape == (1, 1, 8, 8)
    with pytest.raises(ValueError, match="norm"):
        VGGDiscriminator(3, norm="layer")


@pytest.mark.parametrize("profile_name", ["paper", "quick", "tiny"])
def test_slab_discriminator_depth_follows_the_smaller_patch_side(profile_name: str) -> None:
    profile = load_profile(profile_name)
    px, py, _ = profile["lr_patch"]
    lr = slab_discriminator(profile, 3)
    assert lr.n_down == auto_n_down(min(px, py)) and lr.body[0].in_channels == 3
    assert lr.body[0].out_channels == profile["disc_feats"]
    hr = slab_discriminator(profile, 6, (2, 2))
    assert hr.n_down == auto_n_down(min(2 * px, 2 * py)) and hr.body[0].in_channels == 6
    assert slab_discriminator(profile, 3, (3, 2)).n_down == auto_n_down(min(3 * px, 2 * py))


@pytest.mark.parametrize("scale", [Scale(2, 2, 2), Scale(2, 2, 1), Scale(3, 2, 1)], ids=str)
def test_downsampling_generator_shapes_and_its_sampling_skip(scale: Scale) -> None:
    tiny = load_profile("tiny")
    hr = torch.rand(2, 3 * scale.sz, 8 * scale.sx, 8 * scale.sy)
    plain = downsampling_generator_from_profile(tiny, scale)
    assert not plain.skip and plain(hr).shape == (2, 3, 8, 8)
    network = downsampling_generator_from_profile(tiny, scale, skip=True)
    with torch.no_grad():
        network.decoder.tail.weight.zero_()
        network.decoder.tail.bias.zero_()
    torch.testing.assert_close(network(hr), hr[:, :: scale.sz, :: scale.sx, :: scale.sy])


def test_a_few_adam_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    net = TSRCAN(3, (2, 2, 2), **TINY)
    hr = F.avg_pool2d(torch.rand(2, 6, 32, 32), 2)  # smooth-ish (2, 6, 16, 16) target
    lr = F.avg_pool2d(hr[:, ::2], 2)  # (2, 3, 8, 8)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-8)

    def loss() -> torch.Tensor:
        sr = net(lr)
        return l1_loss(sr, hr) + 0.5 * ssim_loss(sr, hr)

    with torch.no_grad():
        first = loss().item()
    for _ in range(30):
        optimiser.zero_grad()
        value = loss()
        value.backward()
        optimiser.step()
    with torch.no_grad():
        assert loss().item() < 0.8 * first


def test_linear_upsampling_follows_the_kspace_grid():
    from methods.networks.interpolation_skip import upsample_slab

    x = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).expand(1, 3, 2, 4)  # ramp along w
    out = upsample_slab(x, (2, 2, 2), "linear")
    assert out.shape == (1, 6, 4, 8)
    # LR voxel j sits at HR voxel 2j; odd voxels are midpoints; the last LR voxel is repeated.
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.0]))
    assert torch.equal(out[:, 0], out[:, 5])  # constant through-plane stays constant


@pytest.mark.parametrize("kernel", ["cubic", "linear"])
def test_global_skip_starts_at_its_interpolation(kernel):
    from methods.networks.interpolation_skip import upsample_slab

    net = TSRCAN(
        3, (2, 2, 2), n_resgroups=1, n_rcab=1, n_feats=8, reduction=4, global_skip=True, skip_interpolation=kernel
    )
    x = torch.rand(2, 3, 8, 8)
    residual = net(x) - upsample_slab(x, (2, 2, 2), kernel)
    plain = TSRCAN(3, (2, 2, 2), n_resgroups=1, n_rcab=1, n_feats=8, reduction=4)
    plain.load_state_dict(net.state_dict())
    torch.testing.assert_close(residual, plain(x))
