"""Per-column results shared by the derivation steps of one run.

Several steps read the same column of a domain: USUBJID in every subject lookup and grouping,
--DTC for the visit day, the baseline flag, EPOCH and --DY; each used to encode it again. Arrow
arrays are immutable, so a result computed from one can be remembered under the array's identity
and handed to the next step that asks. The memo holds the array only weakly: a result goes when
its column does (e.g. when --SEQ reorders the frame), so it never keeps old columns alive.

The memo belongs to a run: ``scope()`` opens one (the stage runner does, for each build or report),
held in a context variable, so two builds in two threads of one program never see each other's
entries; outside a scope every call computes its result. ``run_derivations`` clears the entries when
it finishes (their memory is needed next), and a limit bounds them.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, TypeVar

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from sdtmgen.columns.text import arrow_text

T = TypeVar("T")

_LIMIT = 64
_Entries = dict[tuple[int, str], tuple[weakref.ref, object]]
_current: ContextVar[_Entries | None] = ContextVar("sdtmgen_column_memo", default=None)
_handed: ContextVar[_Entries | None] = ContextVar("sdtmgen_column_hand_over", default=None)
_lock = threading.Lock()  # the XPT writer threads hand results over too (``hand_over``)


@contextmanager
def scope() -> Iterator[None]:
    """Share results between the steps run inside (one run); the entries go when it closes."""
    entries: _Entries = {}
    handed: _Entries = {}  # not bounded by the limit: each is taken once, or goes with its column
    token, handed_token = _current.set(entries), _handed.set(handed)
    try:
        yield
    finally:
        _current.reset(token)
        _handed.reset(handed_token)
        entries.clear()
        handed.clear()


def _arrow_identity(values: pd.Series):
    """The immutable Arrow data behind an Arrow-backed column, or None."""
    return getattr(values.array, "_pa_array", None) if isinstance(values, pd.Series) else None


def _read_only(result):
    for part in result if isinstance(result, tuple) else (result,):
        if isinstance(part, np.ndarray):
            part.flags.writeable = False
    return result


def shared(values: pd.Series, kind: str, compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned for this very column before (numpy results are read-only)."""
    entries = _current.get()
    identity = _arrow_identity(values) if entries is not None else None
    if identity is None:
        return compute()
    key = (id(identity), kind)
    entry = entries.get(key)
    if entry is not None and entry[0]() is identity:
        return entry[1]  # type: ignore[return-value]
    result = _read_only(compute())
    _put(entries, key, identity, result)
    return result


def _put(entries: _Entries, key: tuple[int, str], identity: object, result: object, limit: int = _LIMIT) -> None:
    with _lock:
        entries[key] = (weakref.ref(identity, lambda _, key=key: entries.pop(key, None)), result)
        while len(entries) > limit:
            try:
                entries.pop(next(iter(entries)), None)
            except RuntimeError:  # an entry's column went meanwhile (its weakref callback): look again
                continue


def clear() -> None:
    """Drop the current run's entries (nothing outside a run)."""
    entries = _current.get()
    if entries is not None:
        entries.clear()


def dictionary_encoded(values: pd.Series):
    """The Arrow dictionary encoding of a text column (distinct values + an index per record), shared
    by everything that reads the column per distinct value: codes, sort order, dates."""
    return shared(values, "dictionary", lambda: pc.dictionary_encode(arrow_text(values)))


def hand_over(values: pd.Series, kind: str, result: object) -> None:
    """Leave ``result`` for the next step that ``take``s it for this very column (nothing outside a run).

    One stage's encoding of a column handed to a later one instead of made again: the XPT writer, which
    dictionary-encodes each text column on its thread, hands (codes, distinct values) to define.xml."""
    entries = _handed.get()
    identity = _arrow_identity(values) if entries is not None else None
    if entries is not None and identity is not None:
        _put(entries, (id(identity), kind), identity, _read_only(result), limit=1 << 30)


def take(values: pd.Series, kind: str) -> object | None:
    """What was handed over for this very column, removed (its memory goes with the taker), or None."""
    entries = _handed.get()
    identity = _arrow_identity(values) if entries is not None else None
    if entries is None or identity is None:
        return None
    with _lock:
        entry = entries.pop((id(identity), kind), None)
    return entry[1] if entry is not None and entry[0]() is identity else None
