"""Collected dates and times to ISO 8601, vectorised, keeping partial dates partial.

Collected dates are ``DD MON YYYY`` with ``UN``/``UNK``/``UNKN`` for unknown parts (see
docs/raw-forms.md). The result is the ISO 8601 form SDTM uses:

===================  ====================
collected            ISO 8601
===================  ====================
``12 MAR 2025``      ``2025-03-12``
``UN MAR 2025``      ``2025-03``
``UN UNK 2025``      ``2025``
``12 UNK 2025``      ``2025---12``
``UN UNK UNKN``      missing
===================  ====================

Anything else (``30 FEB 2025``, ``12 13 2025``, ``2025-03-12``) is *invalid*: it is returned as
missing and flagged in the mask so that the caller reports the exact cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.arrowtext import Distinct, arrow_text, concat_text, text_series

MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
UNKNOWN_DAY = {"UN", "UK", "XX"}
UNKNOWN_MONTH = {"UNK", "UN", "XXX"}
UNKNOWN_YEAR = {"UNKN", "UNK", "XXXX"}

ISO8601_PATTERN = (
    r"^(\d{4}((-(\d{2}|-)(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)|"
    r"(-\d{2}(-\d{2})?))?)$"
)
"""The ISO 8601 date/time forms SDTM accepts (complete, truncated, or with a missing month)."""


@dataclass
class ParsedDates:
    iso: pd.Series          # string dtype, <NA> where missing or invalid
    invalid: np.ndarray     # collected but not a valid date
    partial: np.ndarray     # valid but some part unknown


def _blank(text: pd.Series) -> np.ndarray:
    return (text.isna() | (text == "")).to_numpy(dtype=bool)


def parse_collected_dates(values: pd.Series) -> ParsedDates:
    """Per row, parsing each distinct value once (dates repeat a lot)."""
    distinct = Distinct.of(values)
    parsed = parse_distinct_dates(distinct)
    return ParsedDates(iso=distinct.spread_text(parsed.iso, values.index),
                       invalid=distinct.spread_mask(parsed.invalid), partial=distinct.spread_mask(parsed.partial))


def parse_distinct_dates(distinct: Distinct) -> ParsedDates:
    """The distinct values of a date column parsed, one entry per ``distinct.values``."""
    return _parse_collected_dates(distinct.values)


def _parse_collected_dates(values: pd.Series) -> ParsedDates:
    text = values.astype("string").str.strip().str.upper()
    blank = _blank(text)
    parts = text.str.extract(r"^(\d{1,2}|[A-Z]{2})\s+([A-Z]{3}|\d{1,2})\s+(\d{4}|[A-Z]{3,4})$")
    day_s, mon_s, year_s = parts[0], parts[1], parts[2]
    shaped = parts[0].notna().to_numpy(dtype=bool)

    day_unknown = day_s.isin(UNKNOWN_DAY).to_numpy(dtype=bool)
    mon_unknown = mon_s.isin(UNKNOWN_MONTH).to_numpy(dtype=bool)
    year_unknown = year_s.isin(UNKNOWN_YEAR).to_numpy(dtype=bool)
    day = pd.to_numeric(day_s.where(~day_unknown), errors="coerce").to_numpy(dtype=float)
    month = mon_s.map(MONTHS).astype("float").to_numpy(dtype=float)
    year = pd.to_numeric(year_s.where(~year_unknown), errors="coerce").to_numpy(dtype=float)

    day_ok = day_unknown | ((day >= 1) & (day <= 31))
    mon_ok = mon_unknown | ~np.isnan(month)
    year_ok = year_unknown | ((year >= 1800) & (year <= 2200))
    valid = shaped & day_ok & mon_ok & year_ok & ~(year_unknown & ~(mon_unknown & day_unknown))

    full = valid & ~day_unknown & ~mon_unknown & ~year_unknown
    # a complete date must exist in the calendar (no 30 FEB)
    stamps = pd.to_datetime(
        pd.DataFrame({"year": np.where(full, year, 2000), "month": np.where(full, month, 1),
                      "day": np.where(full, day, 1)}), errors="coerce")
    calendar_ok = ~full | stamps.notna().to_numpy(dtype=bool)
    valid &= calendar_ok

    y = pd.Series(np.where(np.isnan(year), 0, year).astype(int), index=values.index).astype(str).str.zfill(4)
    m = pd.Series(np.where(np.isnan(month), 0, month).astype(int), index=values.index).astype(str).str.zfill(2)
    d = pd.Series(np.where(np.isnan(day), 0, day).astype(int), index=values.index).astype(str).str.zfill(2)
    iso = pd.Series(pd.NA, index=values.index, dtype="string")
    iso = iso.mask(valid & ~year_unknown, y)
    iso = iso.mask(valid & ~year_unknown & ~mon_unknown, y + "-" + m)
    iso = iso.mask(full, y + "-" + m + "-" + d)
    iso = iso.mask(valid & ~year_unknown & mon_unknown & ~day_unknown, y + "---" + d)

    invalid = ~blank & ~valid
    partial = valid & ~full & ~(year_unknown & mon_unknown & day_unknown)
    return ParsedDates(iso=iso, invalid=invalid, partial=partial)


def parse_collected_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``HH:MM`` or ``HH:MM:SS`` (24 h) -> the same text; returns (time, invalid mask)."""
    distinct = Distinct.of(values)
    times, bad = parse_distinct_times(distinct)
    return distinct.spread_text(times, values.index), distinct.spread_mask(bad)


def parse_distinct_times(distinct: Distinct) -> tuple[pd.Series, np.ndarray]:
    """The distinct values of a time column parsed, one entry per ``distinct.values``."""
    return _parse_collected_times(distinct.values)


def join_date_time(dates: Distinct, iso: pd.Series, times: Distinct, hhmm: pd.Series,
                   index: pd.Index) -> pd.Series:
    """Per row: ``date + 'T' + time`` where a complete date and a time are both present, else the date.

    ``iso`` and ``hhmm`` hold the parsed distinct dates and times; the joining is done once per
    distinct (date, time) pair.
    """
    width = len(times.values) + 1
    pair_codes, pairs = pd.factorize((dates.codes + 1) * width + (times.codes + 1))
    date_at = pa.array(np.asarray(pairs // width - 1, dtype=np.int64))
    time_at = pa.array(np.asarray(pairs % width - 1, dtype=np.int64))
    date_text = concat_text(arrow_text(iso), pa.nulls(1, pa.large_string()))
    time_text = concat_text(arrow_text(hhmm), pa.nulls(1, pa.large_string()))
    # code -1 (missing) takes the appended null
    pair_date = date_text.take(pc.if_else(pc.less(date_at, 0), len(iso), date_at))
    pair_time = time_text.take(pc.if_else(pc.less(time_at, 0), len(hhmm), time_at))
    complete = pc.fill_null(pc.match_substring_regex(pair_date, r"^\d{4}-\d{2}-\d{2}$"), False)
    joined = pc.if_else(pc.and_(complete, pc.is_valid(pair_time)),
                        pc.binary_join_element_wise(pair_date, pair_time, pa.scalar("T", pa.large_string())),
                        pair_date)
    return text_series(joined.take(pa.array(pair_codes)), index)


def _parse_collected_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    text = values.astype("string").str.strip()
    blank = _blank(text)
    parts = text.str.extract(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
    hour = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    minute = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
    second = pd.to_numeric(parts[2], errors="coerce").to_numpy(dtype=float)
    ok = (hour >= 0) & (hour <= 23) & (minute >= 0) & (minute <= 59) & (np.isnan(second) | (second <= 59))
    hh = parts[0].str.zfill(2)
    out = (hh + ":" + parts[1]).where(parts[2].isna(), hh + ":" + parts[1] + ":" + parts[2])
    out = out.astype("string").where(ok)
    return out, ~blank & ~ok


def to_date(iso: pd.Series) -> pd.Series:
    """The calendar date of complete ISO 8601 values (partial or missing -> NaT)."""
    distinct = Distinct.of(iso)
    stamps = pd.concat([_to_date(distinct.values), pd.Series([pd.NaT], dtype="datetime64[ns]")],
                       ignore_index=True).to_numpy()
    return pd.Series(stamps[np.where(distinct.codes < 0, len(distinct.values), distinct.codes)], index=iso.index)


def _to_date(iso: pd.Series) -> pd.Series:
    text = iso.astype("string").str.slice(0, 10)
    complete = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
    return pd.to_datetime(text.where(complete), format="%Y-%m-%d", errors="coerce")


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """SDTM --DY: date - reference + 1 on or after the reference date, date - reference before it.

    There is no day 0. Missing when either date is partial or missing.
    """
    delta = (to_date(dates) - to_date(reference)).dt.days
    days = np.where(delta >= 0, delta + 1, delta)
    return pd.Series(days, index=dates.index, dtype="float64")
