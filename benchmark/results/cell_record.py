"""A cell's record: the one module that names, reads and writes the files of a cell folder.

A cell folder (``runs/<dataset>/<scale>/<setting>/<method>/<profile>/<variant>/seed<k>/``) holds

* ``config.json``: the cell's identity (dataset, scale, setting, method, seed, the resolved
  profile, its ``--set`` overrides, the protocol, the precision when not fp32) and the record of
  its data, written first (:func:`write_config`; read back as a :class:`RecordedCell`);
* ``environment.json`` (versions, device, commit), ``log.txt``, ``losses.csv``, ``timing.csv``,
  ``process.log`` (an executor's process output), ``model.pt`` and ``checkpoints/``;
* ``metrics.csv`` (one row per test subject) and ``slices.npz`` (the figure slices);
* ``DONE``, written last: the hash of the configuration the cell finished, the SHA-256 and row
  count of its ``metrics.csv`` and the record of its input volumes (:func:`mark_done`);
* ``error.txt`` when the cell failed: its last line is the reason (:func:`write_error`).

Nothing in a cell folder is trusted: :func:`check_finished` accepts a cell only when its
``DONE``, ``config.json`` and ``metrics.csv`` agree with each other.  A ``config.json`` written
by an older harness lacks some fields; :func:`read_config` fills them with what they meant
(the default protocol, fp32), in this one place.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.results.atomic_files import write_json
from benchmark.results.cell import ProtocolOptions, cell_label, config_hash, identity_columns
from benchmark.results.cell_lock import LOCK
from benchmark.results.inputs import file_sha256
from benchmark.results.no_follow import write_text
from benchmark.results.schema import (
    DEFAULT_DEGRADATION,
    DEFAULT_PRECISION,
    INTEGER_COLUMNS,
    METRIC_COLUMNS,
    SUBJECT,
)
from benchmark.training.divergence import DIVERGED

CONFIG = "config.json"
ENVIRONMENT = "environment.json"
DONE = "DONE"
METRICS = "metrics.csv"
ERROR_FILE = "error.txt"
LOG = "log.txt"
PROCESS_LOG = "process.log"
LOSSES = "losses.csv"
TIMING = "timing.csv"
MODEL = "model.pt"
SLICES = "slices.npz"
CHECKPOINTS = "checkpoints"

CELL_FILES = (LOCK, DONE, CONFIG, ENVIRONMENT, LOG, PROCESS_LOG, ERROR_FILE, MODEL, METRICS, SLICES, LOSSES, TIMING)
"""Files the harness writes in a cell folder: a symbolic link under one of these names is refused."""

RECORD_FILES = (CONFIG, ENVIRONMENT, DONE, METRICS, LOSSES, TIMING, LOG, ERROR_FILE, SLICES)
"""What a cell contributes to an archive of its run: identity, environment, outcome, metrics,
learning curves, timing, log, error and figure slices (not ``model.pt``, ``checkpoints/``, ``sr/``)."""

RECORD_ONLY_KEYS = ("data_records",)
"""Keys of ``config.json`` that describe the cell's data but are not hashed into its identity."""


class DamagedCellError(Exception):
    """A finished cell whose files disagree; the message names what is wrong."""


# --------------------------------------------------------------------------- config.json
@dataclass(frozen=True)
class RecordedCell:
    """What a cell's ``config.json`` says, with the meaning of fields an older harness did not write.

    Attributes:
        dataset, scale, setting, method, seed: the cell's coordinates (``scale`` as ``"2x2x2"``).
        profile: the profile's name.
        profile_values: every key of the resolved profile, as recorded (lists where tuples were).
        overrides: the ``--set`` overrides, ``key=value;…`` (``""`` for none).
        protocol: the training and test degradations, split and misalignment seeds, data root.
        precision: ``fp32`` (also when absent), ``bf16`` or ``fp16``.
        revision: the method's revision when the cell ran (0 when absent).
        oracle: whether the method reads the aligned target HR (an upper bound).
        config: the whole parsed ``config.json``.
    """

    dataset: str
    scale: str
    setting: str
    method: str
    seed: int
    profile: str
    profile_values: dict[str, Any]
    overrides: str
    protocol: ProtocolOptions
    precision: str
    oracle: bool
    config: dict[str, Any]
    revision: int = 0

    def identity_columns(self) -> dict[str, Any]:
        """The cell's values of :data:`~benchmark.results.schema.IDENTITY_COLUMNS`, typed as the schema says."""
        values = identity_columns(
            self.dataset,
            self.scale,
            self.setting,
            self.method,
            self.profile,
            self.overrides,
            self.protocol,
            self.precision,
            self.revision,
            self.seed,
        )
        return {name: int(value) if name in INTEGER_COLUMNS else str(value) for name, value in values.items()}

    def label(self) -> str:
        """The label :meth:`benchmark.results.cell.Cell.label` gives the same cell."""
        return cell_label(
            self.dataset,
            self.scale,
            self.setting,
            self.method,
            self.seed,
            self.protocol,
            self.overrides,
            self.precision,
            self.revision,
        )


def read_config(cell_dir: Path) -> RecordedCell:
    """The cell's ``config.json``, parsed.

    Raises:
        DamagedCellError: it is missing, not JSON, lacks the cell's identity, or holds values of
            the wrong type.
    """
    return recorded_cell(_read_config_json(cell_dir))


def recorded_cell(config: dict[str, Any]) -> RecordedCell:
    """A parsed ``config.json`` (as :func:`check_finished` returns it) as a :class:`RecordedCell`.

    Raises:
        DamagedCellError: it holds values of the wrong type.
    """
    try:
        protocol = config.get("protocol") or {}
        return RecordedCell(
            dataset=str(config["dataset"]),
            scale=str(config["scale"]),
            setting=str(config["setting"]),
            method=str(config["method"]),
            seed=int(config["seed"]),
            profile=str(config["profile"]["name"]),
            profile_values={key: value for key, value in config["profile"].items() if key != "name"},
            overrides=str(config.get("overrides", "")),
            protocol=ProtocolOptions(
                train_degradation=str(protocol.get("train_degradation", DEFAULT_DEGRADATION)),
                test_degradation=str(protocol.get("test_degradation", DEFAULT_DEGRADATION)),
                split_seed=int(protocol.get("split_seed", 0)),
                misalign_seed=int(protocol.get("misalign_seed", 0)),
                data_root=protocol.get("data_root") or None,
            ),
            precision=str(config.get("precision", DEFAULT_PRECISION)),
            oracle=bool(config.get("oracle", False)),
            config=config,
            revision=int(config.get("revision", 0)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DamagedCellError("config.json holds values of the wrong type") from None


def _read_config_json(cell_dir: Path) -> dict[str, Any]:
    try:
        config = json.loads((cell_dir / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DamagedCellError("config.json is missing") from None
    except (OSError, ValueError):
        raise DamagedCellError("config.json is not valid JSON") from None
    required = ("dataset", "scale", "setting", "method", "seed", "profile")
    if not isinstance(config, dict) or any(key not in config for key in required):
        raise DamagedCellError("config.json lacks the cell's identity")
    if not isinstance(config["profile"], dict) or "name" not in config["profile"]:
        raise DamagedCellError("config.json lacks the profile name")
    return config


def write_config(cell_dir: Path, identity: dict[str, Any], data_records: Any) -> None:
    """Write ``config.json``: the cell's identity (:func:`benchmark.app.matrix.cell_identity`) and its data records."""
    write_json(cell_dir / CONFIG, {**identity, "data_records": data_records})


def started_at(cell_dir: Path) -> float | None:
    """When the cell last started (its ``config.json``'s time stamp, seconds since the epoch), or ``None``."""
    return _mtime(cell_dir / CONFIG)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


# --------------------------------------------------------------------------- error.txt
def write_error(cell_dir: Path, text: str) -> None:
    """Write ``error.txt`` (never through a link: :class:`~benchmark.results.no_follow.LinkInCellError`)."""
    write_text(cell_dir / ERROR_FILE, text.rstrip("\n") + "\n")


def last_error_line(cell_dir: Path) -> str:
    """The last non-empty line of the cell's ``error.txt`` (``""`` when there is none)."""
    try:
        lines = [line.strip() for line in (cell_dir / ERROR_FILE).read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def failed_at(cell_dir: Path) -> float | None:
    """When ``error.txt`` was written, or ``None`` without one."""
    return _mtime(cell_dir / ERROR_FILE)


def clear_outcome(cell_dir: Path) -> None:
    """Remove an earlier ``DONE`` and ``error.txt`` before the cell runs again."""
    (cell_dir / DONE).unlink(missing_ok=True)
    (cell_dir / ERROR_FILE).unlink(missing_ok=True)


# --------------------------------------------------------------------------- environment.json
def read_environment(cell_dir: Path) -> dict[str, Any]:
    """The cell's ``environment.json`` (versions, device, precision, commit); ``{}`` when missing or unreadable."""
    try:
        record = json.loads((cell_dir / ENVIRONMENT).read_text())
    except (ValueError, OSError):
        return {}
    return record if isinstance(record, dict) else {}


def recorded_commit(cell_dir: Path) -> str | None:
    """The harness commit a finished cell recorded in its ``environment.json``, or ``None``."""
    return read_environment(cell_dir).get("git_commit")


# --------------------------------------------------------------------------- DONE markers
def identity_of(config: dict[str, Any]) -> dict[str, Any]:
    """The hashed part of a ``config.json``: everything but the data records."""
    return {key: value for key, value in config.items() if key not in RECORD_ONLY_KEYS}


def mark_done(cell_dir: Path, config: dict[str, Any], extra: dict[str, Any]) -> None:
    """Write the DONE marker last, atomically, with the digest of the cell's ``metrics.csv``."""
    metrics = cell_dir / METRICS
    rows = len(pd.read_csv(metrics, keep_default_na=False))
    record = {"config_hash": config_hash(config), "metrics_sha256": file_sha256(metrics), "metrics_rows": rows}
    write_json(cell_dir / DONE, {**record, **extra})


def read_done(cell_dir: Path) -> dict[str, Any] | None:
    """The parsed ``DONE`` marker, or ``None`` when it is missing or unreadable."""
    try:
        record = json.loads((cell_dir / DONE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config_hash"), str) else None


def _read_metrics(cell_dir: Path, done: dict[str, Any]) -> pd.DataFrame:
    path = cell_dir / METRICS
    if not path.is_file():
        raise DamagedCellError("metrics.csv is missing")
    recorded = done.get("metrics_sha256")
    if recorded is not None and file_sha256(path) != recorded:
        raise DamagedCellError("metrics.csv differs from the one its DONE marker recorded (cut or edited)")
    try:
        metrics = pd.read_csv(path, keep_default_na=False, dtype={SUBJECT: str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise DamagedCellError("metrics.csv cannot be parsed") from None
    if any(name not in metrics.columns for name in (SUBJECT, *METRIC_COLUMNS)):
        raise DamagedCellError(f"metrics.csv lacks its columns {', '.join((SUBJECT, *METRIC_COLUMNS))}")
    recorded_rows = _recorded_rows(done)
    if metrics.empty or (recorded_rows is not None and len(metrics) != recorded_rows):
        raise DamagedCellError("metrics.csv has fewer rows than its DONE marker recorded")
    diverged = DIVERGED in done
    for name in METRIC_COLUMNS:
        values = pd.to_numeric(metrics[name], errors="coerce")
        if diverged:  # a diverged cell records its test subjects without metrics
            if values.notna().any():
                raise DamagedCellError(f"metrics.csv of a diverged cell has a {name} value")
        elif values.isna().any() or not all(math.isfinite(v) for v in values):
            raise DamagedCellError(f"metrics.csv has a missing or non-numeric {name}")
        metrics[name] = values.astype(float)
    return metrics


def _recorded_rows(done: dict[str, Any]) -> int | None:
    """The ``metrics_rows`` of a ``DONE`` marker (its metrics.csv's row count; ``None`` in markers older than it).

    Raises:
        DamagedCellError: it is there but not a positive integer (before, it stopped every ``bench run``).
    """
    if "metrics_rows" not in done:
        return None
    value = done["metrics_rows"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DamagedCellError("its DONE marker's metrics_rows is not a positive integer")
    return value


def check_finished(cell_dir: Path, expected_hash: str | None = None) -> tuple[dict, dict, pd.DataFrame] | None:
    """A finished cell's ``(done, config, metrics)``, or ``None`` when it has no DONE marker.

    Args:
        cell_dir: the cell's folder.
        expected_hash: the configuration hash the caller wants; ``None`` accepts any that the
            cell's own ``config.json`` agrees with.

    Raises:
        DamagedCellError: the marker, the configuration and the metrics do not agree, or one cannot be read.
    """
    if not (cell_dir / DONE).is_file():
        return None
    done = read_done(cell_dir)
    if done is None:
        raise DamagedCellError("its DONE marker cannot be read")
    if expected_hash is not None and done["config_hash"] != expected_hash:
        return None
    config = _read_config_json(cell_dir)
    if config_hash(identity_of(config)) != done["config_hash"]:
        raise DamagedCellError("config.json does not match the configuration its DONE marker finished")
    return done, config, _read_metrics(cell_dir, done)


def is_done(cell_dir: Path, config: dict[str, Any]) -> bool:
    """Whether the cell finished with exactly this configuration and its files are intact."""
    try:
        return check_finished(cell_dir, config_hash(config)) is not None
    except DamagedCellError:
        return False
