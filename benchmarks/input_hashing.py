"""What checking a cell's inputs costs: SHA-256 of an input volume against loading it, HCP-sized; prints a table.

Usage::

    python benchmarks/input_hashing.py                   # 3 synthetic volumes of 260×311×260 (HCP T1w)
    python benchmarks/input_hashing.py --subjects 5 --shape 182x218x182

Each volume is a smooth random float32 volume saved as ``.nii.gz`` in a temporary folder. For
each, the table gives the seconds of :func:`benchmark.results.inputs.file_sha256` (what every
cell process did for every input before the persistent cache), of a lookup in a
:class:`benchmark.results.hash_cache.HashCache` read back from its file (what a later process
does now), and of loading the volume with nibabel (what a cell does anyway).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from machine import describe_machine
from rich.console import Console
from rich.table import Table
from scipy import ndimage

from benchmark.results.hash_cache import HashCache, file_key
from benchmark.results.inputs import file_record, file_sha256


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--shape", default="260x311x260")
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.shape.split("x"))
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(args.subjects):
            data = ndimage.zoom(rng.random(tuple(max(n // 8, 2) for n in shape)), 8, order=1)[
                : shape[0], : shape[1], : shape[2]
            ]
            path = Path(folder) / f"sub{index:02d}.nii.gz"
            nib.save(nib.Nifti1Image(data.astype(np.float32), np.diag([0.7, 0.7, 0.7, 1.0])), path)
            paths.append(path)
        cache_file = Path(folder) / "input-hashes.json"
        writer = HashCache(cache_file)
        for path in paths:
            file_record(path, writer)
        writer.save()
        for path in paths:
            hashing = _seconds(lambda p=path: file_sha256(p))
            reader = HashCache(cache_file)
            lookup = _seconds(lambda p=path, c=reader: c[file_key(p)])
            loading = _seconds(lambda p=path: nib.load(str(p)).get_fdata(dtype=np.float32))
            rows.append((path.name, path.stat().st_size / 2**20, hashing, lookup, loading))
    table = Table(title=f"input checks of {args.subjects} synthetic {args.shape} .nii.gz volumes")
    for column in ("volume", "MiB on disk", "SHA-256 s", "cached lookup s", "nibabel load s", "hash ÷ load"):
        table.add_column(column, justify="right")
    for name, size, hashing, lookup, loading in rows:
        table.add_row(
            name, f"{size:.1f}", f"{hashing:.3f}", f"{lookup:.6f}", f"{loading:.3f}", f"{hashing / loading:.2f}"
        )
    median = statistics.median(r[2] / r[4] for r in rows)
    console = Console()
    console.print(table)
    console.print(f"median hash ÷ load: {median:.2f}; {describe_machine()}")


if __name__ == "__main__":
    main()
