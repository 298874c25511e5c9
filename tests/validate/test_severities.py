"""Per-study severities of data-quality rules (study.yaml `data_quality`)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from sdtmgen.cli import main
from sdtmgen.errors import Finding
from sdtmgen.spec.models import StudySpec
from sdtmgen.validate.severities import DataQualitySetting, apply_settings

STUDY = {"studyid": "S1", "title": "t", "sponsor": "s", "raw": "raw",
         "visits": [{"visitnum": 1, "visit": "SCREENING", "collected": ["Screening"]}]}


def finding(rule: str, severity: str = "error") -> Finding:
    return Finding(rule=rule, severity=severity, dataset="AE", message="end date/time is before start date/time")


def test_warning_keeps_the_finding_with_the_reason_and_off_drops_it():
    settings = {"XD-START-END": DataQualitySetting(severity="warning", reason="site confirmed, query closed"),
                "XD-VISIT-TV": DataQualitySetting(severity="off", reason="visits windowed in ADaM")}
    out = apply_settings([finding("XD-START-END"), finding("XD-VISIT-TV"), finding("XD-SEQ-UNIQUE")], settings)
    assert [(f.rule, f.severity) for f in out] == [("XD-START-END", "warning"), ("XD-SEQ-UNIQUE", "error")]
    assert out[0].message.endswith("[warning for this study: site confirmed, query closed]")


def test_a_setting_needs_a_reason_and_a_known_changeable_rule():
    StudySpec.model_validate({**STUDY, "data_quality": {"XD-START-END": {"severity": "warning", "reason": "confirmed"}}})
    for bad in [{"XD-START-END": {"severity": "warning"}},
                {"XD-START-END": {"severity": "warning", "reason": "   "}},
                {"XD-START-END": {"severity": "ignore", "reason": "confirmed"}},
                {"IG-REQ": {"severity": "warning", "reason": "confirmed"}},
                {"FDA-0001": {"severity": "off", "reason": "confirmed"}},
                {"XD-NOPE": {"severity": "off", "reason": "confirmed"}}]:
        with pytest.raises(ValidationError):
            StudySpec.model_validate({**STUDY, "data_quality": bad})


def test_end_before_start_kept_and_reported_when_the_study_says_so(tmp_path, spec_folder, example_raw, reference):
    project = tmp_path / "project"
    shutil.copytree(spec_folder, project / "specs")
    (tmp_path / "shared").symlink_to(reference.parent, target_is_directory=True)
    study = project / "specs" / "study.yaml"
    text = study.read_text(encoding="utf-8")
    assert "\n  raw: ../examples/raw\n" in text
    study.write_text(text.replace("\n  raw: ../examples/raw\n", "\n  raw: ../examples/raw\n  data_quality:\n"
                                  "    XD-START-END: {severity: warning, reason: end date confirmed by the site (query 17)}\n"),
                     encoding="utf-8")
    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    ae.loc[0, "AEENDAT"] = "01 JAN 2020"
    ae.to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(project / "specs"), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "reports" / "conformance.json").read_text())
    [hit] = [f for f in report["findings"] if f["rule"] == "XD-START-END"]
    assert hit["severity"] == "warning" and "query 17" in hit["message"] and "ae.csv:2" in hit["sources"]
    [rule] = [r for r in report["rules"] if r["id"] == "XD-START-END"]
    assert rule["status"] == "warn" and rule["severity"] == "warning" and "query 17" in rule["study_reason"]
    assert "XD-START-END: warning - end date confirmed by the site (query 17)" in \
        (out / "reports" / "conformance.txt").read_text()
