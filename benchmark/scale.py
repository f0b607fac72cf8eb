"""Integer super-resolution scale factors ``sx×sy×sz`` along the array axes of a volume."""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchmark.errors import BenchError

_SCALE_PATTERN = re.compile(r"^\s*(\d+)\s*[x×]\s*(\d+)\s*[x×]\s*(\d+)\s*$")


@dataclass(frozen=True, order=True)
class Scale:
    """Scale factors along the array axes ``(X, Y, Z)``; ``Z`` is the slab (through-plane) axis.

    An LR volume of shape ``(X/sx, Y/sy, Z/sz)`` is super-resolved to ``(X, Y, Z)``.
    """

    sx: int
    sy: int
    sz: int

    def __post_init__(self) -> None:
        for value in (self.sx, self.sy, self.sz):
            if not isinstance(value, int) or value < 1:
                raise BenchError(f"scale factors must be positive integers, got {self.sx}x{self.sy}x{self.sz}.")

    @classmethod
    def parse(cls, text: str) -> Scale:
        """Parse ``"2x2x1"`` (``×`` also accepted); anything else is a :class:`BenchError`."""
        match = _SCALE_PATTERN.match(text)
        if match is None:
            raise BenchError(f"scale '{text}' is not of the form SXxSYxSZ with three positive integers, e.g. 2x2x2.")
        sx, sy, sz = (int(g) for g in match.groups())
        if min(sx, sy, sz) < 1:
            raise BenchError(f"scale '{text}' has a zero factor; every factor must be at least 1.")
        return cls(sx, sy, sz)

    @property
    def factors(self) -> tuple[int, int, int]:
        """``(sx, sy, sz)``."""
        return (self.sx, self.sy, self.sz)

    def __str__(self) -> str:
        return f"{self.sx}x{self.sy}x{self.sz}"

    def lr_shape(self, hr_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """LR shape of an HR volume whose shape is a multiple of the scale, in voxels."""
        return tuple(n // s for n, s in zip(hr_shape, self.factors))  # type: ignore[return-value]

    def hr_shape(self, lr_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """HR shape of an LR volume ``(X/sx, Y/sy, Z/sz)``: each size times its factor, in voxels."""
        return tuple(int(n) * s for n, s in zip(lr_shape, self.factors))  # type: ignore[return-value]

    def crop_to_multiple(self, hr_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Largest shape ``<= hr_shape`` divisible by the scale along every axis, in voxels."""
        return tuple(n - n % s for n, s in zip(hr_shape, self.factors))  # type: ignore[return-value]
