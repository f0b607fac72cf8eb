"""Resolve ``--device auto|cpu|cuda[:N]``."""

from __future__ import annotations

import torch

from benchmark.errors import BenchError


def resolve_device(spec: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; an unavailable CUDA device is a :class:`BenchError`."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise BenchError(f"device '{spec}' is not one of auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BenchError(f"device '{spec}' was asked for but this machine has no CUDA GPU; use --device cpu.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BenchError(f"device '{spec}' does not exist; this machine has {torch.cuda.device_count()} GPU(s).")
    elif device.type != "cpu":
        raise BenchError(f"device '{spec}' is not supported; use auto, cpu or cuda[:N].")
    return device
