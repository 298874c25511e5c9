"""Analysis dates: partial-date imputation, analysis date/datetime, relative days, windows, durations."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_start_imputed_to_first_day_but_not_before_treatment_in_that_month(run_step, sas):
    frame = pd.DataFrame({
        "USUBJID": list("ABCDEF"),
        "AESTDTC": ["2024-06", "2024-06", "2024", "2024-06-03", None, "2024-05"],
        "TRTSDT": sas("2024-06-16", "2024-07-02", "2024-06-16", "2024-06-16", "2024-06-16", "2024-06-16"),
    })
    out, _ = run_step({"derive": "impute_date", "target": "ASTDT", "flag": "ASTDTF", "source": "AESTDTC",
                       "impute": "first", "not_before": ["TRTSDT"]}, frame)
    expected = sas("2024-06-16", "2024-06-01", "2024-06-16", "2024-06-03", None, "2024-05-01")
    np.testing.assert_array_equal(out["ASTDT"].to_numpy(), expected)
    assert list(out["ASTDTF"].fillna("-")) == ["D", "D", "M", "-", "-", "D"]


def test_end_imputed_to_last_day_but_not_after_end_of_study(run_step, sas):
    frame = pd.DataFrame({"USUBJID": list("ABC"), "AEENDTC": ["2024-02", "2024", "2024-06"],
                          "EOSDT": sas("2025-01-01", "2024-09-30", "2024-06-20")})
    out, _ = run_step({"derive": "impute_date", "target": "AENDT", "flag": "AENDTF", "source": "AEENDTC",
                       "impute": "last", "not_after": ["EOSDT"]}, frame)
    assert out["AENDT"].tolist() == sas("2024-02-29", "2024-09-30", "2024-06-20")
    assert out["AENDTF"].tolist() == ["D", "M", "D"]


def test_analysis_date_and_datetime_only_when_a_time_was_collected(run_step, sas):
    frame = pd.DataFrame({"USUBJID": ["A", "A", "A"], "_DTC": ["2024-03-10T06:30", "2024-03-11", "2024-03"]})
    out, _ = run_step({"derive": "analysis_date", "target": "ADT", "datetime_target": "ADTM", "source": "_DTC"}, frame)
    assert out["ADT"].tolist()[:2] == sas("2024-03-10", "2024-03-11") and np.isnan(out["ADT"].iloc[2])
    assert out["ADTM"].iloc[0] == sas("2024-03-10")[0] * 86400 + 6.5 * 3600
    assert np.isnan(out["ADTM"].iloc[1:]).all()


def test_relative_day_has_no_day_zero(run_step, sas):
    frame = pd.DataFrame({"USUBJID": ["A"] * 4, "ASTDT": sas("2024-03-09", "2024-03-10", "2024-03-11", None),
                          "TRTSDT": sas(*["2024-03-10"] * 4)})
    out, _ = run_step({"derive": "relative_day", "target": "ASTDY", "date": "ASTDT", "anchor": "TRTSDT"}, frame)
    assert out["ASTDY"].fillna(999).tolist() == [-1.0, 1.0, 2.0, 999]
    out, _ = run_step({"derive": "relative_day", "target": "ASTDY", "date": "ASTDT", "anchor": "TRTSDT",
                       "day_zero": True}, frame)
    assert out["ASTDY"].tolist()[0] == 0.0


def test_window_flag_bounds_and_missing_day(run_step):
    frame = pd.DataFrame({"USUBJID": ["A"] * 5, "ASTDY": [0.0, 1.0, 28.0, 29.0, np.nan],
                          "TRTEMFL": ["Y", "Y", "Y", "Y", "Y"]})
    out, _ = run_step({"derive": "window_flag", "target": "AWIN28FL", "day": "ASTDY", "from_day": 1, "to_day": 28,
                       "missing_day": {"column": "TRTEMFL", "equals": "Y"}}, frame)
    assert list(out["AWIN28FL"].fillna("-")) == ["-", "Y", "Y", "-", "Y"]
    out, _ = run_step({"derive": "window_flag", "target": "ANL01FL", "day": "ASTDY", "from_day": 1, "to_day": 28,
                       "require": ["ASTDY"]}, frame)
    assert list(out["ANL01FL"].fillna("-")) == ["-", "Y", "Y", "-", "-"]


def test_duration_is_end_minus_start_plus_one(run_step, sas):
    frame = pd.DataFrame({"USUBJID": ["A", "A"], "ASTDT": sas("2024-03-01", "2024-03-01"),
                          "AENDT": sas("2024-03-01", None)})
    out, _ = run_step({"derive": "duration"}, frame)
    assert out["ADURN"].iloc[0] == 1.0 and np.isnan(out["ADURN"].iloc[1])
    assert list(out["ADURU"].fillna("-")) == ["DAYS", "-"]


def test_start_kept_before_treatment_when_the_event_ended_before_it(run_step, sas):
    frame = pd.DataFrame({"USUBJID": ["A", "B"], "AESTDTC": ["2024-06", "2024-06"],
                          "TRTSDT": sas("2024-06-16", "2024-06-16"), "AENDT": sas("2024-06-10", "2024-06-20")})
    out, _ = run_step({"derive": "impute_date", "target": "ASTDT", "source": "AESTDTC", "impute": "first",
                       "not_before": ["TRTSDT"], "not_after": ["AENDT"]}, frame)
    # A ended before the infusion: its start stays the first of the month, not moved to TRTSDT
    assert out["ASTDT"].tolist() == sas("2024-06-01", "2024-06-16")


def test_middle_imputation_kept_within_the_partial_range_after_a_reference(run_step, sas):
    frame = pd.DataFrame({"USUBJID": list("ABCD"), "AESTDTC": ["2024-06", "2024", "2024-06", "2024-06-03"],
                          "TRTSDT": sas("2024-06-20", "2024-03-02", "2024-07-01", "2024-06-20")})
    out, _ = run_step({"derive": "impute_date", "target": "ASTDT", "flag": "ASTDTF", "source": "AESTDTC",
                       "impute": "middle", "not_before": ["TRTSDT"]}, frame)
    # A: treatment later in that month wins over the 15th; B: 1 July of the year; C: reference outside the range
    assert out["ASTDT"].tolist() == sas("2024-06-20", "2024-07-01", "2024-06-15", "2024-06-03")
    assert list(out["ASTDTF"].fillna("-")) == ["D", "M", "D", "-"]
