"""The downstream score: ANTs Atropos on demo subjects, Dice and volume error, and ``bench run --downstream``.

Needs ``antspyx`` (the extra ``downstream``, which ``make test`` installs): without it these tests
fail, naming it, rather than skip.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from benchmark.data.dataset import TISSUES
from benchmark.evaluation.downstream import CACHE_FOLDER, DownstreamScorer, dice, tissue_scores, volume_error
from benchmark.evaluation.tissue_segmentation import (
    OUTSIDE,
    segment_tissues,
    segmentation_available,
    true_labels,
)
from benchmark.plugins import DATASETS
from datasets.demo_cohort import load_template, make_subject, make_tissues, prepare_splines
from tests.test_cli import assert_one_sentence, bench

if not segmentation_available():
    pytest.fail("the downstream tests need antspyx: pip install -e '.[downstream]' (make test installs it)")

WM_DICE_BOUND = 0.8
"""The HR segmentation's Dice against the true white matter of a 1 mm demo subject is above this."""


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One demo-small cohort for the module (generating it takes longer than the tests)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def small_subject(cache):
    """demo-small's sub-02: its HR volume, brain mask and true labels."""
    dataset = DATASETS.create("demo-small", data_root=None, cache_dir=cache)
    volume, mask = dataset.load("sub-02"), dataset.brain_mask("sub-02")
    return volume.data, mask, true_labels(dataset.tissue_maps("sub-02"), mask)


def test_dice_and_volume_error_on_hand_made_masks():
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[:2], b[1:3] = True, True
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0 and dice(a & ~a, b & ~b) == 1.0
    assert volume_error(a[:1], a) == pytest.approx(-50.0)
    labels = np.full((4, 4, 4), OUTSIDE, np.int8)
    labels[:2], labels[2:] = 0, 1
    scores = tissue_scores(labels, labels, truth=labels)
    assert scores["dice_gm"] == scores["dice_wm"] == scores["dice_csf_true"] == 1.0
    assert scores["volume_error_wm"] == 0.0


def test_an_sr_that_copies_the_hr_scores_dice_one(small_subject, tmp_path):
    hr, mask, truth = small_subject
    scores = DownstreamScorer(tmp_path).score(hr.copy(), hr, mask, truth)
    for tissue in TISSUES:
        assert scores[f"dice_{tissue}"] == 1.0
        assert scores[f"volume_error_{tissue}"] == 0.0
        assert scores[f"dice_{tissue}_true"] == scores[f"hr_dice_{tissue}_true"]


def test_a_copy_shifted_by_two_voxels_scores_at_least_005_lower(small_subject):
    hr, mask, _ = small_subject
    shifted = np.roll(hr, 2, axis=0)
    scores = DownstreamScorer(None).score(shifted, hr, mask)
    for tissue in TISSUES:
        assert scores[f"dice_{tissue}"] <= 1.0 - 0.05, (tissue, scores)


def test_segmentation_is_the_same_on_every_run(small_subject):
    hr, mask, _ = small_subject
    assert np.array_equal(segment_tissues(hr, mask), segment_tissues(hr, mask))


def test_the_hr_segmentation_of_a_1mm_subject_matches_the_true_white_matter():
    template = load_template(1)
    hr = make_subject(template, prepare_splines(template), 1)
    tissues = make_tissues(template, 1)
    mask = tissues.sum(axis=0) >= 0.5
    labels = segment_tissues(hr, mask)
    truth = true_labels(tissues, mask)
    wm = TISSUES.index("wm")
    assert dice(labels == wm, truth == wm) > WM_DICE_BOUND


def test_hr_segmentations_are_cached_and_a_damaged_cache_file_is_redone(small_subject, tmp_path):
    hr, mask, _ = small_subject
    scorer = DownstreamScorer(tmp_path)
    first = scorer.score(hr, hr, mask)
    (cached,) = tmp_path.glob("hr-*.npz")
    cached.write_bytes(b"cut")
    assert scorer.score(hr, hr, mask) == first
    with np.load(cached) as stored:
        assert stored["labels"].shape == hr.shape


def test_bench_run_downstream_adds_the_columns_to_each_test_subject(
    small_subject, cache, tmp_path, monkeypatch, capsys
):
    runs = tmp_path / "runs"
    args = ["run", "--methods", "tricubic", "--dataset", "demo-small", "--profile", "tiny", "--setting", "misaligned"]
    args += ["--runs-dir", str(runs), "--cache-dir", str(cache), "--downstream"]
    code, out, err = bench(monkeypatch, capsys, *args)
    assert code == 0, out + err
    table = pd.read_csv(runs / "results.csv")
    for tissue in TISSUES:
        for column in (f"dice_{tissue}", f"volume_error_{tissue}", f"dice_{tissue}_true", f"hr_dice_{tissue}_true"):
            assert table[column].notna().all(), column
    assert (table["dice_wm"] > 0.5).all() and (table["dice_wm"] < 1).all()
    assert len(list((runs / CACHE_FOLDER).glob("hr-*.npz"))) == len(table)


def test_asking_for_the_downstream_score_without_antspyx_is_one_sentence(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ants", None)  # how Python sees a package that is not installed
    args = ["run", "--methods", "tricubic", "--dataset", "demo-small", "--profile", "tiny", "--downstream"]
    code, _, err = bench(monkeypatch, capsys, *args, "--runs-dir", str(tmp_path / "runs"))
    assert code != 0
    assert "needs antspyx, which is not installed" in assert_one_sentence(err)
    assert not (tmp_path / "runs" / "results.csv").exists()
