"""Display names and the order in which datasets, scales, settings and methods appear in reports.

Everything here is about presentation only: the results store keeps the raw names
(``udean``, ``hcp``, ``2x2x2``, ``n/a``), and the tables and figures translate them here.
Unknown names fall back to the raw name, so a third-party method or dataset shows up as-is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from benchmark.data.dataset import TISSUES
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING, UNPAIRED

METHOD_DISPLAY_NAMES: dict[str, str] = {
    "tricubic": "Tricubic",
    "zero-fill": "Zero-fill",
    "zssr": "ZSSR",
    "cyclegan": "CycleGAN",
    "dasr": "DASR",
    "pseudosr": "PseudoSR",
    "udean": "UDEAN",
    "supervised": "Supervised",
    "supervised-rigid": "Supervised (rigid reg.)",
    "supervised-aligned": "Supervised (aligned, oracle)",
    "udean-image-da": "UDEAN (image-space DA)",
    "udean-feature-da": "UDEAN (feature-space DA)",
}

DATASET_DISPLAY_NAMES: dict[str, str] = {"hcp": "HCP", "brats": "BraTS", "demo": "Demo"}

SETTING_DISPLAY_NAMES: dict[str, str] = {NO_SETTING: "N/A", UNPAIRED: "Unpaired", MISALIGNED: "Misaligned"}

METRIC_DISPLAY_NAMES: dict[str, str] = {
    "ssim": "SSIM",
    "psnr": "PSNR",
    "ssim_brain": "SSIM in the brain",
    "psnr_brain": "PSNR in the brain",
    "ssim2d": "2D SSIM",
    **{f"dice_{tissue}": f"Dice {tissue.upper()}" for tissue in TISSUES},
    **{f"dice_{tissue}_true": f"Dice {tissue.upper()} vs truth" for tissue in TISSUES},
    **{f"volume_error_{tissue}": f"{tissue.upper()} volume error" for tissue in TISSUES},
}

# Paper order (Table II): baselines without source HR first, UDEAN last.  A method not listed
# here takes the place of ``_UNKNOWN`` (after the published baselines, before the UDEAN family).
_UNKNOWN = "*"
METHOD_ORDER: tuple[str, ...] = (
    "tricubic",
    "zero-fill",
    "zssr",
    "supervised",
    "supervised-rigid",
    "supervised-aligned",
    "cyclegan",
    "dasr",
    "pseudosr",
    _UNKNOWN,
    "udean-feature-da",
    "udean-image-da",
    "udean",
)
DATASET_ORDER: tuple[str, ...] = ("hcp", "brats")
SETTING_ORDER: tuple[str, ...] = (NO_SETTING, UNPAIRED, MISALIGNED)


def method_name(method: str, names: Mapping[str, str] | None = None) -> str:
    """Display name of a method: ``names`` first, then :data:`METHOD_DISPLAY_NAMES`, then the raw name.

    Args:
        method: raw method name as stored in ``results.csv``.
        names: optional overrides, raw name → display name.

    Returns:
        The (unescaped) display name.
    """
    if names and method in names:
        return names[method]
    return METHOD_DISPLAY_NAMES.get(method, method)


def dataset_name(dataset: str) -> str:
    """Display name of a dataset (``hcp`` → ``HCP``), falling back to the raw name."""
    return DATASET_DISPLAY_NAMES.get(dataset, dataset)


def setting_name(setting: str) -> str:
    """Display name of a setting (``n/a`` → ``N/A``), falling back to the raw name."""
    return SETTING_DISPLAY_NAMES.get(setting, setting)


def metric_name(metric: str) -> str:
    """Display name of a metric column (``ssim`` → ``SSIM``), falling back to upper case."""
    return METRIC_DISPLAY_NAMES.get(metric, metric.upper())


def scale_factors(scale: str) -> list[str]:
    """The factors of a scale string, ``"2x2x1"`` → ``["2", "2", "1"]`` (``×`` accepted too)."""
    return [part.strip() for part in scale.replace("×", "x").split("x")]


def scale_text(scale: str) -> str:
    """Plain-text scale, ``"2x2x1"`` → ``"2×2×1"``."""
    return "×".join(scale_factors(scale))


def method_sort_key(method: str) -> tuple[int, str]:
    """Sort key putting methods in :data:`METHOD_ORDER`, unknown ones alphabetically at ``_UNKNOWN``."""
    if method in METHOD_ORDER:
        return (METHOD_ORDER.index(method), "")
    return (METHOD_ORDER.index(_UNKNOWN), method)


def dataset_sort_key(dataset: str) -> tuple[int, str]:
    """Sort key: the paper's datasets first (HCP, BraTS), then the others alphabetically."""
    if dataset in DATASET_ORDER:
        return (DATASET_ORDER.index(dataset), "")
    return (len(DATASET_ORDER), dataset)


def setting_sort_key(setting: str) -> tuple[int, str]:
    """Sort key: ``n/a`` first, then unpaired, misaligned (the paper's order), then others."""
    if setting in SETTING_ORDER:
        return (SETTING_ORDER.index(setting), "")
    return (len(SETTING_ORDER), setting)


def scale_sort_key(scale: str) -> tuple[int, str]:
    """Sort key: larger total factor first (2×2×2 before 2×2×1, as in the paper), then by text."""
    product = 1
    for factor in scale_factors(scale):
        product *= int(factor) if factor.isdigit() else 1
    return (-product, scale)


def ordered(values: Iterable[str], key: Callable[[str], tuple[int, str]]) -> list[str]:
    """Unique values sorted by ``key``."""
    return sorted(set(values), key=key)
