"""What a method may see while it trains: the groups of the protocol, minus the test HR.

:class:`TrainingData` is the only door through which a method reads data.  It never holds
the test group's HR volumes, and it refuses access to groups that the method has not
declared it uses (``uses_source_hr``, ``uses_aligned_target_hr``), so that, for instance,
ZSSR can be shown never to read a source HR volume.  The protocol builds one object with every
group; :meth:`TrainingData.for_method` gives each method a view holding only what it declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmark.data.volume import Volume
from benchmark.errors import BenchError
from benchmark.scale import Scale


@dataclass(frozen=True)
class VolumePair:
    """An LR volume and the HR volume it was degraded from (validation and test groups).

    Attributes:
        mask: the HR volume's brain mask, ``(X, Y, Z)`` boolean on its grid (cropped with it), for
            the metrics inside the brain; ``None`` where the dataset has none (and in the
            validation group, which does not need it).
        tissues: the true tissue labels on the same grid, ``(X, Y, Z)`` int8 (index into
            :data:`~benchmark.data.dataset.TISSUES`, -1 outside the mask), where the dataset
            knows them (the demo), for the downstream score; else ``None``.
    """

    lr: Volume
    hr: Volume
    mask: np.ndarray | None = None
    tissues: np.ndarray | None = None


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

    def for_method(self, *, setting: str, uses_source_hr: bool, uses_aligned_target_hr: bool) -> TrainingData:
        """A view for one method: the groups it declares, and no other.

        Target LR and validation pairs are always given; the source HR only when
        ``uses_source_hr`` and the aligned target HR only when ``uses_aligned_target_hr``.  An
        undeclared group is not even held by the view (reading it raises
        :class:`DataAccessError`).  The view records its own reads.

        Args:
            setting: the cell's setting (``"n/a"`` for a method without source HR, which may
                share the data built for another setting).
            uses_source_hr: the method's declaration of the same name.
            uses_aligned_target_hr: the method's declaration of the same name (oracles).

        Returns:
            A new :class:`TrainingData` sharing the volumes of this one (not copied).
        """
        return TrainingData(
            scale=self.scale,
            setting=setting,
            _source_hr=self._source_hr if uses_source_hr else [],
            _target_lr=self._target_lr,
            _validation=self._validation,
            _target_hr=self._target_hr if uses_aligned_target_hr else [],
            allow_source_hr=uses_source_hr,
            allow_target_hr=uses_aligned_target_hr,
        )

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
