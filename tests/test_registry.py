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
    monkeypatch.setattr(registry_module, "_plugins_loaded", False)
    monkeypatch.setattr(METHODS, "_factories", dict(METHODS._factories))
    monkeypatch.setattr(METHODS, "_summaries", dict(METHODS._summaries))
    # The built-in modules are already imported, so only the new plugin registers now.
    assert "my-method" in METHODS.names()
    assert METHODS.summary("my-method") == "a third-party method"
