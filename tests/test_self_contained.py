"""A fresh clone builds the example with nothing beside it: the standards ship with the package.

The project's specs and example export are copied into an empty folder (no ``../shared`` anywhere
near it) and built with the README's command: CTCAE grades on every ADLB result, the IG rules run
(never 'not run'), and no warnings.
"""

from __future__ import annotations

import json
import shutil

import pyreadstat
import pytest
from click.testing import CliRunner

from sdtmgen.cli import main


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, spec_folder, example_raw):
    project = tmp_path_factory.mktemp("fresh") / "project"
    shutil.copytree(spec_folder, project / "specs")
    shutil.copytree(example_raw, project / "examples" / "raw")
    assert not (project.parent / "shared").exists() and not (project.parent.parent / "shared").exists()
    out = project / "output"
    result = CliRunner().invoke(main, ["build", "--spec", str(project / "specs"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_build_has_no_warnings(fresh):
    out, output = fresh
    report = json.loads((out / "reports" / "conformance.json").read_text(encoding="utf-8"))
    assert report["summary"] == {"errors": 0, "warnings": 0, "not_run": 0}, report["findings"][:5]
    assert "0 warning(s)" in output


def test_ig_rules_ran(fresh):
    out, _ = fresh
    report = json.loads((out / "reports" / "conformance.json").read_text(encoding="utf-8"))
    status = {r["id"]: r["status"] for r in report["rules"]}
    for rule in ("IG-REQ", "IG-EXP", "IG-LABEL", "ADAMIG-REQ", "ADAMIG-LABEL"):
        assert status[rule] == "pass", (rule, status[rule])
    assert "not run" not in status.values()


def test_every_adlb_result_has_a_ctcae_grade(fresh):
    out, _ = fresh
    adlb, _ = pyreadstat.read_xport(str(out / "adam" / "adlb.xpt"))
    with_result = adlb["AVAL"].notna()
    assert with_result.sum() > 1000
    for name in ("ATOXGR", "ATOXGRL"):
        assert (adlb.loc[with_result, name].str.strip() != "").all(), name
    assert set(adlb["ATOXGR"]) >= {"0", "1", "2", "3", "4"}


def test_define_xml_has_no_stylesheet_instruction_when_none_is_named(fresh):
    out, _ = fresh
    for kind in ("sdtm", "adam"):
        assert b"xml-stylesheet" not in (out / kind / "define.xml").read_bytes()
        assert not (out / kind / "define2-1.xsl").exists()


def test_the_manifest_names_the_standards_used(fresh):
    out, _ = fresh
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    standards = manifest["standards"]
    assert {kind: entry["version"] for kind, entry in standards.items()} == {
        "sdtmig": "3.4", "adamig": "1.3", "ctcae": "5.0", "ct": "2025-03-28", "define_ct": "2025-09-26"}
    assert set(standards["ct"]["sha256"]) == {"sdtm.tsv.gz", "adam.tsv"}
    assert all(len(digest) == 64 for entry in standards.values() for digest in entry["sha256"].values())
