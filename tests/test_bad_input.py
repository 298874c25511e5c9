"""The corpus of broken raw exports (tests/corpus/cases.yaml): each gets its defined outcome, never a traceback."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner

from sdtmgen.cli import main

#: a numpy warning (overflow, invalid value) is a number the build did not check: it fails the case
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

CASES = yaml.safe_load((Path(__file__).parent / "corpus" / "cases.yaml").read_text(encoding="utf-8"))

#: edit ops on a copy of the spec folder (the spec is untrusted input too)
SPEC_OPS = {"spec_append", "spec_sub", "spec_symlink", "outside_file"}


def apply_spec_edit(specs: Path, edit: dict) -> None:
    op = edit["op"]
    if op == "spec_append":  # text added at the end of a spec file
        path = specs / edit["file"]
        path.write_text(path.read_text(encoding="utf-8") + edit["text"], encoding="utf-8")
    elif op == "spec_sub":  # a regular expression on a spec file's text (multi-line mode)
        path = specs / edit["file"]
        text, n = re.subn(edit["pattern"], edit["replace"], path.read_text(encoding="utf-8"),
                          count=edit.get("count", 0), flags=re.MULTILINE)
        assert n, f"{edit['pattern']!r} not found in {edit['file']}: the case no longer edits anything"
        path.write_text(text, encoding="utf-8")
    elif op == "spec_symlink":  # a link inside the spec folder
        (specs / edit["link"]).symlink_to(edit["to"], target_is_directory=True)
    elif op == "outside_file":  # a file next to (outside) the spec and raw folders, which must never be read
        (specs.parent / edit["name"]).write_text(edit["text"], encoding="utf-8")
    else:
        raise ValueError(op)


def apply_edit(raw: Path, edit: dict) -> None:
    path = raw / f"{edit['form']}.csv"
    op = edit["op"]
    if op == "delete":
        path.unlink()
        return
    if op == "zero_bytes":
        path.write_bytes(b"")
        return
    if op == "folder":  # a folder where the form's file should be
        path.unlink()
        path.mkdir()
        return
    if op == "reencode":
        path.write_bytes(path.read_text(encoding="utf-8").encode(edit["encoding"]))
        return
    if op == "copy":
        shutil.copy(path, raw / (edit["to"] if "." in edit["to"] else f"{edit['to']}.csv"))  # a name, or a file name
        return
    if op == "sub":  # a regular expression on the file's text (multi-line mode), for byte-level damage
        text = path.read_bytes().decode("utf-8")
        text = re.sub(edit["pattern"], edit["replace"], text, count=edit.get("count", 0), flags=re.MULTILINE)
        path.write_bytes(text.encode("utf-8"))
        return
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if op == "set":
        frame.loc[edit["row"] - 1, edit["column"]] = edit["value"] * edit.get("repeat", 1)
    elif op == "append_copy":
        row = frame.iloc[[edit["row"] - 1]].copy()
        for column, value in (edit.get("set") or {}).items():
            row[column] = value
        frame = pd.concat([frame, row], ignore_index=True)
    elif op == "drop_column":
        frame = frame.drop(columns=[edit["column"]])
    elif op == "header_only":
        frame = frame.iloc[0:0]
    else:
        raise ValueError(op)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_broken_export_gets_its_defined_outcome(case, tmp_path, spec_folder, example_raw):
    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    specs = spec_folder
    if any(edit["op"] in SPEC_OPS for edit in case["edits"]):
        specs = tmp_path / "specs"
        shutil.copytree(spec_folder, specs)
    for edit in case["edits"]:
        if edit["op"] in SPEC_OPS:
            apply_spec_edit(specs, edit)
        else:
            apply_edit(raw, edit)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(specs), "--raw", str(raw), "--out", str(out)])
    text = result.output
    assert "Traceback" not in text and not isinstance(result.exception, (AttributeError, KeyError, TypeError)), text
    expect = case["expect"]
    if expect["outcome"] == "error":
        assert result.exit_code == 1, text
        for fragment in expect["contains"]:
            assert fragment in text, f"{fragment!r} not in:\n{text}"
        for fragment in expect.get("not_contains", []):  # e.g. a spec's text blamed on raw cells
            assert fragment not in text, f"{fragment!r} in:\n{text}"
        assert not out.exists(), "a failed build must not write output"
        return
    assert result.exit_code == 0, text
    report = json.loads((out / "reports" / "conformance.json").read_text())
    if "finding" in expect:
        assert any(f["rule"] == expect["finding"] for f in report["findings"]), report["findings"]
    for name, pattern in (expect.get("file_not_matches") or {}).items():  # e.g. no live formula in ard.csv
        text = (out / name).read_text(encoding="utf-8")
        assert not re.search(pattern, text, flags=re.MULTILINE), f"{pattern!r} found in {name}"
    for name, fragment in (expect.get("file_contains") or {}).items():
        assert fragment in (out / name).read_text(encoding="utf-8"), f"{fragment!r} not in {name}"
    if "dataset" in expect:
        frame, _ = pyreadstat.read_xport(str(out / "sdtm" / f"{expect['dataset']}.xpt"))
        rows = frame
        for column, value in expect["where"].items():
            rows = rows[rows[column] == value]
        assert len(rows) >= 1, expect
        for column, value in expect["equals"].items():
            got = rows.iloc[0][column]
            if value is None:
                assert pd.isna(got) or got == "", (column, got)
            else:
                assert got == value, (column, got)
