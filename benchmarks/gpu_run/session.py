"""The parent's side of a run (phases 1–5): the concurrency probe, the data, then the cells in the local queue.

The cells (method probes and the budgeted cells) run as ``bench run --executor local`` runs them:
:func:`~benchmark.app.executors.local_queue.run_queue`, one process per cell, ``P`` processes
sharing the GPU (``--per-gpu P``), each cell's data built once and loaded by its process.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmark.app.cell_run import build_cell_data
from benchmark.app.executors.cell_data_store import CellDataStore
from benchmark.app.executors.local_queue import QueuedCells, Slot, gpu_slots, local_slots, run_queue
from benchmark.app.executors.request import Matrix, RunRequest
from benchmarks.gpu_run.budget import MethodCost, budget_overrides, plan_steps
from benchmarks.gpu_run.cell_outcome import cell_outcome
from benchmarks.gpu_run.concurrency_probe import (
    CONCURRENCY_TOLERANCE,
    aggregate_levels,
    choose_concurrency,
    concurrency_main,
)
from benchmarks.gpu_run.method_steps import patches_per_step, step_knobs
from benchmarks.gpu_run.options import Options
from benchmarks.gpu_run.run_record import Phase, Run, RunLog
from benchmarks.gpu_run.worker_setup import WorkerSetup


class Session:
    """The parent's side of one run: phases 1–5.  Results stay in ``<work>/runs``; what was learned goes to ``run``."""

    def __init__(self, options: Options, run: Run, log: RunLog, deadline: float) -> None:
        self.options, self.run, self.log, self.deadline = options, run, log, deadline
        self.request = RunRequest(
            methods=options.methods,
            dataset=options.dataset,
            scale=options.scale,
            setting=",".join(options.settings),
            seed=str(options.seed),
            profile=options.profile,
            runs_dir=str(options.work / "runs"),
            cache_dir=str(options.cache_dir),
            device=options.device,
            precision=options.precision,
        )
        matrix = self.request.matrix()
        self.device, self.precision, self.cells = matrix.device, matrix.precision, matrix.cells
        self.base_profile = self.cells[0].profile
        self.methods = list(dict.fromkeys(cell.method for cell in self.cells))
        log(f"{len(self.cells)} cells, {len(self.methods)} methods, device {self.device}, precision {self.precision}")
        self.cpus = os.cpu_count() or 1
        self.levels = tuple(level for level in options.levels if level >= 1) or (1,)
        self.logs = options.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.store = CellDataStore(options.work / "data")
        self.queue_log = (self.logs / "queue.txt").open("a")
        self.console = Console(file=self.queue_log, width=160, soft_wrap=True)

    # ------------------------------------------------------------------ phases
    def execute(self) -> None:
        """Phases 1–5."""
        try:
            chosen = self.concurrency_and_data()
            costs, knobs = self.probe(chosen)
            self.cells_phase(chosen, costs, knobs)
        finally:
            self.queue_log.close()

    def concurrency_and_data(self) -> int:
        """Phases 1–2: the concurrency probe in its own processes while this one makes the cohort and the data."""
        options, log = self.options, self.log
        context = mp.get_context("spawn")
        results = context.Queue()
        barrier = context.Barrier(max(self.levels))
        processes = [
            context.Process(target=concurrency_main, args=(self._probe_setup(index), barrier, results), daemon=True)
            for index in range(max(self.levels))
        ]
        with Phase(self.run, log, "concurrency_probe"):
            for process in processes:
                process.start()
            log(f"{len(processes)} probe processes, levels {list(self.levels)} of {options.level_seconds:g} s")
            with Phase(self.run, log, "cohort"):
                from benchmark.plugins import DATASETS

                dataset = DATASETS.create(options.dataset, data_root=None, cache_dir=options.cache_dir)
            with Phase(self.run, log, "data"):
                self.build_data(dataset)
            found = self._collect_concurrency(results, processes)
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        batch = next((r["batch_size"] for r in found if "batch_size" in r), int(self.base_profile["batch_size"]))
        table = aggregate_levels([row for r in found for row in r.get("rows", [])], batch)
        chosen = max(1, min(choose_concurrency(table), len(self.cells), len(processes)))
        self.run.machine.update(next((r["device"] for r in found if "device" in r), {}))
        self.run.concurrency = {
            "plan": f"supervised TS-RCAN, {options.profile} profile, synthetic volumes, batch {batch}",
            "window_s": options.level_seconds,
            "levels": table,
            "chosen": chosen,
            "rule": f"smallest level within {CONCURRENCY_TOLERANCE:.0%} of the best aggregate steps/s",
            "warmup_s": [round(r.get("warmup_s", 0.0), 2) for r in found],
            "errors": [r["error"] for r in found if r.get("error")],
            "note": "measured while the cohort and the data were made on the CPU",
        }
        for row in table:
            log(
                f"concurrency {row['level']}: {row['aggregate_steps_per_s']:.2f} steps/s in all, "
                f"{row['s_per_step_per_process']:.3f} s/step per process"
            )
        log(f"chosen concurrency: {chosen}")
        return chosen

    def _probe_setup(self, index: int) -> WorkerSetup:
        o = self.options
        return WorkerSetup(
            index=index,
            device=o.device,
            precision=self.precision,
            profile=o.profile,
            scale=o.scale,
            levels=self.levels,
            level_seconds=o.level_seconds,
            warmup_steps=o.warmup_steps,
            threads=max(1, self.cpus // max(self.levels)),
            log_path=str(self.logs / f"concurrency-{index}.txt"),
            scratch=str(o.work / "scratch"),
        )

    def _collect_concurrency(self, results: Any, processes: list[Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < len(processes) and time.monotonic() < self.deadline:
            try:
                found.append(results.get(timeout=5.0))
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    self.log("every probe process has exited")
                    break
        return found

    def build_data(self, dataset: Any) -> None:
        """Each data group of the cells, built once into the store the queue reads (as ``bench run`` builds it)."""
        from benchmark.training.trainer import total_steps

        for cell in {self.store.path(cell): cell for cell in self.cells}.values():
            started = time.perf_counter()
            data = build_cell_data(dataset, cell, None)
            self.store.put(cell, data)
            self.run.data[cell.setting] = {
                "seconds": round(time.perf_counter() - started, 1),
                "profile_steps": total_steps(cell.profile, [v.shape for v in data.training.target_lr]),
                "lr_shapes": [list(v.shape) for v in data.training.target_lr],
                "test_subjects": [pair.hr.subject for pair in data.test],
            }
            self.log(f"data {cell.setting}: {self.run.data[cell.setting]['seconds']:.1f} s")

    def slots(self, processes: int) -> list[Slot]:
        """``processes`` queue slots: all on this run's GPU, or CPU workers."""
        if self.device.type == "cuda":
            return gpu_slots([self.device.index or 0], per_gpu=processes)
        return local_slots(None, processes, "cpu")

    def run_cells(self, jobs: list[QueuedCells], processes: int, until: float) -> Any:
        """The cells of ``jobs`` in the local queue on ``processes`` slots, stopped at ``until`` (monotonic)."""
        return run_queue(jobs, self.slots(processes), self.console, data_dir=self.store.folder, deadline=until)

    def request_for(self, overrides: tuple[str, ...], runs_dir: Path, threads: int) -> tuple[RunRequest, Matrix]:
        """This run's request with ``overrides``, and its matrix (the cells in the order of ``self.cells``)."""
        request = self.request.with_changes(overrides=overrides, runs_dir=str(runs_dir), threads=threads)
        return request, request.matrix()

    def probe(self, chosen: int) -> tuple[dict[str, MethodCost], dict[str, str | None]]:
        """Phase 3: one short cell per method on ``chosen`` processes; failed methods are skipped."""
        options, run = self.options, self.run
        profile_steps = max(int(facts["profile_steps"]) for facts in run.data.values())
        self.max_steps = options.max_steps or profile_steps
        self.threads = max(1, self.cpus // chosen)
        knobs = step_knobs(self.methods)
        table = run.concurrency["levels"]
        per_step = next((r["s_per_step_per_process"] for r in table if r["level"] == chosen), math.inf)
        guess = round(options.probe_seconds / per_step) if math.isfinite(per_step) else 3
        probe_steps = int(min(self.max_steps, max(3, guess)))
        # As many validations as a cell will do: their cost is part of the fixed cost measured.
        overrides = tuple(budget_overrides(probe_steps, [k for k in knobs.values() if k], options.curve_points))
        request, matrix = self.request_for(overrides, options.work / "probe-runs", self.threads)
        probe_cells = [next(c for c in matrix.cells if c.method == method) for method in self.methods]
        run.budget["probe_data"] = {cell.method: cell.setting for cell in probe_cells}
        with Phase(run, self.log, "method_probe"):
            summary = self.run_cells([QueuedCells(request, matrix, probe_cells)], chosen, self.deadline)
        costs: dict[str, MethodCost] = {}
        for cell in probe_cells:
            found = cell_outcome(cell, matrix.runs_dir, summary)
            self._log_outcome("probe", found)
            method = cell.method
            if found["status"] != "done":
                run.skipped[method] = found["error"] or f"its probe was {found['status']}"
                self.log(f"skipped {method}: {run.skipped[method]}")
                continue
            trains = knobs[method] is not None and found["steps"] > 0
            step_s = found["train_s"] / probe_steps if trains else 0.0
            costs[method] = MethodCost(overhead_s=max(0.0, found["wall_s"] - found["train_s"]), step_s=step_s)
            run.probe[method] = {
                "steps": probe_steps if trains else 0,
                "trainer_steps": found["steps"],
                "train_s": round(found["train_s"], 3),
                "s_per_step": round(step_s, 5),
                "overhead_s": round(costs[method].overhead_s, 2),
                "wall_s": round(found["wall_s"], 2),
                "peak_mem_mib": found["peak_mem_mib"],
                "peak_reserved_mib": found["peak_reserved_mib"],
            }
        run.budget["profile_budget_steps"] = profile_steps
        run.budget["probe_steps"] = probe_steps
        return costs, knobs

    def _log_outcome(self, kind: str, found: dict[str, Any]) -> None:
        self.log(
            f"{kind} {found['label']}: {found['status']} in {found['wall_s']:.1f} s "
            f"({found['steps']} steps, {found['train_s']:.1f} s training)"
            + (f"; {found['error']}" if found["error"] else "")
        )

    def fit_in_memory(self, chosen: int, share: float = 0.85) -> int:
        """Fewer processes if ``chosen`` copies of the largest probe's peak GPU memory exceed ``share`` of the GPU."""
        total = self.run.machine.get("gpu_memory_mib")
        peaks = [p["peak_reserved_mib"] for p in self.run.probe.values() if p.get("peak_reserved_mib")]
        if not total or not peaks:
            return chosen
        fits = max(1, int(share * total // max(peaks)))
        if fits >= chosen:
            return chosen
        self.log(f"{chosen} processes would need {chosen * max(peaks):.0f} MiB of {total} MiB: {fits} run the cells")
        self.run.concurrency["chosen_for_memory"] = fits
        return fits

    def cells_phase(self, chosen: int, costs: dict[str, MethodCost], knobs: dict[str, str | None]) -> None:
        """Phases 4–5: size the steps to the time left, run every cell, record what each did."""
        options, run, log = self.options, self.run, self.log
        chosen = self.fit_in_memory(chosen)
        main_cells = [c for c in self.cells if c.method in costs]
        kill_at = self.deadline - options.report_seconds
        window = max(0.0, (kill_at - time.monotonic()) * (1 - options.margin))
        methods = [c.method for c in main_cells]
        steps, makespan = plan_steps(costs, methods, chosen, window, options.budget, options.min_steps, self.max_steps)
        common = max([n for n in steps.values() if n > 0], default=options.min_steps)
        overrides: dict[str, tuple[str, ...]] = {}
        for method in costs:
            if options.budget == "steps":  # one set of overrides for every cell: one report table
                own = [k for m, k in knobs.items() if k and m in costs]
                overrides[method] = tuple(budget_overrides(common, own, options.curve_points))
            else:
                own = [knobs[method]] if knobs[method] else []
                overrides[method] = tuple(
                    budget_overrides(max(steps[method], options.min_steps), own, options.curve_points)
                )
        estimates = {m: costs[m].overhead_s + steps[m] * costs[m].step_s for m in costs}
        runs_dir = options.work / "runs"
        # One request per distinct set of overrides (one in --budget steps), cells longest first.
        jobs, planned = [], []
        for text in dict.fromkeys(overrides[m] for m in sorted(costs, key=lambda m: -estimates[m])):
            request, matrix = self.request_for(text, runs_dir, self.threads)
            mine = [c for c in matrix.cells if c.method in costs and overrides[c.method] == text]
            mine.sort(key=lambda c: -estimates[c.method])
            jobs.append(QueuedCells(request, matrix, mine))
            planned += mine
        profiles = {cell.method: cell.profile for cell in planned}
        run.budget.update(
            mode=options.budget,
            steps=steps,
            step_keys=knobs,
            overrides={m: p.overrides_text() for m, p in profiles.items()},
            max_steps=self.max_steps,
            capped_at_max_steps=any(n >= self.max_steps for n in steps.values()),
            workers=chosen,
            threads_per_worker=self.threads,
            window_s=round(window, 1),
            planned_makespan_s=round(makespan, 1),
            estimates_s={m: round(v, 1) for m, v in estimates.items()},
        )
        log(f"budget ({options.budget}): {steps}; window {window:.0f} s, planned {makespan:.0f} s on {chosen} slots")
        with Phase(run, log, "cells"):
            summary = self.run_cells(jobs, chosen, kill_at)
        batches = {method: patches_per_step(method, options.scale, profiles[method]) for method in profiles}
        finished = []
        for cell in planned:
            record = cell_outcome(cell, runs_dir, summary)
            self._log_outcome("cell", record)
            method = cell.method
            train_s, n = record["train_s"], record["steps"]
            record.update(
                planned_steps=steps.get(method, 0),
                batch=batches[method],
                steps_per_s=n / train_s if train_s > 0 else None,
                patches_per_s=n * batches[method] / train_s if train_s > 0 else None,
                overrides=profiles[method].overrides_text(),
                estimate_s=round(estimates[method], 1),
            )
            finished.append(record)
        order = {c.label(): i for i, c in enumerate(planned)}
        run.cells = sorted(finished, key=lambda r: (r["setting"], r["method"], order.get(r["label"], 0)))
