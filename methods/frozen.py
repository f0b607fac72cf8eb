"""Freeze networks' parameters for one block of an alternating (generator / discriminator) update."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def frozen(*networks: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of every parameter of ``networks`` inside the block.

    Gradients still flow *through* the frozen networks to their inputs; their own parameters
    collect none (as ``set_requires_grad(..., False)`` in CycleGAN and PseudoSR). The previous
    flags are restored on exit.
    """
    saved = [(p, p.requires_grad) for net in networks for p in net.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
