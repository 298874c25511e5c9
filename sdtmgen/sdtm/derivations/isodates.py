"""ISO 8601 text to integer days/minutes straight from the Arrow string buffers.

Derivations compare, sort and subtract dates of every record (500k+ date-times per domain, most of
them distinct), so parsing through regular expressions or ``pd.to_datetime`` per value dominated
their cost. The common shapes ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM`` and ``YYYY-MM-DDTHH:MM:SS`` are
read here with a handful of vectorised byte gathers, once per distinct value; any other text that
may hold a date is handed to the caller's ``fallback`` (the reference implementation), so odd
values keep their exact meaning.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.columns import memo
from sdtmgen.columns.text import text_buffers, valid_mask

MISSING = np.iinfo(np.int64).min
"""Sentinel for "no complete date" in the integer results (the int64 value of NaT)."""

# years whose midnight fits datetime64[ns]; values outside take the fallback
_FIRST_YEAR, _LAST_YEAR = 1678, 2261
_ZERO = ord("0")


def _number(data: np.ndarray, starts: np.ndarray, first: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The decimal number in bytes [first, first + width) of each value, and whether all were digits."""
    value = np.zeros(len(starts), dtype=np.int64)
    digits = np.ones(len(starts), dtype=bool)
    for pos in range(first, first + width):
        byte = data[starts + pos].astype(np.int64) - _ZERO
        digits &= (byte >= 0) & (byte <= 9)
        value = value * 10 + byte
    return value, digits


def _is(data: np.ndarray, starts: np.ndarray, pos: int, char: str) -> np.ndarray:
    return data[starts + pos] == ord(char)


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (valid dates only)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _calendar_ok(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    last = month_days[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)


def _read_date(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day, shaped as ``DDDD-DD-DD``) of the 10 bytes at each start."""
    year, y_ok = _number(data, starts, 0, 4)
    month, m_ok = _number(data, starts, 5, 2)
    day, d_ok = _number(data, starts, 8, 2)
    shaped = y_ok & m_ok & d_ok & _is(data, starts, 4, "-") & _is(data, starts, 7, "-")
    return year, month, day, shaped


def _parse_dates(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``YYYY-MM-DD`` at each start: (days, well-shaped, valid calendar date, year)."""
    year, month, day, shaped = _read_date(data, starts)
    valid = shaped & _calendar_ok(year, month, day)
    return np.where(valid, days_from_civil(year, month, day), MISSING), shaped, valid, year


def _spread(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, MISSING, dtype=np.int64)
    out[rows] = values
    return out


def _per_distinct(values: pd.Series, parse: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """Run ``parse`` once per distinct value (dates repeat across the tests of a visit) and spread it."""
    encoded = memo.dictionary_encoded(values)
    parsed = parse(encoded.dictionary)
    indices = encoded.indices
    # the indices read in place (the slots of missing values hold any index: clipped, then set)
    positions = np.frombuffer(indices.buffers()[1], dtype=indices.type.to_pandas_dtype())[
        indices.offset: indices.offset + len(indices)]
    if not len(parsed):
        return np.full(len(indices), MISSING, dtype=np.int64)
    result = parsed.take(positions, mode="clip")
    if indices.null_count:
        result[~valid_mask(indices)] = MISSING
    return result


def _with_fallback(arr: pa.Array, result: np.ndarray, odd: np.ndarray,
                   fallback: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Fill the values the fast path did not read from ``fallback``."""
    if odd.any():
        result[odd] = fallback(pd.Series(pd.arrays.ArrowStringArray(arr.filter(pa.array(odd)))))
    return result


def date_numbers(values: pd.Series) -> np.ndarray:
    """YYYYMMDD where the first 10 characters are digits shaped ``DDDD-DD-DD`` (not checked against
    the calendar); else ``MISSING``. The numbers sort like the text."""
    return _per_distinct(values, _date_numbers)


def _date_numbers(arr: pa.Array) -> np.ndarray:
    starts, lengths, data = text_buffers(arr)
    rows = np.flatnonzero(lengths >= 10)
    year, month, day, shaped = _read_date(data, starts[rows])
    return _spread(len(arr), rows[shaped], (year * 10000 + month * 100 + day)[shaped])


def iso_days(values: pd.Series, fallback: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Days since 1970 of the date in the first 10 characters (``YYYY-MM-DD``); else ``MISSING``.

    Dates outside the years datetime64[ns] holds go to ``fallback`` (days or ``MISSING`` per value).
    """
    def parse(arr: pa.Array) -> np.ndarray:
        starts, lengths, data = text_buffers(arr)
        rows = np.flatnonzero(lengths >= 10)
        days, _, valid, year = _parse_dates(data, starts[rows])
        odd = np.zeros(len(arr), dtype=bool)
        odd[rows[valid & ((year < _FIRST_YEAR) | (year > _LAST_YEAR))]] = True
        return _with_fallback(arr, _spread(len(arr), rows, days), odd, fallback)

    return _per_distinct(values, parse)


def iso_minutes(values: pd.Series, fallback: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """Minutes since 1970 of complete dates (midnight without a time; seconds ignored); else ``MISSING``.

    Read here: ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM``, ``YYYY-MM-DDTHH:MM:SS``; other text that may
    hold a date goes to ``fallback``, which returns minutes (or ``MISSING``) per value.
    """
    return _per_distinct(values, lambda arr: _minutes(arr, fallback))


def iso_day_end_minutes(values: pd.Series, fallback: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``iso_minutes``, with a date without a time (10 characters) read as its day's last minute;
    worked out per distinct value."""
    def parse(arr: pa.Array) -> np.ndarray:
        minutes = _minutes(arr, fallback)
        date_only = np.asarray(pc.equal(pc.utf8_length(arr), 10).fill_null(False), dtype=bool)
        return np.where(date_only & (minutes != MISSING), minutes + 1439, minutes)

    return _per_distinct(values, parse)


def _minutes(arr: pa.Array, fallback: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``iso_minutes`` of each value of a string array (the distinct values of a column)."""
    starts, lengths, data = text_buffers(arr)
    rows = np.flatnonzero((lengths == 10) | (lengths == 16) | (lengths == 19))
    at, length = starts[rows], lengths[rows]
    days, shaped, valid, year = _parse_dates(data, at)
    minutes = np.zeros(len(rows), dtype=np.int64)
    timed = np.flatnonzero(length >= 16)
    t_at = at[timed]
    hour, h_ok = _number(data, t_at, 11, 2)
    minute, mi_ok = _number(data, t_at, 14, 2)
    t_ok = h_ok & mi_ok & _is(data, t_at, 10, "T") & _is(data, t_at, 13, ":")
    secs = np.flatnonzero(length[timed] == 19)
    _, s_ok = _number(data, t_at[secs], 17, 2)
    t_ok[secs] &= s_ok & _is(data, t_at[secs], 16, ":")
    minutes[timed] = hour * 60 + minute
    shaped[timed] &= t_ok
    read = shaped & ((year >= _FIRST_YEAR) & (year <= _LAST_YEAR) | ~valid)
    result = _spread(len(arr), rows[read], np.where(valid[read], days[read] * 1440 + minutes[read], MISSING))
    # shorter text cannot hold a complete date
    odd = lengths >= 10
    odd[rows[read]] = False
    return _with_fallback(arr, result, odd, fallback)


def minutes_to_timestamps(minutes: np.ndarray, index: pd.Index) -> pd.Series:
    """datetime64[ns] Series of integer minutes (``MISSING`` -> NaT)."""
    missing = minutes == MISSING
    ns = np.where(missing, MISSING, minutes * 60_000_000_000)
    return pd.Series(ns.view("datetime64[ns]"), index=index)
