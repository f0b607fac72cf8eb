"""Split a dataset's subjects into the protocol's four groups, seeded.

The paper uses 120/120/30/30 of 300 subjects for the source, target, validation and test
groups; smaller datasets keep the proportions 4:4:1:1 with at least one subject per group.
The split does not depend on the setting: in the ``unpaired`` setting the source HR comes
from the source subjects, in the ``misaligned`` setting from the target subjects (moved),
and in ``n/a`` (methods without source HR) there is none.
"""

from __future__ import annotations

import numpy as np

from benchmark.errors import BenchError
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING, SETTINGS, UNPAIRED

GROUPS = ("source", "target", "validation", "test")


def group_sizes(n_subjects: int) -> dict[str, int]:
    """Sizes of the four groups for ``n_subjects`` subjects (4:4:1:1, at least one each).

    Validation and test get ``round(n / 10)`` (at least 1) each; the rest is halved between
    source and target, the odd subject going to target.
    """
    held_out = max(1, int(n_subjects / 10 + 0.5))
    rest = n_subjects - 2 * held_out
    return {"source": rest // 2, "target": rest - rest // 2, "validation": held_out, "test": held_out}


def split_subjects(subjects: list[str], seed: int) -> dict[str, list[str]]:
    """Seeded, disjoint split of subjects into ``source``, ``target``, ``validation``, ``test``.

    Args:
        subjects: unique subject identifiers; their order does not matter (they are sorted).
        seed: split seed; the same seed and subjects give the same split.

    Returns:
        Group name → sorted subject list, proportions 4:4:1:1 (e.g. 120/120/30/30 of 300,
        8/8/2/2 of 20, 4/4/1/1 of 10), at least one subject per group.  The same split serves
        every setting; see :func:`source_subjects`.

    Raises:
        BenchError: fewer than 4 subjects, or a subject listed twice.
    """
    ordered = sorted(subjects)
    if len(set(ordered)) != len(ordered):
        raise BenchError("the dataset lists a subject twice, so it cannot be split by subject.")
    if len(ordered) < len(GROUPS):
        raise BenchError(f"the dataset has {len(ordered)} subject(s) but the protocol needs at least 4, one per group.")
    permuted = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    split: dict[str, list[str]] = {}
    start = 0
    for group, size in group_sizes(len(ordered)).items():
        split[group] = sorted(permuted[start : start + size])
        start += size
    return split


def source_subjects(split: dict[str, list[str]], setting: str) -> list[str]:
    """Subjects whose HR volumes form the source group in ``setting``.

    Args:
        split: the output of :func:`split_subjects`.
        setting: ``"misaligned"`` (the target subjects, whose HR is then moved),
            ``"unpaired"`` (the source subjects, disjoint from the others) or ``"n/a"`` (none).

    Returns:
        The source subjects, sorted.

    Raises:
        BenchError: unknown setting.
    """
    if setting == MISALIGNED:
        return list(split["target"])
    if setting == UNPAIRED:
        return list(split["source"])
    if setting == NO_SETTING:
        return []
    raise BenchError(f"unknown setting '{setting}'; known: {', '.join(SETTINGS)}.")
