"""The build reports data-review findings in conformance and in reports/data-review.csv; a check set
to error stops it; formula-like raw text is neutralised in every CSV written for people."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.output import write_marker

from .test_review_checks import broken_raw


@pytest.fixture(scope="module")
def built(tmp_path_factory, example_raw, spec_folder):
    folder = tmp_path_factory.mktemp("review_build")
    raw = broken_raw(example_raw, folder)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    ae.loc[3, "AEDECOD"] = '=HYPERLINK("http://x.example/","see")'
    ae.loc[3, "AESOC"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    ae.to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    out = folder / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return raw, out


def test_data_review_csv_has_one_row_per_offending_record(built):
    _, out = built
    table = pd.read_csv(out / "reports" / "data-review.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["check", "severity", "subject", "raw_file", "raw_row", "column", "value", "message"]
    negative = table[table["check"] == "DR-LB-NEGATIVE"]
    assert negative[["subject", "raw_file", "raw_row", "column", "value"]].values.tolist() == [
        ["UCMSC-EXO-AML-01-01-001", "hem.csv", "2", "LBORRES", "-2.5"]]  # a number, not neutralised
    assert (table["severity"] == "warning").all()


def test_conformance_lists_the_checks_and_their_findings(built):
    _, out = built
    report = json.loads((out / "reports" / "conformance.json").read_text())
    rules = {r["id"]: r for r in report["rules"]}
    assert rules["DR-AE-FATAL"]["status"] == "warn" and rules["DR-AE-FATAL"]["findings"] == 1
    assert rules["DR-AE-FATAL"]["kind"] == "data review (consistency)"
    fatal = [f for f in report["findings"] if f["rule"] == "DR-AE-FATAL"]
    assert fatal[0]["sources"] == ["ae.csv:3"] and fatal[0]["variable"] == "AESDTH"
    assert "DR-AE-FATAL" in (out / "reports" / "conformance.txt").read_text()


def test_formula_text_from_raw_is_neutralised_in_ard_csv(built):
    _, out = built
    text = (out / "report" / "ard.csv").read_text(encoding="utf-8")
    ard = pd.read_csv(out / "report" / "ard.csv", dtype=str, keep_default_na=False)
    cells = pd.unique(ard.to_numpy().ravel())
    risky = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
             or (c[:1] == "-" and not c.lstrip("-").replace(".", "", 1).isdigit() and c != "-Inf")]
    assert risky == []
    assert "'=HYPERLINK" in text.upper() and "'@SUM(1+1)" in text.upper()


def test_the_manifest_lists_every_raw_file_read(built):
    raw, out = built
    manifest = json.loads((out / "manifest.json").read_text())
    read = set()
    for path in (out / "reports" / "lineage").glob("*.csv"):
        read |= set(pd.read_csv(path, dtype=str)["raw_file"].dropna())
    assert read and read <= set(manifest["raw"])
    assert set(manifest["raw"]) == {p.name for p in raw.glob("*.csv")}


def test_a_check_set_to_error_stops_the_build(tmp_path, example_raw, spec_copy):
    raw = broken_raw(example_raw, tmp_path)
    study = spec_copy / "study.yaml"
    study.write_text(study.read_text(encoding="utf-8") +
                     "    DR-AE-FATAL: {severity: error, reason: deaths are queried before lock}\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    write_marker(out)  # a previous build: the only kind of non-empty folder --out may replace
    (out / "keep.txt").write_text("previous output")
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_copy), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 1
    assert "DR-AE-FATAL" in result.output and "ae.csv:3" in result.output
    assert "Traceback" not in result.output
    assert (out / "keep.txt").read_text() == "previous output"


def test_an_unknown_check_in_study_yaml_is_a_spec_error(tmp_path, spec_copy):
    study = spec_copy / "study.yaml"
    text = study.read_text(encoding="utf-8")
    study.write_text(text + "    DR-NO-SUCH: {severity: off}\n", encoding="utf-8")
    line = text.count("\n") + 1
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_copy), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert f"study.yaml:{line}: review: unknown data-review check DR-NO-SUCH" in result.output
