"""Losses shared by the learned methods: L1, SSIM, least-squares GAN and UDEAN's degradation adaptation."""

from methods.losses.adversarial import lsgan_discriminator_loss, lsgan_generator_loss
from methods.losses.degradation_adaptation import degradation_adaptation_loss
from methods.losses.pixel import l1_loss
from methods.losses.ssim_loss import ssim_loss, ssim_map2d

__all__ = [
    "degradation_adaptation_loss",
    "l1_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "ssim_loss",
    "ssim_map2d",
]
