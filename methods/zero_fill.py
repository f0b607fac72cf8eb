"""Zero-fill: the linear up-sampling that the protocol's k-space truncation implies; no training.

The LR volume's spectrum is put at the centre of a zero HR spectrum (completed to a real
volume's Hermitian spectrum at the even-size Nyquist bins) and transformed back
(:func:`benchmark.protocol.degradations.zero_fill`). It is the reference a learned method must
beat besides tricubic: where the data were made by k-space truncation, zero-fill is the
band-limited (sinc) interpolation of the LR, and truncating its output gives the LR back. It is
not an exact inverse of the degradation: the truncation discards the high frequencies and keeps
only the magnitude of the complex LR image.

Design notes and measurements: docs/methods/zero-fill.md
"""

from __future__ import annotations

import torch

from benchmark.api import METHODS, Method, zero_fill


@METHODS.register("zero-fill", summary="k-space zero-fill of the LR volume (sinc up-sampling); no training.")
class ZeroFill(Method):
    """Zero-fill up-sampling of the LR volume onto the HR grid."""

    uses_source_hr = False
    needs_training_data = False
    uses_seed = False

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """``(X/sx, Y/sy, Z/sz)`` → ``(X, Y, Z)`` float32, by :func:`~benchmark.protocol.degradations.zero_fill`."""
        return torch.from_numpy(zero_fill(lr.detach().cpu().numpy(), self.scale))
