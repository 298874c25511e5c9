"""Reading a raw EDC export: one CSV per form, every value kept as text.

Forms are parsed by Arrow's CSV reader straight into Arrow-backed strings. The file must be a
well-formed comma-separated file (RFC 4180); anything that would make a value or a row read
differently from what the site entered stops the build with the file and the physical line
(header = line 1, every line counted, blank ones and the lines inside a quoted value included):

- a row with more or fewer fields than the header (also: a trailing comma on every row, another
  delimiter such as ';' or a tab, detected on the header), a header name repeated or blank;
- a quote that is unbalanced (reaching the end of the file, or a quoted value that swallows whole
  rows), or text next to a quote inside a value (``"Fever" high``), which CSV readers drop silently;
- a control character (C0, including NUL, ESC, BEL, or DEL) inside a value, and bytes that are
  not UTF-8.

Two normalisations change values, each reported as a warning finding (RAW-WHITESPACE) naming file,
line, column and value: leading and trailing spaces, tabs and line breaks, and invisible characters
(no-break and other Unicode spaces, zero-width spaces, direction marks: ``INVISIBLE``) are removed (so
keys compare the same in every form), and a tab or line break inside a value, with the spaces around
it, becomes one space (XPT text is one line).

The checks run as Arrow kernels over whole columns; the Python ``csv`` module re-reads a file
only to number its lines when a record spans several lines or blank lines occur.

A study whose export is written otherwise says so in study.yaml (``raw: {options: {...}}``, a
``CsvDialect``): ``encoding`` (the file is decoded with it, and bytes it cannot decode stop the
build naming the line), ``delimiter`` and ``quotechar`` (one character each), and ``na_values``
(tokens such as ``NA`` that mean no value: a cell that is exactly one of them, once trimmed, is read
as empty; by default every text is data).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from sdtmgen.errors import Finding, RawDataError

#: characters a value may not hold: C0 controls other than tab, line feed and carriage return, and DEL
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: what makes a value worth a closer look, besides an edge space: a control character, a tab or line break
SUSPECT = r"[\x00-\x1f\x7f]"
WHITESPACE = " \t\r\n"
#: characters nobody sees at the edge of a value: Unicode spaces (no-break, ideographic, ...), line and
#: paragraph separators, NEL, and the zero-width and direction marks (ZWSP, ZWJ, LRM/RLM, bidi embeddings,
#: word joiner, BOM). Python's ``str.strip`` (used wherever values are compared) removes some of them and
#: not others, so at an edge they are removed at read time and reported like spaces; inside a value they
#: stay, and text written to a dataset stops the build (``ascii``) unless transliterated.
INVISIBLE = ("\u0085\u00a0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
             "\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u202f\u205f\u2060"
             "\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3000\ufeff")
_INVISIBLE_EDGE = f"^[{INVISIBLE}]|[{INVISIBLE}]$"
#: what may stand next to a quote: a quote with anything else on both sides is text next to a quote
_EDGE = np.zeros(256, dtype=bool)
_EDGE[[ord(c) for c in ',\r\n"']] = True
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}
SHOWN = 10  # cells or lines listed in one message


@dataclass(frozen=True)
class CsvDialect:
    """How a study's CSV forms are written (study.yaml ``raw: {options: ...}``); the default is RFC 4180 UTF-8."""

    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    na_values: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: dict | None) -> "CsvDialect":
        options = dict(options or {})
        na = options.get("na_values", ())
        return cls(encoding=str(options.get("encoding", "utf-8")), delimiter=str(options.get("delimiter", ",")),
                   quotechar=str(options.get("quotechar", '"')),
                   na_values=tuple([na] if isinstance(na, str) else na))

    @property
    def utf8(self) -> bool:
        import codecs
        return codecs.lookup(self.encoding).name == "utf-8"


RFC4180 = CsvDialect()


@dataclass
class RawForm:
    """One form as read: its columns as text, the physical line of each row, and the normalisations made."""

    frame: pd.DataFrame
    lines: np.ndarray
    notes: list[Finding] = field(default_factory=list)


def _line_of_offset(data: bytes, offset: int) -> int:
    """Physical line of a byte (lines end with LF, CRLF or a lone CR); only used for a message."""
    return data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1


def _lines_listed(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:SHOWN])
    return shown + (f" (+{len(lines) - SHOWN} more)" if len(lines) > SHOWN else "")


def _header(data: bytes, name: str, dialect: CsvDialect = RFC4180) -> list[str]:
    """The header's names (trimmed), refused when repeated, blank or apparently not comma-separated."""
    head = data[:1 << 16]
    while True:  # the header's record, even when a quoted name holds a line break
        try:
            names = next(csv.reader(io.StringIO(head.decode("utf-8", "replace"), newline=""),
                                    delimiter=dialect.delimiter, quotechar=dialect.quotechar), [])
            break
        except csv.Error as exc:
            if len(head) == len(data):
                raise RawDataError(f"{name} line 1: the header row cannot be read as CSV ({exc})") from None
            head = data[:2 * len(head)]
    names = [n.strip(WHITESPACE + INVISIBLE) for n in names]  # e.g. a second BOM, a no-break space
    if len(names) == 1:
        for delimiter, called in (OTHER_DELIMITERS | {",": "comma"}).items():
            if delimiter in names[0] and delimiter != dialect.delimiter:
                expected = ("comma-separated" if dialect.delimiter == "," else
                            f"separated by {dialect.delimiter!r} (study.yaml raw: options: delimiter)")
                raise RawDataError(
                    f"{name} line 1: the header is one name holding {called}s ({names[0][:80]!r}): the file "
                    f"looks {called}-separated, but raw forms are {expected}\n"
                    f"  what to do: re-export the form, or name its delimiter in study.yaml "
                    f"(raw: {{options: {{delimiter: ...}}}})")
    bad = [f"{i + 1}" for i, n in enumerate(names) if re.search(CONTROL, n)]
    if bad and b"\x00" in data[:256]:
        raise RawDataError(f"{name} line 1: NUL bytes in the header: the file looks UTF-16 or UTF-32 without a "
                           f"byte order mark; re-export the form as UTF-8 (or name its encoding in study.yaml: "
                           f"raw: {{options: {{encoding: ...}}}})")
    if bad:
        raise RawDataError(f"{name} line 1: control character in the header name of column(s) {', '.join(bad)}")
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        trailing = " (a trailing comma?)" if blank == [len(names)] else ""
        raise RawDataError(f"{name} line 1: column(s) {', '.join(map(str, blank))} of the header have no "
                           f"name{trailing}\n  what to do: name every column, or remove the empty ones")
    seen: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        if n in seen:
            raise RawDataError(f"{name} line 1: column {n} appears twice in the header (columns {seen[n]} and {i}); "
                               f"neither would be read reliably\n  what to do: rename or remove one of them")
        seen[n] = i
    folded: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        first = folded.setdefault(n.casefold(), i)
        if first != i:
            raise RawDataError(f"{name} line 1: columns {names[first - 1]} ({first}) and {n} ({i}) of the header differ "
                               f"only by case; SAS, ODM and most EDCs take them for one column, so which one the "
                               f"spec reads is a guess\n  what to do: rename or remove one of them")
    return names


def _record_lines(data: bytes, records: int, newlines: int, crs: int,
                  dialect: CsvDialect = RFC4180) -> tuple[np.ndarray, bool]:
    """Physical line where each record (the header is record 0) starts; whether some record is not one line."""
    lone_cr = crs - data.count(b"\r\n") if crs else 0
    lines = newlines + lone_cr + (0 if data.endswith((b"\n", b"\r")) else 1)
    if lines == records:  # no blank line, no record over several lines: record i is on line i + 1
        return np.arange(1, records + 1, dtype=np.int64), False
    starts, end = [], 0
    csv.field_size_limit(max(csv.field_size_limit(), len(data) + 1))
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=dialect.delimiter,
                        quotechar=dialect.quotechar)
    for row in reader:
        if row:  # a blank line is no record (Arrow skips it too)
            starts.append(end + 1)
        end = reader.line_num
    return np.asarray(starts, dtype=np.int64), True


def _check_quotes(data: bytes, name: str, dialect: CsvDialect = RFC4180) -> None:
    """Stop on text next to a quote inside a value, and on an odd number of quotes."""
    quote = dialect.quotechar.encode("ascii")
    if quote not in data:
        return
    edge = _EDGE
    if dialect != RFC4180:
        edge = np.zeros(256, dtype=bool)
        edge[[ord(c) for c in dialect.delimiter + "\r\n" + dialect.quotechar]] = True
    octets = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(octets == ord(quote))
    before = np.where(quotes > 0, octets[np.maximum(quotes - 1, 0)], ord(dialect.delimiter))
    after = np.where(quotes < len(octets) - 1, octets[np.minimum(quotes + 1, len(octets) - 1)],
                     ord(dialect.delimiter))
    stray = quotes[~edge[before] & ~edge[after]]  # a quote with a non-delimiter on both sides
    if len(stray):
        at = int(stray[0])
        line = _line_of_offset(data, at)
        context = data[max(0, at - 20): at + 20].decode("utf-8", "replace")
        raise RawDataError(
            f"{name} line {line}: text next to a quote inside a value ({context!r}); a CSV reader would "
            f"drop the quote silently\n  what to do: re-export with every quote inside a value doubled "
            f"and the value quoted (\"a \"\"b\"\" c\")")
    if data.count(quote) % 2:
        last = data.rfind(quote)
        raise RawDataError(
            f"{name}: unbalanced quote: the quote on line {_line_of_offset(data, last)} (the file's last one) "
            f"is never closed, so the rows after it would be read as one value\n"
            f"  what to do: correct the quoting in the export")
    # quotes alternate opening and closing (a doubled quote inside a value closes and reopens): an
    # opening quote must start a value and a closing one end it (``"",""a`` would read as ``a``)
    opening = np.zeros(len(quotes), dtype=bool)
    opening[::2] = True
    misplaced = quotes[(opening & ~edge[before]) | (~opening & ~edge[after])]
    if len(misplaced):
        at = int(misplaced[0])
        context = data[max(0, at - 20): at + 20].decode("utf-8", "replace")
        raise RawDataError(
            f"{name} line {_line_of_offset(data, at)}: text next to a quote inside a value ({context!r}); a "
            f"quoted value must be the whole value, or a CSV reader drops the quotes silently\n"
            f"  what to do: re-export with every quote inside a value doubled and the value quoted")


#: files at least this large are parsed on Arrow's threads (smaller ones are one or two blocks: no gain)
_THREADED_BYTES = 4 << 20


def _parse(data: bytes, names: list[str], name: str,
           dialect: CsvDialect = RFC4180) -> tuple[pa.Table, list[tuple[int, int, bool]]]:
    """All rows as text, and (record number, fields, over several lines) of each row with the wrong number of fields."""
    wrong: list[tuple[int, int, bool]] = []

    def note(row) -> str:
        wrong.append((row.number, row.actual_columns, "\n" in row.text or "\r" in row.text))
        return "skip"

    def read(block_size: int, threads: bool = False) -> pa.Table:
        wrong.clear()
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(use_threads=threads, column_names=names, skip_rows=1,
                                           block_size=block_size),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=note,
                                             delimiter=dialect.delimiter, quote_char=dialect.quotechar),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))

    try:
        try:
            # a large file is parsed on Arrow's threads (the build's second core is idle while it maps); they
            # cannot number the rows, so a file with a row of the wrong width is read again on one thread
            threads = len(data) >= _THREADED_BYTES
            table = read(1 << 20, threads)
            if threads and wrong:
                table = read(1 << 20)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            table = read(len(data) + 1)  # a value longer than a block: the whole file as one block
    except pa.ArrowInvalid as exc:
        if "UTF8" not in str(exc).upper():
            raise RawDataError(f"{name}: not a well-formed CSV: {exc}") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise RawDataError(f"{name}: not UTF-8 (byte {bad.start}, line {_line_of_offset(data, bad.start)}); "
                               f"re-export the form as UTF-8") from None
        raise RawDataError(f"{name}: not UTF-8 ({exc}); re-export the form as UTF-8") from None
    return table, wrong


def _field_count_error(name: str, width: int, wrong: list[tuple[int, int, bool]], lines: np.ndarray,
                       rows: int) -> RawDataError:
    # Arrow numbers records from 1 with the header as record 1; ``lines`` holds the header's line too
    physical = [int(lines[number - 1]) if number and number <= len(lines) else "?" for number, _, _ in wrong]
    if len(wrong) == rows and all(count == width + 1 for _, count, _ in wrong):
        return RawDataError(f"{name}: every row has {width + 1} fields where the header has {width} (lines "
                            f"{_lines_listed(physical)}): a delimiter at the end of every row?\n"
                            f"  what to do: re-export the form without the trailing comma")
    listed = "\n".join(f"    {name} line {line}: {count} field(s), the header has {width}"
                       + (" (a quoted value runs over several lines here: an unbalanced quote?)" if lines_ else "")
                       for line, (_, count, lines_) in list(zip(physical, wrong))[:SHOWN])
    more = f"\n    ... and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
    return RawDataError(f"{name}: {len(wrong)} row(s) with a different number of fields than the header "
                        f"(cut or shifted rows; nothing of them is read)\n{listed}{more}\n"
                        f"  what to do: correct the rows in the export (a missing value is an empty field)")


def _has_control_or_break(data: bytes, multiline: bool, line_ends: int) -> bool:
    """Whether some value may hold a control character, a tab or a line break (a scan of the bytes)."""
    if multiline or b"\t" in data or b"\x7f" in data:
        return True
    raw = np.frombuffer(data, dtype=np.uint8)
    block = 1 << 20  # counted a block at a time: no file-sized mask to allocate and fault in
    below_space = sum(int(np.count_nonzero(raw[i:i + block] < 32)) for i in range(0, len(raw), block))
    return below_space != line_ends  # a C0 control other than line ends


def _clean_column(column: pa.ChunkedArray, label: str, name: str, width: int, lines: np.ndarray,
                  notes: list[Finding], inner: bool, delimiter: str = ",", unicode: bool = True) -> pa.ChunkedArray:
    """The column with edge whitespace removed and inner tabs/line breaks made spaces; stops on a control character.

    ``unicode`` says the file may hold non-ASCII text; then invisible characters (INVISIBLE) at the
    edges are removed and reported too.
    """
    edges = pc.or_(pc.starts_with(column, " "), pc.ends_with(column, " "))
    if unicode:
        edges = pc.or_(edges, pc.match_substring_regex(column, _INVISIBLE_EDGE))
    suspect = pc.or_(edges, pc.match_substring_regex(column, SUSPECT)) if inner else edges
    if not pc.any(suspect).as_py():
        return column  # the usual case: only the first and last byte of each value looked at
    control = pc.match_substring_regex(column, CONTROL).to_numpy(zero_copy_only=False)
    if control.any():
        at = np.flatnonzero(control)
        cells = "\n".join(f"    {name} line {lines[i]}, column {label}: {column[int(i)].as_py()[:80]!r}"
                          for i in at[:SHOWN])
        more = f"\n    ... and {len(at) - SHOWN} more" if len(at) > SHOWN else ""
        raise RawDataError(f"{name}: control character(s) (NUL, ESC, BEL, ...) inside {len(at)} value(s), which "
                           f"no dataset can carry\n{cells}{more}\n"
                           f"  what to do: remove the characters in the EDC and export again")
    broken = pc.match_substring_regex(column, r"[\r\n]").to_numpy(zero_copy_only=False)
    if broken.any():
        commas = pc.count_substring(column, delimiter).to_numpy(zero_copy_only=False)
        swallowed = np.flatnonzero(broken & (commas >= max(width - 1, 1)))
        if len(swallowed):
            i = int(swallowed[0])
            raise RawDataError(
                f"{name} line {lines[i]}, column {label}: a quoted value runs over "
                f"{column[i].as_py().count(chr(10)) + 1} lines and holds {commas[i]} delimiters: an unbalanced "
                f"quote has probably swallowed whole rows ({column[i].as_py()[:80]!r})\n"
                f"  what to do: correct the quoting in the export")
    cleaned = pc.utf8_trim(pc.replace_substring_regex(column, r" *[\t\r\n]+[ \t\r\n]*", " "),
                           WHITESPACE + INVISIBLE if unicode else WHITESPACE)
    changed = np.flatnonzero(pc.not_equal(cleaned, column).to_numpy(zero_copy_only=False))
    notes.append(Finding(
        rule="RAW-WHITESPACE", severity="warning", dataset="*", variable=f"{name}:{label}",
        message=f"{len(changed)} value(s) of {name} column {label} had leading/trailing spaces, tabs, line "
                f"breaks or invisible characters (no-break or zero-width spaces, direction marks: removed) or "
                f"tabs/line breaks inside (made one space); keys are compared as trimmed",
        values=tuple(column[int(i)].as_py()[:60] for i in changed[:SHOWN]),
        sources=tuple(f"{name}:{lines[i]}" for i in changed[:SHOWN])))
    return cleaned


def _decoded(data: bytes, name: str, dialect: CsvDialect) -> bytes:
    """The file re-encoded as UTF-8 from the study's encoding; undecodable bytes stop the build (line named)."""
    try:
        text = data.decode(dialect.encoding)
    except UnicodeDecodeError as bad:
        raise RawDataError(f"{name}: byte {bad.start} (line {_line_of_offset(data, bad.start)}, "
                           f"{data[bad.start:bad.start + 1]!r}) cannot be decoded as {dialect.encoding} "
                           f"(study.yaml raw: options: encoding)") from None
    return text.lstrip("\ufeff").encode("utf-8")


def _null_tokens(column: pa.ChunkedArray, tokens: tuple[str, ...]) -> pa.ChunkedArray:
    """Cells that are exactly one of the study's null tokens (``na_values``) made empty."""
    hit = pc.is_in(column, value_set=pa.array(tokens, type=column.type))
    return pc.if_else(hit, pa.scalar("", type=column.type), column) if pc.any(hit).as_py() else column


def read_form(path: Path, name: str | None = None, dialect: CsvDialect = RFC4180) -> RawForm:
    """One raw form: text columns (header names trimmed), the physical line of each row, normalisations made."""
    name = name or path.name
    data = path.read_bytes()
    if not dialect.utf8:
        import codecs

        wide = codecs.lookup(dialect.encoding).name.startswith(("utf-16", "utf-32"))
        if data.startswith(b"\xef\xbb\xbf") and not wide:  # decoded as declared, it would garble the header
            raise RawDataError(f"{name} line 1: the file starts with a UTF-8 byte order mark, but study.yaml "
                               f"declares encoding {dialect.encoding} (raw: options: encoding)\n"
                               f"  what to do: re-export the form in {dialect.encoding}, or remove the encoding "
                               f"option if the export is UTF-8")
        if wide or data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            data = _decoded(data, name, dialect)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data[:4096].strip(b" \t\r\n") and not data.strip(b" \t\r\n"):
        raise RawDataError(f"{name}: the file is empty (not even a header row)")
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise RawDataError(f"{name}: not UTF-8 (UTF-32 byte order mark); re-export the form as UTF-8")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise RawDataError(f"{name}: not UTF-8 (UTF-16 byte order mark); re-export the form as UTF-8")
    names = _header(data, name, dialect)
    _check_quotes(data, name, dialect)
    table, wrong = _parse(data, names, name, dialect)
    records = 1 + table.num_rows + len(wrong)
    newlines, crs = data.count(b"\n"), (data.count(b"\r") if b"\r" in data else 0)
    lines, multiline = _record_lines(data, records, newlines, crs, dialect)
    if len(lines) != records:
        raise RawDataError(f"{name}: {records - 1} rows read but {len(lines) - 1} counted line by line; "
                           f"the file's structure is ambiguous\n  what to do: re-export the form")
    if wrong:
        raise _field_count_error(name, len(names), wrong, lines, table.num_rows + len(wrong))
    lines = lines[1:]
    notes: list[Finding] = []
    inner = _has_control_or_break(data, multiline, newlines + crs)
    unicode = not data.isascii()
    columns = {label: _clean_column(table.column(i), label, name, len(names), lines, notes, inner,
                                    dialect.delimiter, unicode)
               for i, label in enumerate(names)}
    if dialect.na_values:
        columns = {label: _null_tokens(column, dialect.na_values) for label, column in columns.items()}
    frame = pd.DataFrame({label: pd.arrays.ArrowStringArray(col) for label, col in columns.items()})
    return RawForm(frame, lines, notes)


def read_form_csv(path: Path) -> pd.DataFrame:
    """One raw form as Arrow-backed strings, header names trimmed."""
    return read_form(path).frame
