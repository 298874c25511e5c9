"""What every reader shares: a form made of text columns goes through the CSV reader's cell checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sdtmgen.errors import Finding
from sdtmgen.raw import RawForm, _clean_column


def make_form(columns: dict[str, list[str]], lines: np.ndarray, name: str, first: tuple[str, ...] = (),
              plain: frozenset[str] = frozenset(), clean: frozenset[str] = frozenset(),
              ascii: frozenset[str] = frozenset()) -> RawForm:
    """A RawForm from text columns: control characters stop the build (file, line, column), edge and inner
    whitespace is normalised and reported (RAW-WHITESPACE), exactly as for a CSV form. Columns in ``plain``
    are known by the reader to hold no control character, tab or line break: only their edges are looked at
    (as the CSV reader does for a file without those bytes); columns in ``clean`` are known to need nothing
    (no such character and no value starting or ending with a space) and are not looked at again; columns in
    ``ascii`` are known to hold only ASCII text (as the CSV reader knows of an ASCII file): no invisible
    character to look for at their edges."""
    notes: list[Finding] = []
    frame = {}
    for label, values in columns.items():
        array = pa.chunked_array([pa.array(values, type=pa.large_string())])
        cleaned = array if label in clean else _clean_column(array, label, name, 1 << 30, lines, notes,
                                                             label not in plain,  # no quoting to get wrong
                                                             unicode=label not in ascii)
        frame[label] = pd.arrays.ArrowStringArray(cleaned)
    return RawForm(pd.DataFrame(frame), lines, notes)
