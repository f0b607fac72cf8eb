"""Profile keys: every key a profile or ``--set`` may hold, with its type, range and default.

A profile is a flat mapping (:mod:`benchmark.profiles`); this module says what each key may
be.  The core declares the keys every learned method shares; a method plugin declares its own
(``udean_lambda5``, ``zssr_steps``) with :func:`declare` when it is imported, so a new method
adds keys without touching the core.  :func:`check_profile_keys` runs before any cell starts:

* an unknown key ends in one sentence naming the closest known key (``step_per_epoch`` →
  ``steps_per_epoch``);
* every value is checked for type and range and put in one canonical form (a float key
  given as ``1`` becomes ``1.0``, a list becomes a tuple), so that two spellings of one
  configuration share one cell identity.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.errors import BenchError

Check = Callable[[Any], Any]
"""Returns the value in canonical form, or raises ``ValueError`` with what the value must be."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a core key: its value comes from every profile's table (:mod:`benchmark.profiles`)."""


@dataclass(frozen=True)
class ProfileKey:
    """One profile key: its meaning, type and range, and (for a plugin's key) its defaults.

    A core key (``batch_size``) has a value in every profile's table, so it declares no default.
    A plugin's key (``udean_warmup``) is absent from the profiles unless ``--set`` gives it; its
    ``default`` is what :meth:`benchmark.profiles.Profile.__getitem__` returns then, and
    ``by_profile`` replaces it in the profiles it names (``zssr_steps``: 4 in ``tiny``).

    Attributes:
        name: the key, e.g. ``"batch_size"``.
        check: canonicalises a value or raises ``ValueError("must be …")``.
        help: one line for ``bench list --verbose`` and error messages.
        owner: ``"core"`` or the plugin that declared it.
        default: the value when the profile holds none (required for a plugin's key).
        by_profile: profile name → default in that profile, where it differs from ``default``.
    """

    name: str
    check: Check
    help: str = ""
    owner: str = "core"
    default: Any = REQUIRED
    by_profile: Mapping[str, Any] = field(default_factory=dict)

    def default_for(self, profile: str) -> Any:
        """The default in profile ``profile``; ``REQUIRED`` for a core key."""
        return self.by_profile.get(profile, self.default)


_DECLARED: dict[str, ProfileKey] = {}


def declare(*keys: ProfileKey) -> None:
    """Register profile keys; declaring one name twice with another owner is an error (plugins cannot shadow).

    Raises:
        ValueError: a plugin's key without a default, a default its own check refuses, or a
            name another owner declared.
    """
    for key in keys:
        known = _DECLARED.get(key.name)
        if known is not None and known.owner != key.owner:
            raise ValueError(f"profile key '{key.name}' is declared by both {known.owner} and {key.owner}.")
        if key.owner != "core" and key.default is REQUIRED:
            raise ValueError(f"profile key '{key.name}' of {key.owner} declares no default.")
        defaults = {"": key.default, **key.by_profile} if key.default is not REQUIRED else {}
        for where, value in defaults.items():
            try:
                key.check(value)
            except ValueError as error:
                place = f" in profile {where}" if where else ""
                raise ValueError(f"the default of profile key '{key.name}'{place} ({value!r}) {error}.") from None
        _DECLARED[key.name] = key


def declared_default(name: str, profile: str) -> Any:
    """The declared default of key ``name`` in profile ``profile``, canonical (as ``--set`` would give it).

    Raises:
        KeyError: no plugin declared ``name`` with a default.
    """
    key = _DECLARED.get(name)
    if key is None or key.default is REQUIRED:
        raise KeyError(name)
    return key.check(key.default_for(profile))


def declared() -> dict[str, ProfileKey]:
    """Every declared profile key by name (plugins loaded first)."""
    from benchmark.registry import load_plugins

    load_plugins()
    return dict(sorted(_DECLARED.items()))


# --------------------------------------------------------------------------- checks
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_text(minimum: float | None, maximum: float | None, open_min: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if open_min else '≥'} {minimum:g}")
    if maximum is not None:
        parts.append(f"≤ {maximum:g}")
    return " and ".join(parts)


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    """An ``int`` (not a bool) in ``[minimum, maximum]``."""
    wanted = " ".join(filter(None, ["an integer", _range_text(minimum, maximum, False)]))

    def check(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ValueError(f"must be {wanted}")
        return int(value)

    return check


def number(minimum: float | None = None, maximum: float | None = None, open_min: bool = False) -> Check:
    """A finite real number, returned as ``float``; ``open_min`` excludes ``minimum`` itself."""
    wanted = " ".join(filter(None, ["a number", _range_text(minimum, maximum, open_min)]))

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"must be {wanted}")
        value = float(value)
        too_low = minimum is not None and (value <= minimum if open_min else value < minimum)
        if too_low or (maximum is not None and value > maximum):
            raise ValueError(f"must be {wanted}")
        return value

    return check


def boolean() -> Check:
    """``True``/``False`` (also written ``true``/``false``)."""

    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("must be True or False")

    return check


def choice(*options: str) -> Check:
    """One of ``options`` (strings)."""

    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return str(value)

    return check


def int_tuple(length: int, minimum: int = 1, last: int | None = None) -> Check:
    """A tuple of ``length`` integers ≥ ``minimum``; ``last`` fixes the final one (the slab depth 3)."""
    shape = "(" + ", ".join(["n"] * (length - 1) + [str(last) if last is not None else "n"]) + ")"
    wanted = f"a tuple {shape} of integers, each n ≥ {minimum}"

    def check(value: Any) -> tuple[int, ...]:
        if not isinstance(value, (tuple, list)) or len(value) != length or not all(_is_int(v) for v in value):
            raise ValueError(f"must be {wanted}")
        free = value[:-1] if last is not None else value
        if any(v < minimum for v in free) or (last is not None and value[-1] != last):
            raise ValueError(f"must be {wanted}")
        return tuple(int(v) for v in value)

    return check


def optional(inner: Check) -> Check:
    """``None`` or a value ``inner`` accepts."""

    def check(value: Any) -> Any:
        if value is None or value == "None":
            return None
        try:
            return inner(value)
        except ValueError as error:
            raise ValueError(f"{error} or None") from None

    return check


def auto_or(inner: Check) -> Check:
    """The string ``"auto"`` or a value ``inner`` accepts."""

    def check(value: Any) -> Any:
        if value == "auto":
            return "auto"
        try:
            return inner(value)
        except ValueError as error:
            raise ValueError(f"{error} or 'auto'") from None

    return check


# --------------------------------------------------------------------------- validation
def closest_key(key: str, known: list[str]) -> str | None:
    """The declared key most like ``key`` (a typo's likely intent), or ``None``."""
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return matches[0] if matches else None


def check_profile_keys(
    values: Mapping[str, Any], profile: str, overridden: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Validate and canonicalise every key of a resolved profile.

    Args:
        values: key → value (the profile's, with ``--set`` overrides applied).
        profile: the profile's name, for messages.
        overridden: keys that came from ``--set``; their errors are worded as the user typed them.

    Returns:
        The values in canonical form, in the same key order.

    Raises:
        BenchError: an unknown key (with the closest known key) or a value of the wrong type or range.
    """
    known = declared()
    result: dict[str, Any] = {}
    for key, value in values.items():
        origin = f"--set {key}={value!r}" if key in overridden else f"profile '{profile}' key {key}={value!r}"
        if key not in known:
            guess = closest_key(key, list(known))
            hint = f"did you mean '{guess}'" if guess else "`bench list --verbose` lists every profile key"
            raise BenchError(f"{origin}: unknown profile key '{key}' ({hint}).")
        try:
            result[key] = known[key].check(value)
        except ValueError as error:
            raise BenchError(f"{origin}: {key} {error}.") from None
    if "lr_max" in result and "lr_min" in result and result["lr_min"] > result["lr_max"]:
        raise BenchError(f"profile '{profile}': lr_min {result['lr_min']:g} is above lr_max {result['lr_max']:g}.")
    return result
