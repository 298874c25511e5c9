"""Reading raw forms (sdtmgen/raw.py): well-formed files read as Python's csv module reads them (after
the documented whitespace rule), anything else stops with the file and the physical line."""

from __future__ import annotations

import csv
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdtmgen.errors import RawDataError
from sdtmgen.raw import read_form, read_form_csv
from sdtmgen.raw_export import RawExport


def normalised(value: str) -> str:
    """The documented rule: inner tabs/line breaks (with the spaces around them) -> one space, edges trimmed."""
    return re.sub(r" *[\t\r\n]+[ \t\r\n]*", " ", value).strip(" \t\r\n")


def oracle(content: bytes) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and first physical line of each row, by the csv module in strict mode."""
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), strict=True)
    records, end = [], 0
    for row in reader:
        if row:
            records.append((end + 1, row))
        end = reader.line_num
    header = [n.strip() for n in records[0][1]]
    return header, [r for _, r in records[1:]], [line for line, _ in records[1:]]


WELL_FORMED = {
    "plain": b"A,B\n1,2\n",
    "bom": b"\xef\xbb\xbfA,B\n01,2\n",
    "crlf": b"A,B\r\n1,2\r\n",
    "quoted newline and quotes": b'A,B\n"x\ny","a""b"\n3,4\n',
    "quotes inside a quoted value": b'A,B\n"say ""hi"" now",2\n',
    "blank lines": b"A,B\n1,2\n\n\n3,4\n",
    "no final newline": b"A,B\n1,2",
    "header only": b"A,B\n",
    "spaces trimmed": b'A,B\n" 1 ", 2 \n',
    "header spaces": b" A ,B\n1,2\n",
    "NA-like text": b"A,B\nNA,null\n",
    "empty cells": b'A,B\n,""\n',
    "non-ASCII": "A,B\nna\u00efve,\u53d1\u70ed\n".encode("utf-8"),
    "tab inside": b'A,B\n"a\tb",2\n',
    "lone CR line ends": b"A,B\r1,2\r3,4\r",
}


@pytest.mark.parametrize("content", WELL_FORMED.values(), ids=WELL_FORMED.keys())
def test_well_formed_files_read_as_the_csv_module_reads_them(tmp_path, content):
    path = tmp_path / "form.csv"
    path.write_bytes(content)
    form = read_form(path)
    header, rows, lines = oracle(content)
    assert form.frame.columns.tolist() == header
    assert all(str(dtype) == "string" for dtype in form.frame.dtypes)
    assert form.frame.astype(object).values.tolist() == [[normalised(v) for v in row] for row in rows]
    assert form.lines.tolist() == lines


HOSTILE = {
    # structure: named once, with the physical line
    "short row": (b"A,B,C\n1,2,3\n4,5\n", "form.csv line 3: 2 field(s), the header has 3"),
    "short row after a quoted line break": (b'A,B,C\n"x\ny",2,3\n\n4,5\n', "form.csv line 5: 2 field(s)"),
    "long row": (b"A,B\n1,2\n3,4,5\n", "form.csv line 3: 3 field(s), the header has 2"),
    "trailing comma on every row": (b"A,B\n1,2,\n3,4,\n", "every row has 3 fields where the header has 2"),
    "semicolons": (b"A;B;C\n1;2;3\n", "line 1: the header is one name holding semicolons"),
    "tabs": (b"A\tB\n1\t2\n", "looks tab-separated"),
    "repeated name": (b"A,B,A\n1,2,3\n", "column A appears twice in the header (columns 1 and 3)"),
    "blank name": (b"A,,B\n1,2,3\n", "column(s) 2 of the header have no name"),
    "trailing comma in the header": (b"A,B,\n1,2,\n", "column(s) 3 of the header have no name (a trailing comma?)"),
    "white space line": (b"A,B\n1,2\n  \n3,4\n", "form.csv line 3: 1 field(s)"),
    "unbalanced quote to the end": (b'A,B\n1,"abc\n2,3\n', "unbalanced quote: the quote on line 2"),
    "quote swallowing rows": (b'A,B,C\n1,2,"3\n4,5,6\n7,8,9"\n', "form.csv line 2, column C: a quoted value runs over 3 lines"),
    "text after a closing quote": (b'A,B\n"Fever" high,2\n', "form.csv line 2: text next to a quote"),
    "quote inside a plain value": (b'A,B\nab"c"d,2\n', "form.csv line 2: text next to a quote"),
    # values
    "NUL byte": (b"A,B\n1,Shiver\x00ing\n", "form.csv line 2, column B: 'Shiver\\x00ing'"),
    "ESC": (b"A,B\n1,a\x1bb\n", "form.csv line 2, column B"),
    "BEL in a quoted value": (b'A,B\n1,"a\x07b"\n2,3\n', "form.csv line 2, column B"),
    "control character after a quoted line break": (b'A,B\n"x\ny",1\n2,Intra\x01venous\n', "form.csv line 4, column B"),
    "latin-1": (b"A,B\n1,\xe9\n", "form.csv: not UTF-8 (byte 6, line 2)"),
    "UTF-16": ("A,B\n1,2\n".encode("utf-16"), "form.csv: not UTF-8"),
    "empty": (b"", "form.csv: the file is empty"),
    "only blank lines": (b"\n\n", "form.csv: the file is empty"),
}


@pytest.mark.parametrize("threads", [False, True], ids=["one thread", "Arrow's threads"])
@pytest.mark.parametrize("content,message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_files_stop_with_file_and_line(tmp_path, monkeypatch, content, message, threads):
    """Also when parsed on Arrow's threads (large files are): every refusal and its message stay the same."""
    if threads:
        monkeypatch.setattr("sdtmgen.raw._THREADED_BYTES", 0)
    path = tmp_path / "form.csv"
    path.write_bytes(content)
    with pytest.raises(RawDataError) as error:
        read_form_csv(path)
    assert message in str(error.value)


def test_normalisations_are_reported_with_file_line_column_value(tmp_path):
    path = tmp_path / "ic.csv"
    path.write_bytes(b'SUBJECT,TERM\n01-001 ,"line one\nline two"\n01-002,ok\n')
    form = read_form(path)
    assert form.frame["SUBJECT"].tolist() == ["01-001", "01-002"]
    assert form.frame["TERM"].tolist() == ["line one line two", "ok"]
    notes = {n.variable: n for n in form.notes}
    assert set(notes) == {"ic.csv:SUBJECT", "ic.csv:TERM"}
    assert notes["ic.csv:SUBJECT"].rule == "RAW-WHITESPACE" and notes["ic.csv:SUBJECT"].severity == "warning"
    assert notes["ic.csv:SUBJECT"].sources == ("ic.csv:2",) and notes["ic.csv:SUBJECT"].values == ("01-001 ",)
    assert notes["ic.csv:TERM"].values == ("line one\nline two",)


def test_errors_keep_their_messages(tmp_path):
    (tmp_path / "cm.csv").write_bytes(b"")
    (tmp_path / "ae.csv").write_bytes("A,B\n1,caf\u00e9\n".encode("latin-1"))
    raw = RawExport(tmp_path)
    with pytest.raises(RawDataError, match="cm.csv: the file is empty"):
        raw.read("cm")
    with pytest.raises(RawDataError, match=r"ae.csv: not UTF-8 \(byte \d+, line 2\); re-export"):
        raw.read("ae")


def test_read_adds_lineage_and_caches(tmp_path):
    (tmp_path / "xx.csv").write_text('SUBJECT, TERM \n001,a\n\n002,"b\nc"\n003,d\n', encoding="utf-8")
    raw = RawExport(tmp_path)
    frame = raw.read("xx")
    assert frame.columns.tolist() == ["SUBJECT", "TERM", "_FILE", "_ROW"]
    assert frame["SUBJECT"].dtype == "string[pyarrow]" and frame["SUBJECT"].tolist() == ["001", "002", "003"]
    assert frame["_FILE"].tolist() == ["xx.csv"] * 3
    assert frame["_ROW"].tolist() == [2, 4, 6], "the physical line of each row's first line"
    assert [n.rule for n in raw.notes] == ["RAW-WHITESPACE"]
    assert raw.read("xx") is frame
    raw.release("xx")
    assert raw.forms == {"xx": 3}, "a released form still counts as read"
    again = raw.read("xx")
    assert again is not frame and again.equals(frame)
    assert len(raw.notes) == 1, "a form read again is not reported twice"


FIELD = st.lists(st.sampled_from(["a", " ", '"', ",", "\n", "\r\n", "\u00e9", "\t", "1", "'", "\r", "\x00", ";"]),
                 max_size=5).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 4), st.lists(st.lists(st.tuples(FIELD, st.sampled_from(["quoted", "plain", "raw"])),
                                            min_size=1, max_size=4), max_size=5),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_any_file_is_read_exactly_or_refused_with_its_name(tmp_path_factory, width, rows, eol, final_eol):
    def cell(text: str, how: str) -> str:
        if how == "quoted":
            return '"' + text.replace('"', '""') + '"'
        if how == "plain":
            return "".join(ch for ch in text if ch not in ',"\r\n')
        return text

    lines = [",".join("ABCD"[:width])] + [",".join(cell(t, how) for t, how in row) for row in rows]
    content = (eol.join(lines) + (eol if final_eol else "")).encode("utf-8")
    path = tmp_path_factory.mktemp("raw") / "form.csv"
    path.write_bytes(content)
    try:
        form = read_form(path)
    except RawDataError as exc:
        assert "form.csv" in str(exc)
        return
    header, expected, physical = oracle(content)  # strict: a file it rejects must have been refused
    assert all(len(row) == len(header) for row in expected), "a ragged file was accepted"
    values = [[normalised(v) for v in row] for row in expected]
    assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", v) for row in values for v in row)
    assert form.frame.astype(object).values.tolist() == values
    assert form.lines.tolist() == physical
    changed = sum(v != normalised(v) for row in expected for v in row)
    assert changed == sum(len(n.sources) if len(n.sources) < 10 else int(n.message.split()[0])
                          for n in form.notes), "every changed value is reported"


def test_control_characters_found_anywhere_in_a_large_file():
    """The scan for control characters counts the bytes below a space block by block: one beyond the
    first block is found, and line ends alone are not taken for one."""
    from sdtmgen.raw import _has_control_or_break

    body = b"a,b\n" * 400_000  # 1.6 MB, two blocks
    assert not _has_control_or_break(body, False, body.count(b"\n"))
    assert _has_control_or_break(body[:1_500_000] + b"\x01" + body[1_500_000:], False, body.count(b"\n"))


def test_a_cut_row_deep_in_a_large_file_is_named_by_its_line(tmp_path):
    """Arrow's threads cannot number rows: a large file with a row of the wrong width is read again on one
    thread, so the error still names the line (here in the fifth 1 MiB block)."""
    rows = [b"01-%06d,2024-01-%02d,%d" % (i, i % 28 + 1, i) for i in range(400_000)]
    rows[300_000] = b"01-300000,2024-01-01"
    path = tmp_path / "hem.csv"
    path.write_bytes(b"SUBJECT,DATE,VALUE\n" + b"\n".join(rows) + b"\n")
    assert path.stat().st_size > 8 << 20
    with pytest.raises(RawDataError, match=r"hem.csv line 300002: 2 field\(s\), the header has 3"):
        read_form_csv(path)
