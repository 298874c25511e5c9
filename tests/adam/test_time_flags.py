"""Time imputation flags (ADaM TIMEFL, *TMF) of datetimes derived from ISO 8601 dates with a missing or
partial time: H = no hour, M = no minutes, S = no seconds (only when the seconds are collected)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydantic
import pytest

from sdtmgen.adam import ADAM_DERIVATIONS

DM = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3", "S-4", "S-5"]})


def test_subject_datetime_flags_the_imputed_part_of_the_time(run_step, sas):
    ex = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3", "S-4", "S-4"],
                       "EXSTDTC": ["2024-03-10", "2024-03-10T09", "2024-03-10T09:15", "2024-03-10T09:15:30",
                                   "2024-03-11"]})
    out, _ = run_step({"derive": "subject_date", "target": "TRTSDTM", "time_flag": "TRTSTMF", "agg": "min",
                       "kind": "datetime", "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]}, DM, EX=ex)
    day = sas("2024-03-10")[0] * 86400
    np.testing.assert_array_equal(out["TRTSDTM"].to_numpy(),
                                  [day, day + 9 * 3600, day + 9 * 3600 + 900, day + 9 * 3600 + 930, np.nan])
    # the seconds are not collected by default: an HH:MM time is not flagged; no date, no flag
    assert list(out["TRTSTMF"].fillna("-")) == ["H", "M", "-", "-", "-"]
    out, _ = run_step({"derive": "subject_date", "target": "TRTSDTM", "time_flag": "TRTSTMF", "agg": "min",
                       "kind": "datetime", "flag_seconds": True,
                       "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]}, DM, EX=ex)
    assert list(out["TRTSTMF"].fillna("-")) == ["H", "M", "S", "-", "-"]


def test_subject_datetime_flag_is_the_chosen_records(run_step, sas):
    # last exposure: the later, timed record gives the datetime, so nothing is imputed; a tie between
    # a collected 00:00 and a date alone is a collected time
    ex = pd.DataFrame({"USUBJID": ["S-1", "S-1", "S-2", "S-2", "S-3", "S-3"],
                       "EXSTDTC": ["2024-03-10", "2024-03-11T08:00", "2024-03-11T00:00", "2024-03-11",
                                   "2024-03-12T08:00", "2024-03-13"]})
    out, _ = run_step({"derive": "subject_date", "target": "TRTEDTM", "time_flag": "TRTETMF", "agg": "max",
                       "kind": "datetime", "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]}, DM, EX=ex)
    assert list(out["TRTETMF"].fillna("-")) == ["-", "-", "H", "-", "-"]
    assert out["TRTEDTM"].iloc[2] == sas("2024-03-13")[0] * 86400


def test_time_flag_needs_a_datetime():
    with pytest.raises(pydantic.ValidationError, match="kind: datetime"):
        ADAM_DERIVATIONS["subject_date"].model_validate(
            {"derive": "subject_date", "target": "TRTSDT", "time_flag": "TRTSTMF", "agg": "min",
             "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]})
    with pytest.raises(pydantic.ValidationError, match="datetime_target"):
        ADAM_DERIVATIONS["impute_date"].model_validate(
            {"derive": "impute_date", "target": "ASTDT", "time_flag": "ASTTMF", "source": "AESTDTC",
             "impute": "first"})


def test_partial_date_sets_date_and_time_flags(run_step, sas):
    frame = pd.DataFrame({"USUBJID": list("ABCDEF"),
                          "AESTDTC": ["2024-06", "2024-06-03T10", "2024-06-03T10:20", "2024", "2024-06--T10:20",
                                      None]})
    out, _ = run_step({"derive": "impute_date", "target": "ASTDT", "flag": "ASTDTF", "source": "AESTDTC",
                       "impute": "first", "datetime_target": "ASTDTM", "time_flag": "ASTTMF"}, frame)
    assert list(out["ASTDTF"].fillna("-")) == ["D", "-", "-", "M", "D", "-"]
    assert list(out["ASTTMF"].fillna("-")) == ["H", "M", "-", "H", "-", "-"]
    days = sas("2024-06-01", "2024-06-03", "2024-06-03", "2024-01-01", "2024-06-01")
    np.testing.assert_array_equal(out["ASTDTM"].to_numpy(),
                                  [days[0] * 86400, days[1] * 86400 + 36000, days[2] * 86400 + 37200,
                                   days[3] * 86400, days[4] * 86400 + 37200, np.nan])
    # an end imputed to the last day is imputed to the last second of it
    out, _ = run_step({"derive": "impute_date", "target": "AENDT", "flag": "AENDTF", "source": "AESTDTC",
                       "impute": "last", "datetime_target": "AENDTM", "time_flag": "AENTMF"}, frame)
    assert out["AENDTM"].iloc[0] == sas("2024-06-30")[0] * 86400 + 86399
    assert out["AENDTM"].iloc[1] == sas("2024-06-03")[0] * 86400 + 10 * 3600 + 59 * 60 + 59
    assert list(out["AENTMF"].fillna("-")) == ["H", "M", "-", "H", "-", "-"]


def test_analysis_datetime_keeps_an_hour_without_minutes_and_flags_it(run_step, sas):
    """analysis_date read 2020-03-04T10 as no time (ADTM missing) where impute_date and subject_date keep the hour."""
    frame = pd.DataFrame({"USUBJID": ["S-1"] * 5,
                          "_DTC": ["2024-03-10T10", "2024-03-10T10:30", "2024-03-10", "2024-03", None]})
    step = {"derive": "analysis_date", "target": "ADT", "datetime_target": "ADTM", "source": "_DTC"}
    out, _ = run_step({**step, "time_flag": "ATMF"}, frame)
    day = sas("2024-03-10")[0] * 86400
    np.testing.assert_array_equal(out["ADTM"].to_numpy(), [day + 10 * 3600, day + 10 * 3600 + 1800,
                                                           np.nan, np.nan, np.nan])
    assert list(out["ATMF"].fillna("-")) == ["M", "-", "-", "-", "-"]
    plain, _ = run_step(step, frame)  # no flag declared: the same datetimes
    np.testing.assert_array_equal(plain["ADTM"].to_numpy(), out["ADTM"].to_numpy())
    with pytest.raises(pydantic.ValidationError, match="time_flag needs a datetime_target"):
        ADAM_DERIVATIONS["analysis_date"].model_validate(
            {"derive": "analysis_date", "target": "ADT", "source": "_DTC", "time_flag": "ATMF"})


def test_an_hour_without_minutes_is_not_midnight_in_an_iso_datetime():
    from sdtmgen.dates import iso_datetime

    got = iso_datetime(pd.Series(["2024-03-10T10", "2024-03-10T10:30", "2024-03-10", None], dtype="string[pyarrow]"))
    assert got.tolist()[:3] == [pd.Timestamp("2024-03-10 10:00"), pd.Timestamp("2024-03-10 10:30"),
                                pd.Timestamp("2024-03-10")]


def test_analysis_time_read_by_arrow_as_by_impute_clock():
    """analysis_date reads times with Arrow's regular expressions; they must read as sdtmgen.dates.impute_clock does,
    partial, odd and non-ASCII values included (those go to impute_clock itself)."""
    from sdtmgen.adam.dates import _ascii_clock
    from sdtmgen.dates import impute_clock

    values = ["T", "T1", "T12:3", "2024-01-01T10:20:30", "  T10 ", "", None, "T10:20:30:40", "xT1:22", "2024-01-01",
              "2024-01-01T", "2024-01-01T25:61", "T123", "T1:2:3", "2024-01-01T10:20:3", "TT10", " ",
              "2024-01-01T10:20:30.5", "2024-01-01T07:05:00+01:00"]
    for case in (values, [], [None], ["T\u0661\u0662:30", "T10"]):
        iso = pd.Series(case, dtype="string[pyarrow]")
        (clock, level), (expected_clock, expected_level) = _ascii_clock(iso), impute_clock(iso, "first")
        np.testing.assert_array_equal(clock, expected_clock)
        np.testing.assert_array_equal(level, expected_level)
    assert _ascii_clock(pd.Series(values, dtype="string[pyarrow]"))[1][3] == -1  # a complete time: no flag
