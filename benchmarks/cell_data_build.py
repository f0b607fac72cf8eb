"""What the local queue saves by building each data group once: build seconds against load seconds, per group.

Each cell process of ``bench run --executor local`` used to build its own cell data; now the queue
builds each data group once and every cell process loads the stored file
(``benchmark/app/executors/cell_data_store.py``).  This prints, per dataset and setting of the
given profile, the seconds to build the data, the size of the stored file and the seconds to load it::

    python benchmarks/cell_data_build.py --datasets demo-small,demo --profile quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmark.app.cell_run import build_cell_data
from benchmark.app.executors.cell_data_store import CellDataStore, load_cell_data
from benchmark.data.dataset import default_cache_dir
from benchmark.plugins import DATASETS
from benchmark.profiles import load_profile
from benchmark.results.cell import Cell
from benchmark.scale import Scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="demo-small,demo")
    parser.add_argument("--settings", default="misaligned,unpaired,n/a")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--scale", default="2x2x2")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    table = Table(title=f"cell data, {args.profile} profile, {args.scale}: built once, loaded by each cell process")
    for column in ("dataset", "setting", "build s", "file MiB", "load s", "build / load"):
        table.add_column(column, justify="right" if column.endswith(("s", "MiB", "load")) else "left")
    with tempfile.TemporaryDirectory() as scratch:
        store = CellDataStore(Path(scratch))
        for name in args.datasets.split(","):
            dataset = DATASETS.create(name, data_root=None, cache_dir=args.cache_dir or default_cache_dir())
            for setting in args.settings.split(","):
                cell = Cell(name, Scale.parse(args.scale), setting, "udean", 0, profile)
                started = time.perf_counter()
                data = build_cell_data(dataset, cell, None)
                built = time.perf_counter() - started
                path = store.put(cell, data)
                del data
                started = time.perf_counter()
                load_cell_data(path)
                loaded = time.perf_counter() - started
                size = path.stat().st_size / 2**20
                table.add_row(name, setting, f"{built:.2f}", f"{size:.1f}", f"{loaded:.2f}", f"{built / loaded:.0f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
