"""The work of ``bench infer``: restore the method, then super-resolve each scan with progress bars.

Scans are done one after another; one that cannot be read or is too small is reported and the
others go on.  Outputs that exist are refused before any work starts, unless ``--overwrite``.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmark.app.infer.restored_method import RestoredMethod, fresh_method, restore_cell
from benchmark.app.infer.scan_inference import InferredScan, scan_pairs, super_resolve_scan
from benchmark.device import resolve_device
from benchmark.errors import BenchError
from benchmark.precision import check_precision_request, resolve_precision
from benchmark.profiles import load_profile
from benchmark.progress_bar import counting_progress
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext


class TileBar:
    """A progress bar of one scan's tiles; a method's new pass (ZSSR: one per in-plane variant) restarts it."""

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress, self.name = progress, name
        self.task = progress.add_task(f"  {name}: tiles", total=None)
        self.passes, self.last = 1, 0

    def __call__(self, done: int, total: int) -> None:
        if done <= self.last:
            self.passes += 1
        self.last = done
        label = f"  {self.name}: tiles" + (f", pass {self.passes}" if self.passes > 1 else "")
        self.progress.update(self.task, completed=done, total=total, description=label)


def _restore(
    run_dir: Path | None,
    method: str | None,
    scale: str,
    profile: str,
    overrides: list[str],
    seed: int,
    precision: str | None,
    device_text: str,
) -> tuple[RestoredMethod, torch.device]:
    if precision is not None:
        check_precision_request(precision)  # before the device: a typo is named even where CUDA is missing
    device = resolve_device(device_text)
    if run_dir is not None:
        restored = restore_cell(run_dir)
        if precision is not None:
            restored.precision = resolve_precision(precision, device)
    else:
        assert method is not None
        chosen = resolve_precision(precision or "auto", device)
        restored = fresh_method(method, Scale.parse(scale), load_profile(profile, overrides), seed, chosen)
    return restored, device


def infer_scans(
    console: Console,
    source: Path,
    target: Path,
    *,
    run_dir: Path | None,
    method: str | None,
    scale: str,
    profile: str,
    overrides: list[str],
    seed: int,
    device: str,
    precision: str | None,
    slab_axis: int | None,
    overwrite: bool,
) -> list[tuple[Path, str]]:
    """Super-resolve every scan of ``source`` into ``target``; returns the scans that failed, with why.

    Raises:
        BenchError: the method cannot be restored, the paths are wrong, or outputs exist without ``overwrite``.
    """
    restored, resolved = _restore(run_dir, method, scale, profile, overrides, seed, precision, device)
    pairs = scan_pairs(source, target)
    existing = [written for _, written in pairs if written.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise BenchError(f"output {existing[0]}{more} exists; pass --overwrite to replace it.")
    console.print(
        f"{restored.name} {restored.scale} ({restored.profile.name} profile) from {restored.source}, "
        f"on {resolved} in {restored.precision_on(resolved)}; {len(pairs)} scan(s)"
    )
    done: list[InferredScan] = []
    failed: list[tuple[Path, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as folder, counting_progress(console) as progress:
        scratch = Path(folder)  # ZSSR's per-scan training writes its losses and checkpoints here
        run = RunContext(
            device=resolved,
            seed=restored.seed,
            profile=restored.profile,
            scale=restored.scale,
            cell_dir=scratch,
            checkpoint_dir=scratch / "checkpoints",
            progress=progress,
            precision=restored.precision_on(resolved),  # type: ignore[arg-type]
            config_hash=f"infer:{restored.name}",
            warn=lambda message: progress.console.print(f"[yellow]warning[/yellow] {message}"),
        )
        scans = progress.add_task("scans", total=len(pairs))
        for given, written in pairs:
            bar = TileBar(progress, given.name)
            restored.method.prepare_inference(replace(run, on_tiles=bar))  # this scan's tiles go to its bar
            try:
                done.append(super_resolve_scan(restored, given, written, slab_axis))
            except BenchError as error:
                failed.append((given, str(error)))
            progress.remove_task(bar.task)
            progress.advance(scans)
    if done:
        table = Table(title="super-resolved scans", header_style="bold")
        for column in ("output", "shape", "voxel size (mm)", "slab axis"):
            table.add_column(column)
        for item in done:
            sizes = " × ".join(f"{size:.3g}" for size in item.voxel_sizes)
            table.add_row(str(item.output), " × ".join(map(str, item.shape)), sizes, str(item.slab_axis))
        console.print(table)
    return failed
