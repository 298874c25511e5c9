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


def test_study_day_checked_against_the_reference_the_spec_declares(package):
    """AESTDY counted from DM.RFXSTDTC (study_day's `reference`) is checked against RFXSTDTC, not RFSTDTC."""
    from sdtmgen.sdtm.derivations.timing import StudyDay, iso_to_days, study_days

    dm = package.datasets["DM"].copy()
    assert "RFXSTDTC" in dm.columns
    # a first dose three days after the reference start, so the two counts differ for every subject
    dm["RFXSTDTC"] = (pd.to_datetime(dm["RFSTDTC"].str.slice(0, 10)) + pd.Timedelta(days=3)).dt.strftime("%Y-%m-%d")
    ae = package.datasets["AE"].copy()
    ref = ae["USUBJID"].map(dm.set_index("USUBJID")["RFXSTDTC"])
    ae["AESTDY"] = study_days(iso_to_days(ae["AESTDTC"]), iso_to_days(ref))
    assert ae["AESTDY"].notna().any()

    spec = package.specs["AE"]
    declared = [StudyDay(derive="study_day", target="AESTDY", date="AESTDTC",
                         reference={"domain": "DM", "variable": "RFXSTDTC"})
                if getattr(s, "target", None) == "AESTDY" else s for s in spec.derivations]
    specs = dict(package.specs, AE=spec.model_copy(update={"derivations": declared}))
    datasets = dict(package.datasets, DM=dm, AE=ae)
    assert run_rules(Package(datasets, specs, package.lineage, ig=package.ig), ["XD-DY-RFSTDTC"]) == []
    # the same values against the default reference (RFSTDTC) are wrong, and reported
    hits = run_rules(Package(datasets, package.specs, package.lineage, ig=package.ig), ["XD-DY-RFSTDTC"])
    assert [(h.dataset, h.variable) for h in hits] == [("AE", "AESTDY")]
    assert len(hits[0].rows) == int(ae["AESTDY"].notna().sum())
