"""One archive of a run: ``bench report --archive FILE`` packs what leaves a cluster node in one file.

The archive holds the report (tables and figures), ``results.csv``, the matrix manifests, and
the record of every cell: the files that say what it was and what it measured
(:data:`CELL_RECORD_FILES`), not its weights, checkpoints or SR volumes.  Unpacked anywhere, it
is a results folder that ``bench report`` and ``bench status`` read as the original: the
tables come out the same (``tests/test_report_archive.py``).

``.tar.gz`` (or ``.tgz``) and ``.zip`` are written, chosen by the file's suffix.  Members are
added in sorted order under one top folder named after the archive; links are never followed
(a cell file that is a link is left out and named).  The archive is written under a temporary
name and renamed, so an interrupted ``bench report`` never leaves half an archive under the name.
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.results.atomic_files import replace_through
from benchmark.results.cell_record import CONFIG, RECORD_FILES
from benchmark.results.schema import RESULTS_FILE

CELL_RECORD_FILES: tuple[str, ...] = RECORD_FILES
"""What a cell contributes (:data:`benchmark.results.cell_record.RECORD_FILES`); ``model.pt``,
``checkpoints/`` and ``sr/`` stay behind (use ``bench infer --run`` on the node, or copy a cell's
folder, for those)."""

STORE_FILES: tuple[str, ...] = (RESULTS_FILE,)
MANIFESTS = "_matrices"
SUFFIXES: tuple[str, ...] = (".tar.gz", ".tgz", ".zip")


@dataclass
class ArchiveSummary:
    """What :func:`write_archive` packed: members, their bytes before compression, the file's size, links left out."""

    path: Path
    members: int = 0
    raw_bytes: int = 0
    size: int = 0
    links: list[Path] = field(default_factory=list)


def archive_format(path: Path) -> str:
    """``"tar"`` or ``"zip"`` from the suffix of ``path``.

    Raises:
        BenchError: any other suffix.
    """
    name = Path(path).name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    raise BenchError(f"--archive {path} must end in {', '.join(SUFFIXES)}.")


def _regular(path: Path, links: list[Path]) -> bool:
    """Whether ``path`` is a regular file (a link is recorded in ``links`` and left out)."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    if stat.S_ISLNK(mode):
        links.append(path)
        return False
    return stat.S_ISREG(mode)


def archive_members(runs_dir: Path, report_dir: Path, links: list[Path]) -> list[tuple[Path, str]]:
    """``(file, name in the archive)`` of everything packed, sorted by name; names are relative to the store.

    The report is stored under ``report/`` whatever its folder, so the unpacked archive is a
    results folder with its report in the default place.
    """
    runs_dir, report_dir = Path(runs_dir), Path(report_dir)
    members: dict[str, Path] = {}
    for name in STORE_FILES:
        if _regular(runs_dir / name, links):
            members[name] = runs_dir / name
    manifests = runs_dir / MANIFESTS
    if manifests.is_dir() and not manifests.is_symlink():
        for path in sorted(manifests.glob("*.json")):
            if _regular(path, links):
                members[f"{MANIFESTS}/{path.name}"] = path
    for marker in sorted(runs_dir.rglob(CONFIG)):
        cell_dir = marker.parent
        if not cell_dir.name.startswith("seed") or report_dir in cell_dir.parents:
            continue
        relative = cell_dir.relative_to(runs_dir).as_posix()
        for name in CELL_RECORD_FILES:
            if _regular(cell_dir / name, links):
                members[f"{relative}/{name}"] = cell_dir / name
    if report_dir.is_dir():
        for path in sorted(report_dir.rglob("*")):
            if _regular(path, links):
                members[f"report/{path.relative_to(report_dir).as_posix()}"] = path
    return [(members[name], name) for name in sorted(members)]


def write_archive(runs_dir: Path, report_dir: Path, archive: Path) -> ArchiveSummary:
    """Pack the run into ``archive`` (see the module docstring).

    Args:
        runs_dir: the results store.
        report_dir: the folder ``bench report`` wrote its tables and figures to.
        archive: the file to write, ``*.tar.gz``, ``*.tgz`` or ``*.zip``; replaced if it exists.

    Raises:
        BenchError: a wrong suffix, a folder that cannot be written, or nothing to pack.
    """
    archive = Path(archive)
    kind = archive_format(archive)
    folder = archive.parent if str(archive.parent) else Path(".")
    if not folder.is_dir():
        raise BenchError(f"cannot write --archive {archive}: {folder} is not a folder.")
    summary = ArchiveSummary(archive)
    members = archive_members(runs_dir, report_dir, summary.links)
    if not members:
        raise BenchError(f"nothing to archive in {runs_dir}: no results.csv, report or cell records.")
    top = archive.name.removesuffix(".zip").removesuffix(".tgz").removesuffix(".tar.gz")

    def pack(temporary: Path) -> None:
        if kind == "tar":
            with tarfile.open(temporary, "w:gz") as packed:
                for path, name in members:
                    packed.add(path, arcname=f"{top}/{name}", recursive=False)
        else:
            with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as packed:
                for path, name in members:
                    packed.write(path, arcname=f"{top}/{name}")

    try:
        replace_through(archive, pack)
    except OSError as error:
        raise BenchError(f"cannot write --archive {archive}: {error.strerror}.") from None
    summary.members = len(members)
    summary.raw_bytes = sum(path.stat().st_size for path, _ in members)
    summary.size = archive.stat().st_size
    return summary
