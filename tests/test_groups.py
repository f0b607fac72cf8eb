"""From a dataset to the groups of one cell."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from rich.progress import Progress
from scipy.ndimage import gaussian_filter

from benchmark.data.dataset import Dataset
from benchmark.data.volume import Volume
from benchmark.errors import BenchError
from benchmark.protocol.degradations import kspace_truncate
from benchmark.protocol.groups import build_groups, crop_to_scale
from benchmark.scale import Scale

SCALE = Scale(2, 2, 2)
LR_PATCH = (4, 4, 3)  # HR patch (8, 8, 6)
AFFINE = np.array([[1.0, 0, 0, -10], [0, 1.2, 0, -20], [0, 0, 1.5, -30], [0, 0, 0, 1]])


class TinyDataset(Dataset):
    """Ten smooth random volumes of shape (23, 22, 15) (cropped to (22, 22, 14)), counting loads."""

    def __init__(self, n: int = 10, shape: tuple[int, int, int] = (23, 22, 15), small: str | None = None) -> None:
        self.names = [f"sub-{i:02d}" for i in range(n)]
        self.shape = shape
        self.small = small
        self.loads: dict[str, int] = {}

    def subjects(self) -> list[str]:
        return list(self.names)

    def load(self, subject: str) -> Volume:
        self.loads[subject] = self.loads.get(subject, 0) + 1
        shape = (7, 22, 15) if subject == self.small else self.shape
        noise = gaussian_filter(np.random.default_rng(self.names.index(subject)).random(shape), 1.5)
        data = (noise - noise.min()) / (noise.max() - noise.min())
        return Volume(data.astype(np.float32), AFFINE.copy(), subject)


def build(dataset: Dataset, setting: str, **kwargs):
    options = {"split_seed": 0, "misalign_seed": 1, "lr_patch": LR_PATCH, **kwargs}
    return build_groups(dataset, SCALE, setting, **options)


def test_misaligned_source_is_the_moved_target():
    dataset = TinyDataset()
    cell = build(dataset, "misaligned")
    split = cell.records["split"]
    training = cell.training
    assert cell.records["source_subjects"] == split["target"]
    assert [v.subject for v in training.source_hr] == split["target"]
    assert sorted(cell.records["misalignment"]) == split["target"]
    for source, target in zip(training._source_hr, training._target_hr):
        assert source.shape == target.shape == (22, 22, 14)
        assert not np.allclose(source.data, target.data)
    for lr, hr in zip(training.target_lr, training._target_hr):
        assert lr.shape == (11, 11, 7)
        np.testing.assert_allclose(lr.data, kspace_truncate(hr.data, SCALE))
        np.testing.assert_allclose(lr.affine, hr.affine @ np.diag([2.0, 2.0, 2.0, 1.0]))
    assert all(count == 1 for count in dataset.loads.values())
    assert set(dataset.loads) == set(split["target"] + split["validation"] + split["test"])


def test_unpaired_source_is_disjoint():
    dataset = TinyDataset()
    cell = build(dataset, "unpaired")
    split = cell.records["split"]
    sources = [v.subject for v in cell.training.source_hr]
    assert sources == split["source"]
    assert not set(sources) & set(split["target"] + split["validation"] + split["test"])
    assert cell.records["misalignment"] == {}
    assert all(count == 1 for count in dataset.loads.values())
    assert len(dataset.loads) == 10


def test_na_has_no_source():
    cell = build(TinyDataset(), "n/a")
    assert cell.training._source_hr == []
    assert cell.records["source_subjects"] == []
    assert len(cell.training.target_lr) == 4


@pytest.mark.parametrize("setting", ["misaligned", "unpaired", "n/a"])
def test_test_hr_never_inside_training_data(setting):
    cell = build(TinyDataset(), setting)
    training = cell.training
    inside = [*training._source_hr, *training._target_hr, *training._target_lr]
    inside += [v for pair in training._validation for v in (pair.lr, pair.hr)]
    test_subjects = {pair.hr.subject for pair in cell.test}
    assert len(cell.test) == 1
    assert not test_subjects & {v.subject for v in inside}
    for pair in cell.test:
        assert not any(np.shares_memory(pair.hr.data, v.data) for v in inside)


def test_same_seeds_same_data_and_misalign_seed_matters():
    one = build(TinyDataset(), "misaligned")
    two = build(TinyDataset(), "misaligned")
    three = build(TinyDataset(), "misaligned", misalign_seed=2)
    assert one.records == two.records
    for a, b, c in zip(one.training._source_hr, two.training._source_hr, three.training._source_hr):
        np.testing.assert_array_equal(a.data, b.data)
        assert not np.array_equal(a.data, c.data)


def test_degradations_are_named_per_role():
    cell = build(TinyDataset(), "n/a", train_degradation="kspace-noise", test_degradation="partial-fourier")
    assert (cell.records["train_degradation"], cell.records["test_degradation"]) == ("kspace-noise", "partial-fourier")
    target_lr, target_hr = cell.training._target_lr[0], cell.training._target_hr[0]
    assert not np.allclose(target_lr.data, kspace_truncate(target_hr.data, SCALE), atol=1e-3)
    pair = cell.test[0]
    assert not np.allclose(pair.lr.data, kspace_truncate(pair.hr.data, SCALE), atol=1e-4)


def test_crop_is_centred_and_moves_the_origin():
    volume = TinyDataset().load("sub-00")
    cropped = crop_to_scale(volume, SCALE)
    assert cropped.shape == (22, 22, 14)
    np.testing.assert_array_equal(cropped.data, volume.data[0:22, 0:22, 0:14])
    wide = crop_to_scale(Volume(np.zeros((29, 22, 19), np.float32), AFFINE.copy(), "w"), Scale(3, 2, 4))
    assert wide.shape == (27, 22, 16)
    np.testing.assert_allclose(wide.affine[:3, 3], AFFINE[:3, :3] @ [1, 0, 1] + AFFINE[:3, 3])


def test_volume_smaller_than_a_patch_is_named():
    dataset = TinyDataset(small="sub-03")
    with pytest.raises(BenchError, match=r"sub-03.*\(6, 22, 14\).*\(8, 8, 6\)"):
        build(dataset, "unpaired")


def test_bad_setting_and_degradation():
    with pytest.raises(BenchError, match="unknown setting"):
        build(TinyDataset(), "paired")
    with pytest.raises(BenchError, match="unknown degradation"):
        build(TinyDataset(), "n/a", test_degradation="nope")


def test_max_subjects_and_progress():
    dataset = TinyDataset(n=20)
    removed = []

    class RecordingProgress(Progress):
        def remove_task(self, task_id):
            removed.append(self._tasks[task_id])
            super().remove_task(task_id)

    with RecordingProgress(disable=True) as progress:
        cell = build(dataset, "unpaired", max_subjects=10, progress=progress)
        assert progress.tasks == []  # the finished data task does not linger in the display
    assert [(t.total, t.completed) for t in removed] == [(10, 10)]
    chosen = [s for group in cell.records["split"].values() for s in group]
    assert sorted(chosen) == dataset.names[:10]


@pytest.mark.slow  # a subprocess
def test_the_protocol_does_not_import_the_method_interface():
    """The protocol builds data for methods but needs nothing of the ``Method`` interface (nor its registry)."""
    code = (
        "import sys, benchmark.protocol.groups, benchmark.protocol.degradations\n"
        "loaded = sorted(m for m in ('benchmark.method', 'benchmark.plugins') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
