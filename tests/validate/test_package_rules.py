"""Each package-level conformance rule fires on a broken copy of the example package and not on it."""

from __future__ import annotations

import pandas as pd
import pytest

from sdtmgen.pipeline import load_ig
from sdtmgen.validate.conformance import RULES, Package, run_rules


@pytest.fixture(scope="module")
def package(spec, sdtm):
    ig, _ = load_ig(spec)
    assert ig is not None, "the example spec names the SDTMIG metadata"
    return Package({k: v.copy() for k, v in sdtm.datasets.items()}, sdtm.specs, sdtm.lineage, ig=ig)


def fired(package: Package, rule: str, **changes) -> list:
    datasets = dict(package.datasets)
    datasets.update(changes)
    broken = Package(datasets, package.specs, package.lineage, ig=package.ig)
    return run_rules(broken, [rule])


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_example_package_passes_every_rule(package, rule):
    assert run_rules(package, [rule]) == []


def test_study_day_inconsistent_with_rfstdtc(package):
    ae = package.datasets["AE"].copy()
    ae.loc[0, "AESTDY"] = ae.loc[0, "AESTDY"] + 3
    hits = fired(package, "XD-DY-RFSTDTC", AE=ae)
    assert [(h.dataset, h.variable, h.rows) for h in hits] == [("AE", "AESTDY", (1,))]


def test_epoch_inconsistent_with_se(package):
    lb = package.datasets["LB"].copy()
    lb.loc[5, "EPOCH"] = "SCREENING" if lb.loc[5, "EPOCH"] != "SCREENING" else "FOLLOW-UP"
    hits = fired(package, "XD-EPOCH-SE", LB=lb)
    assert hits and hits[0].dataset == "LB" and hits[0].rows == (6,)


def test_visit_not_in_tv(package):
    vs = package.datasets["VS"].copy()
    vs.loc[2, "VISIT"] = "DAY 99"
    hits = fired(package, "XD-VISIT-TV", VS=vs)
    assert hits and hits[0].rows == (3,)


def test_relrec_pointing_nowhere(package):
    relrec = package.datasets["RELREC"].copy()
    assert len(relrec) > 0, "the example study links CM records to AEs"
    relrec.loc[0, "IDVARVAL"] = "999"
    hits = fired(package, "XD-RELREC", RELREC=relrec)
    assert any(h.variable == "IDVARVAL" and h.rows == (1,) for h in hits)


def test_required_variable_missing(package):
    ae = package.datasets["AE"].copy()
    ae.loc[3, "AEDECOD"] = pd.NA
    hits = fired(package, "IG-REQ", AE=ae)
    assert [(h.dataset, h.variable, h.rows) for h in hits] == [("AE", "AEDECOD", (4,))]
    hits = fired(package, "IG-REQ", AE=ae.drop(columns=["AETERM"]))
    assert any(h.variable == "AETERM" and "absent" in h.message for h in hits)


def test_expected_variable_absent(package):
    hits = fired(package, "IG-EXP", LB=package.datasets["LB"].drop(columns=["LBSTRESU"]))
    assert [(h.dataset, h.variable) for h in hits] == [("LB", "LBSTRESU")]


def test_label_differs_from_ig(package):
    spec = package.specs["CM"]
    changed = spec.model_copy(update={"variables": [
        v.model_copy(update={"label": "Medication Name"}) if v.name == "CMTRT" else v for v in spec.variables]})
    broken = Package(package.datasets, {**package.specs, "CM": changed}, package.lineage, ig=package.ig)
    hits = run_rules(broken, ["IG-LABEL"])
    assert [(h.dataset, h.variable) for h in hits] == [("CM", "CMTRT")]
    assert "Reported Name of Drug, Med, or Therapy" in hits[0].message
