"""Arrow text helpers (sdtmgen/arrowtext.py): same values as the pandas string operations they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sdtmgen.arrowtext import Distinct, arrow_text, blank_as_missing, constant_text, is_blank, text_series


def test_distinct_values_spread_back_by_row_with_missing_kept():
    values = pd.Series([" a", None, "b ", " a", ""], dtype="string[pyarrow]", index=[5, 6, 7, 8, 9])
    distinct = Distinct.of(values)
    assert distinct.values.tolist() == [" a", "b ", ""]
    upper = distinct.spread_text(distinct.values.str.strip().str.upper(), values.index)
    assert upper.index.tolist() == [5, 6, 7, 8, 9] and upper.dtype == "string[pyarrow]"
    assert upper.tolist() == ["A", pd.NA, "B", "A", ""]
    assert distinct.spread_mask(np.array([True, False, False])).tolist() == [True, False, False, True, False]
    assert distinct.spread_mask(np.array([True, False, False]), missing=True)[1]


def test_distinct_of_non_text_columns_compares_their_text():
    distinct = Distinct.of(pd.Series(["x", np.nan, 3, "3"], dtype=object))
    assert distinct.values.tolist() == ["x", "3"] and distinct.codes.tolist() == [0, -1, 1, 1]


def test_constant_text():
    index = pd.RangeIndex(3)
    assert constant_text("LB", index).tolist() == ["LB"] * 3
    assert constant_text(None, index).isna().all() and constant_text(None, index).dtype == "string[pyarrow]"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=" \t\nab\u00e9", max_size=4)), max_size=20))
def test_blanks_match_pandas_strip(values):
    series = pd.Series(values, dtype="string[pyarrow]")
    stripped = series.str.strip()
    expected = stripped.mask(stripped == "")
    ours = text_series(blank_as_missing(arrow_text(series)), series.index)
    pd.testing.assert_series_equal(ours, expected)
    assert is_blank(arrow_text(series)).tolist() == expected.isna().tolist()
