"""Progress of tiled inference, reported without methods passing a progress bar along.

:func:`benchmark.inference.tiling.super_resolve_tiled` calls :func:`tiles_done` after every
batch of tiles; whoever wants to show it (``bench infer``) installs a callback with
:func:`report_tiles` around a method's ``super_resolve``.  A method may run several passes
(ZSSR: one per in-plane variant): each pass counts its tiles from zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

TileCallback = Callable[[int, int], None]
"""Called with ``(tiles done in this pass, tiles in this pass)``."""

_CALLBACK: ContextVar[TileCallback | None] = ContextVar("tile_progress", default=None)


@contextmanager
def report_tiles(callback: TileCallback) -> Iterator[None]:
    """Send the progress of every tiled pass inside the ``with`` block to ``callback``."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)


def tiles_done(done: int, total: int) -> None:
    """Report that ``done`` of ``total`` tiles of the current pass are finished (no-op without a callback)."""
    callback = _CALLBACK.get()
    if callback is not None:
        callback(done, total)
