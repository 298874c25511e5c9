"""A rule that could not run is reported as 'not run' with its reason, never as 'pass'."""

from __future__ import annotations

import json

import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.validate.conformance import Package, run_rules
from sdtmgen.validate.report import write_conformance_report

IG_RULES = ["IG-EXP", "IG-LABEL", "IG-REQ"]


def package(ig: pd.DataFrame | None) -> Package:
    dm = pd.DataFrame({"STUDYID": pd.Series(["S"], dtype="string[pyarrow]"), "USUBJID": pd.Series(["S1"], dtype="string[pyarrow]")})
    return Package(datasets={"DM": dm}, specs={}, ig=ig)


def test_ig_rules_without_metadata_are_not_run_with_the_reason():
    findings = run_rules(package(None), IG_RULES)
    assert [f.rule for f in findings] == IG_RULES
    assert all(f.not_run and f.severity == "warning" and "standards.sdtmig" in f.message for f in findings)


def test_ig_rules_with_metadata_run():
    ig = pd.DataFrame({"dataset": ["DM", "DM"], "name": ["USUBJID", "SUBJID"], "label": ["U", "S"],
                       "type": ["Char", "Char"], "core": ["Req", "Req"]})
    findings = run_rules(package(ig), IG_RULES)
    assert [(f.rule, f.variable, f.not_run) for f in findings] == [("IG-REQ", "SUBJID", False)]


def test_the_report_says_not_run_and_why(tmp_path):
    findings = run_rules(package(None), IG_RULES)
    findings.append(Finding(rule="XD-SUBJ-DM", severity="error", dataset="AE", message="subject not in DM"))
    write_conformance_report(tmp_path, findings)
    report = json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))
    status = {r["id"]: r for r in report["rules"]}
    for rule in IG_RULES:
        assert status[rule]["status"] == "not run" and status[rule]["findings"] == 0
        assert "standards.sdtmig" in status[rule]["reason"]
    assert status["XD-SUBJ-DM"]["status"] == "fail" and status["SCH-KEYS"]["status"] == "pass"
    assert report["summary"] == {"errors": 1, "warnings": 3, "not_run": 3}
    text = (tmp_path / "conformance.txt").read_text(encoding="utf-8")
    assert "3 rule(s) not run" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("IG-")}
    assert all(" not run " in lines[r] and "NOT RUN: no SDTMIG" in lines[r] and " pass " not in lines[r]
               for r in IG_RULES)


def test_a_dataset_the_ig_does_not_describe_is_listed_as_not_checked(tmp_path):
    ig = pd.DataFrame({"dataset": ["DM"], "name": ["USUBJID"], "label": ["U"], "type": ["Char"], "core": ["Req"]})
    pkg = package(ig)
    pkg.datasets["XZ"] = pd.DataFrame({"USUBJID": pd.Series(["S1"], dtype="string[pyarrow]")})
    findings = run_rules(pkg, IG_RULES)
    # IG-LABEL reads the specs' labels, and this package has none
    assert [(f.rule, f.dataset, f.not_run, f.severity) for f in findings] == [
        (rule, "XZ", True, "warning") for rule in ("IG-EXP", "IG-REQ")]
    assert "XZ is not described in the SDTMIG metadata" in findings[0].message
    write_conformance_report(tmp_path, findings)
    status = {r["id"]: r for r in json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))["rules"]}
    assert all(status[r]["status"] == "pass" and "XZ is not described" in status[r]["not_run_on"]
               for r in ("IG-EXP", "IG-REQ"))
    assert "not run on: XZ is not described" in (tmp_path / "conformance.txt").read_text(encoding="utf-8")
