"""Thin-slab networks shared by the learned methods: TS-RCAN, encoders, HR → LR generator, VGG-style discriminator.

Every network is 2D: a slab of consecutive slices is a stack of channels ``(B, M, h, w)``
on the LR grid, ``(B, M·sz, sx·h, sy·w)`` on the HR grid; features are ``(B, C, h, w)``.
"""

from methods.networks.channel_attention import RCAB, ChannelAttention, ResidualGroup
from methods.networks.discriminators import VGGDiscriminator, auto_n_down, slab_discriminator
from methods.networks.downsampling_generator import DownsamplingGenerator, downsampling_generator_from_profile
from methods.networks.encoders import DownsamplingEncoder, SlabEncoder
from methods.networks.parameters import count_parameters
from methods.networks.ts_rcan import (
    TSRCAN,
    InPlaneUpsampler,
    TSRCANDecoder,
    pixel_shuffle_2d,
    scale_factors,
    ts_rcan_decoder_from_profile,
    ts_rcan_from_profile,
)

__all__ = [
    "RCAB",
    "TSRCAN",
    "ChannelAttention",
    "DownsamplingEncoder",
    "DownsamplingGenerator",
    "InPlaneUpsampler",
    "ResidualGroup",
    "SlabEncoder",
    "TSRCANDecoder",
    "VGGDiscriminator",
    "auto_n_down",
    "count_parameters",
    "downsampling_generator_from_profile",
    "pixel_shuffle_2d",
    "scale_factors",
    "slab_discriminator",
    "ts_rcan_decoder_from_profile",
    "ts_rcan_from_profile",
]
