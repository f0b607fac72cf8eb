"""The history pool of generated images: fill, seeded 50 % swaps once full, state saved, off at size 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from methods.image_pool import ImagePool

SHAPE = (3, 4, 4)


def images(n: int, start: int = 0) -> torch.Tensor:
    """``n`` distinct images ``(n, 3, 4, 4)``; image ``i`` is filled with the value ``start + i``."""
    return (torch.arange(start, start + n, dtype=torch.float32)[:, None, None, None]).expand(n, *SHAPE).clone()


def test_fills_first_and_returns_the_new_images() -> None:
    pool = ImagePool(5, SHAPE)
    rng = np.random.default_rng(0)
    out = pool.query(images(3), rng)
    assert torch.equal(out, images(3)) and pool.stored == 3
    out = pool.query(images(2, start=3), rng)
    assert torch.equal(out, images(2, start=3)) and pool.stored == 5
    assert torch.equal(pool.images, images(5))


def test_once_full_half_the_images_come_from_history() -> None:
    pool = ImagePool(50, SHAPE)
    rng = np.random.default_rng(0)
    pool.query(images(50), rng)
    from_history, total = 0, 4000
    stored = set(range(50))
    for step in range(total // 4):
        new = images(4, start=1000 + 4 * step)
        out = pool.query(new, rng)
        for returned, fresh in zip(out, new):
            value, fresh_value = int(returned[0, 0, 0]), int(fresh[0, 0, 0])
            if value != fresh_value:  # a stored image handed back; the new one took its place
                from_history += 1
                assert value in stored
                stored.remove(value)
                stored.add(fresh_value)
        assert pool.stored == 50
        assert stored == {int(v) for v in pool.images[:, 0, 0, 0]}
    assert 0.47 < from_history / total < 0.53


def test_seeded_and_restored_pools_agree() -> None:
    first = ImagePool(4, SHAPE)
    first.query(images(6), np.random.default_rng(1))
    second = ImagePool(4, SHAPE)
    second.load_state_dict(first.state_dict())  # the checkpoint round trip
    a = first.query(images(8, start=10), np.random.default_rng(7))
    b = second.query(images(8, start=10), np.random.default_rng(7))
    assert torch.equal(a, b) and torch.equal(first.images, second.images)
    c = ImagePool(4, SHAPE)
    c.query(images(6), np.random.default_rng(1))
    assert not torch.equal(c.query(images(8, start=10), np.random.default_rng(8)), a)


def test_size_zero_is_off_and_output_is_detached() -> None:
    batch = images(3).requires_grad_(True)
    out = ImagePool(0, SHAPE).query(batch, np.random.default_rng(0))
    assert torch.equal(out, batch.detach()) and not out.requires_grad
    assert not ImagePool(2, SHAPE).query(batch, np.random.default_rng(0)).requires_grad


def test_wrong_shape_and_negative_size_are_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        ImagePool(2, SHAPE).query(torch.zeros(1, 3, 5, 5), np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-negative"):
        ImagePool(-1, SHAPE)
