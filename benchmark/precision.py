"""Numeric precision of training and inference: ``--precision auto|fp32|bf16|fp16``.

One resolved :data:`Precision` holds for a whole cell: the trainer's forward passes
(:meth:`benchmark.training.trainer.Trainer.autocast`), its gradient scaler, and whole-volume
inference (:func:`benchmark.inference.slabs.super_resolve_slabs`), whose outputs are float32
whatever the precision.  Losses are computed in float32 by every method.

* ``fp32``: no autocast; the CPU default, and bit for bit what the harness did before precisions
  were selectable.
* ``bf16``: autocast to bfloat16.  Its exponent range is float32's, so gradients do not
  underflow and no loss scaler is needed.  ``auto`` picks it on a CUDA GPU that supports it
  (Ampere and later); on the CPU it must be asked for (CPU autocast).
* ``fp16``: autocast to float16 with a dynamic loss scaler (``torch.amp.GradScaler``), on CUDA
  only and only when asked for: the small gradients of adversarial losses underflow in float16's
  range, which the scaler mitigates but does not rule out.

The precision is part of a cell's identity (:class:`benchmark.results.cell.Cell`): fp32 cells keep
the folders and configuration hashes they always had; other precisions add ``_<precision>`` to the
folder and ``"precision"`` to the configuration, so a cell is never reused under another precision.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal, cast, get_args

import torch

from benchmark.errors import BenchError
from benchmark.results import schema

Precision = Literal["fp32", "bf16", "fp16"]
"""A resolved precision: what a cell actually runs in."""

PRECISIONS: tuple[str, ...] = get_args(Precision)
REQUESTS: tuple[str, ...] = ("auto", *PRECISIONS)
"""What ``--precision`` accepts."""

DEFAULT_PRECISION: Precision = cast(Precision, schema.DEFAULT_PRECISION)
"""``fp32``: the precision of every cell recorded before precisions were, and of CPU runs by default."""

_AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision_request(requested: str) -> None:
    """Refuse a ``--precision`` that is none of :data:`REQUESTS` (checked before any device is resolved).

    Raises:
        BenchError: one sentence naming the accepted values.
    """
    if requested not in REQUESTS:
        raise BenchError(f"--precision '{requested}' is not one of {', '.join(REQUESTS)}.")


def resolve_precision(requested: str, device: torch.device, bf16_supported: bool | None = None) -> Precision:
    """The precision a run on ``device`` uses when ``requested`` is asked for.

    ===========  ==========================  ===========================================
    requested    CPU                         CUDA
    ===========  ==========================  ===========================================
    ``auto``     ``fp32``                    ``bf16`` if the GPU supports it, else ``fp32``
    ``fp32``     ``fp32``                    ``fp32``
    ``bf16``     ``bf16`` (CPU autocast)     ``bf16``; an error on a GPU without bf16
    ``fp16``     an error (CUDA only)        ``fp16`` with a loss scaler
    ===========  ==========================  ===========================================

    Args:
        requested: one of :data:`REQUESTS` (``--precision``).
        device: the resolved device of the run.
        bf16_supported: whether a CUDA ``device`` supports bfloat16; ``None`` asks
            ``torch.cuda.is_bf16_supported()``.  Ignored on the CPU.

    Returns:
        ``"fp32"``, ``"bf16"`` or ``"fp16"``.

    Raises:
        BenchError: an unknown request, ``fp16`` on the CPU, or ``bf16`` on a GPU without it.
    """
    check_precision_request(requested)
    if device.type != "cuda":
        if requested == "fp16":
            raise BenchError(
                "--precision fp16 needs a CUDA GPU (float16 training on the CPU is slow and needs a loss scaler); "
                "use fp32 or bf16 on the CPU."
            )
        return "bf16" if requested == "bf16" else "fp32"
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if requested == "auto":
        return "bf16" if bf16_supported else "fp32"
    if requested == "bf16" and not bf16_supported:
        raise BenchError(f"the GPU {device} does not support bfloat16; use --precision fp16 or fp32.")
    return requested  # type: ignore[return-value]


def autocast(precision: Precision, device: torch.device) -> AbstractContextManager[Any]:
    """The autocast context of ``precision`` on ``device``; a no-op for ``fp32``."""
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def needs_loss_scaler(precision: Precision) -> bool:
    """Whether training in ``precision`` scales its losses: ``fp16`` only."""
    return precision == "fp16"
