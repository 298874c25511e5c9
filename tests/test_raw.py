"""Reading raw forms (sdtmgen/raw.py): Arrow's CSV reader gives exactly what pandas' reader gives."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdtmgen.errors import RawDataError
from sdtmgen.raw import RawExport, _read_with_arrow, _read_with_pandas, read_form_csv


def pandas_frame(path) -> pd.DataFrame:
    frame = _read_with_pandas(path)
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def assert_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert ours.columns.tolist() == theirs.columns.tolist()
    assert ours.dtypes.tolist() == theirs.dtypes.tolist()
    pd.testing.assert_frame_equal(ours, theirs)


ARROW_READS = {
    "plain": b"A,B\n1,2\n",
    "bom": b"\xef\xbb\xbfA,B\n01,2\n",
    "crlf": b"A,B\r\n1,2\r\n",
    "quoted newline and quotes": b'A,B\n"x\ny","a""b"\n',
    "text after a closing quote": b'A,B\n"abc"def,2\n',
    "quotes inside a value": b'A,B\nab"c"d,2\n',
    "blank lines": b"A,B\n1,2\n\n3,4\n",
    "no final newline": b"A,B\n1,2",
    "header only": b"A,B\n",
    "spaces kept": b'A,B\n" 1 ", 2 \n',
    "header spaces": b" A ,B\n1,2\n",
    "NA-like text": b"A,B\nNA,null\n",
    "empty cells": b'A,B\n,""\n',
    "non-ASCII": "A,B\nna\u00efve,\u53d1\u70ed\n".encode("utf-8"),
}

PANDAS_READS = {
    "empty": b"",
    "only blank lines": b"\n\n",
    "repeated names": b"A,A\n1,2\n",
    "blank name": b"A,,B\n1,2,3\n",
    "one column": b"A\n\n1\n \n",
    "short row": b"A,B\n1\n",
    "index column": b"A,B\n1,2,3\n",
    "ragged": b"A,B\n1,2\n3,4,5\n",
    "latin-1": b"A,B\n1,\xe9\n",
    "latin-1 header": b"A,B\xe9\n1,2\n",
    "unterminated quote": b'A,B\n1,"abc\n',
    "NUL byte": b"A,B\n\x001,2\n",
    "lone CR": b"A,B,C\n\r,\t,1\n",
    "white space line": b"A,B\n1,2\n  \n3,4\n",
}


@pytest.mark.parametrize("content", ARROW_READS.values(), ids=ARROW_READS.keys())
def test_arrow_reads_well_formed_files_as_pandas_does(tmp_path, content):
    path = tmp_path / "form.csv"
    path.write_bytes(content)
    ours = _read_with_arrow(path)
    assert ours is not None, "expected the Arrow reader to take this file"
    ours.columns = [c.strip() for c in ours.columns]
    assert_same(ours, pandas_frame(path))


@pytest.mark.parametrize("content", PANDAS_READS.values(), ids=PANDAS_READS.keys())
def test_files_arrow_would_read_differently_go_to_pandas(tmp_path, content):
    path = tmp_path / "form.csv"
    path.write_bytes(content)
    assert _read_with_arrow(path) is None
    try:
        expected = pandas_frame(path)
    except RawDataError as exc:
        with pytest.raises(RawDataError, match="form.csv") as ours:
            read_form_csv(path)
        assert str(ours.value) == str(exc)
        return
    assert_same(read_form_csv(path), expected)


def test_errors_keep_their_messages(tmp_path):
    (tmp_path / "cm.csv").write_bytes(b"")
    (tmp_path / "ae.csv").write_bytes("A,B\n1,caf\u00e9\n".encode("latin-1"))
    raw = RawExport(tmp_path)
    with pytest.raises(RawDataError, match="cm.csv: the file is empty"):
        raw.read("cm")
    with pytest.raises(RawDataError, match=r"ae.csv: not UTF-8 \(byte \d+\); re-export"):
        raw.read("ae")


def test_read_adds_lineage_and_caches(tmp_path):
    (tmp_path / "xx.csv").write_text("SUBJECT, TERM \n001,a\n002,b\n", encoding="utf-8")
    raw = RawExport(tmp_path)
    frame = raw.read("xx")
    assert frame.columns.tolist() == ["SUBJECT", "TERM", "_FILE", "_ROW"]
    assert frame["SUBJECT"].dtype == "string[pyarrow]" and frame["SUBJECT"].tolist() == ["001", "002"]
    assert frame["_FILE"].tolist() == ["xx.csv"] * 2 and frame["_ROW"].tolist() == [2, 3]
    assert raw.read("xx") is frame
    raw.release("xx")
    assert raw.forms == {"xx": 2}, "a released form still counts as read"
    again = raw.read("xx")
    assert again is not frame and again.equals(frame)


FIELD = st.lists(st.sampled_from(["a", " ", '"', ",", "\n", "\r\n", "\u00e9", "\t", "1", "'", "\r", "\x00"]),
                 max_size=5).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 4), st.lists(st.lists(st.tuples(FIELD, st.sampled_from(["quoted", "plain", "raw"])),
                                            min_size=1, max_size=4), max_size=5),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_any_file_reads_as_pandas_reads_it(tmp_path_factory, width, rows, eol, final_eol):
    def cell(text: str, how: str) -> str:
        if how == "quoted":
            return '"' + text.replace('"', '""') + '"'
        if how == "plain":
            return "".join(ch for ch in text if ch not in ',"\r\n')
        return text

    lines = [",".join("ABCD"[:width])] + [",".join(cell(t, how) for t, how in row) for row in rows]
    path = tmp_path_factory.mktemp("raw") / "form.csv"
    path.write_bytes((eol.join(lines) + (eol if final_eol else "")).encode("utf-8"))
    try:
        expected = pandas_frame(path)
    except RawDataError as exc:
        with pytest.raises(RawDataError) as ours:
            read_form_csv(path)
        assert str(ours.value) == str(exc)
        return
    assert_same(read_form_csv(path), expected)
