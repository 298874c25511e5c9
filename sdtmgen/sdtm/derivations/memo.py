"""Per-column results shared by the derivation steps of one run.

Several steps read the same column of a domain: USUBJID in every subject lookup and grouping,
--DTC for the visit day, the baseline flag, EPOCH and --DY; each used to encode it again. Arrow
arrays are immutable, so a result computed from one can be remembered under the array's identity
(holding a reference, so that the identity cannot be reused) and handed to the next step that asks.
``run_derivations`` clears it when it finishes; a small limit bounds it for any other caller.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

_LIMIT = 12
_entries: dict[tuple[int, str], tuple[object, object]] = {}


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
    if entry is not None and entry[0] is identity:
        return entry[1]  # type: ignore[return-value]
    result = _read_only(compute())
    _entries[key] = (identity, result)
    while len(_entries) > _LIMIT:
        del _entries[next(iter(_entries))]
    return result


def clear() -> None:
    _entries.clear()
