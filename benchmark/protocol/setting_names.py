"""The names of the protocol's settings: where a cell's source HR comes from.

* ``misaligned``: the target subjects' own HR volumes, moved by a simulated misalignment;
* ``unpaired``: the HR volumes of other subjects (the source group of the split);
* ``n/a``: no source HR at all, the setting of methods that never read one (tricubic, ZSSR):
  one cell of theirs serves every setting of its dataset and scale.

This module is the one place these names are spelled; the protocol, the runner, the ``Method``
interface and the reports import them from here.
"""

from __future__ import annotations

MISALIGNED = "misaligned"
UNPAIRED = "unpaired"
NO_SETTING = "n/a"

SOURCE_HR_SETTINGS: tuple[str, ...] = (MISALIGNED, UNPAIRED)
"""The settings with source HR: those a user chooses (``bench run --setting``) and a method with source HR trains in."""

SETTINGS: tuple[str, ...] = (*SOURCE_HR_SETTINGS, NO_SETTING)
"""Every setting a cell can have."""


def setting_file_name(setting: str) -> str:
    """The setting as written in folder and file names: ``n/a`` becomes ``na`` (no path separator)."""
    return "na" if setting == NO_SETTING else setting
