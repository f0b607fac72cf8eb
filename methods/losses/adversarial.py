"""Least-squares GAN losses (Mao et al., LSGAN; UDEAN paper eq. 3 and Sec. II.C).

Eq. 3 writes the generator's adversarial loss as ``mean sqrt((D(x) − 1)²)``, i.e.
``mean |D(x) − 1|``, while the text says it uses "the least square loss [32]" (LSGAN; see
docs/methods/udean.md). We implement LSGAN: the generator minimises
``mean (D(fake) − 1)²`` and the discriminator ``0.5·(mean (D(real) − 1)² + mean D(fake)²)``,
targets 1 for real and 0 for fake, on raw (no sigmoid) patch scores. The literal eq. 3 is
available with ``squared=False``; its gradient does not shrink as ``D → 1``.
"""

from __future__ import annotations

import torch


def lsgan_generator_loss(d_fake: torch.Tensor, squared: bool = True) -> torch.Tensor:
    """Generator loss on the discriminator's raw scores of generated samples.

    Args:
        d_fake: raw scores ``(B, 1, h, w)`` (any shape) of generated samples.
        squared: ``mean (D − 1)²`` (LSGAN, default) or ``mean |D − 1|`` (eq. 3 as written).

    Returns:
        A scalar tensor, 0 when every score is 1.
    """
    diff = d_fake - 1
    return (diff * diff).mean() if squared else diff.abs().mean()


def lsgan_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss ``0.5·(mean (D(real) − 1)² + mean D(fake)²)``.

    Args:
        d_real: raw scores of real samples, any shape.
        d_fake: raw scores of generated samples (detached from the generator), any shape.

    Returns:
        A scalar tensor, 0 when real scores are 1 and fake scores 0.
    """
    return 0.5 * (((d_real - 1) ** 2).mean() + (d_fake**2).mean())
