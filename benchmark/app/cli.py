"""The ``bench`` command line: ``list``, ``run``, ``status``, ``report``, ``infer``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import torch
import typer
from rich.console import Console
from rich.table import Table

from benchmark.app.executors.request import split_list
from benchmark.device import resolve_device
from benchmark.errors import BenchError
from benchmark.plugins import DATASETS, DEGRADATIONS, METHODS
from benchmark.precision import DEFAULT_PRECISION
from benchmark.profile_keys import declared
from benchmark.profiles import PROFILES, load_profile
from benchmark.results.cell import Cell
from benchmark.results.cell_record import ERROR_FILE
from benchmark.results.schema import IDENTITY_COLUMNS
from benchmark.scale import Scale

if TYPE_CHECKING:
    from benchmark.app.executors.executor import Executor
    from benchmark.app.executors.request import Matrix
    from benchmark.app.executors.slurm_array import SlurmOptions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark harness for unsupervised 3D MRI super-resolution (UDEAN and baselines).",
)
console = Console()
error_console = Console(stderr=True, soft_wrap=True)


EXECUTORS = ("inline", "local", "slurm")


@app.command("list")
def list_plugins(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show profiles and network sizes.")] = False,
) -> None:
    """Show the registered methods, datasets, degradations and profiles, one line each."""
    for title, registry in (("method", METHODS), ("dataset", DATASETS), ("degradation", DEGRADATIONS)):
        table = Table(title=f"{title}s", show_header=True, header_style="bold")
        table.add_column(title)
        table.add_column("description")
        for name in registry.names():
            table.add_row(name, registry.summary(name))
        console.print(table)
    profiles = Table(title="profiles", header_style="bold")
    profiles.add_column("profile")
    profiles.add_column("settings" if verbose else "batch · steps · backbone")
    for name, settings in PROFILES.items():
        if verbose:
            text = ", ".join(f"{k}={v}" for k, v in settings.items())
        else:
            text = (
                f"batch {settings['batch_size']} · {settings['epochs']}×{settings['steps_per_epoch']} steps · "
                f"{settings['n_resgroups']}×{settings['n_rcab']} RCAB, {settings['n_feats']} features"
            )
        profiles.add_row(name, text)
    console.print(profiles)
    if verbose:
        _print_settings()
        _print_network_sizes()


def _print_settings() -> None:
    """Every declared profile key (``--set key=value``) with its owner, defaults per profile, and meaning."""
    table = Table(title="profile keys (--set key=value)", header_style="bold")
    table.add_column("key")
    table.add_column("declared by")
    table.add_column("default")
    table.add_column("meaning")
    for name, setting in declared().items():
        table.add_row(name, setting.owner, _defaults_text(name), setting.help)
    console.print(table)


def _defaults_text(key: str) -> str:
    """``key``'s value in each profile, once if the profiles agree (``3000``), else ``paper 3000 · quick 600 · …``."""
    values = {name: load_profile(name)[key] for name in PROFILES}
    if len({repr(value) for value in values.values()}) == 1:
        return str(next(iter(values.values())))
    return " · ".join(f"{name} {value}" for name, value in values.items())


def _print_network_sizes() -> None:
    """Parameter counts of each method's networks per profile (:meth:`Method.network_parameters`).

    Methods without networks (an empty count) get no row.
    """
    table = Table(title="parameters per network (scale 2x2x2)", header_style="bold")
    table.add_column("method")
    table.add_column("profile")
    table.add_column("networks")
    scale = Scale(2, 2, 2)
    for name in METHODS.names():
        cls = METHODS.factory(name)
        for profile_name in PROFILES:
            counts = cls.network_parameters(scale, load_profile(profile_name))
            if counts:
                table.add_row(name, profile_name, ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if table.row_count:
        console.print(table)


@app.command()
def run(
    methods: Annotated[
        str, typer.Option(help="Comma-separated method names or wildcards; 'all' for every one.")
    ] = "all",
    dataset: Annotated[str, typer.Option(help="Comma-separated dataset names (see `bench list`).")] = "demo",
    scale: Annotated[str, typer.Option(help="Comma-separated scales SXxSYxSZ, e.g. 2x2x2,2x2x1.")] = "2x2x2",
    setting: Annotated[
        str, typer.Option(help="Comma-separated settings: misaligned, unpaired.")
    ] = "misaligned,unpaired",
    seed: Annotated[str, typer.Option(help="Comma-separated training seeds.")] = "0",
    profile: Annotated[str, typer.Option(help=f"Sizes and budgets: {', '.join(PROFILES)}.")] = "quick",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a profile key, key=value (repeatable; see bench list -v)."),
    ] = None,
    data_root: Annotated[Path | None, typer.Option(help="Folder of the dataset (hcp, brats, folder).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Results store.")] = Path("runs"),
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache for generated data [default: $BENCH_CACHE or ~/.cache/udean-bench].")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[
        str,
        typer.Option(
            help="auto (bf16 autocast on a CUDA GPU that supports it, else fp32), fp32, bf16 (also on the CPU) "
            "or fp16 (CUDA only, with a loss scaler). Part of each cell's identity; fp32 cells keep their folders."
        ),
    ] = "auto",
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for torch [default: torch's choice]; 1 on a shared, busy node.")
    ] = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the subject split (fixed across training seeds).")] = 0,
    misalign_seed: Annotated[int, typer.Option(help="Seed of the simulated misalignment.")] = 0,
    train_degradation: Annotated[str, typer.Option(help="Degradation making the target LR.")] = "kspace",
    test_degradation: Annotated[str, typer.Option(help="Degradation making validation and test LR.")] = "kspace",
    save_sr: Annotated[bool, typer.Option(help="Also save every SR test volume as NIfTI in the cell folder.")] = False,
    retry_diverged: Annotated[
        bool, typer.Option(help="Train cells that diverged again, from step 0 (a diverged cell is a result).")
    ] = False,
    downstream: Annotated[
        bool,
        typer.Option(
            help="Also score tissue segmentation (ANTs Atropos) of each SR test volume against its HR volume's: "
            "Dice and volume error per tissue; needs the extra 'downstream' (antspyx)."
        ),
    ] = False,
    list_cells: Annotated[bool, typer.Option(help="Print the cells of the matrix with their index and exit.")] = False,
    cell_index: Annotated[
        int | None, typer.Option(help="Run only the cell with this index (e.g. $SLURM_ARRAY_TASK_ID).")
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            help="inline: cells one after another in this process; local: a queue over --gpus or --workers "
            "subprocesses; slurm: one job array through submitit."
        ),
    ] = "inline",
    gpus: Annotated[str | None, typer.Option(help="local: GPUs to run cells on, one cell each, e.g. 0,1.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="local: CPU processes running cells at once [default: 2 without GPUs].")
    ] = None,
    per_gpu: Annotated[
        int, typer.Option(help="local: cells sharing each GPU at a time (small networks leave a GPU idle).")
    ] = 1,
    slurm_config: Annotated[
        Path | None, typer.Option(help="slurm: TOML or JSON file of Slurm options (the command line wins).")
    ] = None,
    slurm_partition: Annotated[str | None, typer.Option(help="slurm: partition.")] = None,
    slurm_time: Annotated[int | None, typer.Option(help="slurm: minutes per task [240].")] = None,
    slurm_gpus_per_task: Annotated[
        int | None, typer.Option(help="slurm: GPUs per task [1 with --device cuda, else 0].")
    ] = None,
    slurm_cpus_per_task: Annotated[int | None, typer.Option(help="slurm: CPU cores per task.")] = None,
    slurm_mem: Annotated[
        str | None, typer.Option(help="slurm: memory per task in sbatch's units, e.g. 500M or 32G (bare number: MiB).")
    ] = None,
    slurm_parallelism: Annotated[int | None, typer.Option(help="slurm: array tasks running at once [32].")] = None,
    slurm_requeues: Annotated[
        int | None, typer.Option(help="slurm: requeues after a timeout or pre-emption [3].")
    ] = None,
    slurm_option: Annotated[
        list[str] | None, typer.Option(help="slurm: another sbatch option key=value, e.g. account=my-lab (repeatable).")
    ] = None,
    slurm_cluster: Annotated[
        str | None, typer.Option(help="slurm: 'slurm', or 'local' to run the array with submitit on this machine.")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="slurm: wait for the array to end and print the outcome of each cell.")
    ] = False,
) -> None:
    """Run the matrix methods × datasets × scales × settings × seeds; finished cells are skipped."""
    from benchmark.app.executors.manifest import write_manifest
    from benchmark.app.executors.request import RunRequest

    if executor not in EXECUTORS:
        raise BenchError(f"--executor '{executor}' is not one of {', '.join(EXECUTORS)}.")
    request = RunRequest(
        methods=methods,
        dataset=dataset,
        scale=scale,
        setting=setting,
        seed=seed,
        profile=profile,
        overrides=tuple(set_ or ()),
        data_root=str(data_root) if data_root is not None else None,
        runs_dir=str(runs_dir),
        cache_dir=str(cache_dir) if cache_dir is not None else None,
        device=device,
        precision=precision,
        threads=threads,
        split_seed=split_seed,
        misalign_seed=misalign_seed,
        train_degradation=train_degradation,
        test_degradation=test_degradation,
        save_sr=save_sr,
        retry_diverged=retry_diverged,
        downstream=downstream,
    )
    request.check_threads()
    if executor != "local" and (gpus is not None or workers is not None or per_gpu != 1):
        raise BenchError("--gpus, --workers and --per-gpu belong to --executor local.")
    slurm = None
    if executor == "slurm":
        from benchmark.app.executors.slurm_array import planned_device, slurm_options

        given = {
            "partition": slurm_partition,
            "time": slurm_time,
            "gpus_per_task": slurm_gpus_per_task,
            "cpus_per_task": slurm_cpus_per_task,
            "mem": slurm_mem,
            "array_parallelism": slurm_parallelism,
            "requeues": slurm_requeues,
            "cluster": slurm_cluster,
        }
        slurm = slurm_options(slurm_config, given, slurm_option or [])
        here = resolve_device(device) if slurm.cluster == "local" else torch.device("cpu")
        matrix = request.matrix(make_folders=not list_cells, planned_device=planned_device(slurm, here, device))
    else:
        matrix = request.matrix(make_folders=not list_cells)
    cells = matrix.cells
    if list_cells:
        for index, cell in enumerate(cells):
            typer.echo(f"{index}\t{cell.label()}")  # plain: tabs kept, brackets of overrides not read as markup
        return
    if cell_index is not None:
        if executor != "inline":
            raise BenchError("--cell-index runs one cell in this process; use it with --executor inline.")
        if not 0 <= cell_index < len(cells):
            raise BenchError(f"cell index {cell_index} is outside 0..{len(cells) - 1} of this matrix.")
        cells = [cells[cell_index]]
    if threads is not None and executor == "inline":
        torch.set_num_threads(threads)
    runs_dir = matrix.runs_dir
    if executor != "slurm":  # the Slurm executor records its matrix once submitted, with the job ids
        write_manifest(runs_dir, matrix.cells, executor, sys.argv)
    console.print(
        f"{len(cells)} cell(s) on {matrix.device} in {matrix.precision}, profile {profile}, "
        f"executor {executor}, results in {runs_dir}"
    )
    summary = _executor(executor, cells, matrix, gpus, workers, per_gpu, slurm, wait).run(request, matrix, console)
    if summary.detached:
        console.print(f"follow it with `bench status --runs-dir {runs_dir}`; `bench report` once it has ended.")
        return
    diverged = _diverged_cells(cells, runs_dir)
    console.print(
        f"done {len(summary.done)}, already done {len(summary.skipped)}, failed {len(summary.failed)}"
        + (f", diverged {len(diverged)}" if diverged else "")
        + (f", held by another bench run {len(summary.busy)}" if summary.busy else "")
        + f"; results table: {runs_dir / 'results.csv'}"
    )
    for cell, holder in summary.busy:
        console.print(f"note: {cell.label()} was skipped: another bench run ({holder}) is running it.")
    for commit, stale in summary.other_commit.items():
        console.print(
            f"note: {len(stale)} finished cell(s) were made by harness commit {commit}, not this one; "
            f"they were kept, not rerun (delete a cell's folder to rerun it), e.g. {stale[0].folder(runs_dir)}"
        )
    for cell_dir, reason in summary.damaged:
        if not any(cell.folder(runs_dir) == cell_dir for cell in cells):
            console.print(
                f"note: {cell_dir} is left out of results.csv: {reason}; rerun the bench run command that made it "
                "to redo it."
            )
    for cell, reason in diverged:
        console.print(
            f"[magenta]diverged[/magenta] {cell.label()}: {reason}; recorded in results.csv as diverged "
            "(`--retry-diverged` trains it again)."
        )
    _report_failures(summary.failed, runs_dir)


def _executor(
    name: str,
    cells: list[Cell],
    matrix: Matrix,
    gpus: str | None,
    workers: int | None,
    per_gpu: int,
    slurm: SlurmOptions | None,
    wait: bool,
) -> Executor:
    """The executor ``--executor name`` asks for, built from its options (:mod:`benchmark.app.executors.executor`)."""
    if name == "local":
        from benchmark.app.executors.local_queue import LocalExecutor, local_slots

        return LocalExecutor(local_slots(gpus, workers, matrix.device.type, per_gpu))
    if name == "slurm":
        from benchmark.app.executors.slurm_array import SlurmExecutor

        assert slurm is not None
        return SlurmExecutor(slurm, wait, tuple(sys.argv))
    from benchmark.app.executors.inline import InlineExecutor

    return InlineExecutor(cells)


def _diverged_cells(cells: list[Cell], runs_dir: Path) -> list[tuple[Cell, str]]:
    """The cells of the matrix whose folder records a diverged training, with the reason."""
    from benchmark.results.cell_state import cell_state
    from benchmark.training.divergence import DIVERGED

    found = []
    for cell in cells:
        state = cell_state(cell.folder(runs_dir))
        if state.state == DIVERGED:
            found.append((cell, state.reason))
    return found


def _report_failures(failed: list[tuple[Cell, str]], runs_dir: Path) -> None:
    if not failed:
        return
    for cell, message in failed:
        first_line = message.strip().splitlines()[-1] if message.strip() else "unknown error"
        error_console.print(
            f"[red]failed[/red] {cell.label()}: {first_line} (see {cell.folder(runs_dir) / ERROR_FILE})"
        )
    raise typer.Exit(1)


@app.command()
def report(
    runs_dir: Annotated[Path, typer.Option(help="Results store written by `bench run`.")] = Path("runs"),
    out: Annotated[Path | None, typer.Option(help="Output folder [default: <runs-dir>/report].")] = None,
    profile: Annotated[str | None, typer.Option(help="Report only this profile.")] = None,
    archive: Annotated[
        Path | None,
        typer.Option(
            help="Also pack the report, results.csv and every cell's record (no weights) into this .tar.gz or .zip."
        ),
    ] = None,
) -> None:
    """Write LaTeX/Markdown/CSV tables, the comparison with the paper, figures, and report.html (one page of all)."""
    import stat

    from benchmark.folders import path_stat
    from reports.build import write_reports
    from reports.paper_comparison import packaged_reference

    status = path_stat(runs_dir, "--runs-dir")  # a symlink loop ends here, in one sentence
    if status is None:
        raise BenchError(f"results folder '{runs_dir}' does not exist; run `bench run` first.")
    if not stat.S_ISDIR(status.st_mode):
        raise BenchError(f"--runs-dir {runs_dir} is a file, not a results folder; give the folder `bench run` wrote.")
    out_dir = out or runs_dir / "report"
    if archive is not None:
        from benchmark.app.run_archive import archive_format

        archive_format(archive)  # a wrong suffix is refused before the report is written
    # The paper's tables are package data of `reports`, found wherever it is installed.
    notes: list[str] = []
    written = write_reports(runs_dir, out_dir, packaged_reference(), profile=profile, notes=notes)
    for note in notes:
        console.print(f"note: {note}")
    for kind, paths in written.items():
        for path in paths:
            console.print(f"{kind:>10}  {path}")
    console.print(f"precision: {_precisions(runs_dir, profile)}")
    tables = [path for path in written["markdown"] if path.name.startswith("table2")]
    markdown = out_dir / "table2.md"  # the paper's protocol; else the first variant written
    if not markdown.is_file() and tables:
        markdown = tables[0]
    if markdown.is_file():
        console.print(markdown.read_text())
    if archive is not None:
        from benchmark.app.run_archive import write_archive

        packed = write_archive(runs_dir, out_dir, archive)
        for link in packed.links:
            console.print(f"note: {link} is a link; it was left out of the archive.")
        console.print(
            f"archive: {packed.path} ({packed.members} files, {packed.raw_bytes / 1e6:.1f} MB packed into "
            f"{packed.size / 1e6:.1f} MB; weights and checkpoints stay in {runs_dir})"
        )


@app.command()
def status(
    runs_dir: Annotated[Path, typer.Option(help="Results store written by `bench run`.")] = Path("runs"),
    state: Annotated[str | None, typer.Option(help="Show only cells in these states, e.g. failed,running.")] = None,
) -> None:
    """Show every cell of the results folder: done, running, failed (with its error's last line) or pending."""
    import stat

    from benchmark.app.executors.matrix_status import matrix_status, wall_time_text
    from benchmark.folders import path_stat
    from benchmark.results.cell_state import STATES

    found = path_stat(runs_dir, "--runs-dir")
    if found is None:
        raise BenchError(f"results folder '{runs_dir}' does not exist; run `bench run` first.")
    if not stat.S_ISDIR(found.st_mode):
        raise BenchError(f"--runs-dir {runs_dir} is a file, not a results folder; give the folder `bench run` wrote.")
    wanted = set(split_list(state)) if state is not None else set(STATES)
    unknown = sorted(wanted - set(STATES))
    if unknown:
        raise BenchError(f"--state {', '.join(unknown)} is not one of {', '.join(STATES)}.")
    rows = matrix_status(runs_dir)
    if not rows:
        console.print(f"no cells in {runs_dir} yet; `bench run` records its matrix there when it starts.")
        return
    colours = {"done": "green", "diverged": "magenta", "running": "cyan", "failed": "red", "pending": "yellow"}
    table = Table(title=f"cells in {runs_dir}", header_style="bold")
    for column in ("cell", "state", "wall time", "executor", "detail"):
        table.add_column(column)
    for row in rows:
        if row.state.state not in wanted:
            continue
        detail = row.state.reason
        if row.state.state == "pending" and row.state.started_checkpoint:
            detail = "interrupted; resumes from its checkpoint"
        executor = row.executor + (f" job {row.job_id}" if row.job_id else "")
        colour = colours[row.state.state]
        table.add_row(
            row.label, f"[{colour}]{row.state.state}[/{colour}]", wall_time_text(row.state.seconds), executor, detail
        )
    console.print(table)
    counts = {name: sum(row.state.state == name for row in rows) for name in STATES}
    shown = [f"{name} {count}" for name, count in counts.items() if name != "diverged" or count]
    console.print(", ".join(shown) + f" (of {len(rows)} cells)")


@app.command()
def infer(
    source: Annotated[Path, typer.Argument(metavar="INPUT", help="A .nii/.nii.gz scan, or a folder of them.")],
    target: Annotated[
        Path, typer.Argument(metavar="OUTPUT", help="Output .nii/.nii.gz, or a folder (for an input folder).")
    ],
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="A finished cell folder of `bench run` (…/seed0): its method.")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="A method that needs no training data (tricubic, zero-fill, zssr), not --run.")
    ] = None,
    scale: Annotated[str | None, typer.Option(help="--method: scale SXxSYxSZ [default: 2x2x2].")] = None,
    profile: Annotated[
        str | None, typer.Option(help=f"--method: sizes and budgets ({', '.join(PROFILES)}) [default: paper].")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="--method: override a profile key, key=value.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="--method: seed of training at test time (ZSSR) [default: 0].")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[
        str | None, typer.Option(help="fp32, bf16, fp16 or auto [default: the cell's; auto for --method].")
    ] = None,
    slab_axis: Annotated[
        str,
        typer.Option(
            help="Array axis (0, 1, 2) the slabs stack along; auto: the axis that stands out as the scale's Z does "
            "(coarse for 2x2x2, fine for 2x2x1), else 2."
        ),
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace outputs that exist.")] = False,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch [default: torch's choice].")] = None,
) -> None:
    """Super-resolve your own NIfTI scans with a trained cell (or tricubic, zero-fill, ZSSR), header and range kept."""
    from benchmark.app.infer.scan_infer_command import infer_scans

    if (run_dir is None) == (method is None):
        raise BenchError("give exactly one of --run <cell folder> and --method <name> (tricubic, zero-fill, zssr).")
    given = [
        name
        for name, value in (("--scale", scale), ("--profile", profile), ("--set", set_), ("--seed", seed))
        if value is not None
    ]
    if run_dir is not None and given:
        raise BenchError(
            f"{', '.join(given)} belong to --method; a --run cell fixes its scale, profile, settings and seed "
            "(its config.json), so leave them out."
        )
    if slab_axis != "auto" and slab_axis not in ("0", "1", "2"):
        raise BenchError(f"--slab-axis must be auto, 0, 1 or 2, got '{slab_axis}'.")
    if threads is not None:
        if threads < 1:
            raise BenchError(f"--threads must be at least 1, got {threads}.")
        torch.set_num_threads(threads)
    failed = infer_scans(
        console,
        source,
        target,
        run_dir=run_dir,
        method=method,
        scale=scale or "2x2x2",
        profile=profile or "paper",
        overrides=set_ or [],
        seed=0 if seed is None else seed,
        device=device,
        precision=precision,
        slab_axis=None if slab_axis == "auto" else int(slab_axis),
        overwrite=overwrite,
    )
    if failed:
        for path, message in failed:
            error_console.print(f"[red]failed[/red] {path}: {message}")
        raise typer.Exit(1)


def _precisions(runs_dir: Path, profile: str | None) -> str:
    """The precisions of the reported cells with their counts, e.g. ``fp32 (12 cells), bf16 (3 cells)``."""
    from reports.results_store import read_results
    from reports.variants import with_variant_columns

    results = with_variant_columns(read_results(runs_dir))
    if profile is not None:
        results = results[results["profile"] == profile]
    cells = results.drop_duplicates([name for name in IDENTITY_COLUMNS if name in results.columns])
    counts = cells["precision"].value_counts()
    order = sorted(counts.index, key=lambda name: (name != DEFAULT_PRECISION, name))
    return ", ".join(f"{name} ({counts[name]} cell{'s' if counts[name] != 1 else ''})" for name in order)


def main() -> None:
    """Entry point of the ``bench`` script: user errors end in one sentence and exit status 2."""
    try:
        app()
    except BenchError as error:
        error_console.print(f"[bold red]error:[/bold red] {error}")
        sys.exit(2)
    except KeyboardInterrupt:
        error_console.print("interrupted; finished cells are kept, unfinished ones resume from their checkpoints.")
        sys.exit(130)


if __name__ == "__main__":
    main()
