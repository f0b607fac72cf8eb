"""ZSSR's profile keys, declared with their defaults, and :class:`ZSSRConfig`, the configuration read from them."""

from __future__ import annotations

import dataclasses

from benchmark.api import (
    Profile,
    ProfileKey,
    boolean,
    choice,
    declare,
    integer,
    number,
    optional,
)

BACK_PROJECTION_ITERS = 10
"""ZSSR's ``back_projection_iters = [10]``: per ensemble variant, and again after the median."""

ZSSR_LEARNING_RATE = 1e-3

declare(
    ProfileKey(
        "zssr_steps",
        integer(1),
        "iterations per test volume (ZSSR's max_iters = 3000)",
        owner="zssr",
        default=3000,
        by_profile={"tiny": 4, "quick": 600},
    ),
    ProfileKey(
        "zssr_ensemble",
        boolean(),
        "geometric self-ensemble at test time",
        owner="zssr",
        default=False,
        by_profile={"paper": True},
    ),
    ProfileKey("zssr_lr_policy", choice("zssr", "cosine"), "learning-rate policy", owner="zssr", default="zssr"),
    ProfileKey("zssr_lr", number(0, open_min=True), "initial learning rate", owner="zssr", default=ZSSR_LEARNING_RATE),
    ProfileKey("zssr_noise_std", number(0), "std of noise added to the son", owner="zssr", default=0.0),
    ProfileKey("zssr_augment", boolean(), "random dihedral augmentation", owner="zssr", default=True),
    ProfileKey(
        "zssr_learn_residual",
        boolean(),
        "the network learns the residual over cubic interpolation",
        owner="zssr",
        default=True,
    ),
    ProfileKey(
        "zssr_back_projection",
        integer(0),
        "back-projection iterations per ensemble variant and final",
        owner="zssr",
        default=BACK_PROJECTION_ITERS,
    ),
    ProfileKey(
        "zssr_back_projection_up",
        choice("kspace", "cubic"),
        "back-projection's up-projection of the LR residual: k-space zero-fill or cubic",
        owner="zssr",
        default="kspace",
    ),
    ProfileKey(
        "zssr_batch_size",
        optional(integer(1)),
        "son/father pairs per iteration (None: the profile's batch_size; ZSSR's one crop in paper)",
        owner="zssr",
        default=None,
        by_profile={"paper": 1},
    ),
)


@dataclasses.dataclass(frozen=True)
class ZSSRConfig:
    """Per-volume training configuration, read from the profile keys.

    Attributes:
        steps: iterations per volume (``zssr_steps``).
        ensemble: 8-variant geometric self-ensemble at test time (``zssr_ensemble``).
        lr_policy: ``"zssr"`` (ZSSR's adaptive policy) or ``"cosine"`` (shared schedule).
        learning_rate: initial rate of the ``"zssr"`` policy (``zssr_lr``).
        noise_std: std of Gaussian noise added to the son patches (``zssr_noise_std``).
        augment: random in-plane rotations/flips of the pairs (``zssr_augment``).
        learn_residual: the output is the network's plus the cubic interpolation of its input
            (``zssr_learn_residual``, ZSSR's ``learn_residual``).
        back_projection: back-projection iterations for each ensemble variant and again for
            their median (``zssr_back_projection``, ZSSR's ``back_projection_iters``).
        back_projection_up: ``"kspace"`` or ``"cubic"`` (``zssr_back_projection_up``), the ``up``
            of :func:`back_projection_step`.
        batch_size: son/father pairs per iteration (``zssr_batch_size``, else the profile's ``batch_size``).

    The defaults of every key are declared once, with the keys above (``bench list --verbose``).
    """

    steps: int
    ensemble: bool
    lr_policy: str
    learning_rate: float
    noise_std: float
    augment: bool
    learn_residual: bool
    back_projection: int
    back_projection_up: str
    batch_size: int

    @classmethod
    def from_profile(cls, profile: Profile) -> ZSSRConfig:
        """Configuration from the ``zssr_*`` keys (their declared defaults, per profile, where not set)."""
        batch_size = profile["zssr_batch_size"]
        return cls(
            steps=profile["zssr_steps"],
            ensemble=profile["zssr_ensemble"],
            lr_policy=profile["zssr_lr_policy"],
            learning_rate=profile["zssr_lr"],
            noise_std=profile["zssr_noise_std"],
            augment=profile["zssr_augment"],
            learn_residual=profile["zssr_learn_residual"],
            back_projection=profile["zssr_back_projection"],
            back_projection_up=profile["zssr_back_projection_up"],
            batch_size=profile["batch_size"] if batch_size is None else batch_size,
        )
