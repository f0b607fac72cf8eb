"""A record of the software and hardware a cell ran on, for its folder."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

_PACKAGES = ("udean-bench", "torch", "numpy", "scipy", "nibabel", "scikit-image", "pandas", "nilearn", "SimpleITK")


def git_commit(folder: Path) -> str | None:
    """The commit of the git checkout holding ``folder`` (with ``-dirty``), or ``None`` outside git."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit or None


def harness_commit() -> str | None:
    """The commit of the checkout this harness runs from (``-dirty`` if edited), or ``None``."""
    return git_commit(Path(__file__).resolve().parent)


def same_commit(recorded: str | None, current: str | None) -> bool:
    """Whether two :func:`git_commit` answers name one commit (``-dirty`` aside); unknown counts as same."""
    if recorded is None or current is None:
        return True
    return recorded.removesuffix("-dirty") == current.removesuffix("-dirty")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The processor's model name (Linux's ``/proc/cpuinfo``; else :func:`platform.processor`), or ``None``."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def environment_record(device: torch.device, precision: str = "fp32") -> dict[str, Any]:
    """Python, package versions, git commit, device name, CPU, thread count and the resolved precision.

    The CPU's model and the vector instruction set torch's kernels use on it (``cpu_capability``,
    e.g. ``AVX512``) are recorded because two CPUs can round a sum differently in its last digit,
    and an unstable training can amplify that: a cell is identical run twice on one machine, not
    necessarily on another (README, "Reproducibility").

    Args:
        device: the device the cell runs on.
        precision: the resolved precision (:func:`benchmark.precision.resolve_precision`):
            ``fp32``, ``bf16`` or ``fp16``.
    """
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    record: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": harness_commit(),
        "device": str(device),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "precision": precision,
    }
    if device.type == "cuda":
        record["device_name"] = torch.cuda.get_device_name(device)
    return record
