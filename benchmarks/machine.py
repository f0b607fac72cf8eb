"""One line describing the machine a benchmark ran on (CPU model, cores, threads, load, GPU)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    """The 1-minute load average (other processes slow a benchmark down), or ``n/a``."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def describe_machine() -> str:
    """``<CPU model>, <n> cores, torch <k> threads, load <l>[, <GPU name>]``."""
    text = f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads, load {load_average()}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text
