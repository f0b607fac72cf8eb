"""Property-based tests of the seeded subject split (``benchmark.protocol.splits``)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.errors import BenchError
from benchmark.protocol.splits import GROUPS, group_sizes, source_subjects, split_subjects

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, database=None)

subject_ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
cohorts = st.lists(subject_ids, min_size=4, max_size=80, unique=True)
seeds = st.integers(0, 2**32 - 1)


@PROPERTY
@given(subjects=cohorts, seed=seeds)
def test_groups_partition_the_cohort_with_the_stated_sizes(subjects, seed):
    split = split_subjects(subjects, seed)
    assert tuple(split) == GROUPS
    members = [subject for group in GROUPS for subject in split[group]]
    assert len(members) == len(set(members)) == len(subjects)  # disjoint
    assert set(members) == set(subjects)  # complete
    assert all(split[group] for group in GROUPS)  # every group non-empty
    assert all(split[group] == sorted(split[group]) for group in GROUPS)
    assert {group: len(split[group]) for group in GROUPS} == group_sizes(len(subjects))


@PROPERTY
@given(n=st.integers(4, 10_000))
def test_group_sizes_keep_4_4_1_1(n):
    sizes = group_sizes(n)
    assert sum(sizes.values()) == n
    assert min(sizes.values()) >= 1
    assert sizes["validation"] == sizes["test"] == max(1, (n + 5) // 10)  # n/10, halves rounded up
    assert sizes["target"] - sizes["source"] in (0, 1)  # the odd subject goes to target


@PROPERTY
@given(subjects=cohorts, seed=seeds, data=st.data())
def test_split_depends_on_the_seed_and_the_set_of_subjects_only(subjects, seed, data):
    shuffled = data.draw(st.permutations(subjects))
    assert split_subjects(shuffled, seed) == split_subjects(subjects, seed)
    assert split_subjects(list(subjects), seed) == split_subjects(subjects, seed)


@PROPERTY
@given(subjects=cohorts, seed=seeds)
def test_source_hr_never_leaks_into_validation_or_test_in_any_setting(subjects, seed):
    split = split_subjects(subjects, seed)
    held_out = set(split["validation"]) | set(split["test"])
    assert source_subjects(split, "misaligned") == split["target"]
    assert not set(source_subjects(split, "unpaired")) & (set(split["target"]) | held_out)
    assert source_subjects(split, "unpaired") == split["source"]
    assert source_subjects(split, "n/a") == []
    for setting in ("misaligned", "unpaired"):
        assert source_subjects(split, setting)  # non-empty
        assert not set(source_subjects(split, setting)) & held_out
        # The group lists handed out are copies: a caller cannot edit the split through them.
        source_subjects(split, setting).append("intruder")
        assert "intruder" not in split["source"] + split["target"]


@PROPERTY
@given(subjects=st.lists(subject_ids, min_size=0, max_size=3, unique=True), seed=seeds)
def test_fewer_than_four_subjects_are_refused(subjects, seed):
    with pytest.raises(BenchError, match="at least 4"):
        split_subjects(subjects, seed)


@PROPERTY
@given(subjects=cohorts, seed=seeds, data=st.data())
def test_a_subject_listed_twice_is_refused(subjects, seed, data):
    twice = data.draw(st.sampled_from(subjects))
    with pytest.raises(BenchError, match="twice"):
        split_subjects([*subjects, twice], seed)
