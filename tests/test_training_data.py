"""TrainingData gives a method exactly the groups it declares, through a public view."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.volume import Volume
from benchmark.protocol.training_data import DataAccessError, TrainingData, VolumePair
from benchmark.scale import Scale

SCALE = Scale(2, 2, 2)


def _volume(subject: str, shape: tuple[int, int, int] = (4, 4, 4)) -> Volume:
    return Volume(np.zeros(shape, np.float32), np.eye(4), subject)


@pytest.fixture
def full() -> TrainingData:
    """Every group of a misaligned cell, as the protocol builds it."""
    return TrainingData(
        scale=SCALE,
        setting="misaligned",
        _source_hr=[_volume("moved")],
        _target_lr=[_volume("lr", (2, 2, 2))],
        _validation=[VolumePair(lr=_volume("val-lr", (2, 2, 2)), hr=_volume("val-hr"))],
        _target_hr=[_volume("aligned")],
    )


def test_a_method_with_source_hr_sees_it_and_not_the_aligned_target(full):
    view = full.for_method(setting="misaligned", uses_source_hr=True, uses_aligned_target_hr=False)
    assert [v.subject for v in view.source_hr] == ["moved"]
    assert [v.subject for v in view.target_lr] == ["lr"] and len(view.validation) == 1
    with pytest.raises(DataAccessError, match="uses_aligned_target_hr"):
        _ = view.target_hr
    assert view.reads == {"source_hr", "target_lr", "validation"}
    assert full.reads == set()  # the view records its own reads


def test_a_method_without_source_hr_gets_none_of_it(full):
    view = full.for_method(setting="n/a", uses_source_hr=False, uses_aligned_target_hr=False)
    assert view.setting == "n/a" and view.scale == SCALE
    with pytest.raises(DataAccessError, match="uses_source_hr = False"):
        _ = view.source_hr
    assert [v.subject for v in view.target_lr] == ["lr"]
    view.allow_source_hr = True  # a method that lifts the guard still finds no source volume
    assert view.source_hr == []


def test_an_oracle_sees_the_aligned_target(full):
    view = full.for_method(setting="misaligned", uses_source_hr=True, uses_aligned_target_hr=True)
    assert [v.subject for v in view.target_hr] == ["aligned"]
    assert view.reads == {"target_hr"}
