"""Profiles: named bundles of sizes and budgets (``tiny`` for tests, ``quick`` for CPU, ``paper`` for GPU).

A profile is a flat mapping of keys that every learned method reads the same way, so
that all methods share one backbone size and one training set-up.  Method-specific keys
(``zssr_steps``) are declared by their plugin with their defaults (:class:`benchmark.profile_keys.ProfileKey`);
a method reads every key as ``profile[key]``.  ``bench run --set key=value`` overrides any key
for one run.  A cell's identity holds the overrides that differ from the profile's table, so a
declared default never changes which folder a cell lives in.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BenchError
from benchmark.profile_keys import (
    ProfileKey,
    auto_or,
    boolean,
    check_profile_keys,
    choice,
    declare,
    declared,
    declared_default,
    int_tuple,
    integer,
    number,
    optional,
)

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
    # Image-to-image SR paths add a fixed up-sampling of their input (off: the authors' TS-RCAN),
    # tricubic made local to a slab ("cubic") or linear interpolation ("linear").
    "global_skip": False,
    "skip_interpolation": "cubic",
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
    # Validation: whole volumes, scored as the test is; the first val_volumes validation pairs by subject.
    "val_volumes": 2,
    # Central crop (LR voxels) of each validation pair for the training instruments that are not the
    # validation score (DASR's degradation PSNR, ZSSR's son reconstruction).
    "val_crop": (48, 48, 12),
    # Subjects per dataset split (None: the whole dataset).
    "max_subjects": None,
}


def _betas(value: Any) -> tuple[float, float]:
    """Adam's ``(beta1, beta2)``, each in ``[0, 1)``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        try:
            betas = tuple(number(0, 1)(v) for v in value)
        except ValueError:
            pass
        else:
            if all(b < 1 for b in betas):
                return betas  # type: ignore[return-value]
    raise ValueError("must be a pair (beta1, beta2) of numbers in [0, 1)")


declare(
    ProfileKey("lr_patch", int_tuple(3, minimum=4, last=3), "LR training patch (px, py, 3) in voxels; 3 = slab depth"),
    ProfileKey("n_resgroups", integer(1), "TS-RCAN residual groups"),
    ProfileKey("n_rcab", integer(1), "RCABs per residual group"),
    ProfileKey("n_feats", integer(1), "TS-RCAN feature channels"),
    ProfileKey("reduction", integer(1), "channel-attention reduction"),
    ProfileKey("encoder_feats", integer(1), "encoder feature channels"),
    ProfileKey("disc_feats", integer(1), "discriminator feature channels"),
    ProfileKey("global_skip", boolean(), "image-to-image SR paths add a fixed up-sampling of their input"),
    ProfileKey("skip_interpolation", choice("cubic", "linear"), "the global skip's kernel: local tricubic, or linear"),
    ProfileKey("batch_size", integer(1), "patches per training step"),
    ProfileKey("epochs", integer(1), "training epochs"),
    ProfileKey("steps_per_epoch", auto_or(integer(1)), "steps per epoch; auto sizes an epoch from the data"),
    ProfileKey("lr_max", number(0, open_min=True), "peak learning rate (cosine decay starts here)"),
    ProfileKey("lr_min", number(0), "final learning rate"),
    ProfileKey("adam_betas", _betas, "Adam (beta1, beta2), each in [0, 1)"),
    ProfileKey("adam_eps", number(0, open_min=True), "Adam epsilon"),
    ProfileKey("val_every", integer(1), "steps between validations"),
    ProfileKey("checkpoint_every", integer(1), "steps between checkpoints"),
    ProfileKey("infer_tile", integer(8), "in-plane LR tile side at inference (voxels)"),
    ProfileKey("infer_batch", integer(1), "tiles per forward pass at inference"),
    ProfileKey("val_volumes", integer(1), "validation volumes scored at each validation (whole, as the test)"),
    ProfileKey("val_crop", int_tuple(3, minimum=3), "crop (LR voxels) of the instruments: DASR's G_d PSNR, ZSSR's son"),
    ProfileKey("max_subjects", optional(integer(4)), "use only the first N subjects (sorted); None: all"),
)


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
    """A named, resolved set of profile keys.

    Attributes:
        name: the base profile (``paper``, ``quick``, ``tiny``).
        values: every key's value, overrides applied, in canonical form.
        overrides: the ``--set`` keys whose value differs from the base profile's, sorted.
    """

    name: str
    values: Mapping[str, Any] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Any:
        """Setting ``key``: the profile's (``--set`` applied), else the default its owner declared.

        Raises:
            KeyError: ``key`` is neither in the profile nor declared with a default.
        """
        if key in self.values:
            return self.values[key]
        try:
            return declared_default(key, self.name)
        except KeyError:
            raise KeyError(f"profile '{self.name}' has no profile key '{key}'") from None

    def get(self, key: str, default: Any = None) -> Any:
        """Setting ``key`` as ``profile[key]`` gives it, or ``default`` for a key nobody declared."""
        try:
            return self[key]
        except KeyError:
            return default

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (tuples become lists when written as JSON)."""
        return {"name": self.name, **dict(self.values)}

    def for_method(self, method: str) -> Profile:
        """This profile as method ``method`` sees it: without the overrides of keys another method owns.

        ``--set udean_lambda5=0.3`` on a matrix of several methods changes UDEAN's cells only; the
        others keep their identity (no duplicate ``_set-…`` cell). A key owned by ``owner``
        applies to the methods named ``owner`` or ``owner-…`` (``udean`` → ``udean-image-da``);
        shared (``core``) keys apply to every method.
        """
        owners = {name: setting.owner for name, setting in declared().items()}
        foreign = [key for key in self.overrides if not key_applies(owners.get(key, "core"), method)]
        if not foreign:
            return self
        kept = [f"{key}={self.values[key]!r}" for key in self.overrides if key not in foreign]
        return load_profile(self.name, kept)

    def overrides_text(self) -> str:
        """The overrides in canonical form, ``key=value;key=value`` (sorted), or ``""``."""
        return ";".join(f"{key}={_text(self.values[key])}" for key in self.overrides)


def key_applies(owner: str, method: str) -> bool:
    """Whether a profile key declared by ``owner`` applies to ``method`` (see :meth:`Profile.for_method`)."""
    return owner == "core" or method == owner or method.startswith(f"{owner}-")


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_text(v) for v in value) + ")"
    return repr(value) if isinstance(value, float) else str(value)


def load_profile(name: str, overrides: Iterable[str] = ()) -> Profile:
    """Build profile ``name`` with ``key=value`` overrides (values parsed as Python literals).

    Every key and value is checked (:func:`benchmark.profile_keys.check_profile_keys`) before any cell
    starts; an override equal to the profile's own value is no override.

    Raises:
        BenchError: unknown profile, malformed override, unknown key or invalid value.
    """
    if name not in PROFILES:
        raise BenchError(f"unknown profile '{name}'; known: {', '.join(PROFILES)}.")
    values = dict(PROFILES[name])
    given: set[str] = set()
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"override '{item}' is not of the form key=value.")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        value = tuple(value) if isinstance(value, list) else value
        if key in given:
            raise BenchError(f"--set {key} is given twice ({values[key]!r} and {value!r}); give it once.")
        values[key] = value
        given.add(key)
    resolved = check_profile_keys(values, name, frozenset(given))
    base = check_profile_keys(PROFILES[name], name)
    changed = tuple(sorted(key for key in resolved if key not in base or base[key] != resolved[key]))
    return Profile(name, resolved, changed)
