"""A vectorised XPT v5 reader: whole columns decoded with numpy and Arrow, no object per cell.

    frame, meta = read_xpt_columns("lb.xpt")                  # every column
    frame, meta = read_xpt_columns("lb.xpt", columns=["LBTESTCD", "LBSTRESN"])

Values come back as pyreadstat gives them (``read_xport(..., disable_datetime_conversion=True)``):
Char values without their trailing blanks ("" when blank, never missing), Num values as float64
with every SAS missing value (``.``, ``.A``-``.Z``, ``._``) as NaN. Char columns are
``string[pyarrow]`` (pyreadstat: object); text that is not ASCII is decoded with ``encoding``,
by default as UTF-8, or as Latin-1 when it is not valid UTF-8.

About 4x faster than pyreadstat on SDTM datasets (1,000-subject LB: 1.08 -> 0.30 s). ``meta`` carries what a consistency check needs from the header: dataset name
and label, and each variable's name, label, type, length and format.

``categorical=True`` gives every column as a ``pd.Categorical`` instead: the fixed-width bytes
are hashed (one pass, no object per record; up to 8 bytes as an integer key, longer text as
Arrow fixed-size binary) and only the distinct values are decoded; categories are the values in
order of first appearance, all used; missing numbers have code -1. That is what a consistency
check needs -- which values occur, and which occur together -- at a fraction of the cost and
memory. (Num values are always converted this way, once per distinct value.)

The observations are read in blocks of about a megabyte, keeping only the bytes of the wanted
columns, so reading a few columns of a large file needs memory for those columns only. A
categorical read holds even less: it factorises 262,144 records at a time and keeps only each
column's codes (1-2 bytes a record for a few thousand distinct values) and distinct values, so
its memory is about that of the Categoricals it returns, not of the columns' bytes.

Meant for reading back large files this package wrote (define.xml checks, tests); it reads files
of one member, as :func:`write_xpt` writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .layout import parse_layout

__all__ = ["XptMeta", "read_xpt_columns", "ibm_to_ieee"]

_BLANK = 0x20
_ROWS_PER_BLOCK = 262_144  # decode in blocks: bounds the temporary (rows, length) arrays
_BLOCK_BYTES = 1 << 20  # observations are read about a megabyte at a time
_SEGMENT_ROWS = 262_144  # categorical reads: records factorised this many at a time (bounds the bytes held)


@dataclass(frozen=True)
class XptMeta:
    table_name: str
    file_label: str
    column_names: list[str]
    column_labels: list[str]
    types: dict[str, str]  # name -> "Char" | "Num"
    lengths: dict[str, int]  # name -> bytes in the record (the XPT length)
    formats: dict[str, str] = field(default_factory=dict)  # name -> "DATE9." etc. ("" when none)
    number_rows: int = 0

    @property
    def column_names_to_labels(self) -> dict[str, str]:
        return dict(zip(self.column_names, self.column_labels))


def ibm_to_ieee(words: np.ndarray) -> np.ndarray:
    """IBM 370 doubles (``>u8`` words, or an ``(n, 8)`` uint8 array) -> float64; SAS missing -> NaN.

    Every IBM double this package writes converts back exactly (see :mod:`.ibm_float`); longer
    IBM fractions are rounded to the nearest double.
    """
    raw = np.ascontiguousarray(words)
    if raw.dtype == np.uint8:
        raw = raw.reshape(-1, 8).view(">u8").reshape(-1)
    bits = raw.astype(np.uint64)
    sign = (bits >> np.uint64(63)).astype(bool)
    exponent = ((bits >> np.uint64(56)) & np.uint64(0x7F)).astype(np.int64)
    fraction = bits & np.uint64((1 << 56) - 1)
    value = np.ldexp(fraction.astype(np.float64), 4 * (exponent - 64) - 56)
    value = np.where(sign, -value, value)
    # missing: first byte '.', 'A'-'Z' or '_' and a zero fraction (sign bit clear)
    first = (bits >> np.uint64(56)).astype(np.uint8)
    missing = (fraction == 0) & ((first == 0x2E) | ((first >= 0x41) & (first <= 0x5A)) | (first == 0x5F))
    value[missing] = np.nan
    return value


def _decode_char(block: np.ndarray, encoding: str | None = None):
    """(rows, length) uint8 -> a pyarrow string array of the values without trailing blanks."""
    import pyarrow as pa

    rows, width = block.shape
    if rows == 0 or width == 0:
        return pa.array([""] * rows, type=pa.string())
    filled = block != _BLANK
    filled[block == 0] = False  # NUL padding (other writers) counts as blank, as in ReadStat
    # length = 1 + position of the last non-blank byte (0 when all blank)
    last = width - np.argmax(filled[:, ::-1], axis=1)
    lengths = np.where(filled.any(axis=1), last, 0).astype(np.int64)
    keep = np.arange(width) < lengths[:, None]
    data = block[keep]  # row-major: the values back to back
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    array = pa.LargeStringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
    if not (data >= 0x80).any():
        return array  # ASCII: the bytes are the text
    if encoding is None:
        try:
            array.validate(full=True)  # valid UTF-8
            return array
        except pa.ArrowInvalid:
            encoding = "latin-1"
    text = [bytes(data[a:b]).decode(encoding) for a, b in zip(offsets[:-1], offsets[1:])]
    return pa.array(text, type=pa.large_string())


def _read_header(path: str):
    """The layout of the header records only (the observations are not read twice)."""
    with open(path, "rb") as fh:
        head = fh.read(640)
        nvar = int(head[614:618]) if len(head) == 640 and head[614:618].isdigit() else 0
        namestr_size = int(head[314:318]) if head[314:318].isdigit() else 140
        size = 640 + nvar * namestr_size
        size += -size % 80
        head += fh.read(size + 80 - 640)
    return parse_layout(head)


def _record_count(fh, offset: int, reclen: int) -> int:
    """Observations in the file: the last 80-byte record is blank padded, and trailing all-blank
    records are padding, as ReadStat reads it."""
    if not reclen:
        return 0
    fh.seek(0, os.SEEK_END)
    n = max(0, (fh.tell() - offset) // reclen)
    rows = 80 // reclen + 2  # the padding and a record: usually one small read
    while n:
        rows = min(n, rows)
        fh.seek(offset + (n - rows) * reclen)
        tail = np.frombuffer(fh.read(rows * reclen), dtype=np.uint8).reshape(rows, reclen)
        filled = np.flatnonzero((tail != _BLANK).any(axis=1))
        if len(filled):
            return n - rows + int(filled[-1]) + 1
        n -= rows
        rows = min(rows * 2, max(1, _BLOCK_BYTES // reclen))
    return 0


def _segments(fh, offset: int, reclen: int, n: int, fields: list[tuple[int, int]],
              segment_rows: int) -> Iterator[list[np.ndarray]]:
    """For each ``(position, width)``, the ``width`` bytes at ``position`` of every record as contiguous byte
    strings (numpy ``V<width>``), ``segment_rows`` records (rounded to whole blocks) at a time; the
    observations are read block by block. The arrays of one segment are reused for the next: callers
    take what they need before asking for the next. A field may reach past its variable (into the next
    one, or past the record: the buffer has room): callers mask it."""
    block_rows = max(1, _BLOCK_BYTES // reclen) if reclen else 1
    segment_rows = max(1, -(-segment_rows // block_rows)) * block_rows
    held = [np.empty(min(segment_rows, n), dtype=f"V{width}") for _, width in fields]
    buffer = np.zeros(block_rows * reclen + 8, dtype=np.uint8)
    fh.seek(offset)
    for first in range(0, n, segment_rows):
        size = min(segment_rows, n - first)
        for start in range(0, size, block_rows):
            rows = min(block_rows, size - start)
            if fh.readinto(memoryview(buffer)[: rows * reclen]) != rows * reclen:
                raise ValueError(f"{fh.name}: file ends inside observation {first + start + 1}")
            for (position, _), column in zip(fields, held):  # one field of every record: a strided view
                column[start:start + rows] = np.ndarray((rows,), dtype=column.dtype, buffer=buffer, offset=position,
                                                        strides=(reclen,))
        yield [column[:size] for column in held]


def _read_columns(fh, offset: int, reclen: int, n: int, fields: list[tuple[int, int]]) -> list[np.ndarray]:
    """``_segments`` of the whole file: each field of every record, as ``n`` contiguous byte strings."""
    return next(_segments(fh, offset, reclen, n, fields, n), None) or [np.empty(0, dtype=f"V{w}") for _, w in fields]


def _key_width(length: int) -> int:
    """Bytes read for a Char variable of ``length`` bytes: 1, 2, 4 or 8 (an integer key), else ``length``."""
    return next((k for k in (1, 2, 4, 8) if length <= k), length)


def _number_keys(raw: np.ndarray) -> np.ndarray:
    """IBM doubles (``V<length>``; lengths 3-7: truncated fraction) -> their 8 bytes as integers (zero padded)."""
    width = raw.dtype.itemsize
    if width != 8:
        padded = np.zeros((len(raw), 8), dtype=np.uint8)
        padded[:, :width] = raw.view(np.uint8).reshape(-1, width)
        raw = padded.view("V8").reshape(-1)
    return raw.view("<u8")


def _numbers(raw: np.ndarray) -> np.ndarray:
    """IBM doubles (``V<length>``) -> float64, SAS missing values as NaN; each distinct value converted once."""
    codes, distinct = pd.factorize(_number_keys(raw))  # the bits, as any integer
    return ibm_to_ieee(np.asarray(distinct, dtype="<u8").view(">u8"))[codes]


def _categorical(codes: np.ndarray, renumber: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """``Categorical`` of ``renumber[codes]`` (renumber: the distinct raw values -> categories, -1 missing)."""
    if len(renumber) != len(categories) or not np.array_equal(renumber, np.arange(len(renumber))):
        codes = renumber[codes]  # only when raw values merged (padding, missing values); usually they do not
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories), validate=False)


def _bytes(raw: np.ndarray) -> np.ndarray:
    """``V<length>`` strings -> the ``(n, length)`` uint8 array of their bytes (a view)."""
    return raw.view(np.uint8).reshape(len(raw), raw.dtype.itemsize)


def _texts(raw: np.ndarray, encoding: str | None) -> pd.arrays.ArrowStringArray:
    import pyarrow as pa

    n, block = len(raw), _bytes(raw)
    chunks = [_decode_char(block[start:min(start + _ROWS_PER_BLOCK, n)], encoding)
              for start in range(0, n, _ROWS_PER_BLOCK)] or [pa.array([], type=pa.large_string())]
    return pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()))


def _code_dtype(count: int) -> type:
    """The narrowest integer type for codes 0 .. count - 1 (as pandas keeps a Categorical's codes)."""
    return next((t for t in (np.int8, np.int16, np.int32) if count < np.iinfo(t).max), np.int64)


def _keys(raw: np.ndarray, ns) -> np.ndarray:
    """One segment of a field (``V<width>``) as hashable keys: Num the 8 bytes as an integer; Char up to 8
    bytes an integer of ``_key_width`` bytes (the bytes past the variable masked off), longer text as is."""
    if ns.ntype == 1:
        return _number_keys(raw)
    width = raw.dtype.itemsize
    if width > 8:
        return raw
    keys = raw.view(f"<u{width}")
    if ns.nlng < width:
        keys = keys & np.array((1 << 8 * ns.nlng) - 1, dtype=keys.dtype)
    return keys


def _factorise(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each key, the distinct keys in order of first appearance): integers by pandas, fixed-width
    bytes (``V<width>``) by Arrow's dictionary encoding as fixed-size binary. One hash pass either way."""
    if keys.dtype.kind != "V":
        codes, distinct = pd.factorize(keys)
        return codes, np.asarray(distinct, dtype=keys.dtype)
    import pyarrow as pa
    import pyarrow.compute as pc

    width = keys.dtype.itemsize
    keys = np.ascontiguousarray(keys)
    encoded = pc.dictionary_encode(pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(keys),
                                                                        [None, pa.py_buffer(keys)]))
    distinct = np.frombuffer(encoded.dictionary.buffers()[1], dtype=keys.dtype, count=len(encoded.dictionary))
    return encoded.indices.to_numpy(), distinct.copy()  # nothing left pointing into ``keys``


def _read_categoricals(fh, offset: int, reclen: int, n: int, namestrs: list, encoding: str | None) -> dict:
    """Every variable of ``namestrs`` as a Categorical (see ``read_xpt_columns``), the records read and
    factorised ``_SEGMENT_ROWS`` at a time: only one segment's bytes of the wanted fields are held, with
    each column's codes so far (the narrowest integers for the segment's distinct keys) and distinct keys.
    The distinct keys of all segments, in segment order, are then factorised once more: that numbers
    them in order of first appearance in the file, and the segment codes are renumbered."""
    fields = [(ns.npos, ns.nlng if ns.ntype == 1 else _key_width(ns.nlng)) for ns in namestrs]
    parts: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in namestrs]
    for segment in _segments(fh, offset, reclen, n, fields, _SEGMENT_ROWS):
        for ns, raw, (codes, keys) in zip(namestrs, segment, parts):
            if ns.ntype == 1 or ns.nlng:
                found, distinct = _factorise(_keys(raw, ns))
                codes.append(found.astype(_code_dtype(len(distinct)), copy=False))
                keys.append(distinct)
    out: dict[str, pd.Categorical] = {}
    for ns, (_, width), (codes, keys) in zip(namestrs, fields, parts):
        if ns.ntype != 1 and (n == 0 or ns.nlng == 0):
            out[ns.nname] = pd.Categorical([""] * n)
            continue
        if ns.ntype == 1:
            empty = np.empty(0, dtype="<u8")
        else:
            empty = np.empty(0, dtype=f"V{width}" if width > 8 else f"<u{width}")
        renumber_keys, distinct = _factorise(np.concatenate(keys) if keys else empty)
        dtype = _code_dtype(len(distinct))
        merged = np.empty(n, dtype=dtype)
        row = key = 0
        for found, seen in zip(codes, keys):  # the segment's codes -> codes of the distinct keys of the file
            np.take(renumber_keys[key:key + len(seen)].astype(dtype), found, out=merged[row:row + len(found)])
            row, key = row + len(found), key + len(seen)
        del codes[:], keys[:]
        out[ns.nname] = _category_values(merged, distinct, ns, encoding)
    return out


def _category_values(codes: np.ndarray, distinct: np.ndarray, ns, encoding: str | None) -> pd.Categorical:
    """The Categorical of a column from its codes and distinct keys: only the distinct values decoded.
    Keys that decode to one value ("A" padded with blanks or with NULs; the SAS missing numbers, all NaN)
    become one category."""
    import pyarrow as pa

    if ns.ntype == 1:
        numbers = ibm_to_ieee(distinct.view(">u8"))
        renumber, categories = pd.factorize(numbers)  # the missing values (., .A-.Z, ._) are one NaN: code -1
        return _categorical(codes, renumber, pd.Index(categories, dtype=np.float64))
    width = distinct.dtype.itemsize
    as_bytes = distinct.view(np.uint8).reshape(-1, width)[:, :ns.nlng]
    texts = pd.arrays.ArrowStringArray(pa.chunked_array([_decode_char(np.ascontiguousarray(as_bytes), encoding)]))
    renumber, categories = pd.factorize(texts)
    return _categorical(codes, renumber, pd.Index(np.asarray(categories, dtype=object)))


def read_xpt_columns(path: str | os.PathLike[str], columns: Sequence[str] | None = None,
                     metadata_only: bool = False, encoding: str | None = None,
                     categorical: bool = False) -> tuple[pd.DataFrame, XptMeta]:
    """Read one XPT v5 dataset (all columns, or ``columns`` in file order); see the module doc.

    ``encoding`` decodes text that is not ASCII (e.g. "cp1252"); by default UTF-8, else Latin-1.
    ``categorical``: every column as a ``pd.Categorical`` (distinct values decoded once).
    """
    path = os.fspath(path)
    layout = _read_header(path)
    names = [n.nname for n in layout.namestrs]
    wanted = names if columns is None else [c for c in names if c in set(columns)]
    missing = sorted(set(columns or []) - set(names))
    if missing:
        raise KeyError(f"{path}: no variable(s) {missing}")
    reclen = layout.record_length
    with open(path, "rb") as fh:
        n = _record_count(fh, layout.data_offset, reclen)
        meta = XptMeta(
            table_name=layout.dataset_name,
            file_label=layout.dataset_label,
            column_names=names,
            column_labels=[n.nlabel for n in layout.namestrs],
            types={n.nname: "Num" if n.ntype == 1 else "Char" for n in layout.namestrs},
            lengths={n.nname: n.nlng for n in layout.namestrs},
            formats={n.nname: (n.nform + (str(n.nfl) if n.nfl else "") + "." + (str(n.nfd) if n.nfd else "")
                               if n.nform or n.nfl else "") for n in layout.namestrs},
            number_rows=n,
        )
        if metadata_only:
            return pd.DataFrame(columns=wanted), meta
        namestrs = [ns for ns in layout.namestrs if ns.nname in set(wanted)]
        if categorical:
            return pd.DataFrame(_read_categoricals(fh, layout.data_offset, reclen, n, namestrs, encoding),
                                columns=wanted), meta
        raw = _read_columns(fh, layout.data_offset, reclen, n, [(ns.npos, ns.nlng) for ns in namestrs])
    out: dict[str, object] = {}
    for ns in namestrs:
        column = raw.pop(0)  # each column's bytes are freed once decoded
        out[ns.nname] = _numbers(column) if ns.ntype == 1 else _texts(column, encoding)
    return pd.DataFrame(out, columns=wanted), meta
