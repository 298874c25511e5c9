"""Derivations (sdtmgen/sdtm/derivations) on small mapped frames, and the scheduler in build.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from sdtmgen.errors import SpecError
from sdtmgen.findings_text import format_findings
from sdtmgen.sdtm.build import run_derivations
from sdtmgen.sdtm.derivations import DERIVATIONS, DeriveContext
from sdtmgen.spec.models import DerivationSpec, DomainSpec, Spec, StudySpec
from sdtmgen.terminology import Terminology

STUDY = StudySpec.model_validate({
    "studyid": "STUDY-1", "title": "t", "sponsor": "s", "raw": "raw",
    "visits": [
        {"visitnum": 1, "visit": "SCREENING", "collected": ["Screening"]},
        {"visitnum": 101, "visit": "DAY 1", "collected": ["Day 1"]},
        {"visitnum": 102, "visit": "DAY 2", "collected": ["Day 2"]},
    ],
    "unplanned_visits": {"visit": "UNSCHEDULED", "collected": ["Unscheduled"]},
})
TERMINOLOGY = Terminology(ct_package="2025-03-28", codelists=[])


def derivation(**params):
    return TypeAdapter(DerivationSpec).validate_python(params)


def domain(name: str = "LB", keys: list[str] | None = None, derivations: list | None = None) -> DomainSpec:
    """Only what derivations read of a domain spec: its name, keys and steps."""
    return DomainSpec.model_construct(domain=name, keys=keys or ["STUDYID", "USUBJID"], variables=[],
                                      derivations=derivations or [])


def reported(findings) -> str:
    """The errors as the command line prints them (data errors are collected, not raised)."""
    assert any(f.severity == "error" for f in findings), findings
    return format_findings(findings)


def run(step, frame: pd.DataFrame, name: str = "LB", keys: list[str] | None = None, **others) -> DeriveContext:
    ctx = DeriveContext(domain=domain(name, keys), datasets={name: frame, **others}, study=STUDY,
                        terminology=TERMINOLOGY)
    step.apply(ctx)
    return ctx


def test_registry_holds_every_documented_derivation():
    assert {"seq", "study_day", "epoch", "visits", "baseline_flag", "standard_results",
            "reference_range_indicator", "subject_date", "flag_if_present", "subject_elements"} <= set(DERIVATIONS)


# --- seq --------------------------------------------------------------------------------------

def test_seq_numbers_each_subject_in_key_order_ties_by_raw_row():
    frame = pd.DataFrame({
        "STUDYID": "S", "USUBJID": ["B", "A", "A", "A", "A"],
        "LBTESTCD": ["HGB", "PLAT", "HGB", "HGB", "HGB"],
        "LBDTC": ["2025-03-01", "2025-03-01", "2025-03-02", "2025-03-02", "2025-03-01"],
        "_FILE": "hem.csv", "_ROW": [2, 3, 6, 4, 5],
    })
    ctx = run(derivation(derive="seq", target="LBSEQ"), frame, keys=["STUDYID", "USUBJID", "LBTESTCD", "LBDTC", "LBSEQ"])
    out = ctx.frame
    assert out["USUBJID"].tolist() == ["A", "A", "A", "A", "B"]
    assert out["_ROW"].tolist() == [5, 4, 6, 3, 2]  # HGB 03-01, HGB 03-02 (rows 4 then 6), PLAT
    assert out["LBSEQ"].tolist() == [1.0, 2.0, 3.0, 4.0, 1.0]
    assert out["LBSEQ"].dtype == "float64"


def test_seq_is_deterministic_whatever_the_input_order():
    frame = pd.DataFrame({"STUDYID": "S", "USUBJID": ["A"] * 4, "LBTESTCD": ["HGB"] * 4,
                          "_FILE": "hem.csv", "_ROW": [2, 3, 4, 5]})
    step = derivation(derive="seq", target="LBSEQ")
    keys = ["STUDYID", "USUBJID", "LBTESTCD"]
    first = run(step, frame.copy(), keys=keys).frame
    second = run(step, frame.iloc[::-1].reset_index(drop=True), keys=keys).frame
    assert first[["_ROW", "LBSEQ"]].equals(second[["_ROW", "LBSEQ"]])


# --- study_day --------------------------------------------------------------------------------

def test_study_day_has_no_day_zero():
    dm = pd.DataFrame({"USUBJID": ["S1", "S2"], "RFSTDTC": ["2025-03-10", "2025-03"]})
    frame = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S1", "S2", "S3"],
                          "LBDTC": ["2025-03-09", "2025-03-10T07:00", "2025-03-11", "2025-03", "2025-03-10", "2025-03-10"]})
    out = run(derivation(derive="study_day", target="LBDY", date="LBDTC"), frame, DM=dm).frame["LBDY"]
    assert out.iloc[:3].tolist() == [-1.0, 1.0, 2.0]
    assert out.iloc[3:].isna().all()  # partial date, partial reference, subject not in DM


def test_study_day_other_reference():
    dm = pd.DataFrame({"USUBJID": ["S1"], "RFSTDTC": ["2025-01-01"], "RFXSTDTC": ["2025-03-10"]})
    frame = pd.DataFrame({"USUBJID": ["S1"], "LBDTC": ["2025-03-08"]})
    step = derivation(derive="study_day", target="LBDY", date="LBDTC",
                      reference={"domain": "DM", "variable": "RFXSTDTC"})
    assert step.needs() == {("DM", "RFXSTDTC")}
    assert run(step, frame, DM=dm).frame["LBDY"].tolist() == [-2.0]


# --- epoch ------------------------------------------------------------------------------------

SE = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"],
                   "SESTDTC": ["2025-03-01", "2025-03-10", "2025-04-20", "2025-03-05"],
                   "EPOCH": ["SCREENING", "TREATMENT", "FOLLOW-UP", "SCREENING"]})


def test_epoch_from_subject_elements():
    frame = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1", "S1", "S1", "S1", "S2", "S3"],
        "LBDTC": ["2025-02-28", "2025-03-01", "2025-03-09T23:59", "2025-03-10", "2025-05-01", "2025-03",
                  "2025-03-06", "2025-03-06"],
    })
    out = run(derivation(derive="epoch", date="LBDTC"), frame, SE=SE.copy()).frame["EPOCH"]
    assert pd.isna(out.iloc[0])                      # before the first element
    assert out.iloc[1] == "SCREENING"                # on the first element's start date
    assert out.iloc[2] == "SCREENING"
    assert out.iloc[3] == "TREATMENT"                # on the second element's start date
    assert out.iloc[4] == "FOLLOW-UP"
    assert pd.isna(out.iloc[5])                      # partial date
    assert out.iloc[6] == "SCREENING"                # per subject
    assert pd.isna(out.iloc[7])                      # subject without elements


def test_epoch_of_a_date_on_the_day_an_element_starts_at_a_time():
    # SE starts carry a time; a date without a time stands for the whole day, so it belongs to the
    # element that starts that day (CORE-000097), while a timed value keeps its exact place
    se = pd.DataFrame({"USUBJID": ["S1", "S1", "S1"],
                       "SESTDTC": ["2025-03-01T07:36", "2025-03-04T07:39", "2025-04-15"],
                       "EPOCH": ["SCREENING", "TREATMENT", "FOLLOW-UP"]})
    frame = pd.DataFrame({"USUBJID": ["S1"] * 6,
                          "SVSTDTC": ["2025-03-01", "2025-03-04", "2025-03-04T07:10", "2025-03-04T08:00",
                                      "2025-04-15", "2025-02-28"]})
    out = run(derivation(derive="epoch", date="SVSTDTC"), frame, name="SV", SE=se).frame["EPOCH"]
    assert out.iloc[:5].tolist() == ["SCREENING", "TREATMENT", "SCREENING", "TREATMENT", "FOLLOW-UP"]
    assert pd.isna(out.iloc[5])


def _elements_study():
    return StudySpec.model_validate({
        **STUDY.model_dump(), "elements": [
            {"etcd": "SCRN", "element": "Screening", "epoch": "SCREENING"},
            {"etcd": "TRT", "element": "Treatment", "epoch": "TREATMENT"},
            {"etcd": "FU", "element": "Follow-up", "epoch": "FOLLOW-UP"}]})


def test_subject_elements_end_at_the_earliest_end_date():
    # S1 dies before the follow-up element would start: no FU record, and treatment ends at death,
    # not at the planned follow-up start (CORE-000952); S2 completes: elements chain to its last contact
    dm = pd.DataFrame({"USUBJID": ["S1", "S2"], "RFICDTC": ["2025-03-01T07:36", "2025-03-02T08:00"],
                       "RFPENDTC": ["2025-04-10", "2025-09-01"], "DTHDTC": ["2025-04-03", None],
                       "RFENDTC": ["2025-04-10", "2025-09-01"]})
    ex = pd.DataFrame({"USUBJID": ["S1", "S2"], "EXSTDTC": ["2025-03-04T09:00", "2025-03-05T10:00"]})
    step = derivation(derive="subject_elements", elements=[
        {"etcd": "SCRN", "domain": "DM", "variable": "RFICDTC"},
        {"etcd": "TRT", "domain": "EX", "variable": "EXSTDTC"},
        {"etcd": "FU", "domain": "EX", "variable": "EXSTDTC", "offset_days": 42}],
        end=[{"domain": "DM", "variable": "RFPENDTC"}, {"domain": "DM", "variable": "DTHDTC"},
             {"domain": "DM", "variable": "RFENDTC"}])
    ctx = DeriveContext(domain=domain("SE"), datasets={"SE": pd.DataFrame(), "DM": dm, "EX": ex},
                        study=_elements_study(), terminology=TERMINOLOGY)
    step.apply(ctx)
    se = ctx.frame
    s1 = se[se["USUBJID"] == "S1"]
    assert s1["ETCD"].tolist() == ["SCRN", "TRT"]
    assert s1["SEENDTC"].tolist() == ["2025-03-04T09:00", "2025-04-03"]
    s2 = se[se["USUBJID"] == "S2"]
    assert s2["ETCD"].tolist() == ["SCRN", "TRT", "FU"]
    assert s2["SEENDTC"].tolist() == ["2025-03-05T10:00", "2025-04-16", "2025-09-01"]
    # one end given as a single reference still works
    single = derivation(derive="subject_elements", elements=[{"etcd": "SCRN", "domain": "DM", "variable": "RFICDTC"}],
                        end={"domain": "DM", "variable": "DTHDTC"})
    assert single.needs() >= {("DM", "DTHDTC"), ("DM", "RFICDTC")}


def test_epoch_needs_se():
    assert derivation(derive="epoch", date="AESTDTC").needs() == {("SE", "SESTDTC"), ("SE", "EPOCH")}


# --- subject_date -----------------------------------------------------------------------------

def test_subject_date_min_max_and_where():
    ex = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"],
                       "EXSTDTC": ["2025-03-12T09:00", "2025-03-10T10:30", "2025-03-01", ""],
                       "EXTRT": ["EXO", "EXO", "CHEMO", "EXO"]})
    dm = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"]})
    first = derivation(derive="subject_date", target="RFSTDTC", domain="EX", variable="EXSTDTC", agg="min",
                       where={"column": "EXTRT", "equals": "EXO"})
    assert first.needs() == {("EX", "EXSTDTC"), ("EX", "EXTRT")}
    out = run(first, dm, name="DM", EX=ex).frame
    assert out["RFSTDTC"].iloc[0] == "2025-03-10T10:30"
    assert out["RFSTDTC"].iloc[1:].isna().all()  # blank date ignored; subject without records

    last = derivation(derive="subject_date", target="RFXENDTC", domain="EX", variable="EXSTDTC", agg="max",
                      date_only=True)
    out = run(last, dm, name="DM", EX=ex).frame
    assert out["RFXENDTC"].iloc[0] == "2025-03-12"

    unfiltered = derivation(derive="subject_date", target="RFICDTC", domain="EX", variable="EXSTDTC", agg="min")
    assert run(unfiltered, dm, name="DM", EX=ex).frame["RFICDTC"].iloc[0] == "2025-03-01"


def test_flag_if_present():
    dm = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "DTHDTC": ["2025-05-01", None, ""]})
    out = run(derivation(derive="flag_if_present", target="DTHFL", variable="DTHDTC"), dm, name="DM").frame
    assert out["DTHFL"].iloc[0] == "Y"
    assert out["DTHFL"].iloc[1:].isna().all()


# --- visits -----------------------------------------------------------------------------------

def test_visits_planned_and_unscheduled():
    frame = pd.DataFrame({
        "USUBJID": ["S1"] * 6 + ["S2"],
        "_VISIT": ["Screening", "Unscheduled", "day 1", "Unscheduled", "Unscheduled", "Day 2", "Unscheduled"],
        "LBDTC": ["2025-03-01", "2025-03-03", "2025-03-10", "2025-03-11", "2025-03-12T08:00", "2025-03-11",
                  "2025-01-01"],
    })
    out = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame).frame
    assert out["VISITNUM"].tolist() == [1.0, 1.01, 101.0, 102.01, 102.02, 102.0, 0.01]
    assert out["VISIT"].tolist() == ["SCREENING", "UNSCHEDULED 1.01", "DAY 1", "UNSCHEDULED 102.01",
                                     "UNSCHEDULED 102.02", "DAY 2", "UNSCHEDULED 0.01"]


def test_visits_same_unscheduled_date_is_one_visit():
    frame = pd.DataFrame({"USUBJID": ["S1"] * 3, "_VISIT": ["Day 1", "Unscheduled", "Unscheduled"],
                          "LBDTC": ["2025-03-10", "2025-03-12T08:00", "2025-03-12T08:00"]})
    out = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame).frame
    assert out["VISITNUM"].tolist() == [101.0, 101.01, 101.01]


def test_visits_unscheduled_records_on_one_date_share_a_visit_whatever_their_time():
    frame = pd.DataFrame({"USUBJID": ["S1"] * 4, "_VISIT": ["Day 1", "Unscheduled", "Unscheduled", "Unscheduled"],
                          "LBDTC": ["2025-03-10", "2025-03-12T08:00", "2025-03-12T14:00", "2025-03-12"]})
    out = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame).frame
    assert out["VISITNUM"].tolist() == [101.0, 101.01, 101.01, 101.01]


def test_visits_unscheduled_for_several_subjects_with_interleaved_dates():
    # planned visits of two subjects interleave in time: the as-of match must still find each one's own
    frame = pd.DataFrame({
        "USUBJID": ["S1", "S2", "S1", "S2", "S2", "S1"],
        "_VISIT": ["Day 1", "Day 1", "Day 2", "Unscheduled", "Day 2", "Unscheduled"],
        "LBDTC": ["2025-03-10", "2025-03-01", "2025-03-11", "2025-03-01T12:00", "2025-03-20", "2025-03-15"]})
    out = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame).frame
    assert out["VISITNUM"].tolist() == [101.0, 101.0, 102.0, 101.01, 102.0, 102.01]
    assert out["VISIT"].tolist()[3] == "UNSCHEDULED 101.01"


def test_visits_unknown_folder_names_the_raw_row():
    frame = pd.DataFrame({"USUBJID": ["S1", "S1"], "_VISIT": ["Day 1", "Week 9"],
                          "LBDTC": ["2025-03-10", "2025-03-11"], "_FILE": "hem.csv", "_ROW": [2, 3]})
    ctx = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame)
    message = reported(ctx.findings)
    assert "hem.csv:3" in message
    assert "Week 9" in message
    assert "hem.csv:2" not in message
    assert ctx.frame["VISITNUM"].iloc[0] == 101.0 and np.isnan(ctx.frame["VISITNUM"].iloc[1])


def test_visits_undated_unscheduled_warns_and_leaves_visitnum_missing():
    frame = pd.DataFrame({"USUBJID": ["S1"] * 3, "_VISIT": ["Day 1", "Unscheduled", "Unscheduled"],
                          "LBDTC": ["2025-03-01", "2025-03", "2025-03-05"]})
    ctx = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame)
    assert np.isnan(ctx.frame["VISITNUM"].iloc[1])
    assert ctx.frame["VISIT"].iloc[1] == "UNSCHEDULED"
    assert ctx.frame["VISITNUM"].iloc[2] == 101.01
    assert [f.rule for f in ctx.findings] == ["VISIT-UNDATED"]


def test_visits_only_undated_unscheduled_records_do_not_crash():
    frame = pd.DataFrame({"USUBJID": ["S1", "S1"], "_VISIT": ["Day 1", "Unscheduled"],
                          "LBDTC": ["2025-03-01", "2025-03"]})
    ctx = run(derivation(derive="visits", column="_VISIT", date="LBDTC"), frame)
    assert ctx.frame["VISITNUM"].iloc[0] == 101.0
    assert np.isnan(ctx.frame["VISITNUM"].iloc[1])
    assert ctx.frame["VISIT"].iloc[1] == "UNSCHEDULED"
    assert [f.rule for f in ctx.findings] == ["VISIT-UNDATED"]


# --- baseline_flag ----------------------------------------------------------------------------

BASELINE = dict(derive="baseline_flag", target="LBLOBXFL", by=["LBTESTCD"], date="LBDTC", result="LBORRES")


def test_baseline_last_non_missing_on_or_before_reference():
    dm = pd.DataFrame({"USUBJID": ["S1", "S2"], "RFXSTDTC": ["2025-03-10T09:00", "2025-03-10T09:00"]})
    frame = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1", "S1", "S1", "S2", "S2"],
        "LBTESTCD": ["HGB", "HGB", "HGB", "HGB", "PLAT", "HGB", "HGB"],
        "LBDTC": ["2025-03-01", "2025-03-10", "2025-03-10T10:00", "2025-03-11", "2025-03-05",
                  "2025-03-09", "2025-03-10T08:00"],
        "LBORRES": ["1", "2", "3", "4", "5", "6", ""],
    })
    out = run(derivation(**BASELINE), frame, DM=dm).frame["LBLOBXFL"]
    # S1 HGB: the same-day date-only record counts, the later-timed and next-day ones do not
    assert out.fillna("").tolist() == ["", "Y", "", "", "Y", "Y", ""]


def test_baseline_none_when_everything_is_after_reference():
    dm = pd.DataFrame({"USUBJID": ["S1"], "RFXSTDTC": ["2025-03-10"]})
    frame = pd.DataFrame({"USUBJID": ["S1", "S1"], "LBTESTCD": ["HGB", "HGB"],
                          "LBDTC": ["2025-03-11", "2025-03-12"], "LBORRES": ["1", "2"]})
    assert run(derivation(**BASELINE), frame, DM=dm).frame["LBLOBXFL"].isna().all()


def test_baseline_needs_its_reference():
    assert derivation(**BASELINE).needs() == {("DM", "RFXSTDTC")}


def test_baseline_timed_record_on_a_date_only_reference_day_counts():
    dm = pd.DataFrame({"USUBJID": ["S1"], "RFXSTDTC": ["2025-03-10"]})
    frame = pd.DataFrame({"USUBJID": ["S1", "S1"], "LBTESTCD": ["HGB", "HGB"],
                          "LBDTC": ["2025-03-09", "2025-03-10T08:00"], "LBORRES": ["1", "2"]})
    out = run(derivation(**BASELINE), frame, DM=dm).frame["LBLOBXFL"]
    assert out.fillna("").tolist() == ["", "Y"]


# --- standard_results / reference_range_indicator ---------------------------------------------

STANDARD = dict(derive="standard_results", test="LBTESTCD", orres="LBORRES", orresu="LBORRESU",
                stresc="LBSTRESC", stresn="LBSTRESN", stresu="LBSTRESU", ornrlo="LBORNRLO", ornrhi="LBORNRHI",
                stnrlo="LBSTNRLO", stnrhi="LBSTNRHI", standard_units={"HGB": "g/L", "PLAT": "10^9/L"},
                conversions=[{"from_unit": "g/dL", "to_unit": "g/L", "factor": 10}])


def lab_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": ["S1"] * 6,
        "LBTESTCD": ["HGB", "HGB", "PLAT", "PLAT", "HGB", "PLAT"],
        "LBORRES": ["13.5", "<1", "150", "", "12", "<0.1"],
        "LBORRESU": ["g/dL", "g/dL", "10^9/L", "10^9/L", "g/L", "10^9/L"],
        "LBORNRLO": ["12", "12", "100", "100", "120", "100"],
        "LBORNRHI": ["16", "16", "400", "400", "160", "400"],
        "_FILE": "hem.csv", "_ROW": [2, 3, 4, 5, 6, 7],
    })


def test_standard_results_convert_results_and_ranges():
    out = run(derivation(**STANDARD), lab_frame()).frame
    assert out["LBSTRESC"].iloc[0] == "135"
    assert out["LBSTRESN"].iloc[0] == 135.0
    assert out["LBSTRESU"].iloc[0] == "g/L"
    assert (out["LBSTNRLO"].iloc[0], out["LBSTNRHI"].iloc[0]) == (120.0, 160.0)
    assert out["LBSTRESN"].iloc[4] == 12.0 and out["LBSTNRLO"].iloc[4] == 120.0  # already standard
    assert out["LBSTRESC"].iloc[2] == "150" and out["LBSTRESU"].iloc[2] == "10^9/L"


def test_standard_results_test_without_unit():
    """A ratio (Kt/V) has no unit: standard unit "" takes the result as it is, without a unit; a unit
    given for it is still an error, and so is a missing unit of a test that has one."""
    frame = pd.DataFrame({"USUBJID": ["S1"] * 4, "LBTESTCD": ["UREAKTV", "UREAKTV", "HGB", "UREAKTV"],
                          "LBORRES": ["1.2", ".9", "13", "1.4"], "LBORRESU": ["", None, "g/L", "%"],
                          "LBORNRLO": "", "LBORNRHI": "", "_FILE": "lab.csv", "_ROW": [2, 3, 4, 5]})
    step = derivation(**{**STANDARD, "standard_units": {"HGB": "g/L", "UREAKTV": ""}})
    ctx = run(step, frame.iloc[:3].copy())
    out = ctx.frame
    assert not [f for f in ctx.findings if f.severity == "error"]
    assert out["LBSTRESN"].tolist()[:2] == [1.2, 0.9] and out["LBSTRESC"].tolist()[:2] == ["1.2", "0.9"]
    assert set(out["LBSTRESU"].iloc[:2].fillna("")) == {""} and out["LBSTRESU"].iloc[2] == "g/L"
    assert "no conversion from this unit" in reported(run(step, frame).findings)
    no_unit = frame.assign(LBTESTCD="HGB").iloc[:1].copy()
    assert "no conversion from this unit" in reported(run(step, no_unit).findings)


def test_standard_results_qualified_results_keep_text_only():
    out = run(derivation(**STANDARD), lab_frame()).frame
    assert out["LBSTRESC"].iloc[5] == "<0.1"
    assert np.isnan(out["LBSTRESN"].iloc[5])
    assert out["LBSTRESC"].iloc[1] == "<10"  # converted, qualifier kept
    assert np.isnan(out["LBSTRESN"].iloc[1])


def test_standard_results_missing_result():
    out = run(derivation(**STANDARD), lab_frame()).frame
    assert pd.isna(out["LBSTRESC"].iloc[3])
    assert np.isnan(out["LBSTRESN"].iloc[3])
    assert pd.isna(out["LBSTRESU"].iloc[3])


def test_standard_results_unknown_unit_names_the_unit_and_row():
    frame = lab_frame()
    frame.loc[4, "LBORRESU"] = "mg/dL"
    ctx = run(derivation(**STANDARD), frame)
    message = reported(ctx.findings)
    assert "mg/dL" in message
    assert "hem.csv:6" in message
    assert np.isnan(ctx.frame["LBSTRESN"].iloc[4])  # no conversion: no standard result


def test_standard_results_test_without_standard_unit():
    frame = lab_frame()
    frame.loc[2, "LBTESTCD"] = "WBC"
    assert "WBC" in reported(run(derivation(**STANDARD), frame).findings)


def test_standard_results_conversion_limited_to_tests():
    params = dict(STANDARD, conversions=[{"from_unit": "g/dL", "to_unit": "g/L", "factor": 10, "tests": ["ALB"]}])
    assert "g/dL" in reported(run(derivation(**params), lab_frame()).findings)


def test_reference_range_indicator():
    frame = pd.DataFrame({"LBSTRESN": [5.0, 50.0, 500.0, np.nan, 100.0, 7.0, 7.0],
                          "LBSTNRLO": [10.0, 10.0, 10.0, 10.0, 10.0, np.nan, np.nan],
                          "LBSTNRHI": [100.0, 100.0, 100.0, 100.0, 100.0, 6.0, np.nan]})
    step = derivation(derive="reference_range_indicator", target="LBNRIND", result="LBSTRESN",
                      low="LBSTNRLO", high="LBSTNRHI")
    out = run(step, frame).frame["LBNRIND"]
    assert out.iloc[:3].tolist() == ["LOW", "NORMAL", "HIGH"]
    assert pd.isna(out.iloc[3])           # no result
    assert out.iloc[4] == "NORMAL"        # on the limit
    assert out.iloc[5] == "HIGH"          # only an upper limit
    assert pd.isna(out.iloc[6])           # no range


def test_standard_results_then_indicator():
    ctx = run(derivation(**STANDARD), lab_frame())
    derivation(derive="reference_range_indicator", target="LBNRIND", result="LBSTRESN",
               low="LBSTNRLO", high="LBSTNRHI").apply(ctx)
    out = ctx.frame["LBNRIND"]
    assert out.iloc[0] == "NORMAL" and out.iloc[4] == "LOW" and out.iloc[2] == "NORMAL"
    assert pd.isna(out.iloc[1]) and pd.isna(out.iloc[3])


# --- the scheduler ----------------------------------------------------------------------------

def spec_of(*domains: DomainSpec) -> Spec:
    return Spec.model_construct(study=STUDY, terminology=TERMINOLOGY, domains=list(domains), folder=".")


def test_scheduler_runs_steps_once_their_needs_exist_whatever_the_domain_order():
    aa = domain("AA", derivations=[derivation(derive="study_day", target="AADY", date="AADTC")])
    dm = domain("DM", derivations=[derivation(derive="subject_date", target="RFSTDTC", domain="EX",
                                              variable="EXSTDTC", agg="min")])
    ex = domain("EX")
    datasets = {"AA": pd.DataFrame({"USUBJID": ["S1"], "AADTC": ["2025-03-12"]}),
                "DM": pd.DataFrame({"USUBJID": ["S1"]}),
                "EX": pd.DataFrame({"USUBJID": ["S1", "S1"], "EXSTDTC": ["2025-03-11", "2025-03-10"]})}
    run_derivations(spec_of(aa, dm, ex), datasets, [])
    assert datasets["DM"]["RFSTDTC"].tolist() == ["2025-03-10"]
    assert datasets["AA"]["AADY"].tolist() == [3.0]


def test_scheduler_reports_a_cycle():
    aa = domain("AA", derivations=[derivation(derive="subject_date", target="AAX", domain="BB", variable="BBY",
                                              agg="min")])
    bb = domain("BB", derivations=[derivation(derive="subject_date", target="BBY", domain="AA", variable="AAX",
                                              agg="min")])
    datasets = {"AA": pd.DataFrame({"USUBJID": ["S1"]}), "BB": pd.DataFrame({"USUBJID": ["S1"]})}
    with pytest.raises(SpecError) as err:
        run_derivations(spec_of(aa, bb), datasets, [])
    assert "BB.BBY" in str(err.value) and "AA.AAX" in str(err.value)


def test_scheduler_reports_a_need_nothing_produces():
    aa = domain("AA", derivations=[derivation(derive="study_day", target="AADY", date="AADTC",
                                              reference={"domain": "DM", "variable": "RFXSTDTC"})])
    dm = domain("DM")
    datasets = {"AA": pd.DataFrame({"USUBJID": ["S1"], "AADTC": ["2025-03-12"]}),
                "DM": pd.DataFrame({"USUBJID": ["S1"], "RFSTDTC": ["2025-03-10"]})}
    with pytest.raises(SpecError, match=r"DM\.RFXSTDTC"):
        run_derivations(spec_of(aa, dm), datasets, [])
    assert "AADY" not in datasets["AA"]


@pytest.mark.parametrize("column,value,message", [
    ("LBORRES", "1,5", "result written with a decimal comma"),
    ("LBORNRLO", "1,80", "reference range limit is not a finite number (a decimal comma?)"),
    ("LBORRES", "1e400", "result is not a finite number"),
    ("LBORNRHI", "inf", "reference range limit is not a finite number"),
])
def test_standard_results_unreadable_numbers_stop_with_the_cell(column, value, message):
    frame = lab_frame()
    frame.loc[2, column] = value
    ctx = run(derivation(**STANDARD), frame)
    text = reported(ctx.findings)
    assert message in text and f"hem.csv:4: {column}={value!r}" in text
    assert len(ctx.findings) == 1, text  # one cell, one error (not also an 'overflow' of the same cell)
    assert ctx.frame["LBSTRESN"].notna().sum() > 0  # the other results are still derived


def test_standard_results_decimal_comma_option():
    frame = lab_frame()
    frame.loc[2, ["LBORRES", "LBORNRLO"]] = ["150,5", "100,0"]
    frame.loc[[0, 5], "LBORRES"] = ["13,5", "<0,1"]
    out = run(derivation(**STANDARD, decimal=","), frame).frame
    assert out["LBSTRESN"].iloc[0] == 135.0 and out["LBSTRESC"].iloc[5] == "<0.1"
    assert out["LBSTRESN"].iloc[2] == 150.5 and out["LBSTRESC"].iloc[2] == "150.5" and out["LBSTNRLO"].iloc[2] == 100.0
    assert out["LBORRES"].iloc[2] == "150,5", "the original result keeps its text"
    frame.loc[2, "LBORRES"] = "150.5"
    text = reported(run(derivation(**STANDARD, decimal=","), frame).findings)
    assert "decimal point" in text and "hem.csv:4: LBORRES='150.5'" in text


def test_standard_results_overflow_stops_without_numpy_warnings():
    frame = lab_frame()
    frame.loc[0, "LBORRES"] = "1e308"  # g/dL: x10 overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = reported(run(derivation(**STANDARD), frame).findings)
        assert "not a finite number (overflow)" in text and "hem.csv:2: LBORRES='1e308'" in text
        frame.loc[0, "LBORRESU"] = "g/L"  # no conversion: finite, too large for XPT (SCH-NUMRANGE's concern)
        out = run(derivation(**STANDARD), frame).frame
    assert out["LBSTRESN"].iloc[0] == 1e308


# --- subject_visits ---------------------------------------------------------------------------

def test_subject_visits_pre_specified_occurred_and_missed():
    # S1 attends SCREENING and DAY 2 but not DAY 1, plus an unscheduled visit; S2 attends SCREENING only
    lb = pd.DataFrame({"USUBJID": ["S1", "S1", "S1", "S2"], "VISITNUM": [1.0, 102.0, 102.01, 1.0],
                       "VISIT": ["SCREENING", "DAY 2", "UNSCHEDULED 102.01", "SCREENING"],
                       "LBDTC": ["2025-03-01T08:00", "2025-03-05", "2025-03-07", "2025-03-02"]})
    vs = pd.DataFrame({"USUBJID": ["S1"], "VISITNUM": [1.0], "VISIT": ["SCREENING"], "VSDTC": ["2025-02-28"]})
    step = derivation(derive="subject_visits", domains={"LB": "LBDTC", "VS": "VSDTC"})
    sv = run(step, pd.DataFrame(), name="SV", LB=lb, VS=vs).frame
    got = sv[["USUBJID", "VISITNUM", "SVPRESP", "SVOCCUR", "SVSTDTC", "SVENDTC", "SVUPDES"]].astype(object)
    got = got.where(got.notna(), None).values.tolist()
    assert got == [
        ["S1", 1.0, "Y", "Y", "2025-02-28", "2025-03-01T08:00", None],  # the records' own date-times
        ["S1", 101.0, "Y", "N", None, None, None],           # missed between attended planned visits
        ["S1", 102.0, "Y", "Y", "2025-03-05", "2025-03-05", None],
        ["S1", 102.01, None, None, "2025-03-07", "2025-03-07", STUDY.unplanned_visits.description],
        ["S2", 1.0, "Y", "Y", "2025-03-02", "2025-03-02", None],  # nothing after the last attended visit
    ]
    assert sv.loc[sv["VISITNUM"] == 101.0, "VISIT"].tolist() == ["DAY 1"]


# --- trial_summary_checks ---------------------------------------------------------------------

def _ts(cutoff: str, planned: str, actual: str) -> pd.DataFrame:
    return pd.DataFrame({"TSPARMCD": ["DCUTDTC", "PLANSUB", "ACTSUB"], "TSVAL": [cutoff, planned, actual]})


def test_trial_summary_checks_warn_on_data_after_cutoff_and_over_enrolment():
    lb = pd.DataFrame({"USUBJID": ["S1", "S1"], "LBDTC": ["2025-06-01T08:00", "2026-01-03"]})
    step = derivation(derive="trial_summary_checks", dates={"LB": ["LBDTC"]})
    assert step.needs() == {("LB", "LBDTC")}
    found = run(step, _ts("2025-12-31", "9", "200"), name="TS", LB=lb).findings
    assert {f.rule for f in found} == {"TS-DCUTDTC", "TS-PLANSUB"}
    cut = next(f for f in found if f.rule == "TS-DCUTDTC")
    assert "2026-01-03" in cut.message and cut.values == ("2025-12-31",)
    # a cut-off on the last data day, fewer subjects than planned: nothing to say
    assert run(step, _ts("2026-01-03", "9", "7"), name="TS", LB=lb).findings == []
