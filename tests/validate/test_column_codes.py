"""The shared codes of text columns: equal to pandas' factorize, computed once per Arrow array, never stale."""

import gc

import numpy as np
import pandas as pd
import pytest

from sdtmgen.validate import column_codes
from sdtmgen.validate.column_codes import factorised


@pytest.fixture(autouse=True)
def _empty_memo():
    column_codes.clear()
    yield
    column_codes.clear()


def _text(values):
    return pd.Series(values, dtype="string[pyarrow]")


def test_codes_equal_pandas_factorize_with_missing_values():
    values = _text(["B", None, "A", "B", "", None, "A"])
    codes, uniques = factorised(values)
    expected_codes, expected_uniques = pd.factorize(values.array, use_na_sentinel=True)
    assert codes.dtype == np.int32
    assert codes.tolist() == expected_codes.tolist() == [0, -1, 1, 0, 2, -1, 1]
    assert list(uniques) == list(expected_uniques) == ["B", "A", ""]


def test_the_same_array_is_hashed_once_and_its_codes_are_read_only():
    values = _text(["x", "y", "x"] * 10)
    first = factorised(values)
    again = factorised(values.astype("string[pyarrow]"))  # another Series over the very same Arrow array
    assert again[0] is first[0] and again[1] is first[1]
    assert not first[0].flags.writeable
    with pytest.raises(ValueError):
        first[0][0] = 5


def test_another_array_with_equal_values_or_a_cleared_memo_is_hashed_again():
    values = _text(["x", "y"])
    first = factorised(values)
    assert factorised(_text(["x", "y"]))[0] is not first[0]
    column_codes.clear()
    assert factorised(values)[0] is not first[0]


def test_an_entry_goes_with_its_column():
    values = _text(["a", "b", "a"])
    factorised(values)
    assert len(column_codes._entries) == 1
    del values
    gc.collect()
    assert not column_codes._entries


def test_the_memo_keeps_at_most_its_limit(monkeypatch):
    monkeypatch.setattr(column_codes, "_LIMIT_BYTES", 100)  # 25 int32 codes
    kept = [_text(["a", "b"] * 6) for _ in range(4)]  # 12 codes (48 bytes) each
    for values in kept:
        factorised(values)
    assert sum(e[1].nbytes for e in column_codes._entries.values()) <= 100
    assert len(column_codes._entries) == 2  # the two newest
    factorised(_text(["a"] * 30))  # larger than the limit: computed, not kept
    assert len(column_codes._entries) == 2


def test_numbers_are_factorised_without_being_kept():
    values = pd.Series([1.5, np.nan, 1.5, 2.0])
    codes, uniques = factorised(values)
    assert codes.tolist() == [0, -1, 0, 1] and list(uniques) == [1.5, 2.0]
    assert not column_codes._entries
