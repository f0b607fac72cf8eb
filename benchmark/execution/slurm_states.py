"""What Slurm says of array tasks, for ``bench status``: one ``sacct`` call for every job id of a results folder.

A task Slurm ended without the cell writing ``error.txt`` (killed for memory, a node failure,
cancelled, out of requeues after timeouts) would otherwise look pending for ever, since the
cell folder alone cannot tell.  Where ``sacct`` is missing or fails (not a Slurm machine, no
accounting), nothing is added: the cell folders stay the truth.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

ENDED_BADLY = frozenset(
    {"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"}
)
"""sacct states of a task that ended without finishing its cell (submitit requeues TIMEOUT and
PREEMPTED tasks until ``--slurm-requeues`` runs out; sacct then shows a later state)."""

_SACCT_SECONDS = 30


def slurm_states(job_ids: Iterable[str]) -> dict[str, str]:
    """``job id → sacct state`` (first word: ``"CANCELLED by 1234"`` is ``"CANCELLED"``); ``{}`` without sacct."""
    wanted = sorted(set(job_ids))
    sacct = shutil.which("sacct")
    if not wanted or sacct is None:
        return {}
    command = [sacct, "-j", ",".join(wanted), "-o", "JobID,State", "--parsable2", "--noheader"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_SACCT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    states: dict[str, str] = {}
    for line in done.stdout.splitlines():
        job, _, state = line.partition("|")
        job = job.strip()
        if job in wanted and state.strip():  # steps (1234_5.batch) are left out
            states[job] = state.split()[0]
    return states
