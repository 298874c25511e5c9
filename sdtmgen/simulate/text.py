"""Raw-export text formats: dates (``DD MON YYYY`` with ``UN``/``UNK``/``UNKN`` parts), times
(``HH:MM``) and numbers, formatted by look-up over the unique values so that millions of cells cost
little.

Internally a date is an integer day number (days since 1970-01-01) and a subject's chemotherapy day N
maps to ``day1 + N - 1`` for N >= 1 and ``day1 + N`` for N <= -1 (there is no day 0).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

MONTHS = np.array(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
_EPOCH = dt.date(1970, 1, 1)


def epoch_day(date: dt.date) -> int:
    return (date - _EPOCH).days


def chemo_day_offset(day):
    """Chemotherapy day -> days after day 1 (no day 0)."""
    day = np.asarray(day)
    return np.where(day >= 1, day - 1, day)


def _by_table(keys: np.ndarray, label, dense_limit: int = 200_000) -> np.ndarray:
    """label(key) for every key, computing each distinct label once."""
    lo, hi = int(keys.min()), int(keys.max())
    if hi - lo <= dense_limit:
        used = np.zeros(hi - lo + 1, bool)
        used[keys - lo] = True
        table = np.full(hi - lo + 1, "", dtype=object)
        for i in np.flatnonzero(used):
            table[i] = label(lo + int(i))
        return table[keys - lo]
    uniq, inv = np.unique(keys, return_inverse=True)
    return np.array([label(int(u)) for u in uniq], dtype=object)[inv]


def _one_date(day: int) -> str:
    d = _EPOCH + dt.timedelta(days=int(day))
    return f"{d.day:02d} {MONTHS[d.month - 1]} {d.year:04d}"


def format_dates(days, present=None, unknown_day=None, unknown_month=None) -> np.ndarray:
    """Day numbers -> 'DD MON YYYY' text; '' where not present; 'UN MON YYYY' / 'UN UNK YYYY' partials."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(days.shape, "", dtype=object)
    present = np.ones(days.shape, bool) if present is None else np.asarray(present, bool)
    if present.any():
        out[present] = _by_table(days[present], _one_date)
    if unknown_day is not None:
        mask = present & np.asarray(unknown_day, bool)
        out[mask] = np.array(["UN" + s[2:] for s in out[mask]], dtype=object)
    if unknown_month is not None:
        mask = present & np.asarray(unknown_month, bool)
        out[mask] = np.array(["UN UNK " + s[-4:] for s in out[mask]], dtype=object)
    return out


_TIMES = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60)], dtype=object)


def format_times(mins, present=None) -> np.ndarray:
    """Minutes after midnight -> 'HH:MM' ('' where not present); clipped into the day."""
    mins = np.clip(np.asarray(mins, dtype=np.int64), 0, 24 * 60 - 1)
    out = _TIMES[mins]
    if present is not None:
        out = np.where(np.asarray(present, bool), out, "").astype(object)
    return out


def format_fixed(values, decimals: int, present=None) -> np.ndarray:
    """Numbers -> fixed-point text with `decimals` places ('' where not present or not finite)."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) if present is None else (np.asarray(present, bool) & np.isfinite(values))
    out = np.full(values.shape, "", dtype=object)
    if ok.any():
        scaled = np.rint(values[ok] * 10**decimals).astype(np.int64)
        out[ok] = _by_table(scaled, lambda u: f"{u / 10**decimals:.{decimals}f}")
    return out


def format_number(value: float) -> str:
    """A spec number as the CRF shows it: 3 -> '3', 1.5 -> '1.5'."""
    return f"{value:g}"
