"""The layers hold: import-linter's contracts (``[tool.importlinter]`` in pyproject.toml) pass, and catch a breach.

The contracts: the application (``benchmark.app``) on top of ``reports`` and the plugins
(``methods``, ``datasets``), which never import each other nor the application; the kernel (every other module of
``benchmark``) never imports the application, the reports or a plugin; and plugins import the
kernel only through ``benchmark.api``.  A breach is shown to fail them on a copy of the sources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "methods", "datasets", "reports")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
OLD_PATHS = {"benchmark.cli", "benchmark.runner", "benchmark.method_contract", "benchmark.settings"}
"""Modules kept at their old path for older importers (they re-export the application's modules)."""


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_rules_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_every_module_of_benchmark_has_its_layer() -> None:
    """A new kernel module must join the kernel contract's list, or the contract would not see it."""
    kernel = set(_contracts()["kernel"]["source_modules"])
    for path in sorted((ROOT / "benchmark").iterdir()):
        if path.name.startswith("__") or (path.is_file() and path.suffix != ".py"):
            continue
        name = f"benchmark.{path.stem if path.is_file() else path.name}"
        assert name == "benchmark.app" or name in kernel or name in OLD_PATHS, f"{name} is in no layer"
    assert set(_contracts()["facade"]["forbidden_modules"]) == kernel - {"benchmark.api"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sources")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("benchmark/profiles.py", "import benchmark.app.cli", "kernel"),
        ("benchmark/results/store.py", "import reports.summary", "kernel"),
        ("methods/tricubic.py", "from benchmark.profiles import Profile", "facade"),
        ("reports/summary.py", "import methods.udean", "layers"),
        ("methods/udean.py", "import benchmark.app.matrix", "layers"),
    ],
)
def test_a_deliberate_breach_fails_the_rules(sources: Path, module: str, line: str, contract: str) -> None:
    path = sources / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # a deliberate breach\n")
        done = _lint(sources)
    finally:
        path.write_text(original)
    importer = module.removesuffix(".py").replace("/", ".")
    imported = line.split()[1]
    assert done.returncode != 0, done.stdout
    assert f"{importer} -> {imported}" in done.stdout, done.stdout  # the breach itself is named
    name = " ".join(_contracts()[contract]["name"].split())
    assert name in " ".join(done.stdout.split()[done.stdout.split().index("Broken") :]), done.stdout
