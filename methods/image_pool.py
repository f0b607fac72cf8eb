"""History buffer of generated images for discriminators (Shrivastava et al. 2017; CycleGAN).

Followed (CycleGAN, ``junyanz/pytorch-CycleGAN-and-pix2pix``, ``util/image_pool.py``): a pool
of up to ``size`` generated images; each image of a new batch is, one by one,

* while the pool is not full: stored, and returned as it is;
* once the pool is full: with probability 0.5 swapped for a stored image chosen uniformly
  (the new image takes its place in the pool and the stored one is returned), otherwise
  returned as it is.

A size of 0 turns the pool off (every batch comes back unchanged).

Adapted:

* The pool is an :class:`torch.nn.Module` whose stored images and fill count are *buffers*
  of a fixed shape ``(size, C, H, W)``, so the pool moves with ``.to(device)`` and, placed in a
  training plan's ``networks``, is saved in checkpoints and restored on resume (a resumed run
  then continues exactly as an uninterrupted one).
* The random choices come from a NumPy generator passed in by the caller (the trainer's seeded
  generator), not from Python's global ``random``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

SWAP_PROBABILITY = 0.5


class ImagePool(nn.Module):
    """A pool of up to ``size`` generated images of shape ``(C, H, W)``.

    Args:
        size: the most images kept, 50 in CycleGAN; 0 disables the pool.
        image_shape: ``(C, H, W)`` of one image (e.g. a slab ``(3, h, w)``).

    Shapes:
        :meth:`query`: ``(B, C, H, W) -> (B, C, H, W)``, detached, float32.
    """

    images: torch.Tensor
    count: torch.Tensor

    def __init__(self, size: int, image_shape: Sequence[int]) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"an image pool size must be non-negative, got {size}")
        self.size = int(size)
        self.image_shape = tuple(int(n) for n in image_shape)
        self.register_buffer("images", torch.zeros(self.size, *self.image_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @property
    def stored(self) -> int:
        """How many images the pool holds now."""
        return int(self.count.item())

    @torch.no_grad()
    def query(self, batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Store the new images and return a batch of as many, half of them from history once full.

        Args:
            batch: ``(B, C, H, W)`` generated images (any dtype; stored and returned as float32).
            rng: seeded generator for the swap decisions and the stored image picked.

        Returns:
            ``(B, C, H, W)`` float32 images, detached from any graph.
        """
        batch = batch.detach().float()
        if self.size == 0:
            return batch
        if tuple(batch.shape[1:]) != self.image_shape:
            raise ValueError(f"image pool holds images of shape {self.image_shape}, got {tuple(batch.shape[1:])}")
        out = []
        for image in batch:
            stored = self.stored
            if stored < self.size:
                self.images[stored] = image
                self.count += 1
                out.append(image)
            elif rng.random() < SWAP_PROBABILITY:
                index = int(rng.integers(self.size))
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)
