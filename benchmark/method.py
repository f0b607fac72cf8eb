"""The interface every super-resolution method implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch

from benchmark.profiles import Profile
from benchmark.protocol.setting_names import SOURCE_HR_SETTINGS
from benchmark.protocol.training_data import TrainingData
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext


class Method(ABC):
    """A super-resolution method; subclasses register themselves with ``METHODS.register``.

    The harness calls ``Method(scale=..., profile=...)``, then :meth:`fit` once, then
    :meth:`super_resolve` on every test LR volume.

    Class attributes:
        uses_source_hr: ``False`` for methods that never see source HR (tricubic, ZSSR); their
            cells run once with setting ``"n/a"``.
        uses_aligned_target_hr: ``True`` only for oracles trained on perfectly aligned pairs.
        oracle: reports mark the method as an oracle (an upper bound, not a fair competitor).
        settings: the settings the method can train in; the matrix skips the others.
        needs_training_data: ``False`` for methods whose :meth:`fit` learns nothing from the
            training data (tricubic; ZSSR, which trains on each test volume): ``bench infer``
            runs them without a trained cell.  Their cells do not depend on the training
            degradation or the misalignment seed: the cell's identity records the training
            degradation as ``n/a`` and the misalignment seed as 0, so ``--train-degradation`` and
            ``--misalign-seed`` never rerun them (the reports place them beside every training
            degradation).
        uses_seed: ``False`` for methods whose result does not depend on the training seed
            (tricubic, zero-fill): their cells run once, as seed 0, whatever ``--seed`` asks.
            ``check_declared_inputs`` of the method contract checks both declarations.
        revision: the method's revision, an integer ≥ 0. Bump it whenever a change alters what
            a cell of the method computes without changing the cell's identity, above all a
            changed default of a profile key the method declares (a cell's identity holds the
            ``--set`` overrides, not the declared defaults). A revision above 0 joins each cell's
            identity and folder (``…_rev1``), so ``bench run`` trains the new revision instead of
            taking the old cells as done, and the reports show each method's newest revision in
            the store only. Document each bump in the method's page (``docs/methods/``).
    """

    uses_source_hr: ClassVar[bool] = True
    uses_aligned_target_hr: ClassVar[bool] = False
    oracle: ClassVar[bool] = False
    settings: ClassVar[tuple[str, ...]] = SOURCE_HR_SETTINGS
    needs_training_data: ClassVar[bool] = True
    uses_seed: ClassVar[bool] = True
    revision: ClassVar[int] = 0

    def __init__(self, scale: Scale, profile: Profile) -> None:
        self.scale = scale
        self.profile = profile
        self.run: RunContext | None = None

    @classmethod
    def network_parameters(cls, scale: Scale, profile: Profile) -> dict[str, int]:
        """Parameter count of each network the method would build for ``scale`` and ``profile``.

        Shown by ``bench list --verbose``; the default, for methods without networks, is ``{}``.
        """
        del scale, profile
        return {}

    def fit(self, data: TrainingData, run: RunContext) -> None:
        """Train on ``data``; the default keeps ``run`` and trains nothing."""
        self.run = run

    def prepare_inference(self, run: RunContext) -> None:
        """Get ready to super-resolve on ``run.device`` without :meth:`fit`, after :meth:`load_state_dict`.

        ``bench infer`` calls it on a method restored from a cell's ``model.pt``.  The default
        keeps ``run`` (its device, seed, progress and scratch folder); a method holding networks
        must also move them to ``run.device`` (:class:`methods.thin_slab.ThinSlabMethod` does).
        """
        self.run = run

    @property
    def device(self) -> torch.device:
        """Device given by the run context, CPU before :meth:`fit`."""
        return self.run.device if self.run is not None else torch.device("cpu")

    @abstractmethod
    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """Super-resolve one whole LR volume.

        Args:
            lr: ``(X/sx, Y/sy, Z/sz)`` float32 LR volume on the CPU.

        Returns:
            ``(X, Y, Z)`` float32 SR volume on the CPU.
        """

    def state_dict(self) -> dict[str, Any]:
        """Learned state to save with the cell; empty for methods without weights."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        del state
