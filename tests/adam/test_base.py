"""Column helpers of the ADaM derivations: lookups, per-distinct work, text from codes, group codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.adam.base import Codes, Distinct, first_positions, flag_array, group_codes, text_from_codes
from sdtmgen.dates import iso_datetime


def test_first_positions_finds_the_first_occurrence_for_arrow_and_object_text():
    table = ["B", "A", "B", None]
    for dtype in ("string[pyarrow]", object):
        found = first_positions(pd.Series(["A", "B", "C", None], dtype=dtype), pd.Series(table, dtype=dtype))
        assert found.tolist() == [1, 0, -1, 3]


def test_distinct_maps_each_value_once_and_keeps_missing():
    seen = []

    def parse(values: pd.Series) -> np.ndarray:
        seen.append(len(values))
        return values.str.len().astype("float64").to_numpy()

    distinct = Distinct(pd.Series(["ab", "abc", None, "ab", "abc"], dtype="string[pyarrow]"))
    result = distinct.map(parse)
    assert seen == [3]  # two distinct texts and missing
    np.testing.assert_array_equal(result, [2.0, 3.0, np.nan, 2.0, 3.0])


def test_iso_datetime_per_distinct_matches_record_by_record():
    iso = pd.Series(["2024-03-10T11:20", "2024-03", None, "2024-03-10T11:20", "2024-03-11"], dtype="string[pyarrow]")
    stamps = iso_datetime(iso)
    assert stamps.tolist()[0] == pd.Timestamp("2024-03-10 11:20") and stamps.tolist()[3] == stamps.tolist()[0]
    assert stamps.isna().tolist() == [False, True, True, False, False]
    assert stamps.iloc[4] == pd.Timestamp("2024-03-11")


def test_text_from_codes_and_flags_are_arrow_text_with_missing():
    text = pd.Series(text_from_codes(np.array([1, -1, 0, 1]), ["N", "Y"]))
    assert str(text.dtype) == "string" and text.fillna("-").tolist() == ["Y", "-", "N", "Y"]
    assert pd.Series(flag_array(np.array([True, False]), no="N")).tolist() == ["Y", "N"]
    assert pd.Series(flag_array(np.array([True, False]))).isna().tolist() == [False, True]


def test_group_codes_number_key_combinations_and_skip_missing_keys():
    frame = pd.DataFrame({"USUBJID": ["A", "A", "B", "A", None], "PARAMCD": ["X", "Y", "X", "X", "X"]})
    codes = group_codes(frame, ["USUBJID", "PARAMCD"])
    assert codes[0] == codes[3] and len({codes[0], codes[1], codes[2]}) == 3 and codes[4] == -1


def test_codes_mark_the_records_holding_a_value():
    codes = Codes.of(pd.Series(["HGB", "PLAT", None, "HGB"], dtype="string[pyarrow]"))
    assert codes.rows_with("HGB").tolist() == [True, False, False, True]
    assert not codes.rows_with("NEUT").any()


@pytest.mark.parametrize("grouped", [True, False])
def test_first_positions_of_grouped_text_as_of_scattered(grouped):
    """Records in runs of one subject (as SDTM's are) are looked up once per run; the positions are those of
    a lookup per record: the first occurrence in the table, -1 for a value not there or missing."""

    rng = np.random.default_rng(3)
    names = np.array(["S-1", "S-2", "S-3", "S-9", None], dtype=object)
    picks = rng.integers(0, 5, 20000)
    values = pd.Series(names[np.sort(picks) if grouped else picks], dtype="string[pyarrow]")
    table = pd.Series(["S-3", "S-1", None, "S-2", "S-1"], dtype="string[pyarrow]")
    expected = {"S-3": 0, "S-1": 1, None: 2, "S-2": 3, "S-9": -1}
    got = first_positions(values, table)
    assert got.tolist() == [expected[None if pd.isna(v) else v] for v in values]
