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

from sdtmgen.validate.column_codes import factorised


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
        # the text's codes (shared with the other checks and rules) turned into ranks in Arrow's binary
        # order, missing last: comparing integers instead of the text of every record with the next
        codes, uniques = factorised(values)
        rank = np.empty(len(uniques) + 1, dtype=np.int32)
        rank[pc.sort_indices(pa.array(uniques.array)).to_numpy()] = np.arange(len(uniques), dtype=np.int32)
        rank[-1] = len(uniques)  # code -1
        ranks = rank[codes]
        return ranks[:-1] < ranks[1:], ranks[:-1] == ranks[1:]
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
