"""How well a feature discriminator trained with the R1/R2 gradient penalty still separates two
feature distributions (issue 14): quick profile's VGG discriminator on 64-channel 32×32 maps of
std 0.3, the fake's mean shifted by ``shift``; 150 Adam steps at 5e-4, then mean scores.

    python discriminator_penalty.py
"""

from __future__ import annotations

import torch

from benchmark.profiles import load_profile
from methods.losses import gradient_penalty, lsgan_discriminator_loss
from methods.networks import slab_discriminator

torch.set_num_threads(1)
profile = load_profile("quick", [])
for gamma in (0.0, 0.1, 1.0):
    for shift in (0.05, 0.2):
        torch.manual_seed(0)
        d = slab_discriminator(profile, 64)
        optimiser = torch.optim.Adam(d.parameters(), lr=5e-4, betas=(0.9, 0.99))
        for _ in range(150):
            real = torch.randn(4, 64, 32, 32) * 0.3
            fake = torch.randn(4, 64, 32, 32) * 0.3 + shift
            penalty = gradient_penalty(d, real) + gradient_penalty(d, fake)
            optimiser.zero_grad()
            (lsgan_discriminator_loss(d(real), d(fake)) + 0.5 * gamma * penalty).backward()
            optimiser.step()
        with torch.no_grad():
            real = torch.randn(8, 64, 32, 32) * 0.3
            fake = torch.randn(8, 64, 32, 32) * 0.3 + shift
            scores = f"D(real) {float(d(real).mean()):.3f} D(fake) {float(d(fake).mean()):.3f}"
        print(f"gamma {gamma} shift {shift}: {scores}")
