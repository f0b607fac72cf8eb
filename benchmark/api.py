"""The kernel as plugins see it: everything a method or dataset plugin imports from ``benchmark``, in one place.

``methods/`` and ``datasets/`` import the kernel only through this module (import-linter checks
it: ``[tool.importlinter]`` in ``pyproject.toml``), so the kernel's inner layout can change
without breaking a plugin.  A plugin of your own should do the same::

    from benchmark.api import METHODS, Method, Profile, RunContext, Scale, TrainingData

Grouped as a plugin meets them; ``docs/architecture.md`` draws the layers.
"""

from __future__ import annotations

# Registering a plugin, and the errors a user can cause.
from benchmark.data.dataset import Dataset, default_cache_dir
from benchmark.data.nifti_read import NIFTI_SUFFIXES, read_nifti
from benchmark.data.volume import Volume
from benchmark.errors import BenchError

# Evaluation.
from benchmark.evaluation.metrics import METRICS, SSIM_SIGMA, SSIM_WINDOW, gaussian_kernel1d, psnr, ssim_map
from benchmark.folders import path_stat

# Thin-slab inference.
from benchmark.inference.slabs import SLAB_DEPTH, hr_slab_depth, super_resolve_slabs, to_slabs
from benchmark.inference.tiling import TileCallback

# The method interface and its context.
from benchmark.method import Method
from benchmark.plugins import DATASETS, METHODS
from benchmark.precision import Precision

# Profile keys a method declares (``--set key=value``).
from benchmark.profile_keys import ProfileKey, boolean, choice, declare, integer, number, optional
from benchmark.profiles import Profile

# The protocol: degradations, patches, settings, the training data a method may read.
from benchmark.protocol.degradations import kspace_truncate, kspace_zero_fill, truncated_image, zero_fill
from benchmark.protocol.patches import crop, hr_patch_size, random_patch_corner
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING, SOURCE_HR_SETTINGS, UNPAIRED
from benchmark.protocol.training_data import TrainingData, VolumePair
from benchmark.results.atomic_files import write_json
from benchmark.scale import Scale

# Training.
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import CosineDecay, LearningRatePolicy, Trainer, TrainingPlan, total_steps

__all__ = [
    "DATASETS",
    "METHODS",
    "METRICS",
    "MISALIGNED",
    "NIFTI_SUFFIXES",
    "NO_SETTING",
    "SLAB_DEPTH",
    "SOURCE_HR_SETTINGS",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "UNPAIRED",
    "BenchError",
    "CosineDecay",
    "Dataset",
    "LearningRatePolicy",
    "Method",
    "Precision",
    "Profile",
    "ProfileKey",
    "RunContext",
    "Scale",
    "TileCallback",
    "Trainer",
    "TrainingData",
    "TrainingPlan",
    "Volume",
    "VolumePair",
    "boolean",
    "choice",
    "crop",
    "declare",
    "default_cache_dir",
    "gaussian_kernel1d",
    "hr_patch_size",
    "hr_slab_depth",
    "integer",
    "kspace_truncate",
    "kspace_zero_fill",
    "number",
    "optional",
    "path_stat",
    "psnr",
    "random_patch_corner",
    "read_nifti",
    "ssim_map",
    "super_resolve_slabs",
    "to_slabs",
    "total_steps",
    "truncated_image",
    "write_json",
    "zero_fill",
]
