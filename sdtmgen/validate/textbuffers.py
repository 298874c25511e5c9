"""Whole-column facts about Arrow-backed text, read from its offsets and bytes.

Most validation checks pass for every value of a column (ASCII, at most 200 bytes, not blank).
Proving that once from the raw buffers costs one pass over memory; only a column where the
proof fails is then tested value by value. The answers are conservative: False means "not
proven" (or not Arrow text), never "some value fails".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def text_buffers(values: pd.Series) -> list[tuple[np.ndarray, np.ndarray, int]] | None:
    """(offsets, data bytes, null count) of each Arrow array holding the text; None unless Arrow text."""
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    array = pa.array(values.array)
    out = []
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
        data = chunk.buffers()[2]
        data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        out.append((offsets, data, chunk.null_count))
    return out


def all_ascii(values: pd.Series) -> bool:
    """No byte of the text is above 0x7F."""
    buffers = text_buffers(values)
    return buffers is not None and all(
        data[offsets[0]: offsets[-1]].max(initial=0) <= 0x7F for offsets, data, _ in buffers if len(offsets))


def all_within_bytes(values: pd.Series, limit: int) -> bool:
    """No value spans more than ``limit`` bytes."""
    buffers = text_buffers(values)
    return buffers is not None and all(_longest(offsets) <= limit for offsets, _, _ in buffers)


def _longest(offsets: np.ndarray) -> int:
    """The longest value's byte length, a block of offsets at a time (the differences stay in cache)."""
    if len(offsets) < 2 or offsets[-1] - offsets[0] <= 0:
        return 0
    step, longest = 1 << 16, 0
    for block in range(0, len(offsets) - 1, step):
        part = offsets[block: block + step + 1]
        longest = max(longest, int(np.subtract(part[1:], part[:-1]).max()))
    return longest


def none_blank(values: pd.Series) -> bool:
    """Every value starts with a visible ASCII character, so none is empty or only whitespace.

    Missing values are not proven (a column with any is left to the caller's own test).
    """
    buffers = text_buffers(values)
    if buffers is None:
        return False
    for offsets, data, nulls in buffers:
        starts, lengths = offsets[:-1], np.diff(offsets)
        if nulls or (lengths <= 0).any():
            return False
        text = data[offsets[0]: offsets[-1]]
        if text.min(initial=0x21) >= 0x21 and text.max(initial=0x7E) <= 0x7E:  # no value holds a blank at all
            continue
        first = data[starts]
        if ((first < 0x21) | (first > 0x7E)).any():
            return False
    return True


_DIGIT, _PLAIN_ISO = "0", {10: "0000-00-00", 16: "0000-00-00T00:00", 19: "0000-00-00T00:00:00"}


def all_plain_iso(values: pd.Series) -> bool:
    """Every value is a plain ISO 8601 date or date-time (``YYYY-MM-DD``, ``YYYY-MM-DDThh:mm``,
    ``YYYY-MM-DDThh:mm:ss``, ASCII digits), shapes the SDTM ISO 8601 pattern accepts; the calendar is not
    checked (neither does the pattern). Values with missing ones among them are not proven."""
    buffers = text_buffers(values)
    if buffers is None or any(nulls for _, _, nulls in buffers):
        return False
    for offsets, data, _ in buffers:
        starts, lengths = offsets[:-1], np.diff(offsets)
        if not np.isin(lengths, list(_PLAIN_ISO)).all():
            return False
        for width, shape in _PLAIN_ISO.items():
            form = np.frombuffer(shape.encode(), dtype=np.uint8)
            digit = form == ord(_DIGIT)
            at = starts[lengths == width]
            for block in range(0, len(at), 1 << 16):  # the byte positions of a block are a small temporary
                text = data[at[block: block + (1 << 16), None] + np.arange(width)]
                if not (text[:, ~digit] == form[~digit]).all():
                    return False
                if not ((text[:, digit] >= ord("0")) & (text[:, digit] <= ord("9"))).all():
                    return False
    return True
