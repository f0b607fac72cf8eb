"""Rigid registration of a source HR volume to its target LR volume (the ``supervised-rigid`` baseline).

The UDEAN paper registers each misaligned source HR volume to its target LR volume with
Amira (extended mutual information) before supervised training.  Here the same step is done
with SimpleITK: Mattes mutual information (50 bins), a 6-DOF Euler transform started at the
geometric centre, regular-step gradient descent with physical-shift scales, a two-level
pyramid and seeded random sampling, so a run repeats exactly.

Geometry.  A :class:`~benchmark.data.volume.Volume` affine maps voxel indices to nibabel world
coordinates, RAS+ in mm; ITK's physical space is LPS+, so the first two world coordinates
change sign (:func:`volume_to_sitk`).  The LR affine is the HR affine with its voxel axes
multiplied by the scale and no offset (LR voxel ``j`` lies at HR voxel ``j·s``), so both
volumes already live in the same world space and no grid correction is needed here.

The transform found maps a point of the fixed (LR) world space to the point of the moving
(HR) world space that shows the same anatomy; the moving HR volume is resampled through it
onto its own HR grid, which puts its anatomy where the LR volume shows it.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the library's conventional alias)

from benchmark.api import Volume

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""``(4, 4)`` change of world frame between nibabel (RAS+) and ITK (LPS+); its own inverse."""

HISTOGRAM_BINS = 50
"""Bins of the Mattes mutual-information joint histogram."""

SHRINK_FACTORS = (2, 1)
"""Pyramid shrink factors per level (coarse to fine), in voxels of each image."""

SMOOTHING_SIGMAS = (1.0, 0.0)
"""Gaussian smoothing per pyramid level, in voxels."""

LEARNING_RATE = 1.0
"""Initial step of the regular-step gradient descent, in (physical-shift scaled) mm."""

MIN_STEP = 1e-4
"""Step length at which the gradient descent stops, in scaled mm."""

RELAXATION_FACTOR = 0.8
"""Step-length factor applied whenever the gradient changes direction."""

GRADIENT_TOLERANCE = 1e-8
"""Gradient magnitude at which the gradient descent stops."""


def volume_to_sitk(volume: Volume) -> sitk.Image:
    """SimpleITK image of a volume, with ITK (LPS) origin, spacing and direction from its RAS affine.

    The array axes ``(X, Y, Z)`` become ITK index axes ``(0, 1, 2)``, so the ITK index
    ``(i, j, k)`` holds ``volume.data[i, j, k]`` and its physical point is the nibabel world point
    ``volume.affine @ (i, j, k, 1)`` with its first two coordinates negated.

    Args:
        volume: ``(X, Y, Z)`` voxels and a ``(4, 4)`` voxel-to-world (RAS, mm) affine.

    Returns:
        A float32 image of size ``(X, Y, Z)``: spacing = column norms of the affine (mm), origin
        = LPS position of voxel ``(0, 0, 0)`` (mm), direction = LPS unit column vectors.

    Raises:
        ValueError: the data are not 3D, the affine is not ``(4, 4)``, or its voxel axes are
            degenerate (zero length or not linearly independent).
    """
    data = np.asarray(volume.data)
    affine = np.asarray(volume.affine, dtype=np.float64)
    if data.ndim != 3:
        raise ValueError(f"volume {volume.subject} must be (X, Y, Z), got shape {data.shape}")
    if affine.shape != (4, 4):
        raise ValueError(f"affine of {volume.subject} must be (4, 4), got {affine.shape}")
    lps = LPS_FROM_RAS @ affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    if np.any(spacing <= 0) or abs(np.linalg.det(lps[:3, :3])) < 1e-12 * float(np.prod(spacing)):
        raise ValueError(f"affine of {volume.subject} has degenerate voxel axes: {affine[:3, :3].tolist()}")
    direction = lps[:3, :3] / spacing
    # GetImageFromArray reads a C-ordered array as (z, y, x): transpose so that X is ITK index 0.
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.astype(np.float32).transpose(2, 1, 0)))
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection(direction.ravel().tolist())  # row-major; columns are the index axes
    return image


def sitk_to_array(image: sitk.Image) -> np.ndarray:
    """``(X, Y, Z)`` array of an image made by :func:`volume_to_sitk` (ITK index order)."""
    return sitk.GetArrayFromImage(image).transpose(2, 1, 0)


def _euler_to_ras_matrix(transform: sitk.Euler3DTransform) -> np.ndarray:
    """``(4, 4)`` matrix of an ITK Euler transform acting on RAS world points (mm)."""
    rotation = np.asarray(transform.GetMatrix(), dtype=np.float64).reshape(3, 3)
    centre = np.asarray(transform.GetCenter(), dtype=np.float64)
    translation = np.asarray(transform.GetTranslation(), dtype=np.float64)
    lps = np.eye(4)
    lps[:3, :3] = rotation
    lps[:3, 3] = centre + translation - rotation @ centre
    return LPS_FROM_RAS @ lps @ LPS_FROM_RAS


def _itk_seed(seed: int) -> int:
    """ITK sampling seed for a user seed; ITK reads seed ``0`` as "wall clock", so shift by one."""
    if not 0 <= seed < 2**32 - 1:
        raise ValueError(f"seed must be in [0, 2**32 - 2], got {seed}")
    return seed + 1


def _metric_method(seed: int, sampling_fraction: float) -> sitk.ImageRegistrationMethod:
    """Registration method with the metric, sampling and interpolator used for every evaluation."""
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=HISTOGRAM_BINS)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling_fraction, _itk_seed(seed))
    method.SetInterpolator(sitk.sitkLinear)
    # Mattes MI adds the joint histograms of its work units in whatever order the threads finish,
    # so with several work units the sums (and, after many iterations, the optimum) vary in the
    # last bits from run to run.  One work unit makes the result repeatable and independent of the
    # machine's core count; the process-wide thread count is left as it is.
    method.SetNumberOfWorkUnits(1)
    return method


def rigid_register(
    moving_hr: Volume,
    fixed_lr: Volume,
    *,
    seed: int = 0,
    iterations: int = 200,
    sampling_fraction: float = 0.1,
) -> tuple[Volume, dict]:
    """Rigidly register a source HR volume to a target LR volume and resample it on its own HR grid.

    Mattes mutual information (50 bins) between the LR volume (fixed) and the HR volume
    (moving), 6-DOF Euler transform initialised at the geometric centres, regular-step gradient
    descent with physical-shift scales, two-level pyramid (shrink 2, 1; smoothing 1, 0 voxels),
    random sampling of ``sampling_fraction`` of the fixed voxels with a fixed seed, linear
    interpolation while registering.  The result is resampled with a cubic B-spline, zero
    outside the moving volume, clipped to ``[0, 1]``.

    Args:
        moving_hr: ``(X, Y, Z)`` source HR volume in ``[0, 1]`` with its RAS affine (mm).
        fixed_lr: ``(X/sx, Y/sy, Z/sz)`` target LR volume with its RAS affine (mm), in the same
            world space as the HR volume (the HR affine with voxel axes times the scale).
        seed: seed of the metric's random sampling, ``0 <= seed < 2**32 - 1``; same seed and
            same inputs give an identical result, whatever the number of threads.
        iterations: maximum optimizer iterations per pyramid level.
        sampling_fraction: fraction of the fixed voxels sampled by the metric, in ``(0, 1]``.

    Returns:
        ``(registered, record)``.  ``registered`` is a new :class:`Volume`: ``(X, Y, Z)`` float32
        in ``[0, 1]`` with ``moving_hr``'s affine and subject.  ``record`` is JSON-ready:

        * ``metric_final``: metric at the optimizer's last iteration (negative Mattes MI; lower
          is better; sampled, finest level).
        * ``stop_condition``: the optimizer's stop description (last level).
        * ``iterations``: optimizer iterations, all levels together; ``iterations_per_level``:
          per level, coarse to fine.
        * ``rotation_deg``: Euler angles ``(about R, about A, about S)`` of the recovered
          rotation, degrees, composed as ITK's Euler3D does (``R = Rz·Rx·Ry``: first about
          A, then R, then S).
        * ``translation_mm``: translation ``(R, A, S)`` in mm, applied after the rotation about
          ``centre_mm`` (the fixed volume's geometric centre, RAS mm).
        * ``matrix_ras``: ``(4, 4)`` map from fixed (LR) world points to moving (HR) world
          points, RAS mm.
        * ``residual``: ``{"before": m0, "after": m1}``, the metric on all fixed voxels (no
          sampling, no pyramid) at the identity and at the recovered transform; the
          registration residual per subject.

    Raises:
        ValueError: bad volumes, affines, seed, iterations or sampling fraction.
        RuntimeError: ITK could not register the pair (e.g. no overlap); the message names the
            subject.
    """
    if not 0.0 < sampling_fraction <= 1.0:
        raise ValueError(f"sampling_fraction must be in (0, 1], got {sampling_fraction}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    _itk_seed(seed)  # validates the seed before any work
    fixed = volume_to_sitk(fixed_lr)
    moving = volume_to_sitk(moving_hr)

    transform = sitk.Euler3DTransform(
        sitk.CenteredTransformInitializer(
            fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
        )
    )
    method = _metric_method(seed, sampling_fraction)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=LEARNING_RATE,
        minStep=MIN_STEP,
        numberOfIterations=int(iterations),
        relaxationFactor=RELAXATION_FACTOR,
        gradientMagnitudeTolerance=GRADIENT_TOLERANCE,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(SHRINK_FACTORS))
    method.SetSmoothingSigmasPerLevel(list(SMOOTHING_SIGMAS))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(transform, inPlace=True)

    per_level: list[int] = []  # optimizer iterations of each pyramid level, counted by observers

    def _count_iteration() -> None:
        per_level[-1] += 1

    method.AddCommand(sitk.sitkMultiResolutionIterationEvent, lambda: per_level.append(0))
    method.AddCommand(sitk.sitkIterationEvent, _count_iteration)

    try:
        method.Execute(fixed, moving)
    except RuntimeError as error:
        raise RuntimeError(
            f"rigid registration of {moving_hr.subject} to {fixed_lr.subject} failed: {error}"
        ) from error

    evaluator = _metric_method(seed, sampling_fraction)
    identity = sitk.Euler3DTransform()
    identity.SetCenter(transform.GetCenter())
    evaluator.SetInitialTransform(identity)
    before = evaluator.MetricEvaluate(fixed, moving)
    evaluator.SetInitialTransform(sitk.Euler3DTransform(transform))
    after = evaluator.MetricEvaluate(fixed, moving)

    resampled = sitk.Resample(moving, moving, transform, sitk.sitkBSpline3, 0.0, sitk.sitkFloat64)
    data = np.clip(sitk_to_array(resampled), 0.0, 1.0).astype(np.float32)
    registered = Volume(data, np.array(moving_hr.affine, dtype=np.float64, copy=True), moving_hr.subject)

    flip = np.array([-1.0, -1.0, 1.0])
    angles_lps = np.array([transform.GetAngleX(), transform.GetAngleY(), transform.GetAngleZ()])
    record = {
        "metric_final": float(method.GetMetricValue()),
        "stop_condition": method.GetOptimizerStopConditionDescription(),
        "iterations": int(sum(per_level)),
        "iterations_per_level": list(per_level),
        "rotation_deg": [math.degrees(a) for a in (flip * angles_lps).tolist()],
        "translation_mm": (flip * np.asarray(transform.GetTranslation())).tolist(),
        "centre_mm": (flip * np.asarray(transform.GetCenter())).tolist(),
        "matrix_ras": _euler_to_ras_matrix(transform).tolist(),
        "residual": {"before": float(before), "after": float(after)},
    }
    return registered, record
