import numpy as np
import pandas as pd
from hypothesis import given, strategies as st

from sdtmgen.arrowtext import Distinct
from sdtmgen.dates import ISO8601_PATTERN, ParsedDates, parse_distinct_dates, parse_distinct_times, study_day


def parse_collected_dates(values: pd.Series) -> ParsedDates:
    """Per row, as the iso8601 mapping rule reads a column: each distinct value parsed once, then spread."""
    distinct = Distinct.of(values)
    parsed = parse_distinct_dates(distinct)
    return ParsedDates(iso=distinct.spread_text(parsed.iso, values.index), invalid=distinct.spread_mask(parsed.invalid),
                       partial=distinct.spread_mask(parsed.partial))


def parse_collected_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    distinct = Distinct.of(values)
    times, bad = parse_distinct_times(distinct)
    return distinct.spread_text(times, values.index), distinct.spread_mask(bad)


def test_collected_dates_to_iso_keeping_partial_dates_partial():
    values = pd.Series(["12 MAR 2025", "UN MAR 2025", "UN UNK 2025", "12 UNK 2025", "1 jan 2024", "", None,
                        "UN UNK UNKN"])
    parsed = parse_collected_dates(values)
    assert parsed.iso.tolist()[:5] == ["2025-03-12", "2025-03", "2025", "2025---12", "2024-01-01"]
    assert parsed.iso.iloc[5:].isna().all()
    assert parsed.partial.tolist() == [False, True, True, True, False, False, False, False]
    assert not parsed.invalid.any()


def test_impossible_dates_are_flagged_not_guessed():
    parsed = parse_collected_dates(pd.Series(["30 FEB 2025", "31 APR 2025", "12 13 2025", "2025-03-12", "12 MAR 25",
                                              "29 FEB 2024", "UN MAR UNKN"]))
    assert parsed.invalid.tolist() == [True, True, True, True, True, False, True]
    assert parsed.iso.iloc[5] == "2024-02-29"


def test_times():
    times, bad = parse_collected_times(pd.Series(["14:05", "9:30", "24:00", "12:60", "", "07:15:30"]))
    assert times.tolist()[:2] == ["14:05", "09:30"]
    assert bad.tolist() == [False, False, True, True, False, False]
    assert times.iloc[5] == "07:15:30"


def test_study_day_has_no_day_zero():
    days = study_day(np.array([99.0, 100.0, 101.0, np.nan, 130.0, 100.0]), np.array([100.0] * 5 + [np.nan]))
    assert days[:3].tolist() == [-1.0, 1.0, 2.0] and days[4] == 31.0
    assert np.isnan(days[3]) and np.isnan(days[5])  # an unknown day or reference: unknown
    assert study_day([99, 100], [100, 100], day_zero=True).tolist() == [0.0, 1.0]


@given(st.integers(-40000, 40000), st.integers(-40000, 40000))
def test_study_day_counts_calendar_days_and_skips_zero(day, reference):
    value = study_day([day], [reference])[0]
    assert value != 0
    assert value == (day - reference + 1 if day >= reference else day - reference)
    assert study_day([day + 1], [reference])[0] - value == (2 if day == reference - 1 else 1)


def test_sdtm_study_day_reads_complete_dates_and_leaves_partial_ones_unknown():
    """What the SDTM ``study_day`` derivation runs: ISO text read by the derivations' date reader, then the rule."""
    from sdtmgen.sdtm.derivations.timing import iso_to_days, study_days

    ref = iso_to_days(pd.Series(["2025-03-10"] * 5))
    days = study_days(iso_to_days(pd.Series(["2025-03-09", "2025-03-10", "2025-03-11", "2025-03", "2025-03-10T08:00"])),
                      ref)
    assert days[:3].tolist() == [-1.0, 1.0, 2.0]
    assert np.isnan(days[3])
    assert days[4] == 1.0
    assert np.isnan(study_days(iso_to_days(pd.Series(["2025-03-10"])), iso_to_days(pd.Series(["2025"])))[0])


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


@given(st.dates(min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2100-12-31").date()),
       st.booleans(), st.booleans())
def test_any_real_date_round_trips(day, unknown_day, unknown_month):
    text = f"{'UN' if unknown_day else f'{day.day:02d}'} {'UNK' if unknown_month else MONTHS[day.month - 1]} {day.year}"
    parsed = parse_collected_dates(pd.Series([text]))
    iso = parsed.iso.iloc[0]
    assert not parsed.invalid[0]
    assert pd.Series([iso]).str.fullmatch(ISO8601_PATTERN).iloc[0]
    assert iso.startswith(f"{day.year:04d}")
    if not unknown_day and not unknown_month:
        assert iso == day.isoformat()
    assert parsed.partial[0] == (unknown_day or unknown_month)


@given(st.text(max_size=12))
def test_arbitrary_text_is_either_a_date_or_flagged(text):
    parsed = parse_collected_dates(pd.Series([text]))
    iso = parsed.iso.iloc[0]
    blank = text.strip() == ""
    assert blank or parsed.invalid[0] or (iso is not pd.NA and isinstance(iso, str)) or text.strip().upper() == "UN UNK UNKN"


def test_date_and_time_joined_a_partial_date_keeping_the_time():
    from sdtmgen.arrowtext import Distinct
    from sdtmgen.dates import join_date_time, parse_distinct_dates, parse_distinct_times

    index = pd.Index([10, 11, 12, 13, 14, 15])
    dates = Distinct.of(pd.Series(["12 MAR 2025", "12 MAR 2025", "UN MAR 2025", None, "12 MAR 2025", "01 APR 2025"],
                                  index=index))
    times = Distinct.of(pd.Series(["9:30", None, "10:00", "11:00", "9:30", "23:59"], index=index))
    joined = join_date_time(dates, parse_distinct_dates(dates).iso, times, parse_distinct_times(times)[0], index)
    assert joined.index.equals(index) and joined.dtype == "string[pyarrow]"
    assert joined.tolist()[:3] == ["2025-03-12T09:30", "2025-03-12", "2025-03--T10:00"]  # SDTMIG 4.4.4
    assert pd.isna(joined.iloc[3])
    assert joined.tolist()[4:] == ["2025-03-12T09:30", "2025-04-01T23:59"]


def _sas(*iso: str | None) -> list[float]:
    """SAS dates written independently of the module: days since 1960-01-01 by the standard library."""
    import datetime as dt
    return [float((dt.date.fromisoformat(d) - dt.date(1960, 1, 1)).days) if d else float("nan") for d in iso]


def test_date_range_of_complete_and_partial_dates():
    from sdtmgen.dates import date_range

    lo, hi, level = date_range(pd.Series(["2024-03-10T11:20", "2024-02", "2023", "2024---12", None, "garbage"]))
    assert lo[:4].tolist() == _sas("2024-03-10", "2024-02-01", "2023-01-01", "2024-01-01")
    assert hi[:4].tolist() == _sas("2024-03-10", "2024-02-29", "2023-12-31", "2024-12-31")
    assert np.isnan(lo[4:]).all() and np.isnan(hi[4:]).all()
    assert list(level) == ["", "D", "M", "M", None, None]


def test_impute_date_first_middle_last_with_flags():
    from sdtmgen.dates import date_range, impute_in_range

    def impute_date(iso, rule):  # as the ADaM impute_date step calls them
        lo, hi, level = date_range(iso)
        return impute_in_range(lo, hi, level, rule), level

    iso = pd.Series(["2023-02", "2024", "2024-06-03T08:00", None, "2023-02"])
    first, flag = impute_date(iso, "first")
    assert first.tolist()[:3] == _sas("2023-02-01", "2024-01-01", "2024-06-03") and np.isnan(first[3])
    assert list(flag) == ["D", "M", "", None, "D"]
    assert impute_date(iso, "last")[0].tolist()[:3] == _sas("2023-02-28", "2024-12-31", "2024-06-03")
    middle = impute_date(iso, "middle")[0]
    assert middle.tolist()[:3] == _sas("2023-02-15", "2024-07-01", "2024-06-03") and np.isnan(middle[3])
    assert middle[4] == middle[0]


def test_iso_sas_date_and_datetime_read_complete_dates_only():
    from sdtmgen.dates import iso_datetime, iso_sas_date, parse_iso_clock, to_sas_datetime

    iso = pd.Series(["2024-03-10T11:20:05", "2024-03", "", None, "1959-12-31"], index=[5, 6, 7, 8, 9])
    days = iso_sas_date(iso)
    assert list(days.index) == [5, 6, 7, 8, 9]
    assert days[5] == _sas("2024-03-10")[0] and days[9] == -1.0 and days[[6, 7, 8]].isna().all()
    assert parse_iso_clock(iso)[5] == 11 * 3600 + 20 * 60 + 5 and np.isnan(parse_iso_clock(iso)[9])
    assert to_sas_datetime(iso_datetime(iso))[5] == _sas("2024-03-10")[0] * 86400 + 40805
