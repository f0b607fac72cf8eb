"""The schema of ``results.csv``: its columns, which identify a cell, which are metrics, their types.

``results.csv`` is one long table, one row per (cell, test subject).  The runner writes it
(:func:`benchmark.results.store.collect_results`) and the reports read it
(:func:`reports.results_store.read_results`); both take its columns and their types from here,
so the writer and the reader cannot drift apart.  The reports may import this module: it
names columns, not methods or datasets.

Columns, in the order written (``psnr`` is followed by any further metric the runner adds)::

    dataset, scale, setting, method, profile, overrides, train_degradation, test_degradation,
    split_seed, misalign_seed, data_root, precision, revision, seed, subject, ssim, psnr, oracle, config_hash, state

* :data:`IDENTITY_COLUMNS` identify a cell; with ``subject`` they are the key of a row
  (:data:`KEY_COLUMNS`).
* Metrics are ``ssim`` and ``psnr`` (:data:`METRIC_COLUMNS`) and any further numeric column
  that is none of :data:`NON_METRIC_COLUMNS`.
* ``revision`` is the method's revision when the cell ran (:attr:`benchmark.method.Method.revision`;
  0 when empty or absent). The reports show a method's newest revision in the store only
  (:mod:`reports.revisions`).
* ``oracle`` marks methods that are upper bounds, ``config_hash`` the hash the cell's ``DONE``
  marker finished, ``state`` whether the cell trained to its end (``done``) or its training
  diverged (``diverged``: its metrics are empty; :mod:`benchmark.training.divergence`).

Stores written by older harness versions hold only :data:`REQUIRED_COLUMNS` (and the metrics,
perhaps ``oracle``); the reader fills the others as :data:`TEXT_DEFAULTS` says.  The setting
``n/a`` is text: the file is read with pandas' missing-value markers switched off.
"""

from __future__ import annotations

from benchmark.protocol.setting_names import NO_SETTING

RESULTS_FILE = "results.csv"
"""The table's file name at the top of a results store."""

DEFAULT_DEGRADATION = "kspace"
"""The paper's degradation: the protocol's default, and what an empty or absent degradation means."""

UNREAD_DEGRADATION = NO_SETTING  # spelled as the setting of a method without source HR
"""The training degradation of a cell whose method reads no training data (tricubic, zero-fill, ZSSR).

Such a cell belongs beside every training degradation of its test degradation; the reports place
it so (:func:`reports.shared_cells.place_shared_cells`)."""

DEFAULT_PRECISION = "fp32"
"""The precision of CPU runs and of every cell recorded before precisions were: what an empty or absent one means."""

CELL_COLUMNS: tuple[str, ...] = ("dataset", "scale", "setting", "method", "profile")
"""What a row of Tables I and II is: a cell without its seeds and protocol variant."""

VARIANT_COLUMNS: tuple[str, ...] = ("train_degradation", "test_degradation", "overrides", "precision")
"""The protocol variant of a row (with the precision it ran in); rows of different variants are never averaged
together."""

IDENTITY_COLUMNS: tuple[str, ...] = (
    "dataset",
    "scale",
    "setting",
    "method",
    "profile",
    "overrides",
    "train_degradation",
    "test_degradation",
    "split_seed",
    "misalign_seed",
    "data_root",
    "precision",
    "revision",
    "seed",
)
"""The columns that identify a cell, in the order written (two cells differing in any never share a row)."""

SUBJECT = "subject"
KEY_COLUMNS: tuple[str, ...] = (*IDENTITY_COLUMNS, SUBJECT)
"""The key of a row: the cell and its test subject; the table is sorted by it."""

METRIC_COLUMNS: tuple[str, ...] = ("ssim", "psnr")
"""The metrics every cell records (its ``metrics.csv`` has them), in the order shown."""

ORACLE = "oracle"
CONFIG_HASH = "config_hash"
STATE = "state"
"""``done`` or ``diverged``; stores written before divergence was recorded lack it (every row ``done``)."""
DONE_STATE = "done"
DIVERGED_STATE = "diverged"

COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, *METRIC_COLUMNS, ORACLE, CONFIG_HASH, STATE)
"""Every column of a table the runner writes (a further metric would follow ``psnr``)."""

NON_METRIC_COLUMNS: frozenset[str] = frozenset({*KEY_COLUMNS, ORACLE, CONFIG_HASH, STATE})
"""Columns never read as metrics, even when all their values are numbers (seeds, hashes, roots)."""

INTEGER_COLUMNS: tuple[str, ...] = ("seed", "split_seed", "misalign_seed", "revision")
"""Identity columns holding integers; every other identity column (and ``subject``) is text."""

INTEGER_DEFAULTS: dict[str, int] = {"revision": 0}
"""Integer columns that may be empty or absent, and what that means: revision 0 (stores written before
revisions were recorded hold only revision-0 cells)."""

REQUIRED_COLUMNS: tuple[str, ...] = (*CELL_COLUMNS, "seed", SUBJECT)
"""The key columns present in the tables of every harness version; a table without one is refused."""

PROTOCOL_COLUMNS: tuple[str, ...] = (
    *VARIANT_COLUMNS,
    "split_seed",
    "misalign_seed",
    "data_root",
    "revision",
    CONFIG_HASH,
)
"""The columns that older stores lack (recorded since the protocol options were)."""

TEXT_DEFAULTS: dict[str, str] = {
    "train_degradation": DEFAULT_DEGRADATION,
    "test_degradation": DEFAULT_DEGRADATION,
    "overrides": "",
    "data_root": "",
    "precision": DEFAULT_PRECISION,
    CONFIG_HASH: "",
    STATE: DONE_STATE,
}
"""Text columns that may be empty or absent, and what that means: the default degradation, no
override, generated data (no data root), fp32, an unknown hash."""
