"""The distinct values of a frame's columns and column combinations, found once per column.

What define.xml says about a variable from its data -- data type, significant digits, length,
codelist values, the value-level items of each topic value -- and what the consistency checks
compare depend only on which values occur (and, for "the first label" of a topic value, in which
order they first appear), never on how often. So each column is factorised once (one hash pass:
a code per record and the distinct values in order of first appearance), every judgement runs on
the distinct values, and combinations of columns (a topic and its result, a where clause's
columns and the variable it qualifies) come from the codes: the first record of each distinct
combination, instead of a mask over all records per topic value or where clause.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from sdtmgen.columns import memo
from sdtmgen.xpt.writer import ENCODING

_INT32_KEYS = 2**31  # combination keys below this hash as int32 (about 3x faster than int64)
_MAX_KEY = 2**62
_SMALL_KEYS = 2**20  # up to this many possible combinations (or one per record) are counted in an array
_FEW = 256  # fewer values are quicker one by one in plain Python than through pandas calls


class DistinctValues:
    """Distinct values of the columns of ``frame``, each column factorised at most once.

    ``factorised_categoricals``: the frame's categorical columns are already factorised -- their
    categories are the values that occur, in order of first appearance, as
    ``read_xpt_columns(..., categorical=True)`` gives them -- so their codes are used as they are.
    """

    def __init__(self, frame: pd.DataFrame, factorised_categoricals: bool = False):
        self.frame = frame
        self._codes: dict[str, tuple[np.ndarray, int]] = {}
        self._values: dict[str, pd.Series] = {}
        self._arange: np.ndarray | None = None
        if factorised_categoricals:
            for column in frame.columns:
                series = frame[column]
                if isinstance(series.dtype, pd.CategoricalDtype):
                    categories = series.cat.categories
                    self._codes[column] = (series.cat.codes.to_numpy(), len(categories))
                    self._values[column] = pd.Series(np.asarray(categories))

    def _positions(self) -> np.ndarray:
        """0 .. records - 1 (int32 when that holds them), made once for all the combinations asked for."""
        if self._arange is None:
            rows = len(self.frame)
            self._arange = np.arange(rows, dtype=np.int32 if rows < _INT32_KEYS - 1 else np.int64)
        return self._arange

    def _handed_over(self, column: str) -> bool:
        """Take the encoding of ``column`` the XPT writer made when it wrote the same column (the build writes
        the files first): the codes and distinct values pandas' factorize would give, made on the writer's
        thread instead of again here (sdtmgen.xpt.writer ``ENCODING``). False when there is none."""
        found = memo.take(self.frame[column], ENCODING)
        if found is None:
            return False
        codes, uniques = found  # type: ignore[misc]
        dtype = np.int32 if len(uniques) < _INT32_KEYS - 1 else np.int64
        self._codes[column] = (codes.astype(dtype), len(uniques))
        self._values.setdefault(column, _plain(pd.Series(uniques, copy=False)))
        return True

    def _factorise(self, column: str) -> tuple[np.ndarray, int]:
        """(code of each record, -1 when missing; number of distinct values)."""
        if column not in self._codes and not self._handed_over(column):
            codes, uniques = self.frame[column].factorize()
            dtype = np.int32 if len(uniques) < _INT32_KEYS - 1 else np.int64
            self._codes[column] = (codes.astype(dtype, copy=False), len(uniques))
            self._values.setdefault(column, _plain(pd.Series(uniques, copy=False)))
        return self._codes[column]

    def values(self, column: str) -> pd.Series | None:
        """The distinct non-missing values of ``column`` in order of first appearance (None: no such column).

        Values of a categorical column come as their categories' type (text, numbers), not as categoricals.
        """
        if column not in self.frame.columns:
            return None
        if column in self._values:
            return self._values[column]
        series = self.frame[column]
        if len(series) < _FEW:
            self._values[column] = pd.Series(list(unique_present(series)), dtype=object)
        elif not self._handed_over(column):  # else a hash pass, without codes
            uniques = _plain(pd.Series(pd.unique(series), copy=False))
            self._values[column] = uniques[uniques.notna().to_numpy()].reset_index(drop=True)
        return self._values[column]

    def first_rows(self, columns: list[str]) -> np.ndarray:
        """Positions of the first record of each distinct combination of ``columns`` (missing counts as a value)."""
        if not columns:
            return np.arange(min(len(self.frame), 1))
        factorised = [self._factorise(column) for column in columns]
        widths = [count + 1 for _, count in factorised]  # code + 1: missing is 0
        dtype = np.int32 if np.prod(widths, dtype=float) < _INT32_KEYS else np.int64
        key = factorised[0][0].astype(dtype) + 1
        size = widths[0]
        for (codes, _), width in zip(factorised[1:], widths[1:]):
            if size * width >= _MAX_KEY:  # renumber the combinations so far densely
                key = pd.factorize(key)[0].astype(dtype)
                size = int(key.max()) + 1 if len(key) else 1
            key *= width
            key += codes
            key += 1
            size *= width
        rows = len(key)
        if size <= max(rows, _SMALL_KEYS):  # few possible combinations: the first record of each, by position
            positions = self._positions()
            first = np.full(size, rows, dtype=positions.dtype)
            np.minimum.at(first, key, positions)
            return np.sort(first[first < rows])
        return np.flatnonzero(~pd.Series(key, copy=False).duplicated().to_numpy())

    def rows(self, columns: list[str]) -> pd.DataFrame:
        """The distinct combinations of ``columns`` as records of the frame, in order of first appearance.

        Equal to ``frame[columns].drop_duplicates()`` (columns named twice are kept once).
        """
        columns = list(dict.fromkeys(columns))
        first = self.first_rows(columns)
        return pd.DataFrame({column: _plain(self.frame[column].iloc[first]) for column in columns})


def unique_present(values: pd.Series) -> Iterable:
    """``pd.unique(values.dropna())``; a few values in plain Python (pandas' overhead is per call)."""
    if len(values) >= _FEW:
        return pd.unique(values.dropna())
    return dict.fromkeys(v for v in values.tolist() if isinstance(v, str) or not pd.isna(v))


def _plain(values: pd.Series) -> pd.Series:
    """A categorical series as its categories' type (text: object; numbers: float64); others as they are."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Series(np.asarray(values), index=values.index, name=values.name)
    return values
