"""One cell of the run matrix, everything that identifies its results, and where they live.

A cell is everything that changes a result, and nothing that cannot: dataset, scale, setting,
method, training seed, profile with its overrides, and the data protocol (training and test
degradations, split and misalignment seeds, data root).  What a method cannot read is made
canonical (:meth:`ProtocolOptions.as_read`, ``Method.uses_seed``), so a tricubic cell is one
cell whatever training degradation, misalignment seed or seed was asked.  Two cells that differ
in any of these never share a folder or a row of ``results.csv``:

``runs/<dataset>/<scale>/<setting>/<method>/<profile>/<variant>/seed<k>/``

where ``<variant>`` spells the protocol, e.g. ``kspace_to_kspace_split0_mis0`` (``na_to_kspace_…``
for a method that reads no training data), with
``_set-<hash>`` added when ``--set`` overrides change the profile, ``_root-<hash>`` when
a ``--data-root`` is given (8 hex digits of SHA-256 of the canonical overrides / the path),
``_<precision>`` (``_bf16``, ``_fp16``) when the cell runs in another precision than fp32
(:mod:`benchmark.precision`), and ``_rev<n>`` when the method is at revision ``n`` > 0
(:attr:`benchmark.method.Method.revision`: bumped when a default of the method changes, so
cells made under the old defaults are never taken as done, nor averaged with the new ones).
The precision is the *resolved* one (``--precision auto`` is bf16 on most GPUs, fp32 on the CPU);
fp32 cells keep the folders and configuration hashes they had before precisions were recorded, so
their results stay where they are; revision-0 cells keep theirs in the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.precision import DEFAULT_PRECISION, Precision
from benchmark.profiles import Profile
from benchmark.protocol.setting_names import NO_SETTING as NO_SETTING  # re-exported for older importers
from benchmark.protocol.setting_names import setting_file_name
from benchmark.results.schema import DEFAULT_DEGRADATION, IDENTITY_COLUMNS, UNREAD_DEGRADATION
from benchmark.scale import Scale


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ProtocolOptions:
    """Options of the data protocol (recorded in each cell's config and part of its identity).

    Attributes:
        data_root: the dataset's folder, or ``None`` for generated data.
        split_seed: seed of the subject split and of the degradations' noise (≥ 0).
        misalign_seed: seed of the simulated misalignment (≥ 0).
        train_degradation: degradation making the target LR (a ``DEGRADATIONS`` name).
        test_degradation: degradation making the validation and test LR.
    """

    data_root: Path | None = None
    split_seed: int = 0
    misalign_seed: int = 0
    train_degradation: str = DEFAULT_DEGRADATION
    test_degradation: str = DEFAULT_DEGRADATION

    def as_read(self, *, reads_training_lr: bool, misaligned: bool) -> ProtocolOptions:
        """These options with what a cell cannot read made canonical, so that it never reruns for them.

        Args:
            reads_training_lr: whether the method reads the training data (``needs_training_data``);
                if not, the training degradation becomes ``n/a`` and the misalignment seed 0.
            misaligned: whether the cell trains in the misaligned setting; if not, no movement
                is ever made and the misalignment seed becomes 0.
        """
        train = self.train_degradation if reads_training_lr else UNREAD_DEGRADATION
        misalign_seed = self.misalign_seed if reads_training_lr and misaligned else 0
        return replace(self, train_degradation=train, misalign_seed=misalign_seed)

    @property
    def built_train_degradation(self) -> str:
        """The training degradation to build the cell's data with (the default where none is read)."""
        return DEFAULT_DEGRADATION if self.train_degradation == UNREAD_DEGRADATION else self.train_degradation

    def root_text(self) -> str:
        """The data root as an absolute path without resolving symlinks (``""`` when none)."""
        return os.path.abspath(os.path.expanduser(self.data_root)) if self.data_root else ""

    def record(self) -> dict[str, Any]:
        """JSON-ready form; the data root is part of the identity of the results."""
        return {
            "data_root": self.root_text() or None,
            "split_seed": self.split_seed,
            "misalign_seed": self.misalign_seed,
            "train_degradation": self.train_degradation,
            "test_degradation": self.test_degradation,
        }


@dataclass(frozen=True)
class Cell:
    """One training and evaluation run."""

    dataset: str
    scale: Scale
    setting: str
    method: str
    seed: int
    profile: Profile
    protocol: ProtocolOptions = field(default_factory=ProtocolOptions)
    precision: Precision = DEFAULT_PRECISION
    revision: int = 0

    def variant(self) -> str:
        """Folder name of the protocol, overrides and precision, e.g. ``kspace_to_kspace_split0_mis0_set-1a2b3c4d``."""
        p = self.protocol
        train = setting_file_name(p.train_degradation)  # n/a (read by no method here) is written na
        name = f"{train}_to_{p.test_degradation}_split{p.split_seed}_mis{p.misalign_seed}"
        if self.profile.overrides:
            name += f"_set-{_short_hash(self.profile.overrides_text())}"
        if p.data_root:
            name += f"_root-{_short_hash(p.root_text())}"
        if self.precision != DEFAULT_PRECISION:
            name += f"_{self.precision}"
        if self.revision:
            name += f"_rev{self.revision}"
        return name

    def folder(self, runs_dir: Path) -> Path:
        """``runs/<dataset>/<scale>/<setting>/<method>/<profile>/<variant>/seed<k>/`` (``n/a`` written ``na``)."""
        parts = (
            self.dataset,
            str(self.scale),
            setting_file_name(self.setting),
            self.method,
            self.profile.name,
            self.variant(),
        )
        return Path(runs_dir, *parts, f"seed{self.seed}")

    def label(self) -> str:
        """Short human-readable name for progress bars and logs (protocol shown when not the default)."""
        return cell_label(
            self.dataset,
            str(self.scale),
            self.setting,
            self.method,
            self.seed,
            self.protocol,
            self.profile.overrides_text(),
            self.precision,
            self.revision,
        )

    def columns(self) -> dict[str, Any]:
        """This cell's values of :data:`~benchmark.results.schema.IDENTITY_COLUMNS`, in their order."""
        return identity_columns(
            self.dataset,
            str(self.scale),
            self.setting,
            self.method,
            self.profile.name,
            self.profile.overrides_text(),
            self.protocol,
            self.precision,
            self.revision,
            self.seed,
        )

    def config(self) -> dict[str, Any]:
        """The resolved configuration recorded in the cell folder, protocol and overrides included.

        ``precision`` is recorded only when it is not fp32, so an fp32 cell hashes as it did
        before precisions were selectable (an absent ``precision`` means fp32); ``revision`` only
        when it is above 0, for the same reason (absent means 0).
        """
        config = {
            "dataset": self.dataset,
            "scale": str(self.scale),
            "setting": self.setting,
            "method": self.method,
            "seed": self.seed,
            "profile": self.profile.as_dict(),
            "overrides": self.profile.overrides_text(),
            "protocol": self.protocol.record(),
        }
        if self.precision != DEFAULT_PRECISION:
            config["precision"] = self.precision
        if self.revision:
            config["revision"] = self.revision
        return config


def cell_label(
    dataset: str,
    scale: str,
    setting: str,
    method: str,
    seed: int,
    protocol: ProtocolOptions,
    overrides: str,
    precision: str,
    revision: int = 0,
) -> str:
    """A cell's short name for progress bars, logs and ``bench status`` (protocol shown when not the default).

    ``overrides`` is the ``key=value;…`` text of :meth:`benchmark.profiles.Profile.overrides_text`.
    """
    label = f"{dataset} {scale} {setting} {method} seed{seed}"
    p = protocol
    if p.train_degradation == UNREAD_DEGRADATION:
        if p.test_degradation != DEFAULT_DEGRADATION:
            label += f" test {p.test_degradation}"
    elif (p.train_degradation, p.test_degradation) != (DEFAULT_DEGRADATION, DEFAULT_DEGRADATION):
        label += f" {p.train_degradation}→{p.test_degradation}"
    if (p.split_seed, p.misalign_seed) != (0, 0):
        label += f" split{p.split_seed} mis{p.misalign_seed}"
    if overrides:
        label += f" ({overrides})"  # not [..]: rich would read it as markup
    if precision != DEFAULT_PRECISION:
        label += f" {precision}"
    if revision:
        label += f" rev{revision}"
    return label


def identity_columns(
    dataset: str,
    scale: str,
    setting: str,
    method: str,
    profile: str,
    overrides: str,
    protocol: ProtocolOptions,
    precision: str,
    revision: int,
    seed: int,
) -> dict[str, Any]:
    """A cell's values of :data:`~benchmark.results.schema.IDENTITY_COLUMNS`, in their order."""
    p = protocol
    values = {
        "dataset": dataset,
        "scale": scale,
        "setting": setting,
        "method": method,
        "profile": profile,
        "overrides": overrides,
        "train_degradation": p.train_degradation,
        "test_degradation": p.test_degradation,
        "split_seed": p.split_seed,
        "misalign_seed": p.misalign_seed,
        "data_root": p.root_text(),
        "precision": precision,
        "revision": revision,
        "seed": seed,
    }
    return {name: values[name] for name in IDENTITY_COLUMNS}


def config_hash(config: dict[str, Any]) -> str:
    """Stable hash of a configuration (sorted JSON, SHA-256, 16 hex digits)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
