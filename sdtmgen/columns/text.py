"""Derived text columns built as Arrow-backed strings.

A column assigned from ``Series.to_numpy()`` becomes an object column of Python strings, which
every later step (and finalise) converts back to Arrow one cell at a time. These helpers keep
derived text Arrow-backed from the start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STRING = pd.StringDtype("pyarrow")


def arrow_text(values) -> pa.Array:
    """The values (Series or array) as one contiguous Arrow (large_)string array, without copying
    Arrow-backed text."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values, copy=False)
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        values = values.astype("string[pyarrow]")
    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def text_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offset, byte length, data bytes) of each value of a string array."""
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=offset_type)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64, copy=False)
    return starts, offsets[1:] - offsets[:-1], data


def as_text(values) -> pd.api.extensions.ExtensionArray:
    """``values`` (Series, Index or array) as an Arrow-backed string array."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values
    return pd.array(values, dtype=STRING)


def flag(mask: np.ndarray, value: str) -> pd.api.extensions.ExtensionArray:
    """``value`` where ``mask``, missing elsewhere."""
    arr = pc.if_else(pa.array(mask, type=pa.bool_()), pa.scalar(value, pa.large_string()),
                     pa.scalar(None, pa.large_string()))
    return pd.arrays.ArrowStringArray(arr)


def missing_text(n: int) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string()))


def take_text(values, positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[positions]`` as Arrow strings; position -1 gives a missing value."""
    return as_text(values).take(positions, allow_fill=True)


def valid_mask(arr: pa.Array) -> np.ndarray:
    """True where ``arr`` has a value, read from its validity bitmap (no Arrow kernel, no copy per value)."""
    bitmap = arr.buffers()[0]
    if bitmap is None or not arr.null_count:
        return np.ones(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), count=arr.offset + len(arr), bitorder="little")
    return bits[arr.offset:].view(bool)


def _blank_candidates(arr: pa.Array) -> np.ndarray:
    """Rows of a string array that are empty or start with a byte that may begin white space (ASCII
    controls, space, any non-ASCII byte), missing values left out: the only rows that may be blank."""
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[arr.offset: arr.offset + len(arr) + 1]
    starts, ends = offsets[:-1], offsets[1:]
    size = buffers[2].size if buffers[2] is not None else 0
    if not size or not len(arr):
        maybe = np.ones(len(arr), dtype=bool)
    else:
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        if starts[-1] >= size:  # trailing empty values start at the end of the data: read a neighbour's byte
            starts = np.minimum(starts, size - 1)
        # the first bytes of text that may strip to "": ASCII controls and space (< 0x21), DEL and any
        # non-ASCII lead byte (>= 0x7F); one compare, as (byte - 0x21) wraps round for the first ones
        maybe = np.subtract(np.take(data, starts), 0x21, dtype=np.uint8) >= 0x7F - 0x21
        maybe |= offsets[:-1] == ends
    if arr.null_count:
        maybe &= valid_mask(arr)
    return np.flatnonzero(maybe)


def blank_to_missing(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """Text with empty or all-whitespace values made missing (SAS has no empty-vs-missing distinction).

    Only values starting with whitespace (or a non-ASCII byte) or empty can be blank, so only those
    few are stripped and compared; the rest is read from the Arrow buffers without a kernel call.
    """
    text = as_text(values)
    rows = _blank_candidates(arrow_text(text))
    if not len(rows):
        return text
    stripped = pd.Series(text.take(rows)).str.strip()
    blank = rows[(stripped == "").to_numpy(dtype=bool)]
    if not len(blank):
        return text
    mask = np.zeros(len(text), dtype=bool)
    mask[blank] = True
    return pd.Series(text).mask(mask).array
