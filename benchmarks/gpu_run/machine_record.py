"""Facts of the machine a run used: host, CPUs, Python and ``nvidia-smi`` (parent), torch and GPU (worker)."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
from typing import Any

import torch


def device_record(device: torch.device) -> dict[str, Any]:
    """Torch, CUDA and GPU facts of this process's device."""
    record: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        record.update(
            gpu=properties.name,
            gpu_memory_mib=round(properties.total_memory / 2**20),
            multiprocessors=properties.multi_processor_count,
            cudnn=torch.backends.cudnn.version(),
        )
    return record


def machine_facts() -> dict[str, Any]:
    """Host, CPU count, Python, platform and ``nvidia-smi``'s GPU and driver, where there is one."""
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
    }
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            facts["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            ).stdout.strip()
    return facts
