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


def _reference_blank_as_missing(array):
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=" \t\x1c\x7fab\u00e9\u00a0", max_size=4)), max_size=24),
       st.booleans(), st.booleans(), st.integers(1, 5))
def test_blanks_of_chunked_and_sliced_text_match_arrow_trim(values, strip, large, size):
    """The fast path (nothing to trim, judged from each value's edge bytes) gives what trimming gives,
    over several chunks, slices of larger arrays, string and large_string."""
    import pyarrow as pa

    if strip:  # mostly already trimmed values, the fast path's case
        values = [v.strip() if v else v for v in values]
    kind = pa.large_string() if large else pa.string()
    chunks = [pa.array(["x"] + values[i:i + size] + [" y "], kind).slice(1, len(values[i:i + size]))
              for i in range(0, len(values), size)]
    array = pa.chunked_array(chunks, kind)
    assert blank_as_missing(array).to_pylist() == _reference_blank_as_missing(array).to_pylist()


def test_repeated_text_is_a_valid_array_of_the_value():
    import pyarrow as pa

    from sdtmgen.arrowtext import repeat_text

    for value in ("LB", "", "caf\u00e9", None):
        for n in (0, 1, 7):
            array = repeat_text(value, n)
            array.validate(full=True)
            assert array.type == pa.large_string() and array.to_pylist() == [value] * n


def test_non_ascii_found_in_chunks_and_slices():
    """The scan of the data bytes decides only the all-ASCII case; a non-ASCII byte outside the values
    (a slice's neighbour) does not flag them."""
    import pyarrow as pa

    from sdtmgen.textcheck import non_ascii

    chunked = pa.chunked_array([pa.array(["a", None]), pa.array(["caf\u00e9", "b"])])
    assert non_ascii(pd.Series(pd.arrays.ArrowStringArray(chunked))).tolist() == [False, False, True, False]
    sliced = pa.array(["caf\u00e9", "a", "b"], pa.large_string()).slice(1)
    assert non_ascii(pd.Series(pd.arrays.ArrowStringArray(sliced))).tolist() == [False, False]
    assert non_ascii(pd.Series(["x", None], dtype="string[pyarrow]")).tolist() == [False, False]
