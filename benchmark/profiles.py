"""Profiles: named bundles of sizes and budgets (``tiny`` for tests, ``quick`` for CPU, ``paper`` for GPU).

A profile is a flat mapping of settings that every learned method reads the same way, so
that all methods share one backbone size and one training set-up.  Method-specific keys
are allowed (``zssr_steps``); a method reads them with :meth:`Profile.get` and a default.
``bench run --set key=value`` overrides any key for one run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BenchError

_COMMON: dict[str, Any] = {
    # Patches (voxels). The HR patch is the LR patch times the scale.
    "lr_patch": (64, 64, 3),
    # Shared TS-RCAN decoder / encoder / discriminator sizes.
    "n_resgroups": 5,
    "n_rcab": 5,
    "n_feats": 64,
    "reduction": 16,
    "encoder_feats": 64,
    "disc_feats": 64,
    # Image-to-image SR paths add a linear up-sampling of their input (off: the authors' TS-RCAN).
    "global_skip": False,
    # Training set-up shared by every learned method (paper Sec. II.E).
    "batch_size": 8,
    "epochs": 30,
    # "auto": one epoch = as many LR patch voxels as the target LR volumes hold.
    "steps_per_epoch": "auto",
    "lr_max": 1e-4,
    "lr_min": 1e-8,
    "adam_betas": (0.9, 0.99),
    "adam_eps": 1e-8,
    "val_every": 1000,
    "checkpoint_every": 500,
    # Whole-volume inference: in-plane LR tile size (voxels) and tiles per forward pass.
    "infer_tile": 128,
    "infer_batch": 8,
    # Subjects per dataset split (None: the whole dataset).
    "max_subjects": None,
}

PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(_COMMON),
    "quick": {
        **_COMMON,
        "lr_patch": (32, 32, 3),
        "n_resgroups": 2,
        "n_rcab": 2,
        "n_feats": 16,
        "reduction": 8,
        "encoder_feats": 16,
        "disc_feats": 16,
        "global_skip": True,
        "batch_size": 4,
        "epochs": 1,
        "steps_per_epoch": 300,
        "lr_max": 5e-4,
        "val_every": 100,
        "checkpoint_every": 100,
    },
    "tiny": {
        **_COMMON,
        "lr_patch": (8, 8, 3),
        "n_resgroups": 1,
        "n_rcab": 1,
        "n_feats": 8,
        "reduction": 4,
        "encoder_feats": 8,
        "disc_feats": 8,
        "global_skip": True,
        "batch_size": 2,
        "epochs": 1,
        "steps_per_epoch": 4,
        "val_every": 2,
        "checkpoint_every": 2,
        "infer_tile": 16,
        "infer_batch": 4,
    },
}


@dataclass(frozen=True)
class Profile:
    """A named, resolved set of settings."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.settings[key]
        except KeyError:
            raise KeyError(f"profile '{self.name}' has no setting '{key}'") from None

    def get(self, key: str, default: Any = None) -> Any:
        """Setting ``key`` or ``default``."""
        return self.settings.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists when written as JSON)."""
        return {"name": self.name, **dict(self.settings)}


def load_profile(name: str, overrides: Iterable[str] = ()) -> Profile:
    """Build profile ``name`` with ``key=value`` overrides (values parsed as Python literals)."""
    if name not in PROFILES:
        raise BenchError(f"unknown profile '{name}'; known: {', '.join(PROFILES)}.")
    settings = dict(PROFILES[name])
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"override '{item}' is not of the form key=value.")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        settings[key] = tuple(value) if isinstance(value, list) else value
    return Profile(name, settings)
