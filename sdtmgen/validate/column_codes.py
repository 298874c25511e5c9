"""Codes of a text column, hashed once and shared by the validation, define.xml and ADaM steps of a stage.

The schema checks (codelists, ISO 8601 per distinct value), the conformance rules (per subject,
date, epoch), define.xml's distinct values and value-level items, and the ADaM rules each used to
factorise the same Arrow text columns of a dataset (USUBJID, --DTC, --TESTCD, EPOCH ...) on their
own: one hash pass over every record each time. Arrow arrays are immutable, so the codes computed
for one can be handed to the next reader of the very same array. The memo holds the array only
weakly (an entry goes with its column), keeps at most ``_LIMIT_BYTES`` of codes (oldest first out)
and is emptied by :func:`clear` when a stage that filled it ends, so that it never adds to the
memory of the stages after it.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

_LIMIT_BYTES = 64 << 20
_entries: dict[int, tuple[weakref.ref, np.ndarray, pd.Index]] = {}


def _arrow_text(values) -> object | None:
    """The immutable Arrow data behind Arrow-backed text, or None."""
    array = values.array if isinstance(values, (pd.Series, pd.Index)) else values
    if isinstance(array, pd.arrays.ArrowStringArray):
        return getattr(array, "_pa_array", None)
    return None


def _held() -> int:
    return sum(entry[1].nbytes for entry in _entries.values())


def factorised(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values.array)``: int32 code of each record (-1: missing; read-only) and the distinct
    non-missing values in order of first appearance, remembered for Arrow-backed text."""
    identity = _arrow_text(values)
    if identity is None:
        array = values.array if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else values.to_numpy()
        codes, uniques = pd.factorize(array, use_na_sentinel=True)
        return codes.astype(np.int32 if len(uniques) < 2**31 - 1 else np.int64, copy=False), pd.Index(uniques)
    key = id(identity)
    entry = _entries.get(key)
    if entry is not None and entry[0]() is identity:
        return entry[1], entry[2]
    codes, uniques = pd.factorize(values.array, use_na_sentinel=True)
    codes = codes.astype(np.int32, copy=False)  # Arrow text arrays have fewer than 2**31 values
    codes.flags.writeable = False
    uniques = pd.Index(uniques)
    if codes.nbytes <= _LIMIT_BYTES:
        _entries[key] = (weakref.ref(identity, lambda _, key=key: _entries.pop(key, None)), codes, uniques)
        while _held() > _LIMIT_BYTES:
            del _entries[next(iter(_entries))]
    return codes, uniques


def clear() -> None:
    """Forget every entry (the end of a stage that shared codes)."""
    _entries.clear()
