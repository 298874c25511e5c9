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

Meant for reading back large files this package wrote (define.xml checks, tests); it reads files
of one member, as :func:`write_xpt` writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .layout import parse_layout

__all__ = ["XptMeta", "read_xpt_columns", "ibm_to_ieee"]

_BLANK = 0x20
_ROWS_PER_BLOCK = 262_144  # decode in blocks: bounds the temporary (rows, length) arrays


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


def read_xpt_columns(path: str | os.PathLike[str], columns: Sequence[str] | None = None,
                     metadata_only: bool = False, encoding: str | None = None) -> tuple[pd.DataFrame, XptMeta]:
    """Read one XPT v5 dataset (all columns, or ``columns`` in file order); see the module doc.

    ``encoding`` decodes text that is not ASCII (e.g. "cp1252"); by default UTF-8, else Latin-1.
    """
    import pyarrow as pa

    layout = _read_header(os.fspath(path))
    names = [n.nname for n in layout.namestrs]
    meta = XptMeta(
        table_name=layout.dataset_name,
        file_label=layout.dataset_label,
        column_names=names,
        column_labels=[n.nlabel for n in layout.namestrs],
        types={n.nname: "Num" if n.ntype == 1 else "Char" for n in layout.namestrs},
        lengths={n.nname: n.nlng for n in layout.namestrs},
        formats={n.nname: (n.nform + (str(n.nfl) if n.nfl else "") + "." + (str(n.nfd) if n.nfd else "")
                           if n.nform or n.nfl else "") for n in layout.namestrs},
    )
    reclen = layout.record_length
    data = np.fromfile(os.fspath(path), dtype=np.uint8, offset=layout.data_offset)
    n = len(data) // reclen if reclen else 0
    records = data[: n * reclen].reshape(n, reclen) if reclen else np.empty((0, 0), np.uint8)
    # the last 80-byte record is blank padded: trailing all-blank records are padding, as ReadStat reads it
    while n and not (records[n - 1] != _BLANK).any():
        n -= 1
    records = records[:n]
    meta = XptMeta(**{**meta.__dict__, "number_rows": n})
    wanted = names if columns is None else [c for c in names if c in set(columns)]
    missing = sorted(set(columns or []) - set(names))
    if missing:
        raise KeyError(f"{path}: no variable(s) {missing}")
    if metadata_only:
        return pd.DataFrame(columns=wanted), meta
    out: dict[str, object] = {}
    for ns in layout.namestrs:
        if ns.nname not in wanted:
            continue
        a, b = ns.npos, ns.npos + ns.nlng
        if ns.ntype == 1:
            values = np.empty(n, dtype=np.float64)
            for start in range(0, n, _ROWS_PER_BLOCK):
                stop = min(start + _ROWS_PER_BLOCK, n)
                words = np.zeros((stop - start, 8), dtype=np.uint8)  # lengths 3-7: truncated fraction
                words[:, : ns.nlng] = records[start:stop, a:b]
                values[start:stop] = ibm_to_ieee(words)
            out[ns.nname] = values
        else:
            chunks = [_decode_char(np.ascontiguousarray(records[start:min(start + _ROWS_PER_BLOCK, n), a:b]), encoding)
                      for start in range(0, n, _ROWS_PER_BLOCK)] or [pa.array([], type=pa.large_string())]
            out[ns.nname] = pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()))
    return pd.DataFrame(out, columns=wanted), meta
