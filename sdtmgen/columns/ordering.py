"""Record order and grouping on integer codes instead of the text itself.

Sorting or grouping half a million records by several text columns through ``sort_values`` /
``groupby`` compares strings again and again and copies the whole frame. Here every column becomes
integer codes once (Arrow's dictionary encoding for text), codes of several columns are packed into
one int64 where they fit, and the order is one stable integer sort -- or nothing at all when the
records are already in order (finalise sees frames that --SEQ has just sorted), which comparing
neighbouring rows tells cheaply.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.columns import memo
from sdtmgen.columns.text import arrow_text, valid_mask

_PACK_LIMIT = 2 ** 62


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` (missing -> -1, distinct values in order of appearance); for Arrow text the
    column's shared dictionary encoding."""
    if isinstance(values.dtype, np.dtype) and values.dtype == object and len(values):
        return _object_factorize(values)
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return pd.factorize(values, use_na_sentinel=True)

    def from_dictionary():
        encoded = memo.dictionary_encoded(values)
        return dictionary_codes(encoded.indices), pd.Index(pd.arrays.ArrowStringArray(encoded.dictionary))

    return memo.shared(values, "factorize", from_dictionary)


def _object_factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize`` of an object column (e.g. ``_FILE``: one Python string repeated on every
    record) by the identity of its objects first: the same object is the same value, so hashing the
    pointers (or seeing they are all one) and then the few distinct objects gives the same codes and
    table in order of appearance, without hashing and comparing a Python string per record."""
    objects = np.ascontiguousarray(values.to_numpy(dtype=object))
    n = len(objects)
    identities = np.ctypeslib.as_array((ctypes.c_ssize_t * n).from_address(objects.ctypes.data)).copy()
    if (identities == identities[0]).all():
        inverse, first = np.zeros(n, dtype=np.intp), np.zeros(1, dtype=np.intp)
    else:
        inverse, _ = pd.factorize(identities)
        # codes come in order of appearance: an object is first seen where the running maximum grows
        first = np.flatnonzero(np.diff(np.maximum.accumulate(inverse), prepend=-1) > 0)
    codes, uniques = pd.factorize(pd.Series(objects[first], dtype=object), use_na_sentinel=True)
    return codes[inverse], uniques


def dictionary_codes(indices: pa.Array) -> np.ndarray:
    """The integer indices of a dictionary encoding as intp, missing -> -1 (read from the buffers: one
    copy, where filling the nulls first and converting would make three)."""
    raw = np.frombuffer(indices.buffers()[1], dtype=indices.type.to_pandas_dtype())[
        indices.offset: indices.offset + len(indices)]
    codes = raw.astype(np.intp)
    if indices.null_count:
        codes[~valid_mask(indices)] = -1
    return codes


def with_missing(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes where missing is a value of its own (the last one of the table), and that table as text."""
    codes, uniques = factorize(values)
    table = pd.concat([pd.Series(uniques).astype("string[pyarrow]"), pd.Series([pd.NA], dtype="string[pyarrow]")], ignore_index=True)
    return np.where(codes < 0, len(uniques), codes), table


def dense_codes(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 of integer keys in [0, space) and the distinct keys (ascending)."""
    if space > 4 * len(keys) + 4096:
        codes, distinct = pd.factorize(keys, sort=True)
        return codes, np.asarray(distinct)
    seen = np.zeros(space, dtype=bool)
    seen[keys] = True
    return (np.cumsum(seen) - 1)[keys], np.flatnonzero(seen)


def codes_over(parts: list[pd.Series], sort: bool = False) -> tuple[np.ndarray, pd.Index]:
    """Codes over the concatenation of ``parts`` (missing -> -1) and their table of distinct values,
    from each part's own (shared) encoding; ``sort``: codes in the order of the values."""
    encoded = [factorize(part) for part in parts]
    table = encoded[0][1].append([uniques for _, uniques in encoded[1:]]).unique()
    if sort:
        table = table.sort_values()
    codes = [np.where(c >= 0, table.get_indexer(u)[np.maximum(c, 0)] if len(u) else -1, -1) for c, u in encoded]
    return np.concatenate(codes), table


def order_codes(values: pd.Series, na_first: bool = True) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 that sort like ``values`` (missing values first or last), and k."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu" and len(values):
        # integers (e.g. _ROW) are their own order codes when their range is not much wider than n
        numbers = values.to_numpy()
        low, high = int(numbers.min()), int(numbers.max())
        if high - low < 4 * len(numbers):
            return numbers.astype(np.int64) - low, high - low + 1
    codes, uniques = factorize(values)
    n = len(uniques)
    # the code of each distinct value (its rank, after missing or before it), missing's in the last
    # slot, which code -1 reads: one gather per record
    table = np.empty(n + 1, dtype=np.int64)
    table[uniques.argsort()] = np.arange(1, n + 1) if na_first else np.arange(n)
    table[n] = 0 if na_first else n
    return table[codes], n + 1


def pack(columns: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Pack (codes, cardinality) columns, most significant first, into as few int64 keys as fit."""
    keys: list[np.ndarray] = []
    key, span = None, 1
    for codes, size in columns:
        size = max(size, 1)
        if key is None:
            key, span = codes, size
        elif span * size < _PACK_LIMIT:
            key = key * size  # (a new array: the codes given are not changed)
            key += codes
            span *= size
        else:
            keys.append(key)
            key, span = codes, size
    if key is not None:
        keys.append(key)
    return keys


def stable_order(keys: list[np.ndarray]) -> np.ndarray:
    """The stable permutation that sorts rows by ``keys`` (most significant first)."""
    if len(keys) == 1:
        return np.argsort(keys[0], kind="stable")
    return np.lexsort(keys[::-1])


def _neighbours(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r in ``rows``: value[r] < value[r + 1], value[r] == value[r + 1] (missing first)."""
    n = len(values)
    every = len(rows) > (n - 1) // 4  # comparing two shifted slices beats gathering most rows
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        text = arrow_text(values)
        a, b = (text.slice(0, n - 1), text.slice(1)) if every else (text.take(pa.array(rows)),
                                                                    text.take(pa.array(rows + 1)))
        a_missing, b_missing = ~valid_mask(a), ~valid_mask(b)
        equal = pc.equal(a, b)
        equal = np.asarray(equal.fill_null(False) if equal.null_count else equal)
        # text is compared for order only where it differs: in sorted records most neighbours
        # are equal in the leading keys (study, subject, test), so one kernel call instead of two
        differ = np.flatnonzero(~(equal | a_missing | b_missing))
        if len(differ) > len(a) // 4:
            less = pc.less(a, b)
            less = np.asarray(less.fill_null(False) if less.null_count else less)
        else:
            less = np.zeros(len(a), dtype=bool)
            if len(differ):
                at = pa.array(differ)
                less[differ] = np.asarray(pc.less(a.take(at), b.take(at)))
    else:
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iufbmM":
            numbers = values.to_numpy()
        else:  # text in object columns (e.g. _FILE), categories, nullable numbers: their sort codes
            numbers = order_codes(values)[0]
        a, b = (numbers[:-1], numbers[1:]) if every else (numbers[rows], numbers[rows + 1])
        a_missing, b_missing = pd.isna(a), pd.isna(b)
        with np.errstate(invalid="ignore"):
            less, equal = a < b, a == b
    less = less & ~a_missing | a_missing & ~b_missing
    equal = equal & ~a_missing | a_missing & b_missing
    return (less, equal) if not every or len(rows) == n - 1 else (less[rows], equal[rows])


def already_sorted(frame: pd.DataFrame, columns: list[str]) -> bool:
    """Whether the rows are in ascending order of ``columns`` (missing first), comparing neighbours
    only -- far cheaper than encoding every column when they are (the usual case in finalise)."""
    undecided = np.arange(len(frame) - 1)
    for col in columns:
        if not len(undecided):
            break
        less, equal = _neighbours(frame[col], undecided)
        if not (less | equal).all():
            return False
        undecided = undecided[equal]
    return True


def key_order(frame: pd.DataFrame, columns: list[str], likely_sorted: bool = True) -> np.ndarray | None:
    """Stable permutation sorting ``frame`` by ``columns`` (missing first); None when already sorted.

    ``likely_sorted``: compare neighbours first (cheap when they are in order); otherwise sort at
    once and only then see whether anything moved.
    """
    if len(frame) < 2 or not columns or (likely_sorted and already_sorted(frame, columns)):
        return None
    order = stable_order(pack([order_codes(frame[col]) for col in columns]))
    return None if (order == np.arange(len(order))).all() else order


def has_range_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def take_records(frame: pd.DataFrame, order: np.ndarray | None) -> pd.DataFrame:
    """The rows in ``order`` with a fresh 0..n-1 index (``frame`` itself when nothing moves)."""
    if order is None:
        return frame if has_range_index(frame) else frame.reset_index(drop=True)
    taken = frame.take(order)
    taken.index = pd.RangeIndex(len(taken))
    return taken


def move_records(frame: pd.DataFrame, order: np.ndarray | None) -> pd.DataFrame:
    """``take_records`` that moves the columns out of ``frame`` one at a time (``frame`` is left empty),
    so that a reordered domain never exists twice in memory: only one column does, briefly."""
    if order is None:
        return take_records(frame, None)
    columns = {}
    positions = pa.array(order)  # made once: pandas' take converts and bounds-checks it per column
    for name in list(frame.columns):
        values = frame[name]
        if isinstance(values.array, pd.arrays.ArrowStringArray) and values.dtype.na_value is pd.NA:
            columns[name] = pd.arrays.ArrowStringArray(values.array._pa_array.take(positions))
        elif isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
            columns[name] = values.array.take(order)
        else:
            columns[name] = values.to_numpy()[order]
        del values
        del frame[name]
    return pd.DataFrame(columns, index=pd.RangeIndex(len(order)), copy=False)  # (a dict is copied by default)


def group_codes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One code per distinct combination of ``columns``; -1 where any of them is missing."""
    combined = None
    missing = np.zeros(len(frame), dtype=bool)
    for col in columns:
        codes, uniques = factorize(frame[col])
        missing |= codes < 0
        codes = codes.astype(np.int64)
        if combined is None:
            combined, span = codes, len(uniques)
        else:
            if span * len(uniques) >= _PACK_LIMIT:  # re-densify before the product overflows
                combined, dense = pd.factorize(combined)
                span = len(dense)
            combined, span = combined * len(uniques) + codes, span * max(len(uniques), 1)
    if combined is None:
        return np.zeros(len(frame), dtype=np.int64)
    return np.where(missing, -1, combined)


def cumcount(codes: np.ndarray) -> np.ndarray:
    """0, 1, 2... in row order within each group code (like groupby().cumcount(), codes >= 0)."""
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    ranked = codes[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = ranked[1:] != ranked[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - first
    return out


def lookup(values: pd.Series, table: pd.Index) -> np.ndarray:
    """Position of each value in the (small) ``table``; -1 when absent or missing."""
    codes, uniques = factorize(values)
    positions = table.get_indexer(pd.Index(uniques)) if len(uniques) else np.zeros(0, dtype=np.intp)
    return np.where(codes >= 0, positions[np.maximum(codes, 0)] if len(positions) else -1, -1)
