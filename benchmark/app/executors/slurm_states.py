"""What Slurm says of array tasks: ``squeue`` for the live and recently ended ones, ``sacct`` for the rest.

A task Slurm ended without the cell writing ``error.txt`` (killed for memory, a node failure,
cancelled, out of requeues after timeouts) would otherwise look pending for ever, since the cell
folder alone cannot tell.  Two sources, so that it works on clusters without accounting:

* ``squeue --states=all --array`` knows every live task, and an ended one for ``MinJobAge``
  seconds after it ended (300 by default), with its end state (``OUT_OF_MEMORY``, ``CANCELLED``…);
  it needs no accounting;
* ``sacct`` knows ended tasks for good, where the cluster keeps accounting (``slurmdbd``).

:func:`slurm_states` asks ``squeue`` first and ``sacct`` for the tasks ``squeue`` no longer
lists.  A task neither knows is :data:`GONE` when ``squeue`` answered: it left the queue, and
nothing says how.  Where neither command runs (not a Slurm machine), nothing is said: the cell
folders stay the truth.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

ENDED_BADLY = frozenset(
    {"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"}
)
"""States of a task that ended without finishing its cell (submitit requeues TIMEOUT and
PREEMPTED tasks until ``--slurm-requeues`` runs out; Slurm then shows a later state)."""

ENDED_WELL = frozenset({"COMPLETED"})
GONE = "GONE"
"""Not listed by ``squeue`` (which answered) nor by ``sacct`` (absent, or without accounting)."""

CAUSES: dict[str, str] = {
    "OUT_OF_MEMORY": "killed for using more memory than it asked for; raise --slurm-mem",
    "CANCELLED": "cancelled (scancel, or an administrator)",
    "TIMEOUT": "out of time, with no requeue left; raise --slurm-time or --slurm-requeues",
    "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "past its deadline",
    "PREEMPTED": "pre-empted, with no requeue left; raise --slurm-requeues",
    "FAILED": "its batch script failed",
    GONE: "it left Slurm's queue and Slurm keeps no record of how (no accounting)",
}
"""What each bad end means for the user, and the option to change where one helps."""

_COMMAND_SECONDS = 30


def _run(command: list[str]) -> subprocess.CompletedProcess | None:
    """``command`` run to its end, or ``None`` when it is missing or times out."""
    if shutil.which(command[0]) is None:
        return None
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=_COMMAND_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _first_word(state: str) -> str:
    return state.strip().split()[0] if state.strip() else ""


def queue_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """``job id → state`` of the tasks ``squeue`` lists (live or recently ended); ``None`` when squeue fails.

    The ids are those submitit gives array tasks (``1234_5``); ``squeue --array`` lists one task
    per line in that form.  A controller that knows none of the jobs any more answers "Invalid
    job id": that is an answer (``{}``), not a failure.
    """
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    jobs = sorted({job.split("_")[0] for job in wanted})
    done = _run(["squeue", "--states=all", "--array", "--noheader", "--format=%i|%T", "--jobs", ",".join(jobs)])
    if done is None:
        return None
    if done.returncode != 0:
        return {} if "Invalid job id" in done.stderr else None
    return _parse(done.stdout, wanted)


def _parse(text: str, wanted: list[str]) -> dict[str, str]:
    states = {}
    for line in text.splitlines():
        job, _, state = line.partition("|")
        if job.strip() in wanted and state.strip():
            states[job.strip()] = _first_word(state)
    return states


def accounting_states(job_ids: Iterable[str]) -> dict[str, str]:
    """``job id → sacct state`` (first word: ``"CANCELLED by 1234"`` is ``"CANCELLED"``); ``{}`` without accounting."""
    wanted = sorted(set(job_ids))
    if not wanted:
        return {}
    done = _run(["sacct", "-j", ",".join(wanted), "-o", "JobID,State", "--parsable2", "--noheader"])
    if done is None or done.returncode != 0:
        return {}
    return _parse(done.stdout, wanted)  # steps (1234_5.batch) are left out


def slurm_states(job_ids: Iterable[str]) -> dict[str, str]:
    """``job id → state`` from ``squeue``, then ``sacct`` for the others; :data:`GONE` for tasks neither lists.

    Returns ``{}`` where ``squeue`` does not run (not a Slurm machine): nothing is known.
    """
    wanted = sorted(set(job_ids))
    queued = queue_states(wanted)
    if queued is None:
        return accounting_states(wanted)
    rest = [job for job in wanted if job not in queued]
    states = {**queued, **accounting_states(rest)}
    return {job: states.get(job, GONE) for job in wanted}


_LOG_MARKERS: tuple[tuple[str, str], ...] = (
    ("exceeded memory limit", "OUT_OF_MEMORY"),
    ("exceeded job memory limit", "OUT_OF_MEMORY"),
    ("oom-kill", "OUT_OF_MEMORY"),
    ("oom_kill", "OUT_OF_MEMORY"),
    ("due to time limit", "TIMEOUT"),
    ("due to node failure", "NODE_FAIL"),
    ("due to preemption", "PREEMPTED"),
    ("cancelled at", "CANCELLED"),
)
"""What slurmstepd writes in a task's log when it ends it, and the state that means.  A task
killed for memory inside its ``srun`` step is reported by Slurm as ``FAILED`` (the step is
``OUT_OF_MEMORY``, the job is not), so its log is the only place that says why."""


def refined_state(state: str, log: Path) -> str:
    """``state``, or the cause the task's log names when Slurm's state hides it (``FAILED``, ``GONE``, ``CANCELLED``).

    Markers are checked in order, so a memory kill (which also cancels the step) reads as
    ``OUT_OF_MEMORY``, not ``CANCELLED``.
    """
    if state not in ("FAILED", GONE, "CANCELLED"):
        return state
    try:
        text = log.read_text(errors="replace").lower()
    except OSError:
        return state
    return next((named for marker, named in _LOG_MARKERS if marker in text), state)


def cause(state: str) -> str:
    """The user's words for a bad end state, e.g. ``"OUT_OF_MEMORY: killed for using more memory…"``."""
    return f"{state}: {CAUSES[state]}" if state in CAUSES else state
