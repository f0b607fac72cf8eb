"""Every profile key and value is checked before any cell starts (issue: `--set` values are never checked)."""

from pathlib import Path

import pytest

from benchmark.errors import BenchError
from benchmark.profile_keys import declared
from benchmark.profiles import PROFILES, load_profile


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
    with pytest.raises(BenchError, match="unknown profile key 'step_per_epoch' \\(did you mean 'steps_per_epoch'"):
        load_profile("quick", ["step_per_epoch=2"])
    with pytest.raises(BenchError, match="unknown profile key 'zzz'"):
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


def test_declared_defaults_keep_every_cell_identity():
    """720 cells keep their folder and hash of 91be66f, before keys declared defaults: finished cells are found."""
    from tests.cell_identities.record import identity_lines

    recorded = (Path(__file__).parent / "cell_identities" / "at_91be66f.txt").read_text().splitlines()
    assert identity_lines() == recorded


def test_every_key_has_a_value_in_every_profile():
    """A core key is in every profile's table; a plugin's key has a default its own check accepts."""
    for name, key in declared().items():
        for profile in PROFILES:
            value = load_profile(profile)[name]
            assert key.check(value) == value, (name, profile)
            if key.owner == "core":
                assert name in PROFILES[profile], (name, profile)
            else:
                assert name not in PROFILES[profile] and value == key.check(key.default_for(profile))


def test_a_plugin_key_without_a_default_or_with_a_bad_one_is_refused():
    from benchmark.profile_keys import ProfileKey, declare, number

    with pytest.raises(ValueError, match="profile key 'my_weight' of my-method declares no default"):
        declare(ProfileKey("my_weight", number(0), owner="my-method"))
    with pytest.raises(ValueError, match=r"the default of profile key 'my_weight' in profile tiny \(-1\) must be"):
        declare(ProfileKey("my_weight", number(0), owner="my-method", default=1.0, by_profile={"tiny": -1}))
    assert "my_weight" not in declared()


def test_a_key_given_reads_as_given_and_an_absent_one_as_its_default():
    assert load_profile("quick")["zssr_steps"] == 600 and load_profile("paper")["zssr_steps"] == 3000
    assert load_profile("quick", ["zssr_steps=7"])["zssr_steps"] == 7
    assert load_profile("paper")["zssr_ensemble"] is True and load_profile("quick")["zssr_ensemble"] is False
    with pytest.raises(KeyError, match="profile 'quick' has no profile key 'nothing'"):
        load_profile("quick")["nothing"]
