"""Generator of the embedded demo cohort: synthetic subjects made from a population template.

No package ships several real T1 subjects for offline use, so the demo makes a cohort from
the MNI ICBM152 nonlinear 2009 T1 template at 1 mm that nilearn ships (skull-stripped,
197×233×189, RAS), with its grey- and white-matter probability maps:

* V. Fonov, A. C. Evans, K. Botteron, C. R. Almli, R. C. McKinstry, D. L. Collins,
  "Unbiased average age-appropriate atlases for pediatric studies", NeuroImage 54(1),
  313–327, 2011.
* V. Fonov, A. C. Evans, R. C. McKinstry, C. R. Almli, D. L. Collins, "Unbiased nonlinear
  average age-appropriate brain templates from birth to adulthood", NeuroImage 47, S102, 2009.

The template's tissue boundaries are first re-rendered sharp (:func:`render_sharp_tissues`:
a population average is far blurrier than any one brain), then it is cropped to the
bounding box of the brain plus an 8 mm margin and (for voxels larger than 1 mm)
block-averaged.  Pseudo-subject ``i`` (seeded by ``i`` alone) gets, in
this order:

1. tissue-contrast jitter: grey- and white-matter intensities each changed by up to ±5 %
   (weighted by the GM / WM probability maps);
2. a smooth random non-rigid deformation (control points every 30 mm, 2 mm std per
   component, cubic-spline upsampled) composed with an affine jitter (rotations up to ±3°
   about each axis, scaling up to ±3 % per axis), one cubic B-spline resampling;
3. a smooth multiplicative bias field (control points every ~80 mm, ±8 % std in log scale);
4. Rician noise (std 0.8–1.5 % of the maximum intensity);
5. min–max scaling to ``[0, 1]``.

The results are written as NIfTI (uint16 with scaling, ``.nii.gz``) with a ``manifest.json``
holding :data:`GENERATOR_VERSION`, written last; bump the version when the output changes.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from rich.progress import Progress, track
from scipy import ndimage
from scipy.interpolate import CubicSpline

GENERATOR_VERSION = 2
TISSUE_VERSION = 1
"""Version of the tissue maps (:func:`write_tissues`), cached beside the T1 volumes in ``tissues-v<version>/``.

The tissue maps have a version of their own so that adding them left the T1 volumes, their
files and :data:`GENERATOR_VERSION` as they were: results computed on the cohort stay current."""
COHORT_SEED = 152_2009
MARGIN_MM = 8
TEMPLATE_CITATION = (
    "MNI ICBM152 nonlinear 2009 T1 template (via nilearn); Fonov et al., NeuroImage 54(1), 2011; "
    "Fonov et al., NeuroImage 47 S102, 2009"
)


@dataclass(frozen=True)
class Template:
    """The cropped template on the cohort's grid.

    Attributes:
        t1: ``(X, Y, Z)`` float32 T1 intensities in ``[0, 1]``.
        gm: ``(X, Y, Z)`` float32 grey-matter probability.
        wm: ``(X, Y, Z)`` float32 white-matter probability.
        affine: ``(4, 4)`` voxel-to-world matrix, mm (RAS).
        voxel_mm: isotropic voxel size, mm.
        csf: ``(X, Y, Z)`` float32 probability of the rest of the brain (CSF); inside the brain
            the three maps sum to 1, outside they are 0.  The T1 is rendered from these three.
    """

    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    affine: np.ndarray
    voxel_mm: int
    csf: np.ndarray


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor³`` blocks of ``(X, Y, Z)``; trailing remainders are dropped."""
    if factor == 1:
        return array
    shape = [n // factor for n in array.shape]
    trimmed = array[: shape[0] * factor, : shape[1] * factor, : shape[2] * factor]
    return trimmed.reshape(shape[0], factor, shape[1], factor, shape[2], factor).mean(axis=(1, 3, 5))


def _read_template_images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """T1 (scaled to ``[0, 1]``), GM and WM maps ``(197, 233, 189)`` float32 at 1 mm, and their affine.

    Reads the files that nilearn ships directly (importing ``nilearn.datasets`` takes seconds);
    falls back to nilearn's loaders if a future nilearn moves them.
    """
    spec = importlib.util.find_spec("nilearn")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data" if spec else Path()
    paths = [folder / f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz" for kind in ("t1", "gm", "wm")]
    if all(path.is_file() for path in paths):
        images = [nib.load(path) for path in paths]
    else:
        from nilearn.datasets import load_mni152_gm_template, load_mni152_template, load_mni152_wm_template

        images = [
            load(resolution=1) for load in (load_mni152_template, load_mni152_gm_template, load_mni152_wm_template)
        ]
    t1, gm, wm = (image.get_fdata(dtype=np.float32) for image in images)
    return t1 / t1.max(), gm / gm.max(), wm / wm.max(), np.asarray(images[0].affine, dtype=float)


def render_sharp_tissues(
    t1: np.ndarray, gm: np.ndarray, wm: np.ndarray, sharpness: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Re-render the template with individual-like sharp tissue boundaries.

    A population average is blurred by the averaging itself: its grey/white boundaries are
    several millimetres wide, far smoother than any one subject's, so interpolation would look
    nearly perfect on it.  Each voxel's tissue probabilities (GM, WM, the rest of the brain as
    CSF) are sharpened as ``p^k / Σ p^k`` (``k = sharpness``), and the image is re-rendered
    as the sharpened mixture of each tissue's mean template intensity (means over nearly pure
    voxels), inside the template's brain mask.

    Args:
        t1, gm, wm: ``(X, Y, Z)`` template T1 in ``[0, 1]`` and GM / WM probability maps.
        sharpness: exponent ``k``; larger is sharper (4 leaves about one voxel of partial volume at 1 mm).

    Returns:
        ``(t1, gm, wm, csf)`` re-rendered T1 in ``[0, 1]`` and the sharpened GM / WM / CSF maps.
    """
    brain = t1 > 0.01
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0) * brain
    tissues = np.stack([gm, wm, csf]).astype(np.float64)
    means = [float((t1 * p**8).sum() / max((p**8).sum(), 1e-12)) for p in tissues]
    powered = tissues**sharpness
    total = powered.sum(axis=0)
    sharp = np.divide(powered, total, out=np.zeros_like(powered), where=total > 1e-12)
    rendered = np.tensordot(np.asarray(means), sharp, axes=1) * brain
    rendered = (rendered / rendered.max()).astype(np.float32)
    return rendered, *(sharp[k].astype(np.float32) for k in range(3))


def load_template(voxel_mm: int) -> Template:
    """The MNI152 2009 template with GM/WM maps, cropped to the brain (+8 mm) at ``voxel_mm`` mm.

    Block-averaging ``f³`` voxels puts the new voxel ``j`` at the old position ``f·j + (f-1)/2``;
    the affine says so.
    """
    t1, gm, wm, affine_1mm = _read_template_images()
    t1, gm, wm, csf = render_sharp_tissues(t1, gm, wm)
    inside = np.argwhere(t1 > 0.01)
    low = np.maximum(inside.min(axis=0) - MARGIN_MM, 0)
    high = np.minimum(inside.max(axis=0) + 1 + MARGIN_MM, t1.shape)
    box = tuple(slice(lo, hi) for lo, hi in zip(low, high))
    shift = np.eye(4)
    shift[:3, 3] = low
    to_grid = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    to_grid[:3, 3] = (voxel_mm - 1) / 2
    return Template(
        t1=block_mean(t1[box], voxel_mm),
        gm=block_mean(gm[box], voxel_mm),
        wm=block_mean(wm[box], voxel_mm),
        affine=affine_1mm @ shift @ to_grid,
        voxel_mm=voxel_mm,
        csf=block_mean(csf[box], voxel_mm),
    )


@dataclass(frozen=True)
class TemplateSplines:
    """What every subject is resampled from.

    Attributes:
        coefficients: cubic B-spline coefficients of ``(t1, t1·gm, t1·wm)``, each ``(X, Y, Z)``;
            contrast jitter is linear, so a jittered image's coefficients are their weighted sum.
        support: ``(X, Y, Z)`` uint8, 1 at voxels whose spline value can be non-zero (the brain
            dilated by the spline's reach); the background is not resampled.
    """

    coefficients: tuple[np.ndarray, np.ndarray, np.ndarray]
    support: np.ndarray


def prepare_splines(template: Template) -> TemplateSplines:
    """Spline coefficients and support of ``template`` (once per cohort)."""
    t1 = template.t1.astype(np.float64)
    coefficients = tuple(
        ndimage.spline_filter(image, order=3, mode="constant", output=np.float32)
        for image in (t1, t1 * template.gm, t1 * template.wm)
    )
    cube = ndimage.generate_binary_structure(3, 3)
    support = ndimage.binary_dilation(template.t1 > 0, structure=cube, iterations=3)  # cubic reach: 2 voxels
    return TemplateSplines(coefficients, support.astype(np.uint8))  # type: ignore[arg-type]


def smooth_random_field(shape: tuple[int, ...], spacing_vox: float, std: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field ``shape``: Gaussian control points every ``spacing_vox`` voxels, cubic-spline upsampled.

    The upsampling is separable (one ``(n, m)`` interpolation matrix per axis), so it costs
    about as much as one pass over the output.

    Args:
        shape: ``(X, Y, Z)`` output shape, voxels.
        spacing_vox: distance between control points, voxels.
        std: standard deviation of the control points (units of the field).
        rng: seeded generator.

    Returns:
        ``(X, Y, Z)`` float32 field.
    """
    coarse_shape = [max(int(np.ceil(n / spacing_vox)) + 1, 2) for n in shape]
    field = rng.normal(0.0, std, size=coarse_shape)
    for axis, (n, m) in enumerate(zip(shape, coarse_shape)):
        basis = CubicSpline(np.linspace(0, n - 1, m), np.eye(m), axis=0)(np.arange(n))  # (n, m)
        field = np.moveaxis(np.tensordot(basis, field, axes=([1], [axis])), 0, axis)
    return field.astype(np.float32)


def _rotation(angles_deg: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation from angles about the three array axes, degrees."""
    rotation = np.eye(3)
    for axis, angle in enumerate(np.deg2rad(angles_deg)):
        a, b = [k for k in range(3) if k != axis]
        step = np.eye(3)
        step[a, a] = step[b, b] = np.cos(angle)
        step[a, b], step[b, a] = -np.sin(angle), np.sin(angle)
        rotation = step @ rotation
    return rotation


def subject_warp(
    template: Template, index: int
) -> tuple[np.random.Generator, tuple[np.float64, np.float64], np.ndarray]:
    """The random draws of pseudo-subject ``index`` up to its deformation, in the generator's order.

    Returns:
        ``(rng, (gm_change, wm_change), coords)``: the generator, to go on drawing from (bias field,
        noise); the contrast jitter; and ``(3, X, Y, Z)`` float32 template coordinates at which
        each subject voxel is sampled.
    """
    rng = np.random.default_rng([COHORT_SEED, index])
    shape = template.t1.shape
    vox = template.voxel_mm
    gm_change, wm_change = rng.uniform(-0.05, 0.05, size=2)
    pull = _rotation(rng.uniform(-3.0, 3.0, size=3)) @ np.diag(1 + rng.uniform(-0.03, 0.03, size=3))
    centre = (np.asarray(shape, dtype=np.float32) - 1) / 2
    coords = np.indices(shape, dtype=np.float32)
    coords -= centre[:, None, None, None]
    coords = np.einsum("ij,j...->i...", pull.astype(np.float32), coords)
    coords += centre[:, None, None, None]
    for axis in range(3):
        coords[axis] += smooth_random_field(shape, 30 / vox, 2.0 / vox, rng)
    return rng, (gm_change, wm_change), coords  # NumPy scalars: the T1 is computed in float64 from them


def make_subject(template: Template, splines: TemplateSplines, index: int) -> np.ndarray:
    """One pseudo-subject on the template's grid.

    Args:
        template: the cropped template.
        splines: its spline coefficients and support (:func:`prepare_splines`).
        index: subject index, its only seed.

    Returns:
        ``(X, Y, Z)`` float32 volume in ``[0, 1]``.
    """
    rng, (gm_change, wm_change), coords = subject_warp(template, index)
    shape = template.t1.shape
    t1_coef, gm_coef, wm_coef = splines.coefficients
    image_coef = t1_coef + gm_change * gm_coef + wm_change * wm_coef
    inside = ndimage.map_coordinates(splines.support, coords, order=0, mode="constant", cval=0, output=np.uint8) > 0
    warped = np.zeros(shape, dtype=np.float32)
    warped[inside] = ndimage.map_coordinates(
        image_coef, coords[:, inside], order=3, mode="constant", cval=0.0, prefilter=False, output=np.float32
    )
    del coords
    np.maximum(warped, 0.0, out=warped)  # cubic overshoot at the brain's edge

    vox = template.voxel_mm
    warped *= np.exp(smooth_random_field(shape, 80 / vox, 0.08, rng))
    sigma = rng.uniform(0.008, 0.015) * float(warped.max())
    real = warped + sigma * rng.standard_normal(size=shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(size=shape, dtype=np.float32)
    noisy = np.sqrt(real * real + imaginary * imaginary)
    return ((noisy - noisy.min()) / (noisy.max() - noisy.min())).astype(np.float32)


def make_tissues(template: Template, index: int) -> np.ndarray:
    """The true GM, WM and CSF maps of pseudo-subject ``index``: the template's, moved by its own deformation.

    The same coordinates as its T1 (:func:`subject_warp`), sampled linearly so that each map
    stays a probability in ``[0, 1]``; the maps sum to 1 inside the brain and to 0 outside.

    Returns:
        ``(3, X, Y, Z)`` float32: GM, WM, CSF.
    """
    _, _, coords = subject_warp(template, index)
    return np.stack(
        [
            ndimage.map_coordinates(tissue, coords, order=1, mode="constant", cval=0.0, output=np.float32)
            for tissue in (template.gm, template.wm, template.csf)
        ]
    )


def subject_name(index: int) -> str:
    """Subject identifier of the pseudo-subject ``index`` (``sub-01``, ``sub-02``, …)."""
    return f"sub-{index + 1:02d}"


def subject_index(name: str) -> int:
    """The index of the pseudo-subject named ``name`` (:func:`subject_name` read back: ``sub-01`` → 0)."""
    return int(name.removeprefix("sub-")) - 1


def _indices(n_subjects: int, description: str, progress: Progress | None) -> Iterator[int]:
    if progress is None:
        yield from track(range(n_subjects), description=description, transient=True)
        return
    task = progress.add_task(description, total=n_subjects)
    for index in range(n_subjects):
        yield index
        progress.advance(task)


def generate_cohort(
    folder: Path, variant: str, n_subjects: int, voxel_mm: int, progress: Progress | None = None
) -> dict:
    """Make ``n_subjects`` pseudo-subjects at ``voxel_mm`` mm and write them with a manifest.

    Args:
        folder: output folder (created); files ``sub-NN.nii.gz`` and ``manifest.json``.
        variant: the dataset name written to the manifest (``"demo"``, ``"demo-small"``).
        n_subjects: number of subjects.
        voxel_mm: isotropic voxel size, mm (1 or 2).
        progress: rich progress display to add a task to; ``None`` shows a transient bar.

    Returns:
        The manifest written (see :func:`cohort_manifest`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    template = load_template(voxel_mm)
    splines = prepare_splines(template)
    files = {}
    for index in _indices(n_subjects, f"making {variant} cohort", progress):
        name = subject_name(index)
        files[name] = _write_volume(folder, name, make_subject(template, splines, index), template.affine, np.uint16)
    return _write_manifest(folder, cohort_manifest(variant, n_subjects, voxel_mm, files, template.t1.shape))


def _write_volume(folder: Path, name: str, data: np.ndarray, affine: np.ndarray, dtype: type) -> str:
    """Write ``data`` as ``folder/<name>.nii.gz`` (``dtype`` with scaling, mm) atomically; returns the file name."""
    image = nib.Nifti1Image(data, affine)
    image.set_data_dtype(dtype)
    image.header.set_xyzt_units("mm")
    temporary = folder / f".{name}.{os.getpid()}.nii.gz"
    image.to_filename(temporary)
    os.replace(temporary, folder / f"{name}.nii.gz")
    return f"{name}.nii.gz"


def _write_manifest(folder: Path, manifest: dict) -> dict:
    """Write ``folder/manifest.json`` atomically, last: a reader sees a complete folder or none."""
    temporary = folder / f".manifest.{os.getpid()}.json"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, folder / "manifest.json")
    return manifest


def tissue_folder(folder: Path) -> Path:
    """Where the tissue maps of the cohort in ``folder`` are cached: one folder per :data:`TISSUE_VERSION`."""
    return folder / f"tissues-v{TISSUE_VERSION}"


def write_tissues(folder: Path, template: Template, subject: str) -> Path:
    """Write ``subject``'s true GM / WM / CSF maps to :func:`tissue_folder` (atomically) and return the file.

    The file is ``(X, Y, Z, 3)`` (GM, WM, CSF probabilities), uint8 with scaling (a step of 1/255),
    on the grid and affine of the subject's T1.
    """
    out = tissue_folder(folder)
    out.mkdir(parents=True, exist_ok=True)
    tissues = np.moveaxis(make_tissues(template, subject_index(subject)), 0, -1)
    return out / _write_volume(out, subject, tissues, template.affine, np.uint8)


def cohort_manifest(
    variant: str, n_subjects: int, voxel_mm: int, files: dict[str, str], shape: tuple[int, ...]
) -> dict:
    """The manifest of a cohort: generator version, variant, size, voxel size, shape, files, source."""
    return {
        "generator_version": GENERATOR_VERSION,
        "variant": variant,
        "n_subjects": n_subjects,
        "voxel_mm": voxel_mm,
        "shape": [int(n) for n in shape],
        "files": files,
        "template": TEMPLATE_CITATION,
    }
