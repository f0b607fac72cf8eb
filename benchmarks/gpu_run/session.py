"""The parent's side of a run (phases 1–5): it starts the worker and data processes and hands out cells."""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing as mp
import os
import queue
import time
from pathlib import Path
from typing import Any

from benchmark.protocol.setting_names import NO_SETTING
from benchmarks.gpu_run.budget import MethodCost, budget_overrides, plan_steps
from benchmarks.gpu_run.cell_data_builder import build_data_main
from benchmarks.gpu_run.cell_worker import worker_main
from benchmarks.gpu_run.concurrency_probe import CONCURRENCY_TOLERANCE, aggregate_levels, choose_concurrency
from benchmarks.gpu_run.method_steps import patches_per_step, step_knobs
from benchmarks.gpu_run.options import Options
from benchmarks.gpu_run.run_record import Phase, Run, RunLog
from benchmarks.gpu_run.worker_setup import WorkerSetup


class Session:
    """The parent's side of one run: the worker and data processes, their queues, phases 1–5.

    The parent never trains; it only starts processes, generates the cohort, sizes the budget
    and hands out cells.  Results stay in ``<work>/runs``; what was learned goes to ``run``.
    """

    def __init__(self, options: Options, run: Run, log: RunLog, deadline: float) -> None:
        from benchmark.app.matrix import build_matrix
        from benchmark.device import resolve_device
        from benchmark.plugins import METHODS
        from benchmark.precision import resolve_precision
        from benchmark.profiles import load_profile
        from benchmark.results.cell import ProtocolOptions
        from benchmark.scale import Scale

        self.options, self.run, self.log, self.deadline = options, run, log, deadline
        device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, device)
        self.base_profile = load_profile(options.profile)
        self.cells = build_matrix(
            METHODS.resolve(options.methods),
            [options.dataset],
            [Scale.parse(options.scale)],
            list(options.settings),
            [options.seed],
            self.base_profile,
            ProtocolOptions(),
            precision=self.precision,
        )
        self.methods = list(dict.fromkeys(cell.method for cell in self.cells))
        log(f"{len(self.cells)} cells, {len(self.methods)} methods, device {device}, precision {self.precision}")
        self.cpus = os.cpu_count() or 1
        self.levels = tuple(level for level in options.levels if level >= 1) or (1,)
        self.logs = options.work / "logs"
        for folder in (self.logs, options.work / "scratch", options.work / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        context = mp.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.barrier = context.Barrier(max(self.levels))  # kept: its semaphores must outlive the spawns
        self.workers = [
            context.Process(
                target=worker_main,
                args=(self._worker_setup(index), self.barrier, self.tasks, self.results),
                daemon=True,
            )
            for index in range(max(self.levels))
        ]
        # One data process per setting; cells without source HR (n/a) use the first setting's data.
        settings = [s for s in dict.fromkeys(c.setting for c in self.cells) if s in options.settings]
        self.data_settings = settings or [options.settings[0]]
        self.data_paths = {s: str(options.work / "data" / f"data-{s}.pkl") for s in self.data_settings}
        self.cohort_ready = context.Event()
        self.builders = [
            context.Process(
                target=build_data_main,
                args=(
                    options.dataset,
                    next((c for c in self.cells if c.setting == s), self.cells[0]),
                    str(options.cache_dir),
                    self.data_paths[s],
                    str(self.logs / f"data-{s}.txt"),
                    self.cohort_ready,
                ),
                daemon=True,
            )
            for s in self.data_settings
        ]
        self.workers_running = len(self.workers)

    def _worker_setup(self, index: int) -> WorkerSetup:
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
            log_path=str(self.logs / f"worker-{index}.txt"),
            scratch=str(o.work / "scratch"),
        )

    # ------------------------------------------------------------------ process plumbing
    def alive(self) -> bool:
        """Whether some worker still runs."""
        return any(worker.is_alive() for worker in self.workers)

    def submit(self, kind: str, cell: Any, runs_dir: Path, threads: int, setting: str | None = None) -> None:
        """Queue one cell for the next free worker, with the data of ``setting`` (default: the cell's)."""
        setting = setting or cell.setting
        path = self.data_paths.get(setting, self.data_paths[self.data_settings[0]])
        self.tasks.put({"kind": kind, "cell": cell, "data_path": path, "runs_dir": str(runs_dir), "threads": threads})

    def collect(self, wanted: int, until: float, kind: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """Gather ``wanted`` results of ``kind`` until the monotonic time ``until``; also who runs what."""
        gathered: list[dict[str, Any]] = []
        running: dict[int, str] = {}
        while len(gathered) < wanted:
            remaining = until - time.monotonic()
            if remaining <= 0:
                break
            try:
                result = self.results.get(timeout=min(remaining, 5.0))
            except queue.Empty:
                if not self.alive():
                    self.log("every worker has exited")
                    break
                continue
            if result["kind"] == "started":
                running[result["worker"]] = result["label"]
                continue
            running.pop(result.get("worker", -1), None)
            if result["kind"] != kind:
                continue
            gathered.append(result)
            if kind != "concurrency":
                self.log(
                    f"{kind} {result['label']}: {result['status']} in {result['wall_s']:.1f} s "
                    f"({result['steps']} steps, {result['train_s']:.1f} s training)"
                    + (f"; {result['error']}" if result["error"] else "")
                )
        return gathered, running

    def stop(self) -> None:
        """Tell every worker to exit; kill the ones still in a cell after 5 s, and any data process left."""
        for _ in range(self.workers_running):
            self.tasks.put(None)
        stop_by = time.monotonic() + 5
        for process in [*self.workers, *self.builders]:
            if process.pid is None:
                continue
            process.join(timeout=max(0.1, stop_by - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    # ------------------------------------------------------------------ phases
    def execute(self) -> None:
        """Phases 1–5; the processes are stopped whatever happens."""
        try:
            chosen = self.concurrency_and_data()
            costs, knobs = self.probe(chosen)
            self.cells_phase(chosen, costs, knobs)
        finally:
            self.stop()

    def concurrency_and_data(self) -> int:
        """Phases 1–2: the concurrency probe on the workers while the cohort and the data are made."""
        options, log = self.options, self.log
        with Phase(self.run, log, "concurrency_probe"):
            for process in [*self.workers, *self.builders]:
                process.start()
            log(f"{len(self.workers)} workers, levels {list(self.levels)} of {options.level_seconds:g} s")
            with Phase(self.run, log, "cohort"):
                from benchmark.plugins import DATASETS

                DATASETS.create(options.dataset, data_root=None, cache_dir=options.cache_dir)
            self.cohort_ready.set()
            self.run.phases["data"] = [round(log.elapsed(), 1)]
            found, _ = self.collect(len(self.workers), self.deadline, "concurrency")
        batch = next((r["batch_size"] for r in found if "batch_size" in r), int(self.base_profile["batch_size"]))
        table = aggregate_levels([row for r in found for row in r.get("rows", [])], batch)
        chosen = max(1, min(choose_concurrency(table), len(self.cells), len(self.workers)))
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
        for _ in range(len(self.workers) - chosen):
            self.tasks.put(None)  # the first workers to ask exit; `chosen` remain
        self.workers_running = chosen
        self.wait_for_data(first_only=True)
        return chosen

    def wait_for_data(self, first_only: bool) -> None:
        """Wait for the first (or every) setting's data; record the facts of those built.

        Raises:
            RuntimeError: a data process ended without its data, or the deadline came first.
        """
        while True:
            for setting, path in self.data_paths.items():
                facts = Path(path + ".json")
                if setting not in self.run.data and facts.is_file():
                    self.run.data[setting] = json.loads(facts.read_text())
                    self.log(f"data {setting}: {self.run.data[setting]['seconds']:.1f} s")
            if len(self.run.data) == len(self.data_paths) or (first_only and self.run.data):
                break
            for setting, builder in zip(self.data_paths, self.builders):
                if (
                    setting not in self.run.data
                    and not builder.is_alive()
                    and not Path(self.data_paths[setting] + ".json").is_file()
                ):
                    raise RuntimeError(f"the {setting} data were not built; see {self.logs / f'data-{setting}.txt'}")
            if time.monotonic() > self.deadline:
                raise RuntimeError("the data were not built before the deadline")
            time.sleep(0.2)
        if len(self.run.data) == len(self.data_paths) and len(self.run.phases["data"]) == 1:
            self.run.phases["data"].append(round(self.log.elapsed(), 1))

    def probe(self, chosen: int) -> tuple[dict[str, MethodCost], dict[str, str | None]]:
        """Phase 3: one short cell per method on the ``chosen`` workers; failed methods are skipped."""
        from benchmark.profiles import load_profile

        options, run = self.options, self.run
        profile_steps = int(next(iter(run.data.values()))["profile_steps"])
        self.max_steps = options.max_steps or profile_steps
        self.threads = max(1, self.cpus // chosen)
        knobs = step_knobs(self.methods)
        table = run.concurrency["levels"]
        per_step = next((r["s_per_step_per_process"] for r in table if r["level"] == chosen), math.inf)
        guess = round(options.probe_seconds / per_step) if math.isfinite(per_step) else 3
        probe_steps = int(min(self.max_steps, max(3, guess)))
        # As many validations as a cell will do: their cost is part of the fixed cost measured.
        probe_overrides = budget_overrides(probe_steps, [k for k in knobs.values() if k], options.curve_points)
        profile = load_profile(options.profile, probe_overrides)
        with Phase(run, self.log, "method_probe"):
            # A method probes on the data built first when one of its cells uses that setting (or
            # none: n/a), so these probes overlap the building of the other setting's data; the
            # others (e.g. supervised: misaligned only) wait for theirs.  Probe cells are not kept.
            ready = next(s for s in self.data_paths if s in run.data)
            probe_cells = {}
            for method in self.methods:
                mine = [c for c in self.cells if c.method == method]
                probe_cells[method] = next((c for c in mine if c.setting in (ready, NO_SETTING)), mine[0])
            now = [m for m in self.methods if probe_cells[m].setting in (ready, NO_SETTING)]
            later = [m for m in self.methods if m not in now]
            run.budget["probe_data"] = {m: ready if m in now else probe_cells[m].setting for m in self.methods}
            for method in [*now, None, *later]:
                if method is None:
                    self.wait_for_data(first_only=False)
                    continue
                cell = dataclasses.replace(probe_cells[method], profile=profile)
                self.submit(
                    "probe", cell, options.work / "probe-runs", self.threads, setting=ready if method in now else None
                )
            probes, _ = self.collect(len(self.methods), self.deadline, "probe")
        costs: dict[str, MethodCost] = {}
        for method in self.methods:
            found = next((p for p in probes if p["method"] == method), None)
            if found is None or found["status"] != "done":
                run.skipped[method] = found["error"] if found else "its probe did not finish in time"
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

    def fit_in_memory(self, chosen: int, share: float = 0.85) -> int:
        """Fewer workers if ``chosen`` copies of the largest probe's peak GPU memory exceed ``share`` of the GPU."""
        total = self.run.machine.get("gpu_memory_mib")
        peaks = [p["peak_reserved_mib"] for p in self.run.probe.values() if p.get("peak_reserved_mib")]
        if not total or not peaks:
            return chosen
        fits = max(1, int(share * total // max(peaks)))
        if fits >= chosen:
            return chosen
        self.log(f"{chosen} workers would need {chosen * max(peaks):.0f} MiB of {total} MiB: {fits} run the cells")
        for _ in range(chosen - fits):
            self.tasks.put(None)  # idle workers: the first ones to ask exit
        self.workers_running = fits
        self.run.concurrency["chosen_for_memory"] = fits
        return fits

    def cells_phase(self, chosen: int, costs: dict[str, MethodCost], knobs: dict[str, str | None]) -> None:
        """Phases 4–5: size the steps to the time left, run every cell, record what each did."""
        from benchmark.profiles import load_profile

        options, run, log = self.options, self.run, self.log
        self.wait_for_data(first_only=False)
        chosen = self.fit_in_memory(chosen)
        main_cells = [c for c in self.cells if c.method in costs]
        kill_at = self.deadline - options.report_seconds
        window = max(0.0, (kill_at - time.monotonic()) * (1 - options.margin))
        methods = [c.method for c in main_cells]
        steps, makespan = plan_steps(costs, methods, chosen, window, options.budget, options.min_steps, self.max_steps)
        common = max([n for n in steps.values() if n > 0], default=options.min_steps)
        profiles = {}
        for method in costs:
            if options.budget == "steps":  # one set of overrides for every cell: one report table
                own = [k for m, k in knobs.items() if k and m in costs]
                profiles[method] = load_profile(options.profile, budget_overrides(common, own, options.curve_points))
            else:
                own = [knobs[method]] if knobs[method] else []
                overrides = budget_overrides(max(steps[method], options.min_steps), own, options.curve_points)
                profiles[method] = load_profile(options.profile, overrides)
        estimates = {m: costs[m].overhead_s + steps[m] * costs[m].step_s for m in costs}
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
        log(f"budget ({options.budget}): {steps}; window {window:.0f} s, planned {makespan:.0f} s on {chosen} workers")
        runs_dir = options.work / "runs"
        planned = sorted(
            (dataclasses.replace(c, profile=profiles[c.method]) for c in main_cells),
            key=lambda c: -estimates[c.method],
        )
        with Phase(run, log, "cells"):
            for cell in planned:
                self.submit("cell", cell, runs_dir, self.threads)
            finished, running = self.collect(len(planned), kill_at, "cell")
        reported = {r["label"] for r in finished}
        for cell in planned:
            if cell.label() not in reported:
                state = "killed at the deadline" if cell.label() in running.values() else "not started in time"
                finished.append(
                    {"label": cell.label(), "method": cell.method, "setting": cell.setting, "status": state}
                )
                log(f"cell {cell.label()}: {state}")
        batches = {method: patches_per_step(method, options.scale, profiles[method]) for method in costs}
        for record in finished:
            method = record["method"]
            train_s, n = record.get("train_s") or 0.0, record.get("steps") or 0
            record.update(
                planned_steps=steps.get(method, 0),
                batch=batches[method],
                steps_per_s=n / train_s if train_s > 0 else None,
                patches_per_s=n * batches[method] / train_s if train_s > 0 else None,
                overrides=profiles[method].overrides_text(),
                estimate_s=round(estimates[method], 1),
            )
        order = {c.label(): i for i, c in enumerate(planned)}
        run.cells = sorted(finished, key=lambda r: (r["setting"], r["method"], order.get(r["label"], 0)))
