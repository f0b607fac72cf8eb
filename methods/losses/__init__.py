"""Losses shared by the learned methods: L1, SSIM, LSGAN and its gradient penalty,
UDEAN's degradation adaptation, DASR's frequency filters."""

from methods.losses.adversarial import lsgan_discriminator_loss, lsgan_generator_loss
from methods.losses.degradation_adaptation import degradation_adaptation_loss
from methods.losses.frequency_filters import LF_KERNEL, gaussian_kernel2d, high_pass, low_pass
from methods.losses.gradient_penalty import gradient_penalty
from methods.losses.pixel import l1_loss
from methods.losses.ssim_loss import ssim_loss, ssim_map2d

__all__ = [
    "LF_KERNEL",
    "degradation_adaptation_loss",
    "gaussian_kernel2d",
    "gradient_penalty",
    "high_pass",
    "l1_loss",
    "low_pass",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "ssim_loss",
    "ssim_map2d",
]
