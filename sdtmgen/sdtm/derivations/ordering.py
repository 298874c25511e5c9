"""Record order and grouping on integer codes instead of the text itself.

Sorting or grouping half a million records by several text columns through ``sort_values`` /
``groupby`` compares strings again and again and copies the whole frame. Here every column becomes
integer codes once (Arrow's dictionary encoding for text), codes of several columns are packed into
one int64 where they fit, and the order is one stable integer sort -- or nothing at all when the
records are already in order (finalise sees frames that --SEQ has just sorted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_PACK_LIMIT = 2 ** 62


def order_codes(values: pd.Series, na_first: bool = True) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 that sort like ``values`` (missing values first or last), and k."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    n = len(uniques)
    if na_first:
        return codes + 1, n + 1
    return np.where(codes < 0, n, codes), n + 1


def pack(columns: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Pack (codes, cardinality) columns, most significant first, into as few int64 keys as fit."""
    keys: list[np.ndarray] = []
    key, span = None, 1
    for codes, size in columns:
        size = max(size, 1)
        if key is None:
            key, span = codes, size
        elif span * size < _PACK_LIMIT:
            key, span = key * size + codes, span * size
        else:
            keys.append(key)
            key, span = codes, size
    if key is not None:
        keys.append(key)
    return keys


def is_sorted(keys: list[np.ndarray]) -> bool:
    """Whether rows are in ascending lexicographic order of ``keys`` (most significant first)."""
    undecided = None
    for key in keys:
        step = np.sign(key[1:] - key[:-1])
        down = step < 0
        if undecided is not None:
            down &= undecided
        if down.any():
            return False
        undecided = step == 0 if undecided is None else undecided & (step == 0)
        if not undecided.any():
            return True
    return True


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """The stable permutation that sorts rows by ``keys`` (most significant first)."""
    if len(keys) == 1:
        return np.argsort(keys[0], kind="stable")
    return np.lexsort(keys[::-1])


def key_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    """Stable permutation sorting ``frame`` by ``columns`` (missing first); None when already sorted."""
    if len(frame) < 2 or not columns:
        return None
    keys = pack([order_codes(frame[col]) for col in columns])
    return None if is_sorted(keys) else stable_order(keys)


def sort_columns(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """The key variables present, then the raw file order (``_FILE``, ``_ROW``) to break ties."""
    by = [k for k in keys if k in frame.columns]
    return by + [c for c in ("_FILE", "_ROW") if c in frame.columns]


def has_range_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def take_rows(frame: pd.DataFrame, order: np.ndarray | None) -> pd.DataFrame:
    """The rows in ``order`` with a fresh 0..n-1 index (``frame`` itself when nothing moves)."""
    if order is None:
        return frame if has_range_index(frame) else frame.reset_index(drop=True)
    taken = frame.take(order)
    taken.index = pd.RangeIndex(len(taken))
    return taken


def group_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One code per distinct combination of ``columns``; -1 where any of them is missing."""
    combined = None
    missing = np.zeros(len(frame), dtype=bool)
    for col in columns:
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
        missing |= codes < 0
        codes = codes.astype(np.int64)
        if combined is None:
            combined, span = codes, len(uniques)
        else:
            if span * len(uniques) >= _PACK_LIMIT:  # re-densify before the product overflows
                combined, dense = pd.factorize(combined)
                span = len(dense)
            combined, span = combined * len(uniques) + codes, span * max(len(uniques), 1)
    if combined is None:
        return np.zeros(len(frame), dtype=np.int64)
    return np.where(missing, -1, combined)


def cumcount(codes: np.ndarray) -> np.ndarray:
    """0, 1, 2... in row order within each group code (like groupby().cumcount(), codes >= 0)."""
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = ranked[1:] != ranked[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - first
    return out


def lookup(values: pd.Series, table: pd.Index) -> np.ndarray:
    """Position of each value in the (small) ``table``; -1 when absent or missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    positions = table.get_indexer(pd.Index(uniques)) if len(uniques) else np.zeros(0, dtype=np.intp)
    return np.where(codes >= 0, positions[np.maximum(codes, 0)] if len(positions) else -1, -1)
