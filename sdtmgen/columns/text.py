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

# first bytes of text that may strip to "": ASCII controls and space, and any non-ASCII lead byte
_MAY_START_BLANK = np.zeros(256, dtype=bool)
_MAY_START_BLANK[:0x21] = True
_MAY_START_BLANK[0x7F:] = True


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


def blank_to_missing(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """Text with empty or all-whitespace values made missing (SAS has no empty-vs-missing distinction).

    Only values starting with whitespace (or a non-ASCII byte) or empty can be blank, so only those
    few are stripped and compared.
    """
    text = as_text(values)
    arr = arrow_text(text)
    offsets, lengths, data = text_buffers(arr)
    if len(data):
        first = data[np.minimum(offsets, len(data) - 1)]  # the first byte (of a neighbour when empty)
        maybe = _MAY_START_BLANK[first] | (lengths == 0)
    else:
        maybe = np.ones(len(arr), dtype=bool)
    if arr.null_count:
        maybe &= ~np.asarray(arr.is_null())
    rows = np.flatnonzero(maybe)
    if not len(rows):
        return text
    stripped = pd.Series(text.take(rows)).str.strip()
    blank = rows[(stripped == "").to_numpy(dtype=bool)]
    if not len(blank):
        return text
    mask = np.zeros(len(text), dtype=bool)
    mask[blank] = True
    return pd.Series(text).mask(mask).array
