"""Helpers under the derivations: ISO dates from Arrow buffers, ordering on codes, Arrow text, memo.

Each fast path is checked against the straightforward pandas formulation it replaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sdtmgen.finalise import finalise, number_records, record_order
from sdtmgen.columns import memo
from sdtmgen.columns.text import blank_to_missing, flag, take_text
from sdtmgen.sdtm.derivations.isodates import MISSING, date_numbers
from sdtmgen.columns.ordering import (already_sorted, cumcount, factorize, group_codes, key_order, lookup, move_records,
                                               take_records)
from sdtmgen.sdtm.derivations.timing import (day_end_minutes, element_epochs, iso_to_days, iso_to_minutes,
                                             iso_to_timestamp)
from sdtmgen.spec.models import DomainSpec, Variable

ISO_VALUES = [
    "2024-02-26", "2024-02-26T11:10", "2024-02-26T11:10:59", "2024-02-29", "2023-02-29", "2024-13-01",
    "2024-04-31", "2024-02", "2024", "2024---12", "", " ", None, "2024-02-26T11", "2024-02-26T1:10",
    "2024-02-26X11:10", "2024-02-26T11:10:00.5", "2024-02-26garbage", "1600-01-01", "1600-01-01T10:00",
    "2300-05-05", "1970-01-01T00:01", "1969-12-31T23:59", "2024-02-26T25:99", "abcd-ef-gh", "2024-02-26 ",
    "0000-01-01", "2000-02-29T00:00",
]


def _reference_timestamps(values: pd.Series) -> pd.Series:
    """The regular-expression reading the fast path must agree with."""
    text = values.astype("string[pyarrow]")
    date_ok = text.str.match(r"^\d{4}-\d{2}-\d{2}").fillna(False)
    stamp = pd.to_datetime(text.str.slice(0, 10).where(date_ok), format="%Y-%m-%d", errors="coerce")
    clock = text.str.extract(r"T(\d{2})(?::(\d{2}))?")  # an hour alone (T11) is 11:00, not midnight
    hours = pd.to_numeric(clock[0], errors="coerce")
    minutes = (hours * 60 + pd.to_numeric(clock[1], errors="coerce").where(hours.isna(), lambda m: m.fillna(0))).fillna(0)
    return stamp + pd.to_timedelta(minutes, unit="m")


@pytest.fixture
def iso() -> pd.Series:
    # repeated and shuffled so that values are read once per distinct value and spread back
    values = ISO_VALUES * 3
    return pd.Series(np.random.default_rng(1).permutation(np.array(values, dtype=object)), dtype="string[pyarrow]")


def test_iso_to_timestamp_matches_the_regular_expression_reading(iso):
    expected = _reference_timestamps(iso)
    got = iso_to_timestamp(iso)
    pd.testing.assert_series_equal(got, expected.astype("datetime64[ns]"), check_names=False)
    assert got.notna().sum() > 10 and got.isna().sum() > 10


def test_iso_minutes_and_days_agree_with_timestamps(iso):
    stamps = _reference_timestamps(iso).astype("datetime64[ns]")
    minutes = iso_to_minutes(iso)
    known = stamps.notna().to_numpy()
    assert (minutes[~known] == MISSING).all()
    assert (minutes[known] == stamps[known].astype("int64").to_numpy() // 60_000_000_000).all()
    days = iso_to_days(iso)
    dates = pd.to_datetime(iso.str.slice(0, 10).where(iso.str.fullmatch(r"\d{4}-\d{2}-\d{2}.*").fillna(False)),
                           format="%Y-%m-%d", errors="coerce")
    assert (days[dates.isna().to_numpy()] == MISSING).all()
    assert (days[dates.notna().to_numpy()] == dates.dropna().astype("int64").to_numpy() // 86_400_000_000_000).all()


def test_iso_reading_of_object_columns_and_empty_columns():
    assert iso_to_minutes(pd.Series(["2024-01-01T00:02", None], dtype=object)).tolist() == [
        pd.Timestamp("2024-01-01T00:02").value // 60_000_000_000, MISSING]
    assert len(iso_to_minutes(pd.Series([], dtype="string[pyarrow]"))) == 0


def test_date_numbers_read_shape_not_calendar():
    values = pd.Series(["2024-02-30", "2024-02-26T10:00", "2024-02", None, "x024-02-26"], dtype="string[pyarrow]")
    assert date_numbers(values).tolist() == [20240230, 20240226, MISSING, MISSING, MISSING]


def _random_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subjects = np.array(["S-10", "S-2", "S-1", None], dtype=object)
    dates = np.array(["2024-01-02", "2024-01-02T08:00", "2024-01-01", None, "2023"], dtype=object)
    return pd.DataFrame({
        "STUDYID": pd.Series(["ST"] * n, dtype="string[pyarrow]"),
        "USUBJID": pd.Series(subjects[rng.integers(0, 4, n)], dtype="string[pyarrow]"),
        "DTC": pd.Series(dates[rng.integers(0, 5, n)], dtype="string[pyarrow]"),
        "VISITNUM": np.where(rng.random(n) < 0.2, np.nan, rng.integers(1, 4, n).astype(float)),
        "_FILE": np.array(["b.csv", "a.csv"], dtype=object)[rng.integers(0, 2, n)],
        "_ROW": rng.permutation(n) + 2,
    })


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_key_order_sorts_like_sort_values_with_missing_first(seed):
    frame = _random_frame(300, seed)
    columns = ["STUDYID", "USUBJID", "DTC", "VISITNUM", "_FILE", "_ROW"]
    expected = frame.sort_values(columns, kind="mergesort", na_position="first").reset_index(drop=True)
    keys = ["STUDYID", "USUBJID", "DTC", "VISITNUM"]
    pd.testing.assert_frame_equal(take_records(frame, record_order(frame, keys)), expected)
    pd.testing.assert_frame_equal(take_records(frame, record_order(frame, keys, likely_sorted=False)), expected)
    # ties broken by the current row order when no tie-breaker columns are given
    partial = frame.sort_values(["USUBJID"], kind="mergesort", na_position="first").index.to_numpy()
    assert (key_order(frame, ["USUBJID"]) == partial).all()


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("shared", [False, True])
def test_number_records_is_groupby_cumcount_in_key_order(seed, shared):
    """--SEQ/ASEQ (SDTM and ADaM share it): 1..n per subject after the stable key sort (raw file and row
    break ties), missing where the subject is; a shared frame is left as it was, an own one emptied."""
    frame = _random_frame(300, seed)
    keys = ["STUDYID", "USUBJID", "DTC", "XXSEQ", "VISITNUM"]
    expected = frame.sort_values(["STUDYID", "USUBJID", "DTC", "VISITNUM", "_FILE", "_ROW"], kind="mergesort",
                                 na_position="first").reset_index(drop=True)
    counts = expected.groupby("USUBJID", dropna=True).cumcount() + 1.0
    before = frame.copy()
    out = number_records(frame, keys, "XXSEQ", shared=shared, likely_sorted=seed == 0)
    pd.testing.assert_frame_equal(out.drop(columns="XXSEQ"), expected)
    assert np.array_equal(out["XXSEQ"].to_numpy(), counts.reindex(expected.index).to_numpy(), equal_nan=True)
    if shared:
        pd.testing.assert_frame_equal(frame, before)
    else:
        assert frame.columns.empty  # moved, not copied
    # records already in order: numbered in place of a copy when shared, the same frame otherwise
    again = number_records(out, keys, "XXSEQ2", shared=True)
    assert "XXSEQ2" not in out.columns and (again["XXSEQ2"].fillna(0) == out["XXSEQ"].fillna(0)).all()


def test_sorted_frames_are_recognised_and_not_copied():
    frame = _random_frame(200, 5).drop(columns="_FILE")
    frame = frame.sort_values(["USUBJID", "DTC", "_ROW"], kind="mergesort", na_position="first").reset_index(drop=True)
    assert already_sorted(frame, ["USUBJID", "DTC", "_ROW"])
    assert key_order(frame, ["USUBJID", "DTC", "_ROW"]) is None
    assert record_order(frame, ["USUBJID", "DTC"]) is None
    assert not already_sorted(frame, ["DTC"])
    # the last two rows swapped: one step down in _ROW among equal keys is enough to say "not sorted"
    tail = frame[frame.duplicated(["USUBJID", "DTC"], keep=False)].index[-2:].to_numpy()
    swapped = frame.copy()
    swapped.loc[tail, "_ROW"] = swapped.loc[tail[::-1], "_ROW"].to_numpy()
    assert not already_sorted(swapped, ["USUBJID", "DTC", "_ROW"])
    expected = swapped.sort_values(["USUBJID", "DTC", "_ROW"], kind="mergesort", na_position="first").index
    assert (key_order(swapped, ["USUBJID", "DTC", "_ROW"]) == expected.to_numpy()).all()


def test_move_rows_gives_the_taken_frame_and_empties_the_input():
    frame = _random_frame(50, 7)
    order = np.random.default_rng(0).permutation(len(frame))
    expected = take_records(frame, order)
    moved = move_records(frame, order)
    pd.testing.assert_frame_equal(moved, expected)
    assert frame.columns.empty


def test_missing_values_sort_first_in_the_neighbour_check():
    frame = pd.DataFrame({"A": pd.Series([None, None, "a", "b"], dtype="string[pyarrow]"),
                          "N": [np.nan, 1.0, np.nan, 0.0]})
    assert already_sorted(frame, ["A", "N"])
    assert not already_sorted(frame.iloc[::-1].reset_index(drop=True), ["A", "N"])


def test_neighbour_check_compares_numbers_as_numbers_whatever_the_dtype():
    for numbers in (pd.Series([9, 10, None], dtype="Float64")[::-1].reset_index(drop=True),
                    pd.Series([None, 9, 10], dtype=object), pd.Series([None, "a", "b"], dtype=object)):
        frame = pd.DataFrame({"K": numbers})
        assert already_sorted(frame, ["K"]) == frame.sort_values("K", na_position="first").index.equals(frame.index)
    assert already_sorted(pd.DataFrame({"K": pd.Series([None, 9, 10], dtype="Float64")}), ["K"])
    assert not already_sorted(pd.DataFrame({"K": pd.Series([10, 9], dtype="Float64")}), ["K"])


def test_cumcount_and_group_codes_match_groupby():
    frame = _random_frame(500, 3)
    groups = group_codes(frame, ["USUBJID", "DTC"])
    missing = (frame["USUBJID"].isna() | frame["DTC"].isna()).to_numpy()
    assert (groups[missing] == -1).all()
    expected = frame.groupby(["USUBJID", "DTC"]).ngroup().to_numpy()
    # same partition as groupby
    pairs = pd.DataFrame({"a": groups[~missing], "b": expected[~missing]}).drop_duplicates()
    assert pairs["a"].is_unique and pairs["b"].is_unique
    counted = cumcount(groups)
    reference = frame.groupby(["USUBJID", "DTC"]).cumcount().to_numpy()
    assert (counted[~missing] == reference[~missing]).all()


def test_lookup_positions_in_a_small_table():
    values = pd.Series(["b", None, "z", "a", "b"], dtype="string[pyarrow]")
    assert lookup(values, pd.Index(["a", "b"])).tolist() == [1, -1, -1, 0, 1]


def test_blank_to_missing_masks_empty_and_whitespace_only_text():
    values = pd.Series(["a", "", "  ", " b", "\t", None, "é", "\u00a0", "x "], dtype="string[pyarrow]")
    got = pd.Series(blank_to_missing(values))
    expected = values.mask(values.str.strip() == "")
    pd.testing.assert_series_equal(got, expected)
    untouched = pd.Series(["a", "b"], dtype="string[pyarrow]")
    assert blank_to_missing(untouched) is untouched.array


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_blank_to_missing_on_sliced_arrays_with_trailing_empties_and_nulls(kind):
    """Buffers read directly: an offset into the array, empty values at the very end of the data,
    nulls whose offsets point past it, 32- and 64-bit offsets, every ASCII control byte."""
    cells = ["a", "", None, " ", "\x7f", "b", "\x01x", "~", "!", None, "\u2003", "c ", "", ""]
    cells += [chr(c) for c in range(0x21)] + [chr(c) + "z" for c in range(0x20, 0x80)]
    for start in range(4):
        arr = pa.array(["pad"] * start + cells, kind).slice(start)
        values = pd.Series(pd.arrays.ArrowStringArray(arr))
        expected = pd.Series(cells, dtype="string[pyarrow]")
        expected = expected.mask(expected.str.strip() == "")
        pd.testing.assert_series_equal(pd.Series(blank_to_missing(values)), expected)
    empty = pd.Series(pd.arrays.ArrowStringArray(pa.array(["", "", None], kind)))
    assert pd.Series(blank_to_missing(empty)).isna().all()


def test_text_helpers_are_arrow_backed():
    assert pd.Series(flag(np.array([True, False]), "Y")).tolist() == ["Y", pd.NA]
    taken = take_text(pd.Series(["x", "y"], dtype=object), np.array([1, -1, 0]))
    assert str(taken.dtype) == "string" and taken.dtype.storage == "pyarrow"
    assert list(taken) == ["y", pd.NA, "x"]


def test_element_epochs_match_merge_asof_including_ties():
    se = pd.DataFrame({"USUBJID": pd.Series(["A", "A", "A", "B"], dtype="string[pyarrow]"),
                       "SESTDTC": pd.Series(["2024-01-01", "2024-01-05", "2024-01-05", "2024-01-03"], dtype="string[pyarrow]"),
                       "EPOCH": pd.Series(["SCREENING", "TREATMENT", "LATER", "SCREENING"], dtype="string[pyarrow]")})
    obs = pd.DataFrame({"USUBJID": pd.Series(["A", "A", "B", "B", "C", "A", None], dtype="string[pyarrow]"),
                        "DTC": pd.Series(["2023-12-31", "2024-01-05T10:00", "2024-01-03", "2024-01-02",
                                          "2024-01-09", None, "2024-01-09"], dtype="string[pyarrow]")})
    got = element_epochs(se["USUBJID"], iso_to_minutes(se["SESTDTC"]), se["EPOCH"],
                         obs["USUBJID"], iso_to_minutes(obs["DTC"]))
    assert list(pd.Series(got).fillna("-")) == ["-", "LATER", "SCREENING", "-", "-", "-", "-"]


def test_memo_shares_results_per_arrow_array_within_a_run_and_protects_them():
    calls = []
    values = pd.Series(["a", "b"], dtype="string[pyarrow]")

    def compute():
        calls.append(1)
        return np.array([1, 2])

    with memo.scope():
        first = memo.shared(values, "k", compute)
        assert memo.shared(values, "k", compute) is first and len(calls) == 1
        with pytest.raises(ValueError):
            first[0] = 5
        assert memo.shared(pd.Series(["a", "b"], dtype="string[pyarrow]"), "k", compute) is not first
        assert memo.shared(pd.Series(["a"], dtype=object), "k", compute) is not first
        assert len(calls) == 3
        memo.clear()
        assert memo.shared(values, "k", compute) is not first and len(calls) == 4
    # outside a run nothing is kept: every call computes
    assert memo.shared(values, "k", compute) is not memo.shared(values, "k", compute) and len(calls) == 6


def test_two_runs_in_two_threads_do_not_share_memo_entries():
    import threading

    values = pd.Series(["a", "b"], dtype="string[pyarrow]")
    seen: dict[str, object] = {}
    ready = threading.Barrier(2)

    def run(name: str) -> None:
        with memo.scope():
            seen[name] = memo.shared(values, "k", lambda: np.array([len(name)]))
            ready.wait()  # both runs hold an entry for the same array at once
            seen[name + " again"] = memo.shared(values, "k", lambda: np.array([-1]))

    threads = [threading.Thread(target=run, args=(n,)) for n in ("one", "three")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [int(seen[k][0]) for k in ("one", "one again", "three", "three again")] == [3, 3, 5, 5]


def test_finalise_types_blanks_and_key_order():
    spec = DomainSpec.model_construct(
        domain="XX", keys=["USUBJID", "XXSEQ"],
        variables=[Variable(name="USUBJID", label="u", type="Char", core="Req", role="Identifier", origin="Assigned"),
                   Variable(name="XXSEQ", label="s", type="Num", core="Req", role="Identifier", origin="Derived"),
                   Variable(name="XXTEXT", label="t", type="Char", core="Perm", role="Qualifier", origin="Collected"),
                   Variable(name="XXNONE", label="n", type="Num", core="Perm", role="Qualifier", origin="Collected")])
    frame = pd.DataFrame({"USUBJID": ["B", "A", "A"], "XXSEQ": ["1", "2", "1"], "XXTEXT": [" ", "x", None],
                          "_FILE": ["f.csv"] * 3, "_ROW": [4, 3, 2], "_TEMP": [1, 2, 3]})
    data, lineage = finalise(spec, frame)
    assert data.columns.tolist() == ["USUBJID", "XXSEQ", "XXTEXT", "XXNONE"]
    assert data["USUBJID"].tolist() == ["A", "A", "B"] and data["XXSEQ"].tolist() == [1.0, 2.0, 1.0]
    assert data["XXTEXT"].isna().tolist() == [True, False, True]
    assert str(data["XXTEXT"].dtype) == "string" and data["XXNONE"].dtype == "float64"
    assert lineage["_ROW"].tolist() == [2, 3, 4] and isinstance(data.index, pd.RangeIndex)


@pytest.mark.parametrize("seed", range(20))
def test_visit_order_from_visit_names_ranks_like_order_codes(seed):
    """SV's visit key read per visit-name code gives order_codes' ranks, also when a name carries two
    numbers (then every number is factorised) and for records without a visit name (code -1)."""
    from sdtmgen.columns.ordering import order_codes
    from sdtmgen.sdtm.derivations.trial_design import _visit_order

    rng = np.random.default_rng(seed)
    names = int(rng.integers(1, 8))
    per_name = rng.choice([1.0, 2.0, 3.5, 0.0, 10.0, 2.01], size=names + 1)
    codes = rng.integers(-1, names, size=int(rng.integers(0, 40))).astype(np.int32)
    numbers = per_name[codes]
    if seed % 3 == 0 and len(numbers):
        numbers[0] = 99.0  # one name, two numbers
    assert [a.tolist() if isinstance(a, np.ndarray) else a for a in _visit_order(numbers, codes, names)] == \
        [a.tolist() if isinstance(a, np.ndarray) else a for a in order_codes(pd.Series(numbers), na_first=False)]


def test_factorize_of_object_text_matches_pandas_with_equal_values_in_distinct_objects():
    """Object columns are factorised by object identity first: equal strings held in different objects,
    None and NaN, repeated objects and mixed types give pandas' codes and table, in order of appearance."""
    parts = ["fi", "le"]
    cells = ["".join(parts), "other.csv", "".join(parts), None, np.nan, "other.csv", "file", 3, 3.0]
    for values in (pd.Series(cells, dtype=object), pd.Series(["same.csv"] * 4, dtype=object),
                   pd.Series([None, None], dtype=object), pd.Series(cells * 3, dtype=object).iloc[::2]):
        codes, uniques = factorize(values)
        expected_codes, expected = pd.factorize(values, use_na_sentinel=True)
        assert codes.tolist() == expected_codes.tolist()
        assert uniques.tolist() == expected.tolist() and uniques.dtype == expected.dtype


def test_day_end_minutes_reads_a_date_without_time_as_its_last_minute():
    """Worked out per distinct value: the same as reading each record (its minutes, + 1439 where the
    text is a date of 10 characters), for dates, date-times, partial dates, missing and odd text."""
    values = pd.Series(["2024-03-05", "2024-03-05T10:30", None, "2024-03", "2024-03-05", "", "2024-02-30",
                        "2024-03-05T10:30:15", "x" * 10, "2024-03-05T24:00"] * 3, dtype="string[pyarrow]")
    got = day_end_minutes(values)
    minutes = iso_to_minutes(values)
    date_only = (values.str.len() == 10).fillna(False).to_numpy(dtype=bool)
    assert got.tolist() == np.where(date_only & (minutes != MISSING), minutes + 1439, minutes).tolist()
    assert got[0] == iso_to_minutes(pd.Series(["2024-03-05T23:59"], dtype="string[pyarrow]"))[0]
    assert got[2] == MISSING and got[3] == MISSING
    with memo.scope():  # the shared encoding, with an index slot per missing value
        assert day_end_minutes(values).tolist() == got.tolist()
        assert day_end_minutes(values.iloc[2:3]).tolist() == [MISSING]
