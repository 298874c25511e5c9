"""Text columns held as Arrow strings, and work done once per distinct value.

Raw forms are read as Arrow-backed strings (``string[pyarrow]``). Going through pandas' generic
``mask``/``map``/``to_numpy`` turns every cell into a Python object and back, which dominated the
mapping; the helpers here stay in Arrow kernels. Collected values repeat a lot (test names,
units, dates, codes), so rules compute on the distinct values and spread the results back by
integer codes, which keeps the cost linear in rows with a small constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pd.StringDtype("pyarrow")


def as_arrow_text(values: pd.Series) -> pd.Series:
    """The column as ``string[pyarrow]`` (itself when it is already)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray) and values.dtype.na_value is pd.NA:
        return values
    return values.astype(TEXT)


def arrow_text(values: pd.Series) -> pa.ChunkedArray:
    """The column as Arrow strings (no copy when it is ``string[pyarrow]`` already)."""
    array = pa.array(as_arrow_text(values).array)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def concat_text(*arrays: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """Arrow string arrays laid end to end, without copying them."""
    chunks = [chunk for array in arrays
              for chunk in (array.chunks if isinstance(array, pa.ChunkedArray) else [array])]
    return pa.chunked_array([chunk.cast(pa.large_string()) for chunk in chunks], pa.large_string())


def text_series(array: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """A ``string[pyarrow]`` Series over an Arrow string array."""
    return pd.Series(pd.arrays.ArrowStringArray(array), index=index, copy=False)


def repeat_text(value: str | None, n: int) -> pa.Array:
    """``n`` times the same text (or missing); a ``take`` is ~15x faster than ``pa.repeat``."""
    return pa.array([value], pa.large_string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def constant_text(value: str | None, index: pd.Index) -> pd.Series:
    """The same text (or missing) on every row, without a Python object per row."""
    return text_series(repeat_text(value, len(index)), index)


# bytes a value's first or last byte must not be for trimming to leave it unchanged: ASCII controls,
# space and DEL, and every byte of a multi-byte character (Unicode white space is non-ASCII)
_EDGE_MAY_TRIM = np.zeros(256, dtype=bool)
_EDGE_MAY_TRIM[:0x21] = True
_EDGE_MAY_TRIM[0x7F:] = True


def _edges_untrimmable(chunk: pa.Array) -> np.ndarray | None:
    """Per value, whether it is empty, when no value of ``chunk`` could lose anything to trimming
    (judged from the first and last byte of each value); None when some could."""
    offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[chunk.offset: chunk.offset + len(chunk) + 1]
    empty = offsets[:-1] == offsets[1:]
    if buffers[2] is None or not buffers[2].size:
        return empty
    data = np.frombuffer(buffers[2], dtype=np.uint8)
    last = len(data) - 1
    # (an empty value reads a neighbour's byte: it is not looked at)
    edge = _EDGE_MAY_TRIM[data[np.minimum(offsets[:-1], last)]] | _EDGE_MAY_TRIM[data[np.maximum(offsets[1:] - 1, 0)]]
    edge &= ~empty
    if chunk.null_count:
        edge &= np.asarray(chunk.is_valid())
    return None if edge.any() else empty


def blank_as_missing(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed text with empty values as missing (the meaning of an empty raw cell)."""
    if pa.types.is_large_string(array.type) or pa.types.is_string(array.type):
        # the usual case: nothing to trim (raw values are trimmed when read), so only the empty
        # values are made missing, found from the offsets without copying the text
        empties = [_edges_untrimmable(chunk) for chunk in array.chunks]
        if all(e is not None for e in empties):
            empty = np.concatenate(empties) if empties else np.zeros(0, dtype=bool)
            if array.null_count:
                empty &= np.asarray(array.is_valid())
            if not empty.any():  # a compact copy: the raw form the values came from is freed whole
                return pa.chunked_array([array.combine_chunks()], array.type)
            return pc.if_else(pa.array(empty), pa.scalar(None, array.type), array)
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(trimmed, "")
    if not pc.any(blank).as_py():
        return trimmed
    return pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)


def is_blank(array: pa.ChunkedArray) -> np.ndarray:
    """True where missing or only white space."""
    blank = pc.equal(pc.utf8_trim_whitespace(array), "")
    return pc.fill_null(blank, True).to_numpy(zero_copy_only=False)


@dataclass
class Distinct:
    """A column factorised: its distinct non-missing values and each row's code (-1: missing)."""

    codes: np.ndarray
    values: pd.Series  # string[pyarrow], one per distinct value

    @classmethod
    def of(cls, values: pd.Series) -> "Distinct":
        codes, uniques = pd.factorize(as_arrow_text(values), use_na_sentinel=True)
        return cls(codes=np.asarray(codes, dtype=np.int64),
                   values=pd.Series(uniques, dtype=TEXT).reset_index(drop=True))

    def spread_text(self, per_value: pd.Series, index: pd.Index) -> pd.Series:
        """Per-distinct-value text back to one value per row; missing rows stay missing."""
        table = concat_text(arrow_text(per_value), pa.nulls(1, pa.large_string())).combine_chunks()
        take = np.where(self.codes < 0, len(per_value), self.codes)
        return text_series(table.take(pa.array(take)), index)

    def spread_mask(self, per_value: np.ndarray, missing: bool = False) -> np.ndarray:
        """Per-distinct-value flags back to one flag per row (``missing`` for missing rows)."""
        table = np.append(np.asarray(per_value, dtype=bool), missing)
        return table[np.where(self.codes < 0, len(per_value), self.codes)]


def spread_flags(distinct: Distinct, per_value: np.ndarray, missing: bool = False) -> np.ndarray:
    """``distinct.spread_mask``, without a pass over the rows when no distinct value is flagged (the usual
    case of a mask of problems: unmatched terms, invalid dates), and indexing by the codes directly
    (code -1, missing, reads the flag appended last)."""
    per_value = np.asarray(per_value, dtype=bool)
    if not per_value.any():
        return distinct.codes < 0 if missing else np.zeros(len(distinct.codes), dtype=bool)
    return np.append(per_value, missing)[distinct.codes]


def spread_text_by_codes(distinct: Distinct, per_value: pd.Series, index: pd.Index) -> pd.Series:
    """``distinct.spread_text``; when no row is missing (the usual raw column: empty cells are text), the
    codes index the values directly, without a second per-row index array."""
    codes = distinct.codes
    if len(codes) and int(codes.min()) >= 0:
        table = concat_text(arrow_text(per_value)).combine_chunks()
        return text_series(table.take(pa.array(codes)), index)
    return distinct.spread_text(per_value, index)
