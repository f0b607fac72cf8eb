"""Placing the cells of methods that read no training data beside every training degradation.

A tricubic, zero-fill or ZSSR cell cannot depend on the training degradation, so the runner
records it once, with the training degradation ``n/a``
(:data:`~benchmark.results.schema.UNREAD_DEGRADATION`), instead of rerunning it for each
``--train-degradation``.  A table, though, compares methods under one (training → test)
degradation pair.  :func:`place_shared_cells` copies each such row into every training
degradation that the other cells of its block were trained on (its test degradation alone when
there is none), so the variant and shift tables show it in every block where it belongs, as the
setting ``n/a`` is shown in every setting.

Stores written before these cells were recorded once hold them under a concrete training
degradation.  Where the same method also has an ``n/a`` cell in the block, that newer cell
replaces them (their results are the same numbers, measured again).
"""

from __future__ import annotations

import pandas as pd

from benchmark.results.schema import KEY_COLUMNS, UNREAD_DEGRADATION

BLOCK_COLUMNS: tuple[str, ...] = (
    "dataset",
    "scale",
    "profile",
    "overrides",
    "precision",
    "test_degradation",
    "split_seed",
    "data_root",
)
"""What a shared row must agree on with the rows it is placed beside (where the table has the column)."""

TRAIN = "train_degradation"


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return frame[columns].astype(str).apply(tuple, axis=1) if len(frame) else pd.Series([], dtype=object)


def place_shared_cells(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with each ``n/a``-training row copied into every training degradation of its block.

    Args:
        results: the long results table (``train_degradation`` and ``test_degradation`` present
            or not; a table without them is returned as it is).

    Returns:
        A new table: rows that read training data unchanged; each row with training degradation
        ``n/a`` once per training degradation found among the other rows of its block
        (:data:`BLOCK_COLUMNS`), or once with its test degradation when none is; older rows of a
        method that also has an ``n/a`` row in the same block left out.  Sorted as
        ``results.csv`` is.
    """
    if TRAIN not in results.columns or "test_degradation" not in results.columns:
        return results
    unread = (results[TRAIN] == UNREAD_DEGRADATION).to_numpy()
    if not unread.any():
        return results
    block = [name for name in BLOCK_COLUMNS if name in results.columns]
    shared = results[unread]
    read = results[~unread]
    method_keys = [*block, "method", "setting"]
    superseded = _keys(read, method_keys).isin(set(_keys(shared, method_keys))).to_numpy()
    read = read[~superseded]
    trains: dict[tuple, list[str]] = {}
    for key, train in zip(_keys(read, block), read[TRAIN].astype(str), strict=True):
        if train not in trains.setdefault(key, []):
            trains[key].append(train)
    placed = [read]
    for key, rows in zip(*_grouped(shared, block), strict=True):
        for train in sorted(trains.get(key) or [str(rows["test_degradation"].iloc[0])]):
            placed.append(rows.assign(**{TRAIN: train}))
    table = pd.concat(placed, ignore_index=True)
    order = [name for name in KEY_COLUMNS if name in table.columns]
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def _grouped(frame: pd.DataFrame, block: list[str]) -> tuple[list[tuple], list[pd.DataFrame]]:
    """The blocks of ``frame`` as (string keys, rows), in their first appearance."""
    keys = _keys(frame, block)
    order = list(dict.fromkeys(keys))
    return order, [frame[(keys == key).to_numpy()] for key in order]
