"""Whole-column proofs from Arrow text buffers (sdtmgen/validate/textbuffers.py)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from sdtmgen.validate.textbuffers import all_ascii, all_within_bytes, none_blank


def arrow(values) -> pd.Series:
    return pd.Series(values, dtype="string[pyarrow]")


def test_ascii_proven_only_when_every_byte_is_ascii():
    assert all_ascii(arrow(["ABC", None, "", "x y"]))
    assert not all_ascii(arrow(["ABC", "NAUSÉE"]))
    assert not all_ascii(pd.Series(["ABC"], dtype=object)), "other dtypes are never proven"


def test_a_slice_is_judged_on_its_own_bytes():
    values = arrow(["NAUSÉE", "ABC", "DEF", "A" * 300])
    assert all_ascii(values.iloc[1:3]) and all_within_bytes(values.iloc[1:3], 200)
    assert not all_ascii(values.iloc[:2]) and not all_within_bytes(values.iloc[2:], 200)


def test_chunked_text():
    values = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([["AB", "CD"], ["É"]], type=pa.large_string())))
    assert not all_ascii(values) and all_ascii(values.iloc[:2])


def test_byte_length_counts_bytes():
    assert all_within_bytes(arrow(["A" * 200, None]), 200)
    assert not all_within_bytes(arrow(["A" * 199 + "É"]), 200)  # 200 characters, 201 bytes


def test_blank_text_is_not_proven_absent():
    assert none_blank(arrow(["A", "b c", "(1)"]))
    for values in (["A", ""], ["A", "  "], ["A", " B"], ["A", "\u00a0"], ["A", None]):
        assert not none_blank(arrow(values)), values
