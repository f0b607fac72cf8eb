"""Seeded subject split into source, target, validation and test groups."""

from __future__ import annotations

import pytest

from benchmark.errors import BenchError
from benchmark.protocol.splits import GROUPS, source_subjects, split_subjects


def names(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(n)]


@pytest.mark.parametrize(
    ("n", "sizes"),
    [(300, (120, 120, 30, 30)), (20, (8, 8, 2, 2)), (10, (4, 4, 1, 1)), (4, (1, 1, 1, 1)), (7, (2, 3, 1, 1))],
)
def test_sizes_disjoint_and_complete(n, sizes):
    split = split_subjects(names(n), seed=0)
    assert tuple(len(split[group]) for group in GROUPS) == sizes
    members = [subject for group in GROUPS for subject in split[group]]
    assert len(set(members)) == len(members) == n
    assert set(members) == set(names(n))


def test_same_seed_same_split_and_order_does_not_matter():
    subjects = names(20)
    assert split_subjects(subjects, seed=5) == split_subjects(list(reversed(subjects)), seed=5)
    assert split_subjects(subjects, seed=5) != split_subjects(subjects, seed=6)


def test_too_few_or_duplicate_subjects():
    with pytest.raises(BenchError, match="at least 4"):
        split_subjects(names(3), seed=0)
    with pytest.raises(BenchError, match="twice"):
        split_subjects(["a", "b", "c", "d", "a"], seed=0)


def test_source_subjects_per_setting():
    split = split_subjects(names(10), seed=1)
    assert source_subjects(split, "misaligned") == split["target"]
    assert source_subjects(split, "unpaired") == split["source"]
    assert source_subjects(split, "n/a") == []
    unpaired = set(source_subjects(split, "unpaired"))
    assert not unpaired & set(split["target"] + split["validation"] + split["test"])
    with pytest.raises(BenchError, match="unknown setting"):
        source_subjects(split, "paired")
