"""What a method may see while it trains: the groups of the protocol, minus the test HR.

:class:`TrainingData` is the only door through which a method reads data.  It never holds
the test group's HR volumes, and it refuses access to groups that the method has not
declared it uses (``uses_source_hr``, ``uses_aligned_target_hr``), so that, for instance,
ZSSR can be shown never to read a source HR volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.errors import BenchError
from benchmark.scale import Scale
from benchmark.volume import Volume


@dataclass(frozen=True)
class VolumePair:
    """An LR volume and the HR volume it was degraded from (validation and test groups)."""

    lr: Volume
    hr: Volume


class DataAccessError(BenchError):
    """A method asked for a group it did not declare (a plugin bug, reported as one sentence)."""


@dataclass
class TrainingData:
    """Training groups for one cell; access is checked against the method's declarations.

    Attributes:
        scale: the cell's scale.
        setting: ``"misaligned"``, ``"unpaired"`` or ``"n/a"`` (methods without source HR).
    """

    scale: Scale
    setting: str
    _source_hr: list[Volume]
    _target_lr: list[Volume]
    _validation: list[VolumePair]
    _target_hr: list[Volume] = field(default_factory=list)
    allow_source_hr: bool = True
    allow_target_hr: bool = False
    reads: set[str] = field(default_factory=set)

    @property
    def source_hr(self) -> list[Volume]:
        """Source-group HR volumes ``(X, Y, Z)``: misaligned copies of the target subjects or other subjects."""
        if not self.allow_source_hr:
            raise DataAccessError("this method declared uses_source_hr = False but read the source HR volumes.")
        self.reads.add("source_hr")
        return self._source_hr

    @property
    def target_lr(self) -> list[Volume]:
        """Target-group LR volumes ``(X/sx, Y/sy, Z/sz)``, the images to learn to super-resolve."""
        self.reads.add("target_lr")
        return self._target_lr

    @property
    def target_hr(self) -> list[Volume]:
        """Truly aligned HR of the target subjects, in the order of :attr:`target_lr` (oracle only)."""
        if not self.allow_target_hr:
            raise DataAccessError(
                "this method read the aligned target HR volumes without declaring uses_aligned_target_hr = True."
            )
        self.reads.add("target_hr")
        return self._target_hr

    @property
    def validation(self) -> list[VolumePair]:
        """Validation pairs (LR, HR) for watching training."""
        self.reads.add("validation")
        return self._validation
