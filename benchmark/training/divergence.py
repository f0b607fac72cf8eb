"""Divergence: a training loss that is not a finite number ends the cell's training, as a result.

In a benchmark a method that diverges is a finding, not a failure to hide: the trainer raises
:class:`TrainingDivergedError` at the first optimiser update whose loss is NaN or infinite, before the
update touches a weight; the runner then finishes the cell as *diverged*, with the step and the
loss, its test rows in ``results.csv`` without metrics, and a rerun leaves it as it is unless
``bench run --retry-diverged`` asks otherwise.
"""

from __future__ import annotations

from typing import Any

from benchmark.results.schema import DIVERGED_STATE

DIVERGED = DIVERGED_STATE
"""The state of a cell whose training diverged (``results.csv``'s ``state`` column, ``bench status``)."""


class TrainingDivergedError(Exception):
    """A loss of an optimiser update was not finite.

    Attributes:
        step: the training step (from 1) whose update met the loss.
        loss: the optimiser whose loss it was (``generator``, ``discriminator``, …).
        value: the loss's value (NaN, +inf or −inf).
    """

    def __init__(self, step: int, loss: str, value: float) -> None:
        self.step, self.loss, self.value = int(step), str(loss), float(value)
        super().__init__(describe(self.record()))

    def record(self) -> dict[str, Any]:
        """What a cell's ``DONE`` marker keeps of it: ``{"step", "loss", "value"}`` (the value as text)."""
        return {"step": self.step, "loss": self.loss, "value": repr(self.value)}


def describe(record: dict[str, Any]) -> str:
    """``"diverged at step 3 (generator loss nan)"`` from a :meth:`TrainingDivergedError.record`."""
    return f"diverged at step {record.get('step', '?')} ({record.get('loss', '?')} loss {record.get('value', '?')})"
