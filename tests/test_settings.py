"""Every profile key and value is checked before any cell starts (issue: `--set` values are never checked)."""

import pytest

from benchmark.errors import BenchError
from benchmark.profiles import PROFILES, load_profile
from benchmark.settings import declared


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("steps_per_epoch=0", "steps_per_epoch must be an integer ≥ 1 or 'auto'"),
        ("batch_size=-1", "batch_size must be an integer ≥ 1"),
        ("lr_patch=(1,1,1)", "lr_patch must be a tuple (n, n, 3)"),
        ("lr_max=fast", "lr_max must be a number > 0"),
        ("global_skip=maybe", "global_skip must be True or False"),
        ("udean_lambda5=-0.1", "udean_lambda5 must be a number ≥ 0"),
        ("lr_min=1", "lr_min 1 is above lr_max"),
        ("max_subjects=2", "max_subjects must be an integer ≥ 4 or None"),
        ("adam_betas=(0.9,1.5)", "adam_betas must be a pair"),
    ],
)
def test_bad_values_are_refused_in_one_sentence(override, message):
    with pytest.raises(BenchError) as caught:
        load_profile("quick", [override])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_key_names_the_closest_known_key():
    with pytest.raises(BenchError, match="unknown setting 'step_per_epoch' \\(did you mean 'steps_per_epoch'"):
        load_profile("quick", ["step_per_epoch=2"])
    with pytest.raises(BenchError, match="unknown setting 'zzz'"):
        load_profile("quick", ["zzz=2"])


def test_every_profile_key_is_declared_and_valid():
    known = declared()
    for name, settings in PROFILES.items():
        assert set(settings) <= set(known), name
        assert load_profile(name).overrides == ()


def test_values_take_one_canonical_form_and_overrides_are_the_changed_keys():
    profile = load_profile("quick", ["udean_beta=1", "lr_max=5e-4", "lr_patch=[16, 16, 3]", "global_skip=true"])
    assert profile["udean_beta"] == 1.0 and isinstance(profile["udean_beta"], float)
    assert profile["lr_patch"] == (16, 16, 3)
    # lr_max and global_skip equal the quick profile's own values: no override, one identity.
    assert profile.overrides == ("lr_patch", "udean_beta")
    assert profile.overrides_text() == "lr_patch=(16,16,3);udean_beta=1.0"
    assert load_profile("quick", ["udean_beta=1.0"]).as_dict() == load_profile("quick", ["udean_beta=1"]).as_dict()


def test_bench_list_verbose_lists_every_setting(monkeypatch, capsys):
    from tests.test_cli import bench

    code, out, _ = bench(monkeypatch, capsys, "list", "--verbose")
    assert code == 0
    for name in ("steps_per_epoch", "udean_lambda5", "zssr_steps", "cyclegan_pool_size", "ssim_weight"):
        assert name in out
