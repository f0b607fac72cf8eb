"""What a method's training step is, asked of the method registry: its ``--set`` step key, its patches per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def step_knobs(method_names: Sequence[str]) -> dict[str, str | None]:
    """The ``--set`` key giving each method's training steps, or ``None`` for a method that does not train.

    A method's own ``<name>_steps`` setting (ZSSR's per-volume iterations) wins; a method trained
    by the shared trainer uses ``steps_per_epoch`` (with ``epochs=1``).
    """
    from benchmark.plugins import METHODS
    from benchmark.profile_keys import declared
    from methods.thin_slab import ThinSlabMethod

    settings = declared()
    knobs: dict[str, str | None] = {}
    for name in method_names:
        own = f"{name}_steps"
        if own in settings and settings[own].owner == name:
            knobs[name] = own
        elif issubclass(METHODS.factory(name), ThinSlabMethod):
            knobs[name] = "steps_per_epoch"
        else:
            knobs[name] = None
    return knobs


def patches_per_step(method: str, scale: str, profile: Any) -> int:
    """Patches (or son/father pairs) per training step: a method's own ``config.batch_size``, else the profile's."""
    from benchmark.plugins import METHODS
    from benchmark.scale import Scale

    instance = METHODS.create(method, scale=Scale.parse(scale), profile=profile)
    own = getattr(getattr(instance, "config", None), "batch_size", None)
    return int(own if own is not None else profile["batch_size"])
