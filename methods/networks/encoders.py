"""Encoders of the degradation-learning and SR networks (UDEAN paper, Sec. II.E and Fig. 3).

The paper: "6 convolution layers with Leaky ReLU between every two layers" (Sec. II.E) and
"6 convolutional layers, each followed by a Leaky ReLU" (Fig. 3 caption); the down-sampling
feature extractor "down-samples the input HR image to the same size as the LR image".

Decisions (the paper is open here):

* All layers have ``feats`` output channels, LeakyReLU slope 0.2.
* The last layer is linear by default (``final_activation=False``), following "between every
  two layers" of the text: the features are a free representation that goes into a
  TS-RCAN decoder (whose head is a conv), into an L1 feature-cycle loss and into the feature
  discriminator, and nothing asks them to be mostly non-negative. ``final_activation=True``
  follows the figure caption instead.
* In the down-sampling extractor, layer 1 is a 3×3 conv on the HR grid and layer 2 the one
  strided conv, stride ``(sx, sy)``, kernel ``(2·sx+1, 2·sy+1)``, padding ``(sx, sy)``: its
  output pixel ``(u, v)`` is centred on HR pixel ``(sx·u, sy·v)``, which is where k-space
  truncation samples LR voxel ``(u, v)``, and the output has exactly ``(h, w)`` pixels for
  every factor (1 included, a plain 3×3 conv). Layers 3–6 run on the LR grid. The
  through-plane reduction needs no layer: the ``M·sz`` HR slices are input channels and the
  features have ``feats`` channels like the LR encoder's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

LEAKY_SLOPE = 0.2


def _stack(convs: list[nn.Conv2d], final_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, conv in enumerate(convs):
        layers.append(conv)
        if final_activation or index < len(convs) - 1:
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
    return nn.Sequential(*layers)


class SlabEncoder(nn.Module):
    """LR encoder: a slab of ``M`` slices to a feature map on the same grid.

    Args:
        in_channels: ``M``, slices per LR slab, default 3.
        feats: feature channels ``C``, default 64.
        layers: number of 3×3 conv layers, default 6.
        final_activation: LeakyReLU after the last layer too, default False.

    Shapes:
        ``(B, M, h, w) -> (B, C, h, w)``.
    """

    def __init__(self, in_channels: int = 3, feats: int = 64, layers: int = 6, final_activation: bool = False) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError("an encoder needs at least one layer")
        convs = [nn.Conv2d(in_channels if i == 0 else feats, feats, 3, padding=1) for i in range(layers)]
        self.body = _stack(convs, final_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class DownsamplingEncoder(nn.Module):
    """Down-sampling feature extractor: an HR slab to features on the LR grid.

    Args:
        in_slices: ``M·sz``, slices per HR slab, default 6 (M = 3, sz = 2).
        scale: in-plane factors ``(sx, sy)``, default ``(2, 2)``; 1 keeps that axis.
        feats: feature channels ``C``, default 64.
        layers: number of conv layers, default 6 (at least 2: one on the HR grid, one strided).
        final_activation: LeakyReLU after the last layer too, default False.

    Shapes:
        ``(B, M·sz, sx·h, sy·w) -> (B, C, h, w)``.
    """

    def __init__(
        self,
        in_slices: int = 6,
        scale: Sequence[int] = (2, 2),
        feats: int = 64,
        layers: int = 6,
        final_activation: bool = False,
    ) -> None:
        super().__init__()
        sx, sy = (int(s) for s in scale)
        if sx < 1 or sy < 1:
            raise ValueError(f"in-plane scale factors must be positive, got {sx}x{sy}")
        if layers < 2:
            raise ValueError("the down-sampling encoder needs at least two layers")
        self.inplane_scale = (sx, sy)
        convs = [
            nn.Conv2d(in_slices, feats, 3, padding=1),
            nn.Conv2d(feats, feats, (2 * sx + 1, 2 * sy + 1), stride=(sx, sy), padding=(sx, sy)),
        ]
        convs += [nn.Conv2d(feats, feats, 3, padding=1) for _ in range(layers - 2)]
        self.body = _stack(convs, final_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sx, sy = self.inplane_scale
        if x.shape[-2] % sx or x.shape[-1] % sy:
            raise ValueError(f"HR slab of in-plane size {tuple(x.shape[-2:])} is not a multiple of {sx}x{sy}")
        return self.body(x)


def he_initialise(encoder: nn.Module) -> nn.Module:
    """He (Kaiming) normal initialisation for LeakyReLU(0.2) of every conv of ``encoder``, biases 0; in place."""
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=LEAKY_SLOPE, mode="fan_in", nonlinearity="leaky_relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return encoder
