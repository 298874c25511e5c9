"""ADaM conformance rules on the example ADaM build: it passes every rule, and each rule fires alone on a
copy with one dataset (or its spec) broken, naming the dataset, the variable and the subject or record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.validate.adam_rules import ADAM_RULE_IDS
from sdtmgen.validate.conformance import RULES, Package, run_rules


@pytest.fixture(scope="session")
def adam(spec, sdtm):
    """The example ADaM datasets, built once (never modified: each test breaks copies)."""
    from sdtmgen.adam.build import build_adam

    return build_adam(spec, sdtm.datasets)


def run(adam, sdtm, datasets=None, specs=None, sdtm_datasets=None):
    package = Package({**adam.datasets, **(datasets or {})}, {**adam.specs, **(specs or {})}, adamig=adam.adamig,
                      sdtm=sdtm.datasets if sdtm_datasets is None else sdtm_datasets)
    return run_rules(package, ADAM_RULE_IDS)


def test_every_adam_rule_is_registered():
    assert set(ADAM_RULE_IDS) <= set(RULES)
    assert sorted(r for r in RULES if r.startswith("ADAM")) == sorted(ADAM_RULE_IDS)


def test_the_example_adam_build_passes_every_rule(adam, sdtm):
    assert set(adam.datasets) == {"ADSL", "ADAE", "ADLB", "ADTTE"}
    assert run(adam, sdtm) == []


def test_every_build_runs_the_rules(adam, sdtm, spec):
    """validate_adam, which build and report call with the SDTM datasets, runs them all."""
    from dataclasses import replace

    from sdtmgen.adam.build import validate_adam

    assert [f for f in validate_adam(adam, spec.terminology, sdtm.datasets) if f.rule.startswith("ADAM")] == []
    adsl = copy(adam, "ADSL")
    broken = replace(adam, datasets={**adam.datasets, "ADSL": pd.concat([adsl, adsl.iloc[[0]]], ignore_index=True)})
    found = [f for f in validate_adam(broken, spec.terminology, sdtm.datasets) if f.rule.startswith("ADAM")]
    assert {(f.rule, f.severity) for f in found} == {("ADAM-ADSL-ONE", "error")}


def test_sdtm_packages_are_not_concerned(sdtm):
    assert run_rules(Package(sdtm.datasets, sdtm.specs, sdtm=sdtm.datasets), ADAM_RULE_IDS) == []


def test_without_sdtm_the_rules_comparing_with_it_are_not_run(adam):
    package = Package(dict(adam.datasets), dict(adam.specs), adamig=adam.adamig)
    findings = run_rules(package, ADAM_RULE_IDS)
    assert {(f.rule, f.dataset) for f in findings} == {("ADAM-ADSL-DM", "ADSL"), ("ADAM-SRC", "ADLB"),
                                                       ("ADAM-SRC", "ADTTE")}
    assert all(f.not_run and f.severity == "warning" for f in findings)


def copy(adam, name):
    return adam.datasets[name].copy()


def spec_copy(adam, name, variable, **changes):
    spec = adam.specs[name].model_copy(deep=True)
    for key, value in changes.items():
        setattr(spec.variable(variable), key, value)
    return {name: spec}


def only(findings, rule):
    """The findings, which must all be of ``rule`` (and at least one)."""
    assert findings and {f.rule for f in findings} == {rule}, [f.describe() for f in findings]
    return findings


def set_at(frame, row, column, value):
    frame.loc[frame.index[row], column] = value
    return frame


def test_adsl_has_one_record_per_subject(adam, sdtm):
    adsl = copy(adam, "ADSL")
    doubled = pd.concat([adsl, adsl.iloc[[2]]], ignore_index=True)
    [f] = only(run(adam, sdtm, {"ADSL": doubled}), "ADAM-ADSL-ONE")
    subject = adsl["USUBJID"].iloc[2]
    assert (f.dataset, f.variable, f.severity, f.rows) == ("ADSL", "USUBJID", "error", (3, len(doubled)))
    assert f.values == (subject, subject)


def test_every_dm_subject_is_in_adsl_and_no_other(adam, sdtm):
    adsl = copy(adam, "ADSL")
    extra = pd.concat([adsl, set_at(adsl.iloc[[0]].copy(), 0, "USUBJID", "XX-99-999")], ignore_index=True)
    [f] = only(run(adam, sdtm, {"ADSL": extra}), "ADAM-ADSL-DM")
    assert (f.dataset, f.variable, f.rows, f.values) == ("ADSL", "USUBJID", (len(extra),), ("XX-99-999",))
    dm = sdtm.datasets["DM"]
    more = pd.concat([dm, set_at(dm.iloc[[0]].copy(), 0, "USUBJID", "XX-99-998")], ignore_index=True)
    [f] = only(run(adam, sdtm, sdtm_datasets={**sdtm.datasets, "DM": more}), "ADAM-ADSL-DM")
    assert f.dataset == "ADSL" and "XX-99-998" in f.message and f.values == ("XX-99-998",)


def test_subjects_of_analysis_datasets_are_in_adsl(adam, sdtm):
    adae = set_at(copy(adam, "ADAE"), 4, "USUBJID", "XX-99-999")
    [f] = only(run(adam, sdtm, {"ADAE": adae}), "ADAM-SUBJ-ADSL")
    assert (f.dataset, f.variable, f.rows, f.values) == ("ADAE", "USUBJID", (5,), ("XX-99-999",))


@pytest.mark.parametrize("code", ["ALBUMINXX", "1ALB", "alb", "AL-B"])
def test_paramcd_is_a_name_of_at_most_8_characters(adam, sdtm, code):
    adlb = copy(adam, "ADLB")
    first = adlb["PARAMCD"].iloc[0]
    adlb["PARAMCD"] = adlb["PARAMCD"].mask(adlb["PARAMCD"] == first, code)  # every record: still one-to-one
    [f] = only(run(adam, sdtm, {"ADLB": adlb}), "ADAM-PARAMCD")
    assert (f.dataset, f.variable, f.severity) == ("ADLB", "PARAMCD", "error")
    assert len(f.rows) == int((adam.datasets["ADLB"]["PARAMCD"] == first).sum())
    assert f.values[0] == f"{adlb['USUBJID'].iloc[f.rows[0] - 1]}: {code}"


def test_paramcd_and_param_are_one_to_one(adam, sdtm):
    adlb = copy(adam, "ADLB")
    set_at(adlb, 7, "PARAM", "Something else")
    [f] = only(run(adam, sdtm, {"ADLB": adlb}), "ADAM-PARAM-1TO1")
    code = adlb["PARAMCD"].iloc[7]
    assert (f.dataset, f.variable) == ("ADLB", "PARAMCD")
    assert len(f.rows) == int((adlb["PARAMCD"] == code).sum())  # every record of the code with two PARAMs
    assert any(v.endswith(f"{code}/Something else") for v in f.values)


def test_a_parameter_record_has_aval_or_avalc(adam, sdtm):
    adlb = set_at(set_at(copy(adam, "ADLB"), 11, "AVAL", np.nan), 11, "AVALC", pd.NA)
    [f] = only(run(adam, sdtm, {"ADLB": adlb}), "ADAM-AVAL")
    assert (f.dataset, f.variable, f.rows) == ("ADLB", "AVAL", (12,))
    assert f.values == (f"{adlb['USUBJID'].iloc[11]}: {adlb['PARAMCD'].iloc[11]}",)
    # a result kept as text only (e.g. "<0.1") is no finding
    adlb = copy(adam, "ADLB")
    row = int(np.flatnonzero(adlb["AVALC"].notna().to_numpy())[0])
    assert run(adam, sdtm, {"ADLB": set_at(adlb, row, "AVAL", np.nan)}) == []


@pytest.mark.parametrize("value", [0.5, np.nan, -1.0])
def test_cnsr_is_a_non_negative_integer(adam, sdtm, value):
    adtte = set_at(copy(adam, "ADTTE"), 3, "CNSR", value)
    [f] = only(run(adam, sdtm, {"ADTTE": adtte}), "ADAM-CNSR")
    assert (f.dataset, f.variable, f.rows, f.severity) == ("ADTTE", "CNSR", (4,), "error")
    assert f.values[0].startswith(f"{adtte['USUBJID'].iloc[3]}: {adtte['PARAMCD'].iloc[3]}/")


def test_a_positive_integer_censoring_code_is_allowed(adam, sdtm):
    # ADaMIG 1.3 CNSR: 0 for the event, positive integers (e.g. one per censoring reason) for censoring
    assert run(adam, sdtm, {"ADTTE": set_at(copy(adam, "ADTTE"), 3, "CNSR", 2.0)}) == []


@pytest.mark.parametrize("column,rule", [("ADT", "ADAM-TTE-ADT"), ("AVAL", "ADAM-AVAL")])
def test_a_time_to_event_record_has_adt_and_aval(adam, sdtm, column, rule):
    adtte = set_at(copy(adam, "ADTTE"), 5, column, np.nan)
    [f] = only(run(adam, sdtm, {"ADTTE": adtte}), rule)
    assert (f.dataset, f.variable, f.rows) == ("ADTTE", column, (6,))
    assert f.values == (f"{adtte['USUBJID'].iloc[5]}: {adtte['PARAMCD'].iloc[5]}",)


def test_flags_are_y_n_or_null(adam, sdtm):
    adsl = set_at(copy(adam, "ADSL"), 1, "TRANSFL", "YES")
    [f] = only(run(adam, sdtm, {"ADSL": adsl}), "ADAM-FL")
    assert (f.dataset, f.variable, f.rows, f.values) == ("ADSL", "TRANSFL", (2,), (f"{adsl['USUBJID'].iloc[1]}: YES",))


def test_population_flags_are_never_null(adam, sdtm):
    adsl = set_at(copy(adam, "ADSL"), 6, "SAFFL", pd.NA)
    [f] = only(run(adam, sdtm, {"ADSL": adsl}), "ADAM-POPFL")
    assert (f.dataset, f.variable, f.rows, f.values) == ("ADSL", "SAFFL", (7,), (adsl["USUBJID"].iloc[6],))
    # a null analysis flag is no finding
    assert run(adam, sdtm, {"ADSL": set_at(copy(adam, "ADSL"), 6, "TRANSFL", pd.NA)}) == []


def test_record_level_population_flags_are_y_or_null(adam, sdtm):
    adlb = copy(adam, "ADLB")
    adlb["SAFRFL"] = pd.Series("Y", index=adlb.index, dtype="string[pyarrow]")
    set_at(adlb, 8, "SAFRFL", pd.NA)
    assert run(adam, sdtm, {"ADLB": adlb}) == []
    [f] = only(run(adam, sdtm, {"ADLB": set_at(adlb, 9, "SAFRFL", "N")}), "ADAM-POPFL")
    assert (f.dataset, f.variable, f.rows, f.values) == ("ADLB", "SAFRFL", (10,), (f"{adlb['USUBJID'].iloc[9]}: N",))


def test_numeric_flags_match_their_flag(adam, sdtm):
    adsl = copy(adam, "ADSL")
    adsl["TRANSFN"] = adsl["TRANSFL"].map({"Y": 1.0, "N": 0.0}).astype(float)
    assert run(adam, sdtm, {"ADSL": adsl}) == []
    flipped = adsl["TRANSFL"].iloc[0]
    set_at(adsl, 0, "TRANSFN", 0.0 if flipped == "Y" else 1.0)
    [f] = only(run(adam, sdtm, {"ADSL": adsl}), "ADAM-FN")
    assert (f.dataset, f.variable, f.rows) == ("ADSL", "TRANSFN", (1,))
    assert f.values[0].startswith(f"{adsl['USUBJID'].iloc[0]}: {flipped}/")


def test_date_variables_are_numeric(adam, sdtm):
    adsl = copy(adam, "ADSL")
    adsl["CHEMSDT"] = pd.Series(["2025-01-01"] * len(adsl), dtype="string[pyarrow]")
    [f] = only(run(adam, sdtm, {"ADSL": adsl}, spec_copy(adam, "ADSL", "CHEMSDT", type="Char", format=None)),
               "ADAM-DATE-NUM")
    assert (f.dataset, f.variable, f.severity) == ("ADSL", "CHEMSDT", "error") and "ADSL.CHEMSDT is Char" in f.message


@pytest.mark.parametrize("variable,fmt", [("TRTSDTM", "DATE9."), ("CHEMSDT", None), ("EOSDT", "8.")])
def test_date_variables_have_a_date_format(adam, sdtm, variable, fmt):
    [f] = only(run(adam, sdtm, specs=spec_copy(adam, "ADSL", variable, format=fmt)), "ADAM-DATE-FMT")
    assert (f.dataset, f.variable, f.severity) == ("ADSL", variable, "warning")


@pytest.mark.parametrize("dataset,variable,value", [("ADAE", "TRT01A", "Another arm"), ("ADLB", "TRTSDT", 1.0),
                                                    ("ADTTE", "TRT01PN", 99.0), ("ADLB", "TRT01P", None),
                                                    ("ADLB", "TRTSDT", np.nan)])
def test_treatment_variables_match_adsl(adam, sdtm, dataset, variable, value):
    frame = set_at(copy(adam, dataset), 2, variable, value)
    [f] = only(run(adam, sdtm, {dataset: frame}), "ADAM-TRT-ADSL")
    assert (f.dataset, f.variable, f.rows, f.severity) == (dataset, variable, (3,), "error")
    assert f.values[0].startswith(f"{frame['USUBJID'].iloc[2]}: ")


def test_treatment_of_another_subject_differs_from_adsl(adam, sdtm):
    adlb, adsl = copy(adam, "ADLB"), adam.datasets["ADSL"]
    mine = adlb["TRT01P"].iloc[4]
    other = adsl.loc[adsl["TRT01P"] != mine, "TRT01P"].iloc[0]  # an arm of the study, not this subject's
    [f] = only(run(adam, sdtm, {"ADLB": set_at(adlb, 4, "TRT01P", other)}), "ADAM-TRT-ADSL")
    assert (f.variable, f.rows, f.values) == ("TRT01P", (5,), (f"{adlb['USUBJID'].iloc[4]}: {other}",))


@pytest.mark.parametrize("dataset,column,value", [("ADLB", "SRCSEQ", 99999.0), ("ADLB", "SRCDOM", "XX"),
                                                  ("ADLB", "SRCVAR", "LBNOSUCH"), ("ADTTE", "SRCSEQ", np.nan),
                                                  ("ADTTE", "SRCSEQ", 1000.0)])
def test_source_variables_resolve_to_a_record(adam, sdtm, dataset, column, value):
    frame = set_at(copy(adam, dataset), 9, column, value)
    [f] = only(run(adam, sdtm, {dataset: frame}), "ADAM-SRC")
    assert (f.dataset, f.variable, f.rows, f.severity) == (dataset, "SRCSEQ", (10,), "error")
    assert f.values[0].startswith(f"{frame['USUBJID'].iloc[9]}: ")


def test_a_source_record_of_another_subject_does_not_resolve(adam, sdtm):
    adlb = copy(adam, "ADLB")
    lb = sdtm.datasets["LB"]
    last = lb.groupby("USUBJID")["LBSEQ"].max()
    row = int(np.flatnonzero((adlb["USUBJID"] == last.idxmin()).to_numpy())[0])  # a subject with fewer records
    seq = last.max()  # a sequence number only another subject has
    assert not ((lb["USUBJID"] == adlb["USUBJID"].iloc[row]) & (lb["LBSEQ"] == seq)).any()
    [f] = only(run(adam, sdtm, {"ADLB": set_at(adlb, row, "SRCSEQ", seq)}), "ADAM-SRC")
    assert f.rows == (row + 1,) and f.values == (f"{last.idxmin()}: LB/LBSTRESN/{seq}",)


def test_types_follow_adamig(adam, sdtm):
    [f] = only(run(adam, sdtm, specs=spec_copy(adam, "ADSL", "AGE", type="Char")), "ADAMIG-TYPE")
    assert (f.dataset, f.variable, f.severity) == ("ADSL", "AGE", "error") and "ADaMIG says Num" in f.message
    # a variable of a placeholder family (TRTxxPN), copied from ADSL into BDS and OCCDS datasets too
    for dataset in ("ADSL", "ADLB", "ADAE"):
        [f] = only(run(adam, sdtm, specs=spec_copy(adam, dataset, "TRT01PN", type="Char")), "ADAMIG-TYPE")
        assert (f.dataset, f.variable) == (dataset, "TRT01PN")
    # a BDS variable by its BDS type
    [f] = only(run(adam, sdtm, specs=spec_copy(adam, "ADLB", "AVAL", type="Char")), "ADAMIG-TYPE")
    assert (f.dataset, f.variable) == ("ADLB", "AVAL")


def test_labels_follow_adamig(adam, sdtm):
    [f] = only(run(adam, sdtm, specs=spec_copy(adam, "ADLB", "PARAMCD", label="Code")), "ADAMIG-LABEL")
    assert (f.dataset, f.variable, f.severity) == ("ADLB", "PARAMCD", "warning")


def test_required_variables_follow_adamig(adam, sdtm):
    adlb = set_at(copy(adam, "ADLB"), 3, "PARAM", pd.NA)
    findings = run(adam, sdtm, {"ADLB": adlb})
    assert {(f.rule, f.rows) for f in findings if f.rule == "ADAMIG-REQ"} == {("ADAMIG-REQ", (4,))}
