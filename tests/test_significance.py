"""Paired Wilcoxon tests and Holm's correction across the comparisons of one table."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from reports.latex import table_ii_latex
from reports.markdown import table_ii_markdown
from reports.significance import MIN_SUBJECTS, attach_p_values, holm, paired_tests, wilcoxon_p
from reports.summary import summarise
from reports.table_layout import table_ii_layout
from tests.test_reports import _many_subjects

# ---------------------------------------------------------------------------- Wilcoxon


def test_pairs_with_zero_difference_do_not_count_towards_the_minimum() -> None:
    # Regression: 8 finite pairs passed the check although the test ranks only the 4 non-zero ones.
    reference = np.array([0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97])
    other = reference.copy()
    other[:4] -= np.array([0.01, 0.02, 0.03, 0.04])
    assert MIN_SUBJECTS > 4
    assert np.isnan(wilcoxon_p(reference, other))
    assert np.isnan(wilcoxon_p(reference, reference.copy()))  # all differences zero: no test either


def test_enough_non_zero_pairs_give_scipys_p_value() -> None:
    reference = np.linspace(0.90, 0.97, 8)
    other = reference.copy()
    other[:MIN_SUBJECTS] -= np.linspace(0.01, 0.06, MIN_SUBJECTS)
    assert wilcoxon_p(reference, other) == pytest.approx(wilcoxon(reference, other).pvalue, rel=1e-12)
    other[0] = np.nan  # a non-finite pair is dropped: one non-zero pair short
    assert np.isnan(wilcoxon_p(reference, other))


# ---------------------------------------------------------------------------- Holm


def test_holm_known_example() -> None:
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)
    np.testing.assert_allclose(holm([0.2, 0.6]), [0.4, 0.6])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # capped at 1


def test_holm_is_monotone_and_never_below_the_raw_value() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(40) ** 3
    adjusted = holm(raw)
    order = np.argsort(raw)
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all(adjusted >= raw) and np.all(adjusted <= 1)
    # The step-down rule itself: reject the k smallest while p_(j) <= alpha / (m - j + 1) for all j <= k.
    alpha, m = 0.05, raw.size
    passed = raw[order] <= alpha / (m - np.arange(m))
    k = m if passed.all() else int(np.argmin(passed))
    assert set(np.flatnonzero(adjusted <= alpha)) == set(order[:k])


def test_holm_skips_nans() -> None:
    adjusted = holm([np.nan, 0.01, 0.04, np.nan, 0.03, 0.005])
    assert np.isnan(adjusted[[0, 3]]).all()
    np.testing.assert_allclose(adjusted[[1, 2, 4, 5]], [0.03, 0.06, 0.06, 0.02], rtol=0, atol=1e-15)
    assert np.isnan(holm([np.nan, np.nan])).all()
    assert holm(np.zeros((0,))).shape == (0,)


# ---------------------------------------------------------------------------- one table's family


def _separated(n: int) -> pd.DataFrame:
    """hcp only, ``n`` subjects; CycleGAN unpaired worse than UDEAN on every subject (p = 2 / 2ⁿ)."""
    frame = _many_subjects(n)
    unpaired = frame["setting"] == "unpaired"
    udean_ssim = frame.loc[(frame["method"] == "udean") & unpaired, "ssim"].to_numpy()
    frame.loc[(frame["method"] == "cyclegan") & unpaired, "ssim"] = udean_ssim - 0.05 - np.linspace(0, 0.01, n)
    return frame


def _starred(summary: pd.DataFrame, p_values: pd.DataFrame) -> set[tuple[str, str, str]]:
    return {
        (row.setting, row.method, metric)
        for group in table_ii_layout(summary, p_values)
        for row in group.rows
        for metric, cell in row.cells.items()
        if cell.significant
    }


def test_family_is_every_comparison_the_table_marks() -> None:
    frame = _separated(12)
    p_values = paired_tests(frame)
    # 7 comparisons (tricubic, zssr in both settings' blocks; cyclegan in both; the oracle) × 2 metrics.
    assert len(p_values) == 7
    raw = p_values[["p_ssim", "p_psnr"]].to_numpy()
    assert np.isfinite(raw).all()
    table = attach_p_values(summarise(frame), p_values, ("ssim", "psnr"))
    adjusted = holm(raw.ravel()).reshape(raw.shape)
    cyclegan = (p_values["method"] == "cyclegan") & (p_values["setting"] == "unpaired")
    row = table[(table["method"] == "cyclegan") & (table["setting"] == "unpaired")].iloc[0]
    assert row["p_holm_ssim"] == adjusted[cyclegan.to_numpy(), 0][0]
    assert row["p_ssim"] == p_values.loc[cyclegan, "p_ssim"].iloc[0]
    # n/a rows: the largest adjusted value over their two blocks.
    tricubic = (p_values["method"] == "tricubic").to_numpy()
    assert table[table["method"] == "tricubic"]["p_holm_psnr"].iloc[0] == adjusted[tricubic, 1].max()
    # A family of one metric column is smaller: the adjusted values change.
    ssim_only = attach_p_values(summarise(frame), p_values, ("ssim",))
    assert "p_holm_psnr" not in ssim_only.columns
    assert (ssim_only["p_holm_ssim"].dropna() <= table["p_holm_ssim"].dropna()).all()


def test_marks_use_the_holm_adjusted_p_values() -> None:
    # With 8 subjects the smallest exact p-value is 2 / 2^8 = 0.0078 < 0.05, but 14 comparisons
    # make it 14 × 0.0078 = 0.11 after Holm: no star.
    frame = _separated(8)
    p_values = paired_tests(frame)
    unpaired = p_values[(p_values["method"] == "cyclegan") & (p_values["setting"] == "unpaired")]
    assert unpaired["p_ssim"].iloc[0] < 0.05
    assert _starred(summarise(frame), p_values) == set()
    # With 12 subjects (smallest p 2 / 2^12) it survives the correction.
    frame = _separated(12)
    assert ("unpaired", "cyclegan", "ssim") in _starred(summarise(frame), paired_tests(frame))


def test_note_names_holm_and_the_number_of_comparisons() -> None:
    frame = _separated(12)
    p_values = paired_tests(frame)
    summary = summarise(frame)
    sentence = "Holm-corrected across the 14 comparisons of this table"
    assert sentence in table_ii_latex(summary, p_values)
    assert sentence in table_ii_markdown(summary, p_values)
    # A table showing one metric column marks half of the comparisons.
    assert "Holm-corrected across the 7 comparisons of this table" in table_ii_markdown(
        summary, p_values, metrics=("ssim",)
    )
    # A comparison without a test (NaN) is not in the family.
    p_values.loc[p_values["method"] == "zssr", "p_psnr"] = np.nan
    match = re.search(r"across the (\d+) comparisons", table_ii_markdown(summary, p_values))
    assert match is not None and int(match.group(1)) == 12


def test_no_test_possible_says_why() -> None:
    frame = _many_subjects(8)
    frame.loc[frame["method"] != "udean", ["ssim", "psnr"]] = np.nan  # nothing left to pair
    markdown = table_ii_markdown(summarise(frame), paired_tests(frame))
    assert "No significance marks" in markdown and "Holm" not in markdown
