"""Module names say what a module is: outside ``tests/`` no module reads like a pytest file."""

from __future__ import annotations

import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "methods", "datasets", "reports")
PYTEST_FILE_PATTERNS = ("test_*.py", "*_test.py")
"""pytest's default ``python_files``: a module matching one is collected as tests by ``pytest <folder>``."""


def test_no_package_module_is_named_like_a_test_file():
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in PYTEST_FILE_PATTERNS)
    ]
    assert offenders == []
