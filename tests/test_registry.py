import sys
from importlib.metadata import EntryPoint

import pytest

from benchmark import registry as registry_module
from benchmark.errors import BenchError
from benchmark.plugins import DATASETS, METHODS
from benchmark.registry import Registry


def make_registry():
    reg = Registry("widget")
    reg.register("alpha", summary="first")(lambda **kw: ("alpha", kw))
    reg.register("beta-one")(lambda **kw: ("beta-one", kw))
    reg.register("beta-two")(lambda **kw: ("beta-two", kw))
    return reg


def test_wildcards_and_kwargs_pass_through():
    reg = make_registry()
    assert reg.names() == ["alpha", "beta-one", "beta-two"]
    assert reg.names("beta-*") == ["beta-one", "beta-two"]
    assert reg.resolve("beta-*,alpha") == ["beta-one", "beta-two", "alpha"]
    assert reg.resolve("all") == ["alpha", "beta-one", "beta-two"]
    assert reg.create("alpha", size=3) == ("alpha", {"size": 3})
    assert reg.summary("alpha") == "first"


def test_duplicate_name_is_an_error():
    reg = make_registry()
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("alpha")(lambda: None)


def test_unknown_name_lists_the_known_ones():
    reg = make_registry()
    with pytest.raises(BenchError, match=r"unknown widget 'gamma'; known: alpha, beta-one, beta-two\."):
        reg.create("gamma")
    with pytest.raises(BenchError, match="no widget matches 'zeta\\*'"):
        reg.resolve("zeta*")


def test_builtins_come_through_the_entry_point_group():
    assert "tricubic" in METHODS.names()
    assert {"demo", "hcp", "brats", "folder"} <= set(DATASETS.names())


def test_third_party_plugin_registers_through_entry_point(tmp_path, monkeypatch):
    plugin = tmp_path / "my_sr_plugin.py"
    plugin.write_text(
        "from benchmark.plugins import METHODS\n"
        "from methods.tricubic import Tricubic\n"
        "@METHODS.register('my-method', summary='a third-party method')\n"
        "class Mine(Tricubic):\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = registry_module.entry_points

    def fake_entry_points(group):
        found = list(real(group=group))
        return [*found, EntryPoint("mine", "my_sr_plugin", group)]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry_module, "_pending", None)
    monkeypatch.setattr(METHODS, "_factories", dict(METHODS._factories))
    monkeypatch.setattr(METHODS, "_summaries", dict(METHODS._summaries))
    # The built-in modules are already imported, so only the new plugin registers now.
    assert "my-method" in METHODS.names()
    assert METHODS.summary("my-method") == "a third-party method"


def _fake_plugins(tmp_path, monkeypatch, *entries: EntryPoint) -> None:
    """Plugins of the ``bench.plugins`` group are ``entries`` alone, importable from ``tmp_path``, read afresh."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(entries))
    monkeypatch.setattr(registry_module, "_pending", None)
    for name in ("fake_widgets", "fake_good", "fake_broken", "fake_broken_part", "fake_missing_dependency"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_a_plugin_that_fails_to_import_is_named_and_leaves_the_registries_consistent(tmp_path, monkeypatch):
    (tmp_path / "fake_widgets.py").write_text("from benchmark.registry import Registry\nWIDGETS = Registry('widget')\n")
    (tmp_path / "fake_good.py").write_text(
        "from fake_widgets import WIDGETS\n@WIDGETS.register('good')\ndef good():\n    return 'good'\n"
    )
    # The broken plugin registers through a submodule, then fails on a missing dependency.
    (tmp_path / "fake_broken_part.py").write_text(
        "from fake_widgets import WIDGETS\n@WIDGETS.register('half')\ndef half():\n    return 'half'\n"
    )
    (tmp_path / "fake_broken.py").write_text("import fake_broken_part\nimport fake_missing_dependency\n")
    group = registry_module.PLUGIN_GROUP
    _fake_plugins(
        tmp_path, monkeypatch, EntryPoint("broken", "fake_broken", group), EntryPoint("good", "fake_good", group)
    )
    import fake_widgets

    widgets = fake_widgets.WIDGETS
    with pytest.raises(BenchError) as info:
        widgets.names()
    message = str(info.value)
    assert "plugin 'broken' (fake_broken) failed to import" in message
    assert "ModuleNotFoundError: No module named 'fake_missing_dependency'" in message
    assert message.endswith(".") and ". " not in message and "\n" not in message  # one sentence
    # The good plugin (sorted after the broken one) is loaded; the broken one's registration is gone.
    assert sorted(widgets._factories) == ["good"]
    # Never silent: the next lookup tries the broken plugin again and says so again.
    with pytest.raises(BenchError, match="plugin 'broken'"):
        widgets.create("good")
    # Once its dependency exists, the retry registers it, once, beside the good one.
    (tmp_path / "fake_missing_dependency.py").write_text("")
    assert widgets.names() == ["good", "half"]
    assert widgets.create("half") == "half"


def test_a_plugin_clashing_with_a_name_is_rolled_back_and_reported(tmp_path, monkeypatch):
    (tmp_path / "fake_widgets.py").write_text("from benchmark.registry import Registry\nWIDGETS = Registry('widget')\n")
    (tmp_path / "fake_good.py").write_text(
        "from fake_widgets import WIDGETS\nfor name in ('one', 'two'):\n    WIDGETS.register(name)(lambda: name)\n"
    )
    (tmp_path / "fake_broken.py").write_text(
        "from fake_widgets import WIDGETS\nfor name in ('three', 'one'):\n    WIDGETS.register(name)(lambda: name)\n"
    )
    group = registry_module.PLUGIN_GROUP
    _fake_plugins(
        tmp_path, monkeypatch, EntryPoint("a-good", "fake_good", group), EntryPoint("b-broken", "fake_broken", group)
    )
    import fake_widgets

    with pytest.raises(BenchError, match=r"plugin 'b-broken' \(fake_broken\) failed to import: ValueError: .*twice"):
        fake_widgets.WIDGETS.names()
    assert sorted(fake_widgets.WIDGETS._factories) == ["one", "two"]  # 'three' removed with its plugin
