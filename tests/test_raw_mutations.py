"""Random damage to the example export: the read and SDTM mapping either stop with a data error naming a
raw file and a line, or account for every raw row with every value unchanged or changed by the
documented whitespace rule (docs/data-problems.md)."""

from __future__ import annotations

import csv
import functools
import io
import random
import re
import shutil
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sdtmgen.errors import RawDataError
from sdtmgen.raw import INVISIBLE
from sdtmgen.raw_export import RawExport
from sdtmgen.sdtm.mapper import _forms_read, map_domain

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "raw"
FORMS = sorted(p.stem for p in EXAMPLE.glob("*.csv"))
INJECTED = ["\x00", "\x01", "\x07", "\x1b", "\x7f", '"', ",", ";", "\n", "\r", " ", "\t", "\u00e9", "\ufeff"]
#: where a data error points: a file and a line ("ae.csv line 4", "ae.csv row 4", "ae.csv:4")
NAMES_FILE_AND_LINE = re.compile(r"\w+\.csv(?: lines? | row |:)\d+|\w+\.csv\b.*\blines? \d+", re.S)


def normalised(value: str) -> str:
    """The documented rule: tabs and line breaks inside made one space; spaces, tabs, line breaks and invisible
    characters (no-break and zero-width spaces, BOM, direction marks) at either end removed."""
    return re.sub(r" *[\t\r\n]+[ \t\r\n]*", " ", value).strip(" \t\r\n" + INVISIBLE)


def records(text: str) -> list[tuple[int, list[str]]]:
    """(first physical line, fields) of every record, by the csv module in strict mode."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out, end = [], 0
    for row in reader:
        if row:
            out.append((end + 1, row))
        end = reader.line_num
    return out


def mutate(text: str, kind: str, rng: random.Random) -> str:
    lines = text.split("\n")
    body = [i for i in range(1, len(lines)) if lines[i]]
    if kind == "drop_row" and body:
        del lines[rng.choice(body)]
    elif kind == "duplicate_row" and body:
        i = rng.choice(body)
        lines.insert(i, lines[i])
    elif kind == "truncate_row" and body:
        i = rng.choice(body)
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    elif kind == "truncate_cell":
        i = rng.choice(body or [0])
        cells = lines[i].split(",")
        j = rng.randrange(len(cells))
        cells[j] = cells[j][: rng.randrange(len(cells[j]) + 1)]
        lines[i] = ",".join(cells)
    elif kind == "inject":
        i = rng.randrange(len(lines))
        at = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + rng.choice(INJECTED) + lines[i][at:]
    elif kind == "blank_lines":
        lines.insert(rng.randrange(1, len(lines) + 1), "")
    elif kind == "shuffle_columns":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        order = list(range(len(rows[0])))
        rng.shuffle(order)
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\n").writerows([[r[k] for k in order if k < len(r)] for r in rows])
        return buffer.getvalue()
    elif kind == "delimiter":
        return text.replace(",", rng.choice([";", "\t", "|"]))
    elif kind == "crlf":
        return text.replace("\n", "\r\n")
    return "\n".join(lines)


@functools.cache
def example_spec():
    from sdtmgen.spec.loader import load_spec

    return load_spec(Path(__file__).resolve().parents[1] / "specs")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(FORMS),
       st.lists(st.sampled_from(["drop_row", "duplicate_row", "truncate_row", "truncate_cell", "inject", "inject",
                                 "blank_lines", "shuffle_columns", "delimiter", "crlf"]), min_size=1, max_size=3),
       st.integers(0, 2**32 - 1))
@example("ae", ["inject"], 1)  # a BOM put before a cell's value: removed at read time and reported, as documented
def test_damaged_export_stops_naming_file_and_line_or_maps_every_row_faithfully(tmp_path_factory, form, kinds, seed):
    spec = example_spec()
    rng = random.Random(seed)
    raw = tmp_path_factory.mktemp("raw")
    shutil.copytree(EXAMPLE, raw, dirs_exist_ok=True)
    path = raw / f"{form}.csv"
    text = path.read_text(encoding="utf-8")
    for kind in kinds:
        text = mutate(text, kind, rng)
    path.write_bytes(text.encode("utf-8"))

    export = RawExport(raw)
    domains = [d for d in spec.domains if form in _forms_read(d)]
    try:
        frame = export.read(form).copy()
        mapped = [map_domain(spec, domain, export, []) for domain in domains]
    except RawDataError as exc:
        message = str(exc)
        assert f"{form}.csv" in message or ".csv" in message, message
        assert NAMES_FILE_AND_LINE.search(message) or "the file is empty" in message, message
        return

    # read: exactly the records a strict CSV reader sees, values unchanged or normalised by the documented rule
    expected = records(text.removeprefix("\ufeff"))
    header = [n.strip() for n in expected[0][1]]
    assert all(len(fields) == len(header) for _, fields in expected[1:]), "a ragged file was accepted"
    assert frame.columns.tolist()[:-2] == header
    assert frame[header].astype(object).values.tolist() == [[normalised(v) for v in f] for _, f in expected[1:]]
    assert frame["_ROW"].tolist() == [line for line, _ in expected[1:]], "physical line of each row"
    for _, fields in expected:
        assert not any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", v) for v in fields), "control character passed"
    changed = sum(v != normalised(v) for _, fields in expected[1:] for v in fields)
    noted = [n for n in export.notes if n.variable.startswith(f"{form}.csv:")]
    assert (changed == 0) == (not noted), "a value changed without a RAW-WHITESPACE finding, or the reverse"

    # mapping: every raw row of the form is mapped or excluded by a named rule, lineage on real lines
    lines = set(frame["_ROW"].tolist())
    for (out, counts), _domain in zip(mapped, domains):
        for count in counts:
            if count.form == f"{form}.csv":
                assert count.rows_read == len(expected) - 1 == count.rows_mapped + count.rows_excluded
        if len(out):
            from_form = out["_FILE"].to_numpy() == f"{form}.csv"
            assert set(np.asarray(out["_ROW"])[from_form].tolist()) <= lines
