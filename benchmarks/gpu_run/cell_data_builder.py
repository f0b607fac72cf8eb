"""Phase 2, the data: one spawned process per setting builds its cell data once, by the runner's own data path."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

from benchmarks.gpu_run.builtin_plugins import register_builtins
from benchmarks.gpu_run.process_output import redirect_output


def build_data_main(dataset_name: str, cell: Any, cache_dir: str, out_path: str, log_path: str, ready: Any) -> None:
    """A data process: once the cohort is ``ready``, build one setting's cell data as ``bench run`` does.

    The data and their input record (what ``DONE`` records) are pickled to ``out_path``, a few
    facts (seconds, the profile's own step budget, shapes) to ``out_path + ".json"``.
    """
    redirect_output(log_path)
    register_builtins()
    if not ready.wait(timeout=3600):
        raise RuntimeError("the cohort was never made")
    from benchmark.app.cell_run import build_cell_data  # the runner's own data path: the same volumes as bench run
    from benchmark.plugins import DATASETS
    from benchmark.protocol.groups import cohort
    from benchmark.results.inputs import input_record
    from benchmark.training.trainer import total_steps

    started = time.perf_counter()
    dataset = DATASETS.create(dataset_name, data_root=None, cache_dir=Path(cache_dir))
    data = build_cell_data(dataset, cell, None)
    subjects = cohort(dataset, cell.profile.get("max_subjects"))
    inputs = input_record(dataset, data.records.get("hr_shapes", {}).keys(), subjects, {})
    record = {"data": data, "inputs": inputs}
    with open(out_path + ".tmp", "wb") as handle:
        pickle.dump(record, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(out_path + ".tmp", out_path)
    facts = {
        "setting": cell.setting,
        "seconds": time.perf_counter() - started,
        "profile_steps": total_steps(cell.profile, [v.shape for v in data.training.target_lr]),
        "lr_shapes": [list(v.shape) for v in data.training.target_lr],
        "test_subjects": [pair.hr.subject for pair in data.test],
    }
    Path(out_path + ".json").write_text(json.dumps(facts))
