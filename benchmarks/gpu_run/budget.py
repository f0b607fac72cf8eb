"""Phase 4, the budget: training steps per method so that every cell ends inside the time left."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


def longest_first_makespan(durations: Sequence[float], workers: int) -> float:
    """Finish time of ``durations`` handed out longest first to the least-loaded of ``workers``."""
    loads = [0.0] * max(1, workers)
    for duration in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += duration
    return max(loads)


@dataclasses.dataclass(frozen=True)
class MethodCost:
    """What a method's probe measured: fixed seconds per cell and training seconds per step."""

    overhead_s: float
    step_s: float


def plan_steps(
    costs: dict[str, MethodCost],
    cell_methods: Sequence[str],
    workers: int,
    window_s: float,
    mode: str,
    min_steps: int,
    max_steps: int,
) -> tuple[dict[str, int], float]:
    """Training steps per method so that every cell ends inside ``window_s`` on ``workers``.

    Args:
        costs: each method's probe costs; a method with ``step_s == 0`` does not train.
        cell_methods: the method of every cell to run (a method may have several cells).
        workers: processes running cells at once.
        window_s: seconds from the first cell's start to the last cell's end.
        mode: ``"steps"``: the same step count ``N`` for every training method, the largest that
            fits; ``"time"``: the same training seconds ``B`` per cell, ``N_m = B / step_s``.
        min_steps, max_steps: bounds of every step count.

    Returns:
        ``(steps per method, planned makespan in seconds)``; with ``min_steps`` the plan may
        not fit, which the makespan shows.
    """

    def steps_for(knob: float) -> dict[str, int]:
        steps = {}
        for method in set(cell_methods):
            cost = costs[method]
            if cost.step_s <= 0:
                steps[method] = 0
            elif mode == "steps":
                steps[method] = int(knob)
            else:
                steps[method] = min(max_steps, max(min_steps, int(knob / cost.step_s)))
        return steps

    def makespan(steps: dict[str, int]) -> float:
        durations = [costs[m].overhead_s + steps[m] * costs[m].step_s for m in cell_methods]
        return longest_first_makespan(durations, workers)

    if mode == "steps":
        low, high = min_steps, max(min_steps, max_steps)
        if makespan(steps_for(high)) <= window_s:
            low = high
        while low < high:  # the largest N that fits (low always fits or is min_steps)
            middle = (low + high + 1) // 2
            if makespan(steps_for(middle)) <= window_s:
                low = middle
            else:
                high = middle - 1
        chosen = steps_for(low)
    else:
        low_s, high_s = 0.0, max(window_s, 0.0)
        for _ in range(60):
            middle_s = (low_s + high_s) / 2
            if makespan(steps_for(middle_s)) <= window_s:
                low_s = middle_s
            else:
                high_s = middle_s
        chosen = steps_for(low_s)
    return chosen, makespan(chosen)


def budget_overrides(steps: int, knobs: Sequence[str], curve_points: int) -> list[str]:
    """``--set`` overrides giving ``steps`` training steps: ``epochs=1``, each step key, validation and checkpoints."""
    overrides = ["epochs=1", f"val_every={max(1, steps // max(1, curve_points))}", f"checkpoint_every={steps}"]
    overrides += [f"{knob}={steps}" for knob in sorted(set(knobs))]
    return overrides
