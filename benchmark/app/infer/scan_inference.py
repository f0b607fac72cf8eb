"""``bench infer``: super-resolve NIfTI scans with a restored method and write them with a header like theirs.

For each scan:

1. read and check it (:func:`benchmark.data.nifti_read.read_nifti`), scale it to ``[0, 1]`` by
   its own min–max, as training scaled every volume;
2. transpose it so that the slab axis is last (:func:`benchmark.app.infer.scan_geometry.slab_axis_order`);
3. super-resolve it with the method, tile by tile: memory on the device is bounded by the
   profile's ``infer_batch`` tiles of ``infer_tile`` voxels, not by the volume;
4. transpose back, scale back to the scan's range (clipped to it) and write it in the scan's
   data type, with the scan's header and the SR affine (voxel sizes divided by the scale, every
   LR voxel at the same world position).  The file is written under a temporary name and
   renamed, so a half-written output never exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from benchmark.app.infer.restored_method import RestoredMethod
from benchmark.app.infer.scan_geometry import (
    factors_in_file_axes,
    inverse_order,
    slab_axis_order,
    sr_affine,
    voxel_sizes,
)
from benchmark.data.nifti_read import NIFTI_SUFFIXES, NiftiScan, read_nifti
from benchmark.errors import BenchError
from benchmark.inference.slabs import SLAB_DEPTH
from benchmark.results.atomic_files import replace_through


@dataclass(frozen=True)
class InferredScan:
    """What :func:`super_resolve_scan` wrote: the output, its shape, voxel sizes (mm) and slab axis."""

    output: Path
    shape: tuple[int, int, int]
    voxel_sizes: tuple[float, float, float]
    slab_axis: int


def is_nifti(path: Path) -> bool:
    """Whether ``path`` is named like a NIfTI file (``.nii`` or ``.nii.gz``)."""
    return path.name.endswith(NIFTI_SUFFIXES)


def scan_pairs(source: Path, target: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` files of ``bench infer INPUT OUTPUT``.

    INPUT is a NIfTI file or a folder of them (its ``*.nii`` and ``*.nii.gz``, sorted).  For a
    folder, OUTPUT is a folder (created) and each output keeps its input's name; for a file,
    OUTPUT is a NIfTI file name, or an existing folder to write the input's name into.

    Raises:
        BenchError: INPUT is missing or holds no NIfTI file, OUTPUT is not a NIfTI name, or an
            output would overwrite its own input.
    """
    source, target = Path(source).expanduser(), Path(target).expanduser()
    if source.is_dir():
        inputs = sorted(path for path in source.iterdir() if path.is_file() and is_nifti(path))
        if not inputs:
            raise BenchError(f"input folder {source} holds no .nii or .nii.gz file.")
        if target.exists() and not target.is_dir():
            raise BenchError(f"output {target} is a file; for an input folder give an output folder.")
        pairs = [(path, target / path.name) for path in inputs]
    elif source.is_file():
        if not is_nifti(source):
            raise BenchError(f"input {source} is not a .nii or .nii.gz file.")
        if target.is_dir():
            pairs = [(source, target / source.name)]
        elif is_nifti(target):
            pairs = [(source, target)]
        else:
            raise BenchError(f"output {target} must end in .nii or .nii.gz, or be an existing folder.")
    else:
        raise BenchError(f"input {source} does not exist.")
    for given, written in pairs:
        if given.resolve() == written.resolve():
            raise BenchError(f"output {written} is its own input; give another output name or folder.")
    for folder in sorted({written.parent for _, written in pairs}):
        check_output_folder(folder)
    return pairs


def check_output_folder(folder: Path) -> None:
    """Refuse, before any work, an output folder that cannot be made or written (a file on its path, no rights).

    Raises:
        BenchError: one sentence naming the folder and why.
    """
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise BenchError(f"output folder {folder} cannot be made: {parent} is a file.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise BenchError(f"output folder {folder} cannot be written: no write permission on {parent}.")
            return


BYTES_PER_SR_VOXEL = 28
"""Peak bytes per SR voxel of one scan, an estimate: the tiled inference's 9.7 B (measured by
``benchmarks/inference_overhead.py``, README "Performance"), the float32 SR array (4 B), the float64
values written back in the scan's range (8 B) and their cast to the scan's type (up to 4 B), rounded up."""


def available_memory() -> int | None:
    """Bytes of memory the system says are available (``MemAvailable``), or ``None`` where it cannot say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(shape: tuple[int, ...], factors: tuple[int, ...], path: Path) -> None:
    """Refuse a scan whose SR volume would not fit in the available memory, before allocating it.

    Raises:
        BenchError: the SR of ``shape`` by ``factors`` needs more than the memory available.
    """
    voxels = 1
    for n, f in zip(shape, factors):
        voxels *= int(n) * int(f)
    needed = voxels * BYTES_PER_SR_VOXEL
    free = available_memory()
    if free is not None and needed > free:
        sr_shape = " × ".join(str(int(n) * int(f)) for n, f in zip(shape, factors))
        raise BenchError(
            f"the SR of {path} would be {sr_shape} voxels and need about {needed / 2**30:.1f} GiB of memory, "
            f"more than the {free / 2**30:.1f} GiB available; use a smaller scale or a larger machine."
        )


def check_shape(shape: tuple[int, int, int], path: Path, slab_axis: int) -> None:
    """Refuse a scan too small for the thin-slab networks: fewer than 3 slices along any axis."""
    if min(shape) < SLAB_DEPTH:
        raise BenchError(
            f"{path} has shape {shape}, but super-resolution needs at least {SLAB_DEPTH} voxels along every axis "
            f"(the slab axis is axis {slab_axis})."
        )


def super_resolve_scan(
    restored: RestoredMethod,
    source: Path,
    target: Path,
    slab_axis: int | None = None,
) -> InferredScan:
    """Super-resolve the scan ``source`` and write it to ``target`` (see the module docstring).

    Args:
        restored: the method, already given its run (``Method.prepare_inference``): the device,
            the precision and where the progress of each tiled pass goes (``RunContext.on_tiles``).
        slab_axis: ``--slab-axis``, or ``None`` to choose from the voxel sizes
            (:func:`benchmark.app.infer.scan_geometry.slab_axis`).

    Raises:
        BenchError: the scan cannot be read or is too small, or the output cannot be written.
    """
    scan = read_nifti(source)
    order = slab_axis_order(voxel_sizes(scan.affine), restored.scale, slab_axis)
    check_shape(tuple(scan.data.shape), source, order[2])
    check_memory(tuple(scan.data.shape), restored.scale.factors, source)
    lr = torch.from_numpy(np.ascontiguousarray(scan.unit_range().transpose(order)))
    sr = restored.method.super_resolve(lr)  # in its run's precision, reporting to its run's on_tiles
    expected = tuple(n * f for n, f in zip(lr.shape, restored.scale.factors))
    if tuple(sr.shape) != expected:
        raise RuntimeError(
            f"{restored.name}.super_resolve returned {tuple(sr.shape)} for an LR volume {tuple(lr.shape)}"
        )
    sr_array = sr.detach().float().cpu().numpy().transpose(inverse_order(order))
    bad = int(np.count_nonzero(~np.isfinite(sr_array)))
    if bad:
        raise BenchError(f"the SR of {source} has {bad} NaN or infinite voxels, so nothing was written to {target}.")
    factors = factors_in_file_axes(restored.scale, order)
    affine = sr_affine(scan.affine, factors)
    write_like(target, sr_array, scan, affine, f"bench infer {restored.name} {restored.scale}")
    return InferredScan(target, tuple(sr_array.shape), tuple(float(v) for v in voxel_sizes(affine)), order[2])  # type: ignore[arg-type]


def write_like(path: Path, unit: np.ndarray, scan: NiftiScan, affine: np.ndarray, description: str = "") -> None:
    """Write ``unit`` (``(X, Y, Z)`` in ``[0, 1]``) in ``scan``'s range, data type and header, with ``affine``.

    ``description`` (at most 80 characters) replaces the header's ``descrip``, so the file says
    what made it; empty keeps the scan's.

    Intensities are mapped back by ``low + unit · (high − low)`` and clipped to ``[low, high]``.
    Integer data types are rounded; a scan stored with a scaling (``scl_slope``) is written with
    one that nibabel fits to the new values.  The sform and qform keep the scan's codes.
    """
    values = np.clip(scan.low + unit.astype(np.float64) * (scan.high - scan.low), scan.low, scan.high)
    if not np.isfinite(values).all():  # never write a non-finite voxel
        raise BenchError(f"the output for {path} would hold NaN or infinite voxels, so it was not written.")
    header = scan.image.header.copy()
    dtype = np.dtype(scan.image.get_data_dtype())
    slope, inter = scan.image.dataobj.slope, scan.image.dataobj.inter
    scaled = not (slope in (1.0,) or np.isnan(slope)) or not (inter in (0.0,) or np.isnan(inter))
    if dtype.kind in "iu" and not scaled:
        data = np.rint(values).astype(dtype.newbyteorder("="))
    elif dtype.kind == "f":
        data = values.astype(dtype.newbyteorder("="))
    else:
        data = values.astype(np.float32)
    image = nib.Nifti1Image(data, affine, header)
    image.set_data_dtype(dtype)
    if not scaled:
        image.header.set_slope_inter(1.0, 0.0)
    if description:
        image.header["descrip"] = description[:80].encode("ascii", "replace")
    sform_code, qform_code = int(scan.image.header["sform_code"]), int(scan.image.header["qform_code"])
    image.set_sform(affine, code=sform_code if sform_code > 0 else 1)
    image.set_qform(affine, code=qform_code if qform_code > 0 else 1)
    _save_atomic(image, Path(path))


def _save_atomic(image: nib.Nifti1Image, path: Path) -> None:
    """``nib.save`` under a temporary name beside ``path`` (same suffix), then a rename."""
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else ".nii"
    try:
        replace_through(path, lambda temporary: nib.save(image, temporary), suffix)
    except OSError as error:
        raise BenchError(f"cannot write {path}: {error.strerror}.") from None
