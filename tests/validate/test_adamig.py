"""ADaMIG rules on ADaM datasets (ADSL and BDS), from the packaged ADaMIG 1.3 metadata."""

from __future__ import annotations

import pandas as pd
import pytest

from sdtmgen.standards import packaged_ig
from sdtmgen.validate.conformance import Package, _placeholder, run_rules

RULES = ["ADAMIG-LABEL", "ADAMIG-REQ"]


@pytest.fixture(scope="module")
def adsl_spec(spec):
    return next(d for d in spec.adam if d.dataset == "ADSL")


def frame_for(dataset_spec, rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame({v.name: pd.Series(["X"] * rows, dtype="string[pyarrow]") if v.type == "Char" else [1.0] * rows
                         for v in dataset_spec.variables})


def test_the_example_adsl_meets_adamig(adsl_spec):
    package = Package({"ADSL": frame_for(adsl_spec)}, {"ADSL": adsl_spec}, adamig=packaged_ig("adamig", "1.3"))
    assert run_rules(package, RULES) == []


def test_a_required_variable_family_absent_or_blank_and_a_changed_label_are_found(adsl_spec):
    spec = adsl_spec.model_copy(deep=True)
    spec.variable("TRTSDT").label = "First dose"
    frame = frame_for(spec).drop(columns=[c for c in frame_for(spec).columns if _placeholder("TRTxxP").match(c)])
    frame.loc[1, "SUBJID"] = " "
    findings = run_rules(Package({"ADSL": frame}, {"ADSL": spec}, adamig=packaged_ig("adamig", "1.3")), RULES)
    found = {(f.rule, f.variable, f.rows) for f in findings}
    assert ("ADAMIG-REQ", "TRTxxP", ()) in found and ("ADAMIG-REQ", "SUBJID", (2,)) in found
    assert ("ADAMIG-LABEL", "TRTSDT", ()) in found
    label = next(f for f in findings if f.rule == "ADAMIG-LABEL")
    assert "Date of First Exposure to Treatment" in label.message and label.severity == "warning"


def test_without_adamig_metadata_the_rules_are_not_run(adsl_spec):
    findings = run_rules(Package({"ADSL": frame_for(adsl_spec)}, {"ADSL": adsl_spec}), RULES)
    assert [(f.rule, f.not_run) for f in findings] == [("ADAMIG-LABEL", True), ("ADAMIG-REQ", True)]


def test_sdtm_packages_are_not_concerned(spec, sdtm):
    assert run_rules(Package(sdtm.datasets, sdtm.specs), RULES) == []


@pytest.mark.parametrize("name,matches,misses", [("TRTxxP", "TRT01P", "TRT1P"), ("CRITy", "CRIT1", "CRIT0"),
                                                 ("ANLzzFL", "ANL01FL", "ANLFL"), ("USUBJID", "USUBJID", "USUBJIDX")])
def test_placeholders(name, matches, misses):
    pattern = _placeholder(name)
    assert pattern.match(matches) and not pattern.match(misses)
