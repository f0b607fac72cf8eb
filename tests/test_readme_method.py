"""The method skeleton in README.md's "Adding a method" runs and keeps the method contract."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from benchmark import profile_keys
from benchmark.app.method_contract import PROPERTIES, NotApplicable, check
from benchmark.plugins import METHODS
from benchmark.scale import Scale

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def readme_method(tmp_path_factory):
    text = README.read_text()
    start = text.index("# my_package/my_method.py")
    source = text[start : text.index("```", start)]
    path = tmp_path_factory.mktemp("plugin") / "readme_my_method.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("readme_my_method", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_my_method"] = module
    spec.loader.exec_module(module)
    yield module.MyMethod
    METHODS._factories.pop("my-method", None)  # leave the registry as the other tests know it
    METHODS._summaries.pop("my-method", None)
    profile_keys._DECLARED.pop("my_weight", None)
    sys.modules.pop("readme_my_method", None)


@pytest.mark.parametrize("prop", [name for name in PROPERTIES if name != "declared_inputs"])
def test_readme_method_keeps_the_contract(readme_method, prop, tmp_path):
    check(prop, readme_method, tmp_path, scale=Scale(2, 2, 2))


def test_readme_method_reads_everything_it_could(readme_method, tmp_path):
    """The skeleton learns from the training data under its seed: the declared-inputs check has nothing to check."""
    with pytest.raises(NotApplicable, match="reads its seed and the training data"):
        check("declared_inputs", readme_method, tmp_path, scale=Scale(2, 2, 2))
