"""Records whose key values occur more than once, found without hashing when the frame is sorted.

The build sorts every dataset by its keys (and --SEQ follows the subject's order), so records
with equal keys are neighbours: comparing each record with the next finds them in one pass and
proves the order on the way. A frame that is not in key order is hashed by pandas instead.
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
        compared = _compare_with_next(frame[key])
        if compared is None or (same & ~compared[0] & ~compared[1]).any():  # not sorted by the keys
            return frame.duplicated(keys, keep=False).to_numpy(dtype=bool)
        same &= compared[1]
        if not same.any():
            break
    duplicated = np.zeros(len(frame), dtype=bool)
    duplicated[:-1] |= same
    duplicated[1:] |= same
    return duplicated


def _compare_with_next(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(sorts before, equal to) the next value, missing values last and equal; None for other types."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        text = pa.array(values.array)
        text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        this, after = text.slice(0, len(text) - 1), text.slice(1)
        this_missing = this.is_null().to_numpy(zero_copy_only=False)
        after_missing = after.is_null().to_numpy(zero_copy_only=False)
        before = pc.fill_null(pc.less(this, after), False).to_numpy(zero_copy_only=False)
        equal = pc.fill_null(pc.equal(this, after), False).to_numpy(zero_copy_only=False)
    elif values.dtype == np.float64:
        numbers = values.to_numpy()
        this, after = numbers[:-1], numbers[1:]
        this_missing, after_missing = np.isnan(this), np.isnan(after)
        before, equal = this < after, this == after
    elif values.dtype.kind in "iu":  # integer codes: nothing missing
        numbers = values.to_numpy()
        return numbers[:-1] < numbers[1:], numbers[:-1] == numbers[1:]
    else:
        return None
    return before | (~this_missing & after_missing), equal | (this_missing & after_missing)
