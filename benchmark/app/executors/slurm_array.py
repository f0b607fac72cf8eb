"""The ``slurm`` executor: the matrix as one Slurm job array, submitted through submitit.

submitit (https://github.com/facebookincubator/submitit) writes the sbatch script, pickles
each task's call, sets up the signal handlers and requeues a job that times out or is
pre-empted.  Each array task runs one cell (:func:`benchmark.app.executors.one_cell.run_one_cell`);
on requeue it starts the same cell again, which resumes from the checkpoints in its folder
and skips it when it already finished.  ``cluster = "local"`` runs the same array through
submitit's local executor on this machine, to try a set-up without a cluster.

Options come from the command line or a small TOML (or JSON) file; the command line wins:

.. code-block:: toml

    partition = "gpu"
    time = 240               # minutes per task
    gpus_per_task = 1        # 0 (the default): CPU tasks, unless --device cuda asks for one
    cpus_per_task = 8
    mem = "32G"              # sbatch's units: K, M (when none), G, T
    array_parallelism = 16   # tasks running at once
    requeues = 3             # times a task is requeued after a timeout or pre-emption
    [sbatch]                 # any other sbatch option, without its dashes
    account = "my-lab"
    qos = "normal"
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from benchmark.app.cell_run import RunSummary
from benchmark.app.executors.inline import rebuild_table, sort_finished
from benchmark.app.executors.manifest import write_manifest
from benchmark.app.executors.matrix_status import SLURM_FOLDER
from benchmark.app.executors.one_cell import EXIT_BUSY, EXIT_FAILED, run_one_cell
from benchmark.app.executors.request import Matrix, RunRequest
from benchmark.app.executors.slurm_follow import follow_array
from benchmark.errors import BenchError
from benchmark.results.cell import ProtocolOptions
from benchmark.results.cell_record import ERROR_FILE, last_error_line

try:
    import submitit
    from submitit.helpers import Checkpointable
except ImportError:  # pragma: no cover - submitit is a dependency; this keeps `bench` usable without it
    submitit = None
    Checkpointable = object  # type: ignore[assignment,misc]

CLUSTERS = ("slurm", "local")


@dataclass(frozen=True)
class SlurmOptions:
    """How each array task is submitted (see the module docstring for the file form).

    Attributes:
        partition: Slurm partition, or ``None`` for the cluster's default.
        time: wall-time limit of one task in minutes.
        gpus_per_task: GPUs per task; ``None`` follows ``--device`` (1 for ``cuda``, else 0),
            so a CPU-only cluster needs no option.
        cpus_per_task: CPU cores per task (``None``: the cluster's default).
        mem: memory per task as sbatch writes it, ``"500M"``, ``"32G"`` (a bare number is MiB);
            ``None``: the cluster's default.
        array_parallelism: array tasks running at once.
        requeues: times a task is requeued after a timeout or pre-emption.
        sbatch: other sbatch options, ``{"account": "my-lab"}`` for ``--account=my-lab``.
        cluster: ``"slurm"``, or ``"local"`` for submitit's local executor.
    """

    partition: str | None = None
    time: int = 240
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    array_parallelism: int = 32
    requeues: int = 3
    sbatch: dict[str, str] = field(default_factory=dict)
    cluster: str = "slurm"

    def check(self) -> SlurmOptions:
        """Refuse impossible values with one sentence; returns itself."""
        if self.cluster not in CLUSTERS:
            raise BenchError(f"Slurm cluster '{self.cluster}' is not one of {', '.join(CLUSTERS)}.")
        for name, value, least in (
            ("time", self.time, 1),
            ("gpus_per_task", self.gpus_per_task, 0),
            ("array_parallelism", self.array_parallelism, 1),
            ("requeues", self.requeues, 0),
            ("cpus_per_task", self.cpus_per_task, 1),
        ):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
                raise BenchError(f"Slurm option {name} must be a whole number of at least {least}, got {value!r}.")
        if self.mem is not None:
            memory_mib(self.mem)
        return self

    def gpus(self, device: str) -> int:
        """GPUs per task: the option when given, else 1 when ``--device cuda`` asked for a GPU, else 0."""
        if self.gpus_per_task is not None:
            return self.gpus_per_task
        return 1 if device.startswith("cuda") else 0


_MEMORY_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def memory_mib(text: str | int) -> float:
    """sbatch's ``--mem`` value in MiB: ``"500M"`` → 500, ``"2G"`` → 2048, ``"100"`` → 100 (MiB, as sbatch reads it).

    Raises:
        BenchError: not a positive number with one of the units K, M, G, T (an optional B after it).
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(text), flags=re.IGNORECASE)
    if match is None or float(match.group(1)) <= 0:
        raise BenchError(
            f"Slurm memory '{text}' is not a size sbatch reads; give a number with K, M, G or T, e.g. 500M or 32G."
        )
    mib = float(match.group(1)) * _MEMORY_UNITS[(match.group(2) or "M").upper()]
    if mib < 1:
        raise BenchError(f"Slurm memory '{text}' is below 1M; sbatch cannot ask for less.")
    return mib


def read_slurm_file(path: Path) -> dict[str, Any]:
    """The options of a ``.toml`` or ``.json`` Slurm file, checked against :class:`SlurmOptions`' fields.

    Raises:
        BenchError: the file is missing, unreadable, malformed, or names an unknown option.
    """
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise BenchError(f"cannot read the Slurm options file {path}: {error.strerror}.") from None
    try:
        if Path(path).suffix == ".json":
            values = json.loads(text)
        else:
            if sys.version_info < (3, 11):
                raise BenchError(f"reading the TOML file {path} needs Python 3.11; give the options as JSON.")
            import tomllib

            values = tomllib.loads(text)
    except (ValueError, TypeError) as error:
        raise BenchError(f"the Slurm options file {path} is not valid: {error}.") from None
    if not isinstance(values, dict):
        raise BenchError(f"the Slurm options file {path} must hold a table of options.")
    if "mem_gb" in values and "mem" not in values:  # the older key: whole GiB
        values["mem"] = f"{values.pop('mem_gb')}G"
    known = {item.name for item in fields(SlurmOptions)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BenchError(
            f"the Slurm options file {path} has unknown option(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}."
        )
    if not isinstance(values.get("sbatch", {}), dict):
        raise BenchError(f"'sbatch' in {path} must be a table of sbatch options.")
    return values


def slurm_options(file: Path | None, given: dict[str, Any], sbatch: list[str]) -> SlurmOptions:
    """Options from ``file`` (if any), then the command line's ``given`` values (``None`` = not given).

    Args:
        sbatch: ``key=value`` sbatch options from ``--slurm-option`` (added to the file's).
    """
    values: dict[str, Any] = read_slurm_file(file) if file is not None else {}
    values.update({key: value for key, value in given.items() if value is not None})
    extra = {str(key): str(value) for key, value in values.pop("sbatch", {}).items()}
    for item in sbatch:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().lstrip("-"):
            raise BenchError(f"--slurm-option '{item}' is not of the form key=value, e.g. account=my-lab.")
        extra[key.strip().lstrip("-")] = value.strip()
    return replace(SlurmOptions(**values), sbatch=extra).check()


class CellJob(Checkpointable):
    """One array task: run cell ``index`` of the request's matrix; requeued as is after a timeout.

    submitit calls :meth:`checkpoint` (inherited: resubmit with the same arguments) when the
    task is about to time out or is pre-empted; the requeued task resumes from the cell's
    checkpoints.
    """

    def __init__(self, request: RunRequest) -> None:
        self.request = request

    def __call__(self, index: int, folder: str) -> str:
        """Run the cell; returns ``"done"`` or ``"busy"``, raises when the cell failed (its ``error.txt`` says why).

        Without ``--threads``, torch gets the task's ``SLURM_CPUS_PER_TASK`` threads when Slurm
        sets it, not every core of the node.
        """
        request = self.request
        allocated = os.environ.get("SLURM_CPUS_PER_TASK", "")
        if request.threads is None and allocated.isdigit() and int(allocated) > 0:
            request = request.with_changes(threads=int(allocated))
        code = run_one_cell(request, index, folder, Console(soft_wrap=True))
        if code == EXIT_FAILED:
            cell_dir = Path(self.request.runs_dir, folder)
            raise RuntimeError(f"cell {folder} failed: {last_error_line(cell_dir)} (see {cell_dir / ERROR_FILE})")
        return "busy" if code == EXIT_BUSY else "done"


def planned_device(options: SlurmOptions, here: torch.device, device: str = "auto") -> torch.device:
    """The device the array's cells run on: a GPU when tasks get GPUs on Slurm, else what ``--device`` is here.

    Args:
        here: ``--device`` resolved on this machine (what the local cluster uses).
        device: ``--device`` as given; ``cpu`` with GPUs asked for is refused.

    Raises:
        BenchError: ``--device cpu`` with ``--slurm-gpus-per-task`` above 0.
    """
    if options.cluster != "slurm":
        return here
    gpus = options.gpus(device)
    if gpus > 0 and device == "cpu":
        raise BenchError(f"--device cpu and --slurm-gpus-per-task {gpus} disagree; drop one of them.")
    return torch.device("cuda" if gpus > 0 else "cpu")


def make_executor(options: SlurmOptions, folder: Path, threads: int | None, gpus: bool) -> Any:
    """A submitit executor for ``options``, writing its scripts and logs under ``folder``.

    Args:
        gpus: whether the cells run on GPUs (``False`` asks for no GPU, also from the local cluster).
    """
    if submitit is None:  # pragma: no cover
        raise BenchError("the slurm executor needs submitit; install it with `pip install submitit`.")
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster, slurm_max_num_timeout=options.requeues)
    except RuntimeError as error:  # submitit's "Could not detect srun": not a Slurm machine
        raise BenchError(
            f"cannot submit to Slurm from here ({error}); run this on the cluster's login node, "
            "or try the array on this machine with --slurm-cluster local."
        ) from None
    parameters: dict[str, Any] = {
        "timeout_min": options.time,
        "tasks_per_node": 1,
        "nodes": 1,
        "name": "bench",
        "slurm_array_parallelism": options.array_parallelism,
    }
    if gpus and options.gpus("cuda") > 0:  # no GPU option at all for CPU tasks: some clusters refuse even 0
        parameters["gpus_per_node"] = options.gpus("cuda")
    if options.cpus_per_task is not None:
        parameters["cpus_per_task"] = options.cpus_per_task
    if options.mem is not None:
        parameters["mem_gb"] = memory_mib(options.mem) / 1024  # submitit writes it back as whole MB
    if options.partition is not None:
        parameters["slurm_partition"] = options.partition
    if options.sbatch:
        parameters["slurm_additional_parameters"] = dict(options.sbatch)
    if threads is not None:
        parameters["slurm_setup"] = [f"export OMP_NUM_THREADS={threads}"]
    executor.update_parameters(**parameters)
    return executor


def submit_array(
    request: RunRequest,
    matrix: Matrix,
    options: SlurmOptions,
    console: Console,
    wait: bool,
    command: Sequence[str] = (),
) -> tuple[dict[int, str], RunSummary]:
    """Submit the matrix's unfinished cells as one array; with ``wait``, follow it to the end.

    The matrix manifest is written before submission and again, with the job ids, as soon as
    sbatch has answered, so ``bench status`` shows the cells while the array runs.

    Args:
        command: the command line, recorded in the manifest.

    Returns:
        ``(job ids by cell index, summary)``; without ``wait`` the summary holds only the
        cells that were finished before submission.

    Raises:
        BenchError: sbatch refused the array (its reason quoted, with the option to change).
    """
    runs_dir = matrix.runs_dir
    _, _, pending, summary = sort_finished(matrix.cells, runs_dir, matrix.cache_dir, console, request.retry_diverged)
    write_manifest(runs_dir, matrix.cells, "slurm", command)
    if not pending:
        return {}, summary
    indices = {cell.folder(Path(".")): index for index, cell in enumerate(matrix.cells)}
    task_request = request.with_changes(
        device=matrix.device.type,
        precision=matrix.precision,
        runs_dir=str(runs_dir.resolve()),
        cache_dir=str(matrix.cache_dir.resolve()),
        # absolute as the cells' identity spells it (symlinks kept), so a node rebuilds the same folders
        data_root=ProtocolOptions(Path(request.data_root)).root_text() if request.data_root else None,
    )
    executor = make_executor(options, runs_dir / SLURM_FOLDER, request.threads, matrix.device.type == "cuda")
    job = CellJob(task_request)
    try:
        jobs = executor.map_array(
            job,
            [indices[cell.folder(Path("."))] for cell in pending],
            [str(cell.folder(Path("."))) for cell in pending],
        )
    except Exception as error:  # submitit's FailedJobError holds sbatch's stderr
        if submitit is None or not isinstance(error, submitit.core.utils.FailedJobError):
            raise
        raise BenchError(sbatch_refusal(str(error))) from None
    job_ids = {indices[cell.folder(Path("."))]: str(item.job_id) for cell, item in zip(pending, jobs)}
    write_manifest(runs_dir, matrix.cells, "slurm", command, job_ids)
    console.print(f"submitted {len(jobs)} cell(s) as {options.cluster} job(s) {_id_range(list(job_ids.values()))}")
    if wait:
        follow_array(list(zip(pending, jobs)), matrix, summary, console, options.cluster)
        rebuild_table(runs_dir, summary)
    return job_ids, summary


_REFUSAL_OPTIONS: tuple[tuple[str, str], ...] = (
    ("partition", "--slurm-partition"),  # first: a partition may be named "gpu"
    ("gres", "--slurm-gpus-per-task (0 on a cluster without GPUs)"),
    ("memory", "--slurm-mem"),
    ("time limit", "--slurm-time"),
    ("account", "--slurm-option account=…"),
    ("qos", "--slurm-option qos=…"),
    ("cpu", "--slurm-cpus-per-task"),
    ("gpu", "--slurm-gpus-per-task"),
)
"""Words of sbatch's reason and the option that changes what it refused, the first found wins."""


def sbatch_refusal(stderr: str) -> str:
    """One sentence for an array sbatch refused: sbatch's own reason and the option that sets it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reasons = [line.split("error:", 1)[1].strip() for line in lines if "error:" in line]
    reason = "; ".join(reasons) if reasons else (lines[-1] if lines else "no reason given")
    low = reason.lower()
    option = next((name for key, name in _REFUSAL_OPTIONS if key in low), None)
    hint = f"change {option}" if option else "check the --slurm-* options and --slurm-config"
    return f"sbatch refused the array: {reason.rstrip('.')}; {hint}."


def task_error_line(text: str) -> str:
    """The exception line (``SomeError: message``) of a failed task's report, else its last line.

    submitit's report of a failed task holds the task's traceback and then the paths of its logs.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit): ", line)]
    return raised[-1] if raised else (lines[-1] if lines else "unknown error")


def _id_range(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{ids[0]} … {ids[-1]}"


@dataclass(frozen=True)
class SlurmExecutor:
    """``--executor slurm``: one job array (:func:`submit_array`); without ``wait`` the summary is ``detached``.

    Attributes:
        options: the Slurm options (partition, time, memory, GPUs, …).
        wait: follow the array to its end.
        command: the command line, recorded in the matrix manifest (with the job ids: ``bench status``).
    """

    options: SlurmOptions
    wait: bool
    command: Sequence[str] = ()
    name: str = "slurm"

    def run(self, request: RunRequest, matrix: Matrix, console: Console) -> RunSummary:
        job_ids, summary = submit_array(request, matrix, self.options, console, self.wait, self.command)
        summary.detached = bool(job_ids) and not self.wait
        return summary
