"""The one writer of the CSV files people open (ard.csv, reports/*.csv, lineage).

Column-wise with Arrow kernels: the same bytes as ``DataFrame.to_csv(index=False,
lineterminator="\\n")`` for integer and text columns, without the per-cell Python formatting pandas
does (the lineage files have a row per record: millions).

Formula injection (OWASP "CSV Injection"): a text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is written with a single quote ``'`` in front, so a spreadsheet shows it
as text instead of running it (``=HYPERLINK(...)`` from a raw AE term). Text that is a plain number
(``-1.5``, ``+3``, ``-2e-3``, ``-Inf``) is left as it is, and so are number columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NEEDS_QUOTES = r'[,"\n]'  # csv.QUOTE_MINIMAL: delimiter, quote char or a line terminator ("\n") character
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|inf|Infinity)$"


def neutralise(text: pa.Array) -> pa.Array:
    """Text cells a spreadsheet would read as a formula, prefixed with ``'`` (plain numbers kept)."""
    risky = pc.and_(pc.match_substring_regex(text, _FORMULA_START),
                    pc.invert(pc.match_substring_regex(text, _PLAIN_NUMBER)))
    if not pc.any(risky).as_py():
        return text
    prefixed = pc.binary_join_element_wise(pa.scalar("'", text.type), text, pa.scalar("", text.type))
    return pc.if_else(risky, prefixed, text)


def neutralise_cell(value: str) -> str:
    """:func:`neutralise` for one value."""
    return neutralise(pa.array([value], pa.large_string()))[0].as_py()


def _quote(text: pa.Array) -> pa.Array:
    """Fields as csv.QUOTE_MINIMAL writes them: quoted (inner quotes doubled) only when needed."""
    mark = pa.scalar('"', pa.large_string())
    quoted = pc.binary_join_element_wise(mark, pc.replace_substring(text, '"', '""'), mark,
                                         pa.scalar("", pa.large_string()))
    return pc.if_else(pc.match_substring_regex(text, _NEEDS_QUOTES), quoted, text)


def _field_text(values: pd.Series, end: str = "") -> pa.Array | None:
    """The CSV text of one column followed by ``end`` (the last column's: the line's end); None for dtypes
    this writer does not format like pandas."""
    dtype = values.dtype
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        text = pc.fill_null(pc.cast(pa.array(values), pa.large_string()), "")
        return _ended(text, end)
    if pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        coded = _str_objects_coded(values) if dtype == object else None
        if coded is None:
            try:
                text = pa.array(values.astype("string[pyarrow]"), type=pa.large_string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # object column holding non-text values
                return None
            coded = pc.dictionary_encode(pc.fill_null(text, ""))
        # neutralised, quoted and ended once per distinct value
        return pc.take(_ended(_quote(neutralise(coded.dictionary)), end), coded.indices)
    return None


def _ended(text: pa.Array, end: str) -> pa.Array:
    if not end:
        return text
    return pc.binary_join_element_wise(text, pa.scalar("", pa.large_string()), pa.scalar(end, pa.large_string()))


def _str_objects_coded(values: pd.Series) -> pa.DictionaryArray | None:
    """An object column of Python strings (and missing values) as Arrow dictionary codes, missing as "",
    with only the distinct strings converted (the lineage's raw file names: a few values, millions of
    records); None when it holds anything else. Equal objects share a code, and a ``str`` equals only a
    ``str``, so the codes are those of the text."""
    codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
    if not all(type(u) is str for u in uniques):
        return None
    dictionary = pa.array([*uniques, ""], type=pa.large_string())  # the last entry: missing
    indices = np.where(codes < 0, len(uniques), codes).astype(np.int32, copy=False)
    return pa.DictionaryArray.from_arrays(pa.array(indices), dictionary)


def _neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns neutralised (for the columns pandas formats)."""
    out = frame.copy(deep=False)
    for column in frame.columns:
        values = frame[column]
        kind = values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype) else values
        text_like = (pd.api.types.is_string_dtype(kind.dtype)
                     and pd.api.types.infer_dtype(kind, skipna=True) in ("string", "empty"))
        if text_like:
            array = pa.array(values.astype("string[pyarrow]"), type=pa.large_string())
            out[column] = pd.Series(neutralise(array).to_pandas(), index=frame.index, dtype=object)
    return out


#: rows formatted at a time: the text of a slice, not of the whole frame, is in memory at once
#: (the lineage of LB and VS, 2-2.5 M rows at 10,000 subjects, took ~300 MiB more RSS as one piece)
CHUNK_ROWS = 262_144


def _pandas_csv(path: Path, frame: pd.DataFrame) -> None:
    _neutralised_frame(frame).rename(columns=lambda c: neutralise_cell(str(c))).to_csv(
        path, index=False, lineterminator="\n", encoding="utf-8")


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV, text cells neutralised; integer and text columns by Arrow (a slice of
    rows at a time), others by pandas."""
    if len(frame.columns) < 2:  # (one column: csv quotes an empty line)
        _pandas_csv(path, frame)
        return
    header = ",".join(_quote(neutralise(pa.array([str(c)], pa.large_string())))[0].as_py()
                      for c in frame.columns) + "\n"
    comma = pa.scalar(",", pa.large_string())
    with open(path, "wb") as fh:
        fh.write(header.encode("utf-8"))
        for start in range(0, max(len(frame), 1), CHUNK_ROWS):
            rows = frame.iloc[start:start + CHUNK_ROWS]
            last = len(frame.columns) - 1  # every line ends with "\n", written with the last field
            fields = [_field_text(rows[c], "\n" if i == last else "") for i, c in enumerate(frame.columns)]
            if any(f is None for f in fields):  # a column pandas formats: the whole file by pandas
                fh.close()
                _pandas_csv(path, frame)
                return
            lines = pc.binary_join_element_wise(*fields, comma)
            for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
                if len(chunk):
                    offsets = chunk.buffers()[1]
                    width = 8 if pa.types.is_large_string(chunk.type) else 4
                    begin = int.from_bytes(offsets[chunk.offset * width:(chunk.offset + 1) * width], "little")
                    end = int.from_bytes(offsets[(chunk.offset + len(chunk)) * width:
                                                 (chunk.offset + len(chunk) + 1) * width], "little")
                    fh.write(chunk.buffers()[2][begin:end])
