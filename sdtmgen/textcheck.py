"""Vectorised text checks that need no regular expression."""

from __future__ import annotations

import numpy as np
import pandas as pd


def non_ascii(text: pd.Series) -> np.ndarray:
    """True where the value has a character outside ASCII (missing -> False).

    Arrow-backed strings use Arrow's ``string_is_ascii`` kernel, ~10x faster than the regex
    ``str.contains(r"[^\\x00-\\x7f]")`` it replaces; other dtypes keep the regex.
    """
    array = text.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        import pyarrow as pa
        import pyarrow.compute as pc

        ascii_ = pc.string_is_ascii(pa.array(array))
        if pc.all(ascii_).as_py() is not False:  # the usual case: no mask to build
            return np.zeros(len(text), dtype=bool)
        return ~pc.fill_null(ascii_, True).to_numpy(zero_copy_only=False)
    return text.astype("string[pyarrow]").str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).to_numpy(dtype=bool)
