"""Cutting a volume into thin slabs along Z and putting super-resolved slabs back.

A slab is ``depth`` consecutive slices along the volume's Z axis (the axis of ``sz``),
stacked as channels: ``volume[:, :, s:s + depth]`` of an ``(X, Y, Z)`` volume becomes a
``(depth, X, Y)`` tensor. Used by training-patch sampling and whole-volume inference alike.

Through-plane correspondence: output channel ``j`` of the SR slab that starts at LR slice
``s`` is HR slice ``s·sz + j`` (LR slice ``i`` owns HR slices ``i·sz … i·sz + sz − 1``), which
is how HR training slabs of ``depth·sz`` slices are cut opposite LR slabs of ``depth``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def slab_starts(n_slices: int, depth: int = 3, stride: int = 1) -> list[int]:
    """First slice of every slab: ``0, stride, 2·stride, …`` and a last one ending at the last slice.

    Args:
        n_slices: ``Z``, at least ``depth``.
        depth: slices per slab, default 3.
        stride: step between slab starts, default 1 (every slice is the start of a slab).

    Returns:
        Increasing starts; together the slabs cover every slice.
    """
    if depth < 1 or stride < 1:
        raise ValueError(f"slab depth and stride must be positive, got depth={depth}, stride={stride}")
    if n_slices < depth:
        raise ValueError(f"a volume of {n_slices} slices is thinner than one slab of {depth}")
    starts = list(range(0, n_slices - depth + 1, stride))
    if starts[-1] != n_slices - depth:
        starts.append(n_slices - depth)
    return starts


def cut_slabs(volume: torch.Tensor, depth: int = 3, stride: int = 1) -> tuple[torch.Tensor, list[int]]:
    """Cut an ``(X, Y, Z)`` volume into slabs of ``depth`` slices along Z.

    Args:
        volume: ``(X, Y, Z)`` with ``Z ≥ depth``.
        depth: slices per slab ``M``, default 3.
        stride: step between slab starts, default 1; the last slab is aligned to the end.

    Returns:
        ``(slabs, starts)``: slabs ``(N, depth, X, Y)`` and the ``N`` starting slices.
    """
    if volume.dim() != 3:
        raise ValueError(f"cut_slabs needs an (X, Y, Z) volume, got shape {tuple(volume.shape)}")
    starts = slab_starts(volume.shape[2], depth, stride)
    slabs = torch.stack([volume[:, :, s : s + depth] for s in starts])  # (N, X, Y, depth)
    return slabs.permute(0, 3, 1, 2).contiguous(), starts


class SlabAssembler:
    """Accumulates SR slabs into an HR volume, batch by batch, averaging overlaps (values are detached).

    Args:
        out_shape: ``(X·sx, Y·sy, Z·sz)`` of the volume being built.
        sz: through-plane factor.
        device, dtype: of the accumulators (default CPU, float32).
    """

    def __init__(
        self,
        out_shape: Sequence[int],
        sz: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if len(out_shape) != 3 or sz < 1:
            raise ValueError(f"need an (X, Y, Z) output shape and sz >= 1, got {tuple(out_shape)} and {sz}")
        self.sz = sz
        self.total = torch.zeros(tuple(out_shape), device=device, dtype=dtype)
        self.count = torch.zeros(out_shape[2], device=device, dtype=dtype)

    def add(self, slabs_sr: torch.Tensor, starts: Sequence[int]) -> None:
        """Add SR slabs ``(n, depth·sz, X·sx, Y·sy)`` whose LR starting slices are ``starts``."""
        n, channels, x, y = slabs_sr.shape
        if n != len(starts) or (x, y) != tuple(self.total.shape[:2]):
            raise ValueError(
                f"{n} slabs of in-plane size {(x, y)} do not match {len(starts)} starts and "
                f"an output of shape {tuple(self.total.shape)}"
            )
        values = slabs_sr.detach().to(self.total).permute(0, 2, 3, 1)  # (n, X·sx, Y·sy, depth·sz)
        for value, start in zip(values, starts):
            z0 = start * self.sz
            if z0 < 0 or z0 + channels > self.total.shape[2]:
                raise ValueError(
                    f"a slab starting at LR slice {start} leaves the output's {self.total.shape[2]} slices"
                )
            self.total[:, :, z0 : z0 + channels] += value
            self.count[z0 : z0 + channels] += 1

    def result(self) -> torch.Tensor:
        """The averaged ``(X·sx, Y·sy, Z·sz)`` volume; every slice must have been covered."""
        if bool((self.count == 0).any()):
            missing = torch.nonzero(self.count == 0).flatten().tolist()
            raise ValueError(f"output slices {missing[:10]} were covered by no slab")
        return self.total / self.count


def assemble_slabs(slabs_sr: torch.Tensor, starts: Sequence[int], out_shape: Sequence[int], sz: int) -> torch.Tensor:
    """Put SR slabs back into one volume, averaging where slabs overlap.

    Args:
        slabs_sr: ``(N, depth·sz, X·sx, Y·sy)``, slab ``n`` made from the LR slab starting at ``starts[n]``.
        starts: LR starting slices, as returned by :func:`cut_slabs`.
        out_shape: ``(X·sx, Y·sy, Z·sz)``.
        sz: through-plane factor; channel ``j`` of slab ``n`` is HR slice ``starts[n]·sz + j``.

    Returns:
        ``(X·sx, Y·sy, Z·sz)`` volume with the dtype and device of ``slabs_sr``.
    """
    assembler = SlabAssembler(out_shape, sz, device=slabs_sr.device, dtype=slabs_sr.dtype)
    assembler.add(slabs_sr, starts)
    return assembler.result()
