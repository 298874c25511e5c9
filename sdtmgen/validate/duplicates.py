"""Records whose key values occur more than once, found without hashing when the frame is sorted.

The build sorts every dataset by its keys (and --SEQ follows the subject's order), so records
with equal keys are neighbours: comparing each record with the next finds them in one pass and
proves the order on the way. The order is tested only where it matters: where the earlier keys
are equal and this key changes (a few boundaries), not on every pair. A frame that is not in key
order is hashed by pandas instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def duplicated_rows(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """``frame.duplicated(keys, keep=False)`` as a mask: every record of a repeated key (missing equals missing)."""
    if len(frame) < 2:
        return np.zeros(len(frame), dtype=bool)
    same = np.ones(len(frame) - 1, dtype=bool)  # record i and i + 1 have equal keys so far
    for key in keys:
        values = _comparable(frame[key])
        if values is None:
            return frame.duplicated(keys, keep=False).to_numpy(dtype=bool)
        equal = _equal_to_next(values)
        changes = same & ~equal  # earlier keys equal, this one differs: must sort before the next
        if not _in_order(values, changes):  # not sorted by the keys
            return frame.duplicated(keys, keep=False).to_numpy(dtype=bool)
        same &= equal
        if not same.any():
            break
    duplicated = np.zeros(len(frame), dtype=bool)
    duplicated[:-1] |= same
    duplicated[1:] |= same
    return duplicated


def _comparable(values: pd.Series) -> pa.Array | np.ndarray | None:
    """Arrow text (one array) or float/integer numbers; None for other types."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        text = pa.array(values.array)
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if values.dtype == np.float64 or values.dtype.kind in "iu":
        return values.to_numpy()
    return None


def _missing(values: pa.Array | np.ndarray) -> np.ndarray | None:
    """Which values are missing; None when none can be (integers)."""
    if isinstance(values, np.ndarray):
        return np.isnan(values) if values.dtype.kind == "f" else None
    return values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None


def _equal_to_next(values: pa.Array | np.ndarray) -> np.ndarray:
    """Each value equals the next (missing equals missing)."""
    if isinstance(values, np.ndarray):
        equal = values[:-1] == values[1:]
    else:
        this, after = values.slice(0, len(values) - 1), values.slice(1)
        equal = pc.fill_null(pc.equal(this, after), False).to_numpy(zero_copy_only=False)
    missing = _missing(values)
    if missing is not None:
        equal |= missing[:-1] & missing[1:]
    return equal


def _in_order(values: pa.Array | np.ndarray, changes: np.ndarray) -> bool:
    """Each value where ``changes`` is True sorts before its next value (missing values last)."""
    count = np.count_nonzero(changes)
    if not count:
        return True
    if count > len(changes) // 8:  # many: compare all neighbours at once
        if isinstance(values, np.ndarray):
            this, after = values[:-1], values[1:]
        else:
            this, after = values.slice(0, len(values) - 1), values.slice(1)
        return not (changes & ~_ordered(this, after)).any()
    at = np.flatnonzero(changes)
    if isinstance(values, np.ndarray):
        this, after = values[at], values[at + 1]
    else:
        this, after = values.take(pa.array(at)), values.take(pa.array(at + 1))
    return bool(_ordered(this, after).all())


def _ordered(this: pa.Array | np.ndarray, after: pa.Array | np.ndarray) -> np.ndarray:
    """``this`` sorts before ``after``, value by value (missing values last)."""
    if isinstance(this, np.ndarray):
        before = this < after
    else:
        before = pc.fill_null(pc.less(this, after), False).to_numpy(zero_copy_only=False)
    this_missing, after_missing = _missing(this), _missing(after)
    if after_missing is not None:
        before |= after_missing if this_missing is None else (~this_missing & after_missing)
    return before
