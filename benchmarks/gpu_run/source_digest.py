"""A digest of the harness sources: which code a run used where there is no ``.git`` (the GPU machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the folder holding ``benchmark/`` and ``benchmarks/``."""


def source_digest(root: Path = ROOT) -> str:
    """SHA-256 of the harness sources (``*.py``, ``*.csv`` of its packages, ``pyproject.toml``).

    Identifies the code a run used where git is absent (the GPU machine gets no ``.git``):
    ``python benchmarks/gpu_paper_run.py --source-digest`` at a commit prints the same value.
    """
    files = [root / "pyproject.toml"]
    for folder in ("benchmark", "methods", "datasets", "reports", "benchmarks"):
        files += [
            path
            for path in (root / folder).rglob("*")
            if path.is_file() and path.suffix in (".py", ".csv") and "__pycache__" not in path.parts
        ]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
