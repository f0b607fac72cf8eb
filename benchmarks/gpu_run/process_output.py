"""Where a spawned process's output goes: its own log file, C-level output included."""

from __future__ import annotations

import os
import sys


def redirect_output(log_path: str) -> None:
    """Send this process's stdout and stderr (C level too) to ``log_path``."""
    handle = open(log_path, "a", buffering=1)  # noqa: SIM115 (kept open for the process's life)
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = sys.stderr = handle
