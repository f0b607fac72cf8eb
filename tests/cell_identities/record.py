"""The folder and identity hash of 720 cells: every method, three profiles, ten sets of ``--set`` options.

``at_91be66f.txt`` beside this file holds what it printed at commit 91be66f, before profile keys
declared their defaults (``PYTHONPATH=. python tests/cell_identities/record.py`` in a worktree of
that commit).  ``tests/test_profile_keys.py`` compares today's lines with it: a finished cell is
found again only if its folder and its hash are unchanged.  The options include keys set to their
own default (``ssim_weight=0.5``), which are still overrides, as they were.
"""

from __future__ import annotations

import warnings
from pathlib import Path

OVERRIDES = (
    (),
    ("udean_warmup=0.0",),
    ("udean_hr_consistency_skip=False",),
    ("zssr_steps=60",),
    ("cyclegan_down_skip=True",),
    ("dasr_down_skip=False",),
    ("ssim_weight=0.5",),
    ("zssr_batch_size=4",),
    ("steps_per_epoch=60", "zssr_steps=60"),
    ("udean_lambda5=0", "udean_lambda6=0"),
)
METHODS_AT_91BE66F = [
    "cyclegan",
    "dasr",
    "pseudosr",
    "supervised",
    "supervised-aligned",
    "supervised-rigid",
    "tricubic",
    "udean",
    "udean-feature-da",
    "udean-image-da",
    "zero-fill",
    "zssr",
]


def identity_lines() -> list[str]:
    """``profile options method setting folder hash``, one line per cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from benchmark.profiles import load_profile
        from benchmark.registry import load_plugins
        from benchmark.results.cell import Cell, config_hash
        from benchmark.scale import Scale

        try:
            from benchmark.app.matrix import cell_identity
        except ImportError:  # before the application layer
            from benchmark.runner import cell_identity
    load_plugins()
    lines = []
    for profile in ("tiny", "quick", "paper"):
        for overrides in OVERRIDES:
            for method in METHODS_AT_91BE66F:
                resolved = load_profile(profile, overrides).for_method(method)
                for setting in ("misaligned", "unpaired"):
                    cell = Cell("demo-small", Scale(2, 2, 2), setting, method, 0, resolved)
                    folder = cell.folder(Path("runs")).as_posix()
                    identity = config_hash(cell_identity(cell))
                    lines.append(f"{profile} {';'.join(overrides) or '-'} {method} {setting} {folder} {identity}")
    return lines


if __name__ == "__main__":
    print("\n".join(identity_lines()))
