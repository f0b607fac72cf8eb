"""The ``paper`` profile on one GPU machine in one command: cohort, throughput probes, budgeted cells, report.

On a GPU node with only a copy of the repository and no package registry (the nibabel and
nilearn wheels copied into ``.whl/``, see the README section "The paper profile on a GPU")::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. PYTHONUNBUFFERED=1 \\
        && python3 benchmarks/gpu_paper_run.py --out $OUT --minutes 7

CPU dry run (what ``tests/test_gpu_paper_run.py`` runs; every phase, tiny sizes, about a minute)::

    PYTHONPATH=. python benchmarks/gpu_paper_run.py --dry-run --out /tmp/gpu-dry \\
        --methods tricubic,supervised-aligned,zssr

Where the project is not pip-installed (such a node), its entry points (``bench.plugins``)
do not exist: :func:`~benchmarks.gpu_run.builtin_plugins.register_builtins` imports the
built-in plugins by module, here and (through ``BENCH_PLUGINS``) in every cell process.  Everything runs in this
process and its spawned children; the parent never trains.  Phases, all inside ``--minutes``:

1. **Concurrency probe.**  ``max(--levels)`` probe processes start; each trains the
   supervised TS-RCAN plan of the profile (paper network, patch and batch) on synthetic
   volumes through the shared trainer.  For each level ``L`` in ``--levels`` the first ``L``
   processes train together for ``--level-seconds`` (a barrier starts and ends each window) and
   the aggregate steps/s is recorded.  The chosen concurrency ``P`` is the smallest level
   within 5 % of the best aggregate.  The probe processes then exit: they only measure.
2. **Cohort and data** (meanwhile, in this process, on the CPU): the demo cohort is generated
   (the dataset plugin, as ``bench run`` does), then each data group's cell data is built once
   into ``<work>/data``, where the local queue finds it (``benchmark/app/executors/cell_data_store.py``):
   no cell rebuilds it (building the misaligned demo data takes longer than many cells train).
3. **Method probe.**  One cell per method trains ``K`` steps (``K`` from the concurrency
   probe: about ``--probe-seconds`` of the supervised plan) in ``bench run``'s local queue with
   ``P`` cell processes on the GPU (``--per-gpu P``), so each method's seconds per step are
   measured under the sharing the real cells will see, together with its fixed cost (process
   start, data load, validation, checkpoint, test-volume inference, metrics).  Probe cells are
   thrown away.  A method whose probe fails (e.g. ``supervised-rigid`` where SimpleITK is
   missing) is skipped; the reason is recorded.
4. **Budget.**  ``--budget steps`` (default): one step count ``N`` for every method (the paper
   trains every method for the same epochs; one set of overrides keeps every cell in one
   report table), the largest whose longest-first schedule of all cells on ``P`` processes ends
   inside the window.  ``--budget time``: the same seconds of training per cell, so
   ``N_m = seconds / (seconds per step of m)`` (cells then land in one report table per
   method).  ``N`` never exceeds the profile's own budget (paper: 30 epochs of ``auto``
   steps).  Cells get ``--set epochs=1 steps_per_epoch=N`` (and each method's own ``*_steps``
   key, e.g. ``zssr_steps``), ``val_every = N // --curve-points`` and ``checkpoint_every = N``.
5. **Cells.**  The cells go, longest first, to the same local queue with ``P`` processes.  Each
   cell is what ``bench run --set …`` makes of the budget (its method's own keys only, so that
   ``bench run`` can resume or extend it); each records its training time and steps
   (``timing.csv``), its peak GPU memory (in its ``DONE``) and its precision
   (``environment.json``), and the queue its wall time.  Cells still running at the deadline are
   stopped (they resume from their checkpoints) and reported as unfinished.
6. **Report and packaging** into ``--out``, at most 8 files of at most 16 MiB, named with
   ``[A-Za-z0-9._-]``: ``results.csv``, ``cells.csv``, ``summary.md``, ``run.json`` (command,
   harness commit and source digest, machine, probes, budget, phases), ``log.txt``,
   ``archive.tar.gz`` (``bench report --archive``: the report, the results and each cell's record),
   ``learning_curves.png`` and ``error_maps.png`` (the report's figures, stacked).  ``bench
   report`` draws error maps only of cells without ``--set`` overrides, so where it drew none
   the script draws them with the report's own figure function.

The exit status is 0 when every planned cell finished and the outputs fit the limits, else 1;
the outputs are written either way.

The pieces live in the package ``benchmarks/gpu_run/``, one module per purpose (``options``,
``concurrency_probe``, ``cell_outcome``, ``method_steps``, ``budget``, ``session``, ``report``,
``summary``, ``packing``, ``machine_record``, ``source_digest``); this
file is the command.  They import as ``benchmarks.gpu_run.*``, so the repository root must be on
``sys.path`` (``PYTHONPATH=.`` from the repository root, or the editable install).
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence

from benchmarks.gpu_run.builtin_plugins import register_builtins
from benchmarks.gpu_run.machine_record import machine_facts
from benchmarks.gpu_run.options import parse_options
from benchmarks.gpu_run.packing import check_outputs, package
from benchmarks.gpu_run.report import write_report
from benchmarks.gpu_run.run_record import Phase, Run, RunLog
from benchmarks.gpu_run.session import Session


def main(argv: Sequence[str] | None = None) -> int:
    """Run every phase; always package what there is. Exit status 0 when every planned cell finished."""
    options = parse_options(argv)
    started = time.monotonic()
    deadline = started + options.minutes * 60
    options.work.mkdir(parents=True, exist_ok=True)
    log = RunLog(options.work / "logs" / "parent.log", started)
    log(f"gpu_paper_run: out {options.out}, work {options.work}, {options.minutes:g} min")
    register_builtins()
    run = Run(options)
    run.machine.update(machine_facts())
    try:
        Session(options, run, log, deadline).execute()
    except Exception as failure:  # packaged below: what ran is still worth having
        run.errors.append(traceback.format_exc())
        log(f"run stopped: {type(failure).__name__}: {failure}")
    with Phase(run, log, "report"):
        try:
            write_report(options.work / "runs", options.work / "report", run, log)
        except Exception as failure:
            run.errors.append(traceback.format_exc())
            log(f"report failed: {type(failure).__name__}: {failure}")
    written = package(options, run, log)
    problems = check_outputs(options.out, written)
    for problem in problems:
        log(f"output problem: {problem}")
    complete = bool(run.cells) and all(c["status"] == "done" for c in run.cells) and not run.errors and not problems
    log(f"{'complete' if complete else 'INCOMPLETE'}: {len(written)} files in {options.out}, {log.elapsed():.0f} s")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
