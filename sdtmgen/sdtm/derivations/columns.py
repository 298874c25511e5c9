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


def as_text(values) -> pd.api.extensions.ExtensionArray:
    """``values`` (Series or array) as an Arrow-backed string array."""
    if isinstance(values, pd.Series):
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
