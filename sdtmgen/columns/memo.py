"""Per-column results shared by the derivation steps of one run.

Several steps read the same column of a domain: USUBJID in every subject lookup and grouping,
--DTC for the visit day, the baseline flag, EPOCH and --DY; each used to encode it again. Arrow
arrays are immutable, so a result computed from one can be remembered under the array's identity
and handed to the next step that asks. The memo holds the array only weakly: a result goes when
its column does (e.g. when --SEQ reorders the frame), so it never keeps old columns alive.
``run_derivations`` clears it when it finishes; a limit bounds it for any other caller.
"""

from __future__ import annotations

import weakref
from typing import Callable, TypeVar

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from sdtmgen.columns.text import arrow_text

T = TypeVar("T")

_LIMIT = 64
_entries: dict[tuple[int, str], tuple[weakref.ref, object]] = {}


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
    identity = _arrow_identity(values)
    if identity is None:
        return compute()
    key = (id(identity), kind)
    entry = _entries.get(key)
    if entry is not None and entry[0]() is identity:
        return entry[1]  # type: ignore[return-value]
    result = _read_only(compute())
    _entries[key] = (weakref.ref(identity, lambda _, key=key: _entries.pop(key, None)), result)
    while len(_entries) > _LIMIT:
        del _entries[next(iter(_entries))]
    return result


def clear() -> None:
    _entries.clear()


def dictionary_encoded(values: pd.Series):
    """The Arrow dictionary encoding of a text column (distinct values + an index per record), shared
    by everything that reads the column per distinct value: codes, sort order, dates."""
    return shared(values, "dictionary", lambda: pc.dictionary_encode(arrow_text(values)))
