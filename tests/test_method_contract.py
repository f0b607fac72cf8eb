"""The method contract (:mod:`benchmark.app.method_contract`) on every registered method, tiny profile.

One test per method and property (the shape at 2×2×2 and 2×2×1, the others at 2×2×2).  For the
built-in methods the outcome is pinned: a property listed in :data:`NOT_APPLICABLE` must be
reported as not applicable (and is skipped with the reason written there), any other must hold;
a known breach is an ``xfail(strict=True)`` in :data:`KNOWN_BREACHES`, so fixing it turns the
test red until the entry goes; a few broken variants of ``supervised`` show that each
property catches what it is about.  A third-party plugin installed beside them is checked too; a
property that does not apply to it is skipped with the contract's own reason.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.app.method_contract import PROPERTIES, SCALES, NotApplicable, check, method_class
from benchmark.plugins import METHODS
from methods.supervised import Supervised

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("tricubic", "resume_after_kill"): "tricubic has no training state: fit trains nothing, state_dict() is empty",
    ("tricubic", "inference_networks"): "tricubic has no networks: super_resolve is a cubic-spline interpolation",
    ("tricubic", "declared_updates"): "tricubic never trains: no optimiser, no Trainer.update",
    ("zero-fill", "resume_after_kill"): "zero-fill has no training state: fit trains nothing, state_dict() is empty",
    ("zero-fill", "inference_networks"): "zero-fill has no networks: super_resolve is a k-space zero-fill",
    ("zero-fill", "declared_updates"): "zero-fill never trains: no optimiser, no Trainer.update",
    ("zssr", "inference_networks"): (
        "ZSSR declares no networks: super_resolve builds and trains a fresh TS-RCAN per volume (test-time "
        "training), so there is no declared inference network and its weights change by design"
    ),
}
"""Built-in ``(method, property)`` pairs the contract cannot apply to, with the precise reason."""
for _name in METHODS.names():  # a learned method reads both, so nothing it declares can be left unread
    _cls = method_class(_name)
    if _cls.__module__.startswith("methods.") and _cls.uses_seed and _cls.needs_training_data:
        NOT_APPLICABLE[(_name, "declared_inputs")] = (
            f"{_name} learns from the training data under its seed: every option changes its cell"
        )

KNOWN_BREACHES: dict[tuple[str, str], str] = {}
"""Built-in ``(method, property)`` pairs that break the contract today, with the failing detail."""


def _built_in(name: str) -> bool:
    return method_class(name).__module__.startswith("methods.")


def _cases() -> list[pytest.param]:
    cases = []
    for name in METHODS.names():
        for prop in PROPERTIES:
            for scale in SCALES if prop == "super_resolve_shape" else SCALES[:1]:
                breach = KNOWN_BREACHES.get((name, prop))
                marks = [pytest.mark.xfail(strict=True, raises=AssertionError, reason=breach)] if breach else []
                cases.append(pytest.param(name, prop, scale, id=f"{name}-{prop}-{scale}", marks=marks))
    return cases


@pytest.mark.parametrize(("name", "prop", "scale"), _cases())
def test_method_contract(name, prop, scale, tmp_path) -> None:
    reason = NOT_APPLICABLE.get((name, prop))
    try:
        check(prop, name, tmp_path, scale=scale)
    except NotApplicable as verdict:
        if reason is None and _built_in(name):
            pytest.fail(f"the contract no longer applies to built-in {name} for {prop}: {verdict}")
        pytest.skip(f"{reason} ({verdict})" if reason else str(verdict))
    assert reason is None, f"{prop} now applies to {name} and holds: remove it from NOT_APPLICABLE ({reason})"


def test_known_lists_name_registered_methods_and_properties() -> None:
    names = set(METHODS.names())
    for name, prop in {**NOT_APPLICABLE, **KNOWN_BREACHES}:
        assert name in names, f"{name} is not a registered method"
        assert prop in PROPERTIES, f"{prop} is not a contract property"


# ----------------------------------------------------------------------------- the contract bites
class _Delegating:
    """A training plan passing everything to ``plan``; subclasses change one thing."""

    def __init__(self, plan) -> None:
        self.plan = plan
        self.networks = plan.networks
        self.optimised = plan.optimised

    def __getattr__(self, name):
        return getattr(self.plan, name)

    def sample_batch(self, rng):
        return self.plan.sample_batch(rng)

    def train_step(self, batch, trainer):
        return self.plan.train_step(batch, trainer)

    def validate(self):
        return self.plan.validate()


class _GlobalRandomBatches(Supervised):
    """Draws batches from NumPy's global generator, which no checkpoint holds."""

    def make_plan(self, data, run):
        class Plan(_Delegating):
            def sample_batch(self, rng):
                return self.plan.sample_batch(np.random.default_rng(np.random.randint(2**31)))

        return Plan(super().make_plan(data, run))


class _NudgeOutsideUpdate(Supervised):
    """Moves the SR network's weights in place after each step, outside any update."""

    def make_plan(self, data, run):
        class Plan(_Delegating):
            def train_step(self, batch, trainer):
                losses = self.plan.train_step(batch, trainer)
                with torch.no_grad():
                    next(self.networks["sr"].parameters()).add_(1e-3)
                return losses

        return Plan(super().make_plan(data, run))


class _IdleCritic(Supervised):
    """Declares a critic under the generator optimiser that no loss reaches."""

    @classmethod
    def build_networks(cls, scale, profile):
        return {**super().build_networks(scale, profile), "critic": nn.Conv2d(3, 3, 1)}

    def make_plan(self, data, run):
        plan = _Delegating(super().make_plan(data, run))
        plan.networks = {**plan.networks, "critic": self.networks["critic"]}
        plan.optimised = {"generator": ["sr", "critic"]}
        return plan


class _CriticAtInference(_IdleCritic):
    """Runs its critic during super_resolve."""

    def super_resolve(self, lr):
        self.networks["critic"](torch.zeros(1, 3, 4, 4))
        return super().super_resolve(lr)


class _ForgetfulState(Supervised):
    """Loads nothing from its state."""

    def load_state_dict(self, state) -> None:
        del state


@pytest.mark.parametrize(
    ("mutant", "prop", "message"),
    [
        (_GlobalRandomBatches, "resume_after_kill", "weights differ from an uninterrupted fit"),
        (_NudgeOutsideUpdate, "declared_updates", "changed between updates, outside Trainer.update"),
        (_IdleCritic, "declared_updates", r"never got a non-zero gradient: critic \('generator'\)"),
        (_CriticAtInference, "inference_networks", "ran modules outside inference_network\\(\\): critic"),
        (_ForgetfulState, "state_round_trip", "super-resolves differently"),
    ],
    ids=lambda value: value.__name__.strip("_") if isinstance(value, type) else None,
)
def test_the_contract_catches_a_broken_method(mutant, prop, message, tmp_path) -> None:
    with pytest.raises(AssertionError, match=message):
        check(prop, mutant, tmp_path)
