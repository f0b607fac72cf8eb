"""Protocol variants of a results table: which degradations, profile overrides and precision made a row.

A *variant* is ``(train_degradation, test_degradation, overrides, precision)``.  Rows of different
variants are different experiments: averaging them would mix, say, k-space-truncation and
noisy test inputs, or fp32 and bf16 training, into one number.  Tables I and II (and the paper comparison) are therefore
written once per variant, never across variants (see :func:`reports.build.write_reports`).

The *default* variant is the paper's protocol with the profile as defined, in float32: training
and test LR by k-space truncation (``kspace``), no ``--set`` override, ``fp32``.  Stores written
before these columns existed hold the default variant only.  Another precision (``bf16``, the
default on most GPUs, or ``fp16``) is a variant of its own: its tables carry ``_bf16`` in their
names and open with a line naming it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pandas as pd

from benchmark.results.schema import DEFAULT_DEGRADATION, DEFAULT_PRECISION, TEXT_DEFAULTS, VARIANT_COLUMNS

MAX_OVERRIDES_IN_NAME = 40


def degradation_sort_key(name: str) -> tuple[bool, str]:
    """Sort key: the paper's ``kspace`` first, then the other degradations alphabetically."""
    return (name != DEFAULT_DEGRADATION, name)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


@dataclass(frozen=True)
class Variant:
    """One protocol variant: the degradations of the training target and test LR, the overrides, the precision.

    Attributes:
        train_degradation: degradation making the target LR of training, e.g. ``"kspace"``.
        test_degradation: degradation making the validation and test LR.
        overrides: the profile overrides, canonical ``key=value;key=value``, or ``""``.
        precision: the precision the cells ran in: ``fp32``, ``bf16`` or ``fp16``.
    """

    train_degradation: str = DEFAULT_DEGRADATION
    test_degradation: str = DEFAULT_DEGRADATION
    overrides: str = ""
    precision: str = DEFAULT_PRECISION

    @property
    def is_default(self) -> bool:
        """Whether this is the paper's protocol: ``kspace`` for training and test, no override, fp32."""
        return self == Variant()

    def columns(self) -> dict[str, str]:
        """The variant as the values of :data:`~benchmark.results.schema.VARIANT_COLUMNS`, e.g. for a CSV table."""
        values = (self.train_degradation, self.test_degradation, self.overrides, self.precision)
        return dict(zip(VARIANT_COLUMNS, values, strict=True))

    @property
    def paper_degradations(self) -> bool:
        """Whether both degradations are the paper's (``kspace``), whatever the overrides."""
        return self.train_degradation == self.test_degradation == DEFAULT_DEGRADATION

    def suffix(self) -> str:
        """File-name suffix: ``""`` for the default variant, else ``_<degradations>_<overrides>``.

        Degradations are written ``<name>`` when training and test agree and
        ``<train>-to-<test>`` otherwise, and left out when both are ``kspace``; overrides are
        written with every run of other characters than ``[A-Za-z0-9._-]`` as ``-``, or as
        ``overrides-<8 hex digits of their SHA-256>`` when longer than
        :data:`MAX_OVERRIDES_IN_NAME` characters; a precision other than fp32 comes last.
        Examples: ``_kspace-to-kspace-noise``, ``_elliptical``, ``_epochs-2``, ``_bf16``.
        """
        parts = []
        if not self.paper_degradations:
            if self.train_degradation == self.test_degradation:
                parts.append(_safe(self.train_degradation))
            else:
                parts.append(f"{_safe(self.train_degradation)}-to-{_safe(self.test_degradation)}")
        if self.overrides:
            name = _safe(self.overrides)
            if len(name) > MAX_OVERRIDES_IN_NAME:
                name = "overrides-" + hashlib.sha256(self.overrides.encode()).hexdigest()[:8]
            parts.append(name)
        if self.precision != DEFAULT_PRECISION:
            parts.append(_safe(self.precision))
        return "".join(f"_{part}" for part in parts)

    def description(self) -> str:
        """One sentence for a table caption, e.g. ``Training LR by kspace, test LR by kspace-noise; no override.``

        A precision other than fp32 is named last: ``…; no override; bf16 autocast.``
        """
        overrides = f"overrides {self.overrides}" if self.overrides else "no override"
        precision = f"; {self.precision} autocast" if self.precision != DEFAULT_PRECISION else ""
        return f"Training LR by {self.train_degradation}, test LR by {self.test_degradation}; {overrides}{precision}."


def with_variant_columns(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with every variant column present: absent ones take the default (old stores)."""
    missing = {name: TEXT_DEFAULTS[name] for name in VARIANT_COLUMNS if name not in results.columns}
    return results.assign(**missing) if missing else results


def split_variants(results: pd.DataFrame) -> list[tuple[Variant, pd.DataFrame]]:
    """The rows of each variant, the default variant first, then by precision (fp32 first), overrides and degradations.

    Args:
        results: the long results table (variant columns optional).

    Returns:
        ``(variant, rows)`` pairs; ``rows`` keeps the table's columns (no column is added) and
        has a fresh index.
    """
    filled = with_variant_columns(results)
    keys = filled[list(VARIANT_COLUMNS)].astype(str)
    variants = {Variant(*row) for row in keys.itertuples(index=False)}
    ordered = sorted(
        variants,
        key=lambda v: (
            not v.is_default,
            v.precision != DEFAULT_PRECISION,
            v.precision,
            v.overrides,
            degradation_sort_key(v.test_degradation),
            degradation_sort_key(v.train_degradation),
        ),
    )
    out = []
    for variant in ordered:
        chosen = (
            (keys["train_degradation"] == variant.train_degradation)
            & (keys["test_degradation"] == variant.test_degradation)
            & (keys["overrides"] == variant.overrides)
            & (keys["precision"] == variant.precision)
        )
        out.append((variant, results[chosen.to_numpy()].reset_index(drop=True)))
    return out
