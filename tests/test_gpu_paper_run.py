"""The GPU paper-profile script (``benchmarks/gpu_paper_run.py``): its CPU dry run end to end, and its pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.gpu_run.budget import MethodCost, budget_overrides, longest_first_makespan, plan_steps
from benchmarks.gpu_run.builtin_plugins import BUILTIN_PLUGINS
from benchmarks.gpu_run.cell_outcome import training_record
from benchmarks.gpu_run.concurrency_probe import aggregate_levels, choose_concurrency
from benchmarks.gpu_run.method_steps import patches_per_step, step_knobs
from benchmarks.gpu_run.packing import OUTPUT_NAME, check_outputs
from benchmarks.gpu_run.source_digest import source_digest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_paper_run.py"


def _environment() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_dry_run_runs_every_phase_and_packages_at_most_8_files(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    command = [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out), "--work", str(work)]
    command += ["--methods", "tricubic,supervised-aligned,zssr", "--minutes", "3"]
    done = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    files = sorted(path.name for path in out.iterdir())
    expected = ["results.csv", "cells.csv", "summary.md", "run.json", "log.txt", "archive.tar.gz"]
    assert files == sorted([*expected, "learning_curves.png", "error_maps.png"])
    assert all(OUTPUT_NAME.match(name) for name in files)
    assert all((out / name).stat().st_size <= 16 * 2**20 for name in files)

    record = json.loads((out / "run.json").read_text())
    levels = record["concurrency"]["levels"]
    assert [row["level"] for row in levels] == [1, 2]
    assert all(row["aggregate_steps_per_s"] > 0 for row in levels)
    assert record["concurrency"]["chosen"] in (1, 2)
    assert record["probe"]["supervised-aligned"]["s_per_step"] > 0
    assert record["probe"]["tricubic"]["s_per_step"] == 0
    budget = record["budget"]
    assert budget["step_keys"] == {"tricubic": None, "supervised-aligned": "steps_per_epoch", "zssr": "zssr_steps"}
    steps = budget["steps"]["supervised-aligned"]
    assert steps == budget["steps"]["zssr"] >= 1 and budget["steps"]["tricubic"] == 0
    # One set of overrides for every cell; each cell keeps the keys its method reads, as `bench run --set` does.
    from benchmark.profiles import load_profile

    budget_profile = load_profile("tiny", budget_overrides(steps, ["steps_per_epoch", "zssr_steps"], 15))
    for method, text in budget["overrides"].items():
        assert text == budget_profile.for_method(method).overrides_text()
    assert f"zssr_steps={steps}" in budget["overrides"]["zssr"]
    assert "zssr_steps" not in budget["overrides"]["supervised-aligned"]
    assert record["harness"]["source_sha256"] == source_digest()
    assert {"cohort", "data", "method_probe", "cells", "report"} <= set(record["phases_s"])

    cells = pd.read_csv(out / "cells.csv", keep_default_na=False)
    assert sorted(zip(cells["method"], cells["setting"])) == [
        ("supervised-aligned", "misaligned"),
        ("supervised-aligned", "unpaired"),
        ("tricubic", "n/a"),
        ("zssr", "n/a"),
    ]
    assert set(cells["status"]) == {"done"}
    assert set(cells["precision"]) == {"fp32"}
    learned = cells[cells["method"] != "tricubic"]
    assert (learned["steps"] == steps).all()
    assert (learned["patches_per_s"].astype(float) > 0).all()

    results = pd.read_csv(out / "results.csv", keep_default_na=False)
    assert set(results["method"]) == {"tricubic", "supervised-aligned", "zssr"}
    assert "| supervised-aligned |" in (out / "summary.md").read_text()
    with tarfile.open(out / "archive.tar.gz") as archive:  # as `bench report --archive` packs a run
        names = archive.getnames()
    assert "archive/results.csv" in names
    assert any(name.startswith("archive/report/table2") and name.endswith(".md") for name in names)
    assert any(name.startswith("archive/report/figures/learning_curves_") for name in names)
    assert any(name.startswith("archive/demo-small/") and name.endswith("/timing.csv") for name in names)


def test_builtin_plugins_are_the_entry_points_of_pyproject():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(project["entry-points"]["bench.plugins"].values()) == sorted(BUILTIN_PLUGINS)


def test_methods_register_without_installed_entry_points():
    """On the GPU machine the project is only on PYTHONPATH: no entry point names its plugins."""
    code = (
        "import benchmark.registry as registry, importlib.util, sys\n"
        "registry.entry_points = lambda group: []\n"
        f"spec = importlib.util.spec_from_file_location('gpu_paper_run', {str(SCRIPT)!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['gpu_paper_run'] = module\n"
        "spec.loader.exec_module(module)\n"
        "module.register_builtins()\n"
        "from benchmark.plugins import DATASETS, DEGRADATIONS, METHODS\n"
        "print(len(METHODS.names()), 'demo' in DATASETS.names(), 'kspace' in DEGRADATIONS.names())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from benchmark.plugins import METHODS

    assert done.stdout.split() == [str(len(METHODS.names())), "True", "True"]


def test_script_runs_from_the_repository_root_without_the_install():
    """As on the GPU machine: no editable install, the script's folder first on ``sys.path``, the root after it."""
    code = (
        "import runpy, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "sys.path_hooks[:] = [h for h in sys.path_hooks if 'editable' not in repr(h).lower()]\n"
        "sys.path_importer_cache.clear()\n"
        f"sys.path[:0] = [{str(SCRIPT.parent)!r}, {str(ROOT)!r}]\n"
        f"sys.argv = [{str(SCRIPT)!r}, '--source-digest']\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd="/", env=_environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == source_digest()


def test_concurrency_is_the_smallest_level_near_the_best():
    rows = [
        {"level": 1, "steps": 10, "seconds": 1.0},
        *({"level": 2, "steps": 9, "seconds": 1.0} for _ in range(2)),
        *({"level": 4, "steps": 5, "seconds": 1.0} for _ in range(4)),
    ]
    table = aggregate_levels(rows, batch_size=8)
    assert [row["aggregate_steps_per_s"] for row in table] == [10, 18, 20]
    assert table[2]["aggregate_patches_per_s"] == 160
    assert table[1]["s_per_step_per_process"] == pytest.approx(1 / 9)
    assert choose_concurrency(table) == 4
    assert choose_concurrency(table, tolerance=0.2) == 2
    assert choose_concurrency([]) == 1


def test_longest_first_schedule():
    assert longest_first_makespan([5, 4, 3, 3, 3], 2) == 10  # longest first: 5+3 | 4+3+3 (the best is 9)
    assert longest_first_makespan([], 3) == 0


def test_equal_steps_fit_the_window_and_stop_at_the_profile_budget():
    costs = {
        "tricubic": MethodCost(overhead_s=2, step_s=0),
        "fast": MethodCost(overhead_s=5, step_s=0.01),
        "slow": MethodCost(overhead_s=5, step_s=0.04),
    }
    cells = ["tricubic", "fast", "fast", "slow", "slow"]
    steps, makespan = plan_steps(costs, cells, 2, 100.0, "steps", 1, 10_000)
    assert steps["tricubic"] == 0 and steps["fast"] == steps["slow"]
    assert makespan <= 100
    more, _ = plan_steps(costs, cells, 2, 100.0, "steps", 1, steps["fast"] + 1)
    assert more == steps  # the cap was not binding
    next_makespan = longest_first_makespan(
        [costs[m].overhead_s + (steps["fast"] + 1) * costs[m].step_s * (m != "tricubic") for m in cells], 2
    )
    assert next_makespan > 100  # the largest N that fits
    capped, _ = plan_steps(costs, cells, 2, 100.0, "steps", 1, 50)
    assert capped == {"tricubic": 0, "fast": 50, "slow": 50}
    starved, over = plan_steps(costs, cells, 1, 1.0, "steps", 3, 50)
    assert starved["fast"] == 3 and over > 1.0


def test_equal_time_gives_each_method_the_same_seconds():
    costs = {"fast": MethodCost(overhead_s=1, step_s=0.01), "slow": MethodCost(overhead_s=1, step_s=0.04)}
    steps, makespan = plan_steps(costs, ["fast", "slow"], 2, 41.0, "time", 1, 10**6)
    assert steps["fast"] == pytest.approx(4 * steps["slow"], rel=0.01)
    assert steps["slow"] == pytest.approx(1000, rel=0.01)
    assert makespan <= 41.0


def test_budget_overrides_are_valid_profile_settings():
    from benchmark.profiles import load_profile

    overrides = budget_overrides(300, ["steps_per_epoch", "zssr_steps"], 15)
    profile = load_profile("paper", overrides)
    assert (profile["epochs"], profile["steps_per_epoch"], profile["zssr_steps"]) == (1, 300, 300)
    assert (profile["val_every"], profile["checkpoint_every"]) == (20, 300)


def test_step_keys_of_the_builtin_methods():
    knobs = step_knobs(["tricubic", "supervised", "dasr", "zssr"])
    assert knobs == {"tricubic": None, "supervised": "steps_per_epoch", "dasr": "steps_per_epoch", "zssr": "zssr_steps"}


def test_patches_per_step_reads_a_methods_own_batch_size():
    from benchmark.profiles import load_profile

    paper = load_profile("paper")
    assert patches_per_step("zssr", "2x2x2", paper) == 1  # ZSSR's one crop per iteration in paper
    assert patches_per_step("supervised", "2x2x2", paper) == paper["batch_size"]


def test_training_record_sums_every_timing_file(tmp_path):
    pd.DataFrame([{"steps": 4, "total_s": 2.0}]).to_csv(tmp_path / "timing.csv", index=False)
    (tmp_path / "stage2").mkdir()
    pd.DataFrame([{"steps": 6, "total_s": 1.0}]).to_csv(tmp_path / "stage2" / "timing.csv", index=False)
    assert training_record(tmp_path) == (10, 3.0)
    assert training_record(tmp_path / "absent") == (0, 0.0)


def test_outputs_over_the_device_limits_are_named(tmp_path):
    written = []
    for index in range(9):
        path = tmp_path / f"f{index}.txt"
        path.write_text("x")
        written.append(path)
    odd = tmp_path / "bad name.txt"
    odd.write_text("x")
    problems = check_outputs(tmp_path, [*written, odd])
    assert any("more than 8" in problem for problem in problems)
    assert any("bad name.txt" in problem for problem in problems)
