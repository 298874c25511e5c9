"""Clinical dates, one module: collected dates and times to ISO 8601 (vectorised, partial dates kept
partial), ISO 8601 text to SAS dates/datetimes (``iso_date``, ``iso_sas_date``, ``to_sas_date``), the
range of a partial date and its imputation with the --DTF flag (``date_range``, ``impute_in_range``:
first, middle or last possible day), the imputation of a missing or partial time with the --TMF flag
(``impute_clock``), and the study-day rule (``study_day``: no day 0) that SDTM, ADaM
and the results share.

Partial dates stay partial in SDTM and are imputed only in ADaM (the ``impute_date`` step calls the
functions here). Two readings live elsewhere on purpose: the SDTM derivations read complete ISO dates
into day/minute numbers with a compiled fast path (``sdtmgen.sdtm.derivations.isodates``, tested
against its plain reading), and the conformance rule XD-DY-RFSTDTC recomputes --DY with its own code
(double programming): see ``sdtmgen.validate.conformance``.

Collected dates are read with raw formats of a fixed token vocabulary (``DateFormats``: ``YYYY``,
``YY``, ``MON``, ``MM``, ``DD``, ``HH``, ``SS``, literals, ``[optional]``), tried in order on each
distinct value. The default is ``DD MON YYYY`` with ``UN``/``UNK``/``UNKN`` for unknown parts (see
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

A time read with a date is kept with a partial date, unknown parts as hyphens (``2025-03--T10:00``,
``2025---12T10:00``; SDTMIG 3.4 section 4.4.4). Anything no format reads as a real date (with the
default: ``30 FEB 2025``, ``12 13 2025``, ``2025-03-12``) is *invalid*: it is returned as missing and
flagged in the mask so that the caller reports the exact cell.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.arrowtext import Distinct, arrow_text, concat_text, text_series
from sdtmgen.columns.ordering import dense_codes

MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
UNKNOWN_DAY = {"UN", "UK", "XX"}
UNKNOWN_MONTH = {"UNK", "UN", "XXX"}
UNKNOWN_YEAR = {"UNKN", "UNK", "XXXX"}

ISO8601_PATTERN = (
    r"^(\d{4}((-(\d{2}|-)(-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)|"
    r"(-\d{2}(-\d{2})?))?|\d{4}-(\d{2}|-)-(\d{2}|-)T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)$"
)
"""The ISO 8601 date/time forms SDTM accepts (complete, truncated, with a missing month, or a time
with a partial date whose unknown month/day are hyphens: ``2019---20T10:00``, ``2019-09--T10:00``)."""


DEFAULT_YEAR_PIVOT = 1940
"""First year of the 100-year window two-digit years fall in (``YY`` 40-99 -> 1940-1999, 00-39 -> 2000-2039)."""

_TOKENS = ("YYYY", "YY", "MON", "MM", "DD", "HH", "SS")
_LITERALS = {"-": "-", "/": "/", ".": r"\.", ":": ":", ",": ",", "T": "T"}
FORMAT_HELP = ("tokens YYYY (4-digit year), YY (2-digit year), MON (JAN..DEC), MM (month 1-12; "
               "minutes after HH), DD (day), HH (hour 0-23), SS (seconds); literals - / . : , T and space; "
               "[...] optional")


class DateFormatError(ValueError):
    """A raw date format that is not in the token vocabulary."""


@dataclass(frozen=True)
class _Format:
    text: str
    pattern: str
    tokens: frozenset[str]

    def read(self, text: pd.Series, formats: "DateFormats") -> "_Read":
        parts = text.str.extract(self.pattern)
        n = len(text)
        shaped = parts.notna().any(axis=1).to_numpy(dtype=bool) if len(parts.columns) else np.zeros(n, bool)
        shaped &= text.str.fullmatch(self.pattern).fillna(False).to_numpy(dtype=bool)

        def column(name: str) -> pd.Series:
            return parts[name] if name in parts else pd.Series(pd.NA, index=text.index, dtype="string[pyarrow]")

        def unknown_in(series: pd.Series, tokens: frozenset[str]) -> np.ndarray:
            return series.isin(tokens).fillna(False).to_numpy(dtype=bool)

        def number(series: pd.Series, unknown: np.ndarray) -> np.ndarray:
            return pd.to_numeric(series.where(~unknown), errors="coerce").to_numpy(dtype=float)

        day_s, year_s = column("day"), column("year")
        mon_s = column("mon") if "MON" in self.tokens else column("month")
        # a component the format does not have is unknown
        day_unknown = unknown_in(day_s, formats.unknown_for("day")) if "DD" in self.tokens else np.ones(n, bool)
        has_month = "MON" in self.tokens or "MM" in self.tokens
        mon_unknown = unknown_in(mon_s, formats.unknown_for("month")) if has_month else np.ones(n, bool)
        year_unknown = unknown_in(year_s, formats.unknown_for("year"))
        day = number(day_s, day_unknown)
        if "MON" in self.tokens:
            month = mon_s.where(~mon_unknown).map(MONTHS).astype("float").to_numpy(dtype=float)
        else:
            month = number(mon_s, mon_unknown)
        year = number(year_s, year_unknown)
        if "YY" in self.tokens:
            century = formats.year_pivot // 100 * 100
            year = century + year
            year = np.where(year < formats.year_pivot, year + 100, year)
            year_ok = year_unknown | ~np.isnan(year)
        else:
            year_ok = year_unknown | ((year >= 1800) & (year <= 2200))
        day_ok = day_unknown | ((day >= 1) & (day <= 31))
        mon_ok = mon_unknown | ((month >= 1) & (month <= 12))

        hour_s, minute_s, second_s = column("hour"), column("minute"), column("second")
        hour = pd.to_numeric(hour_s, errors="coerce").to_numpy(dtype=float)
        minute = pd.to_numeric(minute_s, errors="coerce").to_numpy(dtype=float)
        second = pd.to_numeric(second_s, errors="coerce").to_numpy(dtype=float)
        time_ok = ((np.isnan(hour) | (hour <= 23)) & (np.isnan(minute) | (minute <= 59))
                   & (np.isnan(second) | (second <= 59)))
        hh = hour_s.str.zfill(2)
        clock = hh.where(minute_s.isna(), hh + ":" + minute_s)
        clock = clock.where(second_s.isna(), clock + ":" + second_s).astype("string[pyarrow]")
        has_clock = clock.notna().to_numpy(dtype=bool)

        valid = (shaped & day_ok & mon_ok & year_ok & time_ok
                 & ~(year_unknown & ~(mon_unknown & day_unknown))  # a year is needed for a month or a day
                 & ~(year_unknown & has_clock))                    # and for a time
        full = valid & ~day_unknown & ~mon_unknown & ~year_unknown
        # a complete date must exist in the calendar (no 30 FEB)
        stamps = pd.to_datetime(
            pd.DataFrame({"year": np.where(full, year, 2000), "month": np.where(full, month, 1),
                          "day": np.where(full, day, 1)}), errors="coerce")
        valid &= ~full | stamps.notna().to_numpy(dtype=bool)
        return _Read(valid=valid, year=year, month=month, day=day, year_unknown=year_unknown,
                     month_unknown=mon_unknown, day_unknown=day_unknown, clock=clock, shaped=shaped)


@dataclass
class _Read:
    valid: np.ndarray
    year: np.ndarray
    month: np.ndarray
    day: np.ndarray
    year_unknown: np.ndarray
    month_unknown: np.ndarray
    day_unknown: np.ndarray
    clock: pd.Series
    shaped: np.ndarray  # the value has the format's layout (valid or not)


_DIGITS = {"YYYY": r"\d{4}", "YY": r"\d{2}", "MON": "|".join(MONTHS), "MM": r"\d{1,2}", "DD": r"\d{1,2}"}
_GROUP = {"YYYY": ("year", "year"), "YY": ("year", "year"), "MON": ("mon", "month"), "MM": ("month", "month"),
          "DD": ("day", "day")}
_CLOCK = {"HH": r"(?P<hour>\d{1,2})", "MI": r"(?P<minute>\d{2})", "SS": r"(?P<second>\d{2})"}


def _group(token: str, alternatives) -> str:
    if token in _CLOCK:
        return _CLOCK[token]
    name, kind = _GROUP[token]
    return f"(?P<{name}>" + alternatives(kind, _DIGITS[token]) + ")"


def compile_format(text: str, unknown: dict[str, frozenset[str]]) -> _Format:
    """A raw date format of the token vocabulary (see ``FORMAT_HELP``) as an anchored regular expression.

    Formats are data: only the fixed tokens and literals are recognised, anything else is refused.
    """
    def alternatives(kind: str, digits: str) -> str:
        words = sorted(unknown[kind], key=lambda w: (-len(w), w))
        return "|".join([digits] + [re.escape(w) for w in words])

    out: list[str] = []
    seen: list[str] = []
    depth = 0  # nesting of [optional] parts
    i = 0
    source = text.strip()
    if not source or len(source) > 40:
        raise DateFormatError(f"date format {text!r}: empty or longer than 40 characters")
    while i < len(source):
        token = next((t for t in _TOKENS if source.startswith(t, i)), None)
        if token:
            if token == "MM" and "HH" in seen:
                token = "MI"
            if token in seen or (token in ("YYYY", "YY") and ({"YYYY", "YY"} & set(seen))) or \
                    (token in ("MON", "MM") and ({"MON", "MM"} & set(seen))):
                raise DateFormatError(f"date format {text!r}: {token} given twice")
            seen.append(token)
            out.append(_group(token, alternatives))
            i += len(token)
            continue
        char = source[i]
        if char == " ":
            out.append(r"\s+")
            while i + 1 < len(source) and source[i + 1] == " ":
                i += 1
        elif char == "[" and depth < 3:
            out.append("(?:")
            depth += 1
        elif char == "]" and depth > 0:
            out.append(")?")
            depth -= 1
        elif char in _LITERALS:
            out.append(_LITERALS[char])
        else:
            raise DateFormatError(f"date format {text!r}: {char!r} at position {i + 1} is not a token "
                                  f"or literal ({FORMAT_HELP})")
        i += 1
    if depth:
        raise DateFormatError(f"date format {text!r}: '[' without ']'")
    if not {"YYYY", "YY"} & set(seen):
        raise DateFormatError(f"date format {text!r}: no year (YYYY or YY)")
    if ("MI" in seen or "SS" in seen) and "HH" not in seen or ("SS" in seen and "MI" not in seen):
        raise DateFormatError(f"date format {text!r}: minutes need HH, seconds need minutes")
    return _Format(text=text, pattern="^" + "".join(out) + "$",
                   tokens=frozenset(t for t in seen))


@dataclass(frozen=True)
class DateFormats:
    """How a raw date column is written: formats tried in order, two-digit year window, unknown parts."""

    formats: tuple[str, ...] = ("DD MON YYYY",)
    year_pivot: int = DEFAULT_YEAR_PIVOT
    unknown: tuple[str, ...] | None = None  # None: UN/UK/XX day, UNK/UN/XXX month, UNKN/UNK/XXXX year

    def unknown_for(self, kind: str) -> frozenset[str]:
        if self.unknown is not None:
            return frozenset(w.upper() for w in self.unknown)
        return frozenset({"day": UNKNOWN_DAY, "month": UNKNOWN_MONTH, "year": UNKNOWN_YEAR}[kind])

    def compiled(self) -> list[_Format]:
        return _compiled(self)

    def describe(self) -> str:
        words = ("UN/UNK/UNKN" if self.unknown is None else "/".join(self.unknown)) or "none"
        return f"expected {' or '.join(self.formats)}; unknown parts: {words}"


@functools.lru_cache(maxsize=256)
def _compiled(formats: DateFormats) -> list[_Format]:
    unknown = {kind: formats.unknown_for(kind) for kind in ("day", "month", "year")}
    return [compile_format(f, unknown) for f in formats.formats]


DEFAULT_FORMATS = DateFormats()


@dataclass
class ParsedDates:
    iso: pd.Series          # string dtype, <NA> where missing or invalid
    invalid: np.ndarray     # collected but not a valid date
    partial: np.ndarray     # valid but some part unknown
    unread: np.ndarray | None = None  # invalid, and no format has its layout (vs. an impossible date: 30 FEB)


def _blank(text: pd.Series) -> np.ndarray:
    return (text.isna() | (text == "")).to_numpy(dtype=bool)


def parse_distinct_dates(distinct: Distinct, formats: DateFormats | None = None) -> ParsedDates:
    """The distinct values of a date column parsed, one entry per ``distinct.values``."""
    return _parse_collected_dates(distinct.values, formats)


def _parse_collected_dates(values: pd.Series, formats: "DateFormats | None" = None) -> ParsedDates:
    formats = formats or DEFAULT_FORMATS
    text = values.astype("string[pyarrow]").str.strip().str.upper()
    blank = _blank(text)
    n = len(text)
    year = np.full(n, np.nan)
    month = np.full(n, np.nan)
    day = np.full(n, np.nan)
    year_unknown = np.zeros(n, dtype=bool)
    mon_unknown = np.zeros(n, dtype=bool)
    day_unknown = np.zeros(n, dtype=bool)
    clock = pd.Series(pd.NA, index=values.index, dtype="string[pyarrow]")
    valid = np.zeros(n, dtype=bool)
    shaped = np.zeros(n, dtype=bool)
    # formats tried in order: a value takes the first one it matches as a valid date (time)
    for fmt in formats.compiled():
        todo = ~valid & ~blank
        if not todo.any():
            break
        found = fmt.read(text, formats)
        ok = todo & found.valid
        year = np.where(ok, found.year, year)
        month = np.where(ok, found.month, month)
        day = np.where(ok, found.day, day)
        year_unknown |= ok & found.year_unknown
        mon_unknown |= ok & found.month_unknown
        day_unknown |= ok & found.day_unknown
        clock = clock.mask(ok & found.clock.notna().to_numpy(dtype=bool), found.clock)
        valid |= ok
        shaped |= found.shaped

    full = valid & ~day_unknown & ~mon_unknown & ~year_unknown
    y = pd.Series(np.where(np.isnan(year), 0, year).astype(int), index=values.index).astype(str).str.zfill(4)
    m = pd.Series(np.where(np.isnan(month), 0, month).astype(int), index=values.index).astype(str).str.zfill(2)
    d = pd.Series(np.where(np.isnan(day), 0, day).astype(int), index=values.index).astype(str).str.zfill(2)
    iso = pd.Series(pd.NA, index=values.index, dtype="string[pyarrow]")
    iso = iso.mask(valid & ~year_unknown, y)
    iso = iso.mask(valid & ~year_unknown & ~mon_unknown, y + "-" + m)
    iso = iso.mask(full, y + "-" + m + "-" + d)
    iso = iso.mask(valid & ~year_unknown & mon_unknown & ~day_unknown, y + "---" + d)
    # a time read with the date is kept with a partial date too, each unknown part a hyphen (SDTMIG 4.4.4)
    timed = valid & ~year_unknown & clock.notna().to_numpy(dtype=bool)
    if timed.any():
        iso = iso.mask(timed, date_stem(iso) + "T" + clock)

    invalid = ~blank & ~valid
    partial = valid & ~full & ~(year_unknown & mon_unknown & day_unknown)
    return ParsedDates(iso=iso, invalid=invalid, partial=partial, unread=invalid & ~shaped)


def date_stem(iso: pd.Series) -> pd.Series:
    """The date part of ISO 8601 dates as written before a time: unknown month/day as hyphens.

    ``2019`` -> ``2019----``, ``2019-09`` -> ``2019-09--``, ``2019---15`` and complete dates unchanged
    (SDTMIG 3.4 section 4.4.4: a missing component in the middle is one hyphen).
    """
    text = iso.astype("string[pyarrow]")
    text = text.str.replace(r"^(\d{4})$", r"\1----", regex=True)
    return text.str.replace(r"^(\d{4}-\d{2})$", r"\1--", regex=True)


def parse_distinct_times(distinct: Distinct) -> tuple[pd.Series, np.ndarray]:
    """The distinct values of a time column parsed, one entry per ``distinct.values``."""
    return _parse_collected_times(distinct.values)


def join_date_time(dates: Distinct, iso: pd.Series, times: Distinct, hhmm: pd.Series,
                   index: pd.Index) -> pd.Series:
    """Per row: ``date + 'T' + time`` where a date with a known year and a time are both present, else
    the date. A partial date keeps the time with its unknown parts as hyphens (``2019---20T10:00``,
    ``2019-09--T10:00``, SDTMIG 4.4.4); a date that carries its own time keeps it.

    ``iso`` and ``hhmm`` hold the parsed distinct dates and times; the joining is done once per
    distinct (date, time) pair.
    """
    own_time = iso.str.contains("T", regex=False).fillna(False).to_numpy(dtype=bool)
    stem = date_stem(iso).mask(own_time)
    width = len(times.values) + 1
    # pair numbers are dense (distinct dates x distinct times): coded by marking the numbers seen, not by
    # hashing one per row; the pairs' order in their table is irrelevant, each row takes its own pair
    pair_codes, pairs = dense_codes((dates.codes + 1) * width + (times.codes + 1), (len(dates.values) + 1) * width)
    date_at = pa.array(np.asarray(pairs // width - 1, dtype=np.int64))
    time_at = pa.array(np.asarray(pairs % width - 1, dtype=np.int64))
    date_text = concat_text(arrow_text(iso), pa.nulls(1, pa.large_string()))
    time_text = concat_text(arrow_text(hhmm), pa.nulls(1, pa.large_string()))
    # code -1 (missing) takes the appended null
    stem_text = concat_text(arrow_text(stem), pa.nulls(1, pa.large_string()))
    date_take = pc.if_else(pc.less(date_at, 0), len(iso), date_at)
    pair_date = date_text.take(date_take)
    pair_stem = stem_text.take(date_take)
    pair_time = time_text.take(pc.if_else(pc.less(time_at, 0), len(hhmm), time_at))
    joined = pc.if_else(pc.and_(pc.is_valid(pair_stem), pc.is_valid(pair_time)),
                        pc.binary_join_element_wise(pair_stem, pair_time, pa.scalar("T", pa.large_string())),
                        pair_date)
    return text_series(joined.take(pa.array(pair_codes)), index)


def _parse_collected_times(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    text = values.astype("string[pyarrow]").str.strip()
    blank = _blank(text)
    parts = text.str.extract(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
    hour = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
    minute = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
    second = pd.to_numeric(parts[2], errors="coerce").to_numpy(dtype=float)
    ok = (hour >= 0) & (hour <= 23) & (minute >= 0) & (minute <= 59) & (np.isnan(second) | (second <= 59))
    hh = parts[0].str.zfill(2)
    out = (hh + ":" + parts[1]).where(parts[2].isna(), hh + ":" + parts[1] + ":" + parts[2])
    out = out.astype("string[pyarrow]").where(ok)
    return out, ~blank & ~ok


def study_day(days: np.ndarray | pd.Series, reference: np.ndarray | pd.Series, day_zero: bool = False) -> np.ndarray:
    """The study-day rule, the one implementation the build runs: SDTM --DY (``study_day`` derivation),
    ADaM relative days (``relative_day``, ``--DY``/``ADY``, time-to-event days, windows) and the results'
    days from the chemotherapy anchor all call it.

    ``days``, ``reference``: day numbers (any epoch, the same for both; NaN when unknown). On or after the
    reference: day - reference + 1 (the reference day is day 1); before it: day - reference (the day before
    is -1). There is no day 0 (SDTMIG 3.4 section 4.4.4). ``day_zero``: the plain difference + 1 on both
    sides instead (a count some analyses define). NaN when either day is unknown.
    """
    delta = np.asarray(days, dtype="float64") - np.asarray(reference, dtype="float64")
    return delta + 1 if day_zero else np.where(delta >= 0, delta + 1, delta)


# ---------------------------------------------------------------------------------------------
# ISO 8601 text -> SAS dates/datetimes (ADaM and the results), and imputation of partial dates

SAS_EPOCH = pd.Timestamp("1960-01-01")
"""Day 0 of SAS dates and second 0 of SAS datetimes."""


def iso_date(iso: pd.Series) -> pd.Series:
    """The calendar date (midnight) of ISO 8601 values with a complete date; partial or missing -> NaT."""
    return _per_distinct(iso, parse_iso_date)


def iso_datetime(iso: pd.Series) -> pd.Series:
    """Date and time (to the second) of ISO 8601 values with a complete date; a missing time is 00:00."""
    return _per_distinct(iso, parse_iso_datetime)


def _per_distinct(iso: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse`` run on the distinct values only (dates repeat a lot: one per visit, not per record);
    missing is one more value, parsed last."""
    iso = pd.Series(iso, copy=False)
    codes, uniques = pd.factorize(iso)
    values = pd.Series(uniques).reindex(range(len(uniques) + 1))
    parsed = np.asarray(parse(values))
    return pd.Series(parsed[np.where(codes < 0, len(uniques), codes)], index=iso.index)


def parse_iso_date(iso: pd.Series) -> pd.Series:
    """:func:`iso_date` value by value (for values known to be distinct)."""
    text = iso.astype("string[pyarrow]")
    complete = (text.str.len() >= 10).fillna(False)
    return pd.to_datetime(text.str.slice(0, 10).where(complete), format="%Y-%m-%d", errors="coerce", cache=False)


def parse_iso_datetime(iso: pd.Series) -> pd.Series:
    """:func:`iso_datetime` value by value (for values known to be distinct)."""
    return parse_iso_date(iso) + pd.to_timedelta(parse_iso_clock(iso).fillna(0).to_numpy(), unit="s")


def parse_iso_clock(iso: pd.Series) -> pd.Series:
    """Seconds after midnight of ISO 8601 values that carry a time (``THH[:MM[:SS]]``: missing minutes and
    seconds are 00, as :func:`impute_clock` reads them); NaN otherwise."""
    text = iso.astype("string[pyarrow]")
    timed = (text.str.slice(10, 11) == "T").fillna(False)
    hours = pd.to_numeric(text.str.slice(11, 13).where(timed), errors="coerce")
    minutes = pd.to_numeric(text.str.slice(14, 16).where(timed), errors="coerce")
    minutes = minutes.mask(hours.notna() & minutes.isna(), 0)
    seconds = pd.to_numeric(text.str.slice(17, 19).where(timed & (text.str.len() >= 19)), errors="coerce")
    return (hours * 3600 + minutes * 60 + seconds.fillna(0)).astype("float64")


def to_sas_date(stamps: pd.Series) -> pd.Series:
    """Timestamps -> SAS dates (days since 1960-01-01, float64, NaN when missing)."""
    stamps = _timestamps(stamps)
    return ((stamps.dt.normalize() - SAS_EPOCH).dt.days).astype("float64")


def to_sas_datetime(stamps: pd.Series) -> pd.Series:
    """Timestamps -> SAS datetimes (seconds since 1960-01-01 00:00:00, float64)."""
    stamps = _timestamps(stamps)
    return ((stamps - SAS_EPOCH).dt.total_seconds()).astype("float64")


def _timestamps(stamps: pd.Series) -> pd.Series:
    stamps = pd.Series(stamps, copy=False)
    return stamps if pd.api.types.is_datetime64_dtype(stamps.dtype) else pd.to_datetime(stamps)


def iso_sas_date(iso: pd.Series) -> pd.Series:
    """SAS date of ISO 8601 values with a complete date (a time is ignored); partial or missing -> NaN."""
    return to_sas_date(iso_date(iso))


ISO_PARTS = r"^(\d{4})(?:-(\d{2}|-)(?:-(\d{2}))?)?"
"""Year, month (or ``-`` when unknown) and day of an ISO 8601 date, complete or partial."""

Imputation = Literal["first", "middle", "last"]


def date_range(iso: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first possible SAS date, last possible SAS date, level) of ISO 8601 dates, complete or partial.

    level: "" complete, "D" day unknown, "M" month (and day) unknown, None when there is no year; the
    ADaM date imputation flag (--DTF) of a date imputed within that range.
    """
    distinct = _DistinctText(pd.Series(iso, copy=False).astype("string[pyarrow]").str.strip())
    lo, hi, level = _distinct_date_range(distinct.values)
    return distinct.expand(lo), distinct.expand(hi), distinct.expand(level)


def impute_in_range(lo: np.ndarray, hi: np.ndarray, level: np.ndarray, impute: Imputation) -> np.ndarray:
    """The imputed SAS date of ranges from :func:`date_range` (whose ``level`` is the --DTF flag).

    first: the first day of the known month (year); last: its last day; middle: the 15th of a known
    month, 1 July of a known year alone (the middle of the range a reader would expect, written as a
    rule so it is reproducible). No year: NaN.
    """
    if impute == "first":
        return lo
    if impute == "last":
        return hi
    stamps = SAS_EPOCH + pd.to_timedelta(np.where(np.isnan(lo), 0, lo), unit="D")
    mid_month = to_sas_date(pd.Series(stamps + pd.to_timedelta(14, unit="D"))).to_numpy(dtype=float)
    july = to_sas_date(pd.to_datetime(pd.DataFrame({"year": stamps.year, "month": 7, "day": 1}))).to_numpy(dtype=float)
    value = np.where(level == "D", mid_month, np.where(level == "M", july, lo))
    return np.where(np.isnan(lo), np.nan, value).astype(float)


class _DistinctText:
    """The distinct values of a text column, missing as one more value at the end."""

    def __init__(self, values: pd.Series):
        codes, uniques = pd.factorize(pd.Series(values, copy=False))
        self.codes = np.where(codes < 0, len(uniques), codes)
        self.values = pd.Series(uniques).reindex(range(len(uniques) + 1))

    def expand(self, per_value: np.ndarray) -> np.ndarray:
        return np.asarray(per_value)[self.codes]


def _distinct_date_range(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = text.str.extract(ISO_PARTS)
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1].where(parts[1] != "-"), errors="coerce")
    day = pd.to_numeric(parts[2], errors="coerce")
    has_year = year.notna().to_numpy(dtype=bool)
    has_month = has_year & month.notna().to_numpy(dtype=bool)
    complete = has_month & day.notna().to_numpy(dtype=bool)

    def stamp(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> pd.Series:
        frame = pd.DataFrame({"year": y, "month": m, "day": d}).astype("float64")
        ok = frame.notna().all(axis=1)
        out = pd.to_datetime(frame.where(ok, 1.0).astype("int64"), errors="coerce")
        return out.where(ok.to_numpy())

    y = year.where(has_year, 2000).to_numpy(dtype=float)
    m = month.where(has_month, 1).to_numpy(dtype=float)
    d = day.where(complete, 1).to_numpy(dtype=float)
    first_of_month = stamp(y, m, np.ones_like(y))
    exact = stamp(y, m, d)
    lo = np.where(complete, to_sas_date(exact), np.where(has_month, to_sas_date(first_of_month),
                                                         to_sas_date(stamp(y, np.ones_like(y), np.ones_like(y)))))
    month_end = to_sas_date(first_of_month + pd.offsets.MonthEnd(0))
    year_end = to_sas_date(stamp(y, np.full_like(y, 12.0), np.full_like(y, 31.0)))
    hi = np.where(complete, lo, np.where(has_month, month_end, year_end))
    lo = np.where(has_year, lo, np.nan)
    hi = np.where(has_year, hi, np.nan)
    level = np.where(complete, "", np.where(has_month, "D", "M")).astype(object)
    level[~has_year] = None
    return lo.astype(float), hi.astype(float), level


TimeImputation = Literal["first", "last"]

TIME_FLAG_LEVELS = ("S", "M", "H")
"""ADaM TIMEFL (--TMF) levels from the lowest to the highest: seconds, minutes (and seconds), hour
(minutes and seconds) imputed."""


def impute_clock(iso: pd.Series, impute: TimeImputation = "first",
                 flag_seconds: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(seconds after midnight, --TMF level) of ISO 8601 values with the missing parts of the time imputed.

    first: missing parts 00 (a date alone -> 00:00:00); last: 23, 59, 59. The level is the highest part
    imputed (ADaMIG 1.3 section 3.1.3, TIMEFL): 2 = H (no time, or no hour), 1 = M (hour only),
    0 = S (hour and minute, no seconds) only when ``flag_seconds`` (seconds collected); -1 = no
    flag: the time is complete, or only the uncollected seconds were filled. A missing value: NaN, -1.
    """
    text = pd.Series(iso, copy=False).astype("string[pyarrow]").str.strip()
    parts = text.str.extract(r"T(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?")
    hour, minute, second = (pd.to_numeric(parts[i], errors="coerce").to_numpy(dtype=float) for i in range(3))
    last = impute == "last"
    seconds = (np.where(np.isnan(hour), 23 if last else 0, hour) * 3600
               + np.where(np.isnan(minute), 59 if last else 0, minute) * 60
               + np.where(np.isnan(second), 59 if last else 0, second))
    level = np.select([np.isnan(hour), np.isnan(minute), np.isnan(second) & flag_seconds], [2, 1, 0], -1)
    missing = text.isna().to_numpy() | (text == "").fillna(True).to_numpy()
    return np.where(missing, np.nan, seconds), np.where(missing, -1, level)
