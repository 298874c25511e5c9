"""Mapping rules (sdtmgen/sdtm/rules): each rule applied to a small synthetic raw frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from sdtmgen.findings_text import format_findings
from sdtmgen.sdtm.rules import RULES, MapContext
from sdtmgen.spec.models import MappingRuleSpec, StudySpec, Variable
from sdtmgen.terminology import Terminology

STUDY = StudySpec(studyid="STUDY-1", title="t", sponsor="s", raw="raw",
                  visits=[{"visitnum": 1, "visit": "SCREENING", "collected": ["Screening"]}])

TERMINOLOGY = Terminology.model_validate({
    "ct_package": "2025-03-28",
    "codelists": [
        {"id": "NY", "name": "No Yes Response", "code": "C66742", "extensible": False, "terms": [
            {"value": "N", "decode": "No", "synonyms": ["No"]},
            {"value": "Y", "decode": "Yes", "synonyms": ["Yes"]},
            {"value": "U", "decode": "Unknown", "synonyms": ["UNK"]},
        ]},
        {"id": "UNIT", "name": "Unit", "code": "C71620", "extensible": True, "case_sensitive": True, "terms": [
            {"value": "10^9/L", "decode": "Billion per Liter", "synonyms": ["G/L", "10^3/uL"]},
            {"value": "g/L", "decode": "Gram per Liter", "synonyms": ["mg/mL"]},
            {"value": "g/dL", "decode": "Gram per Deciliter"},
        ]},
    ],
})


def rule(**params):
    """A rule as the spec loader builds it (through the registry's discriminated union)."""
    return TypeAdapter(MappingRuleSpec).validate_python(params)


def context(columns: dict, target: str = "XXVAR", variable: Variable | None = None,
            terminology: Terminology = TERMINOLOGY, study: StudySpec = STUDY) -> MapContext:
    frame = pd.DataFrame(columns)
    frame["_ROW"] = np.arange(2, len(frame) + 2)  # line numbers as the raw reader gives them
    return MapContext(frame=frame, form_file="xx.csv", domain="XX", target=target, study=study,
                      terminology=terminology, variable=variable)


def reported(findings) -> str:
    """The errors as the command line prints them (data errors are collected, not raised)."""
    assert any(f.severity == "error" for f in findings), findings
    return format_findings(findings)


def test_registry_holds_every_documented_rule():
    assert {"assign", "codelist", "hardcode", "number", "iso8601", "conditional", "usubjid", "study",
            "record_position", "not_collected"} <= set(RULES)


# --- assign -----------------------------------------------------------------------------------

def test_assign_trims_and_blanks_become_missing():
    out = rule(rule="assign", column="A").apply(context({"A": ["  nausea ", "", "   ", "Fever"]}))
    assert out.iloc[0] == "nausea"
    assert out.iloc[1:3].isna().all()
    assert out.iloc[3] == "Fever"
    assert out.dtype == "string"


def test_assign_upper():
    out = rule(rule="assign", column="A", upper=True).apply(context({"A": [" nausea", "Fever "]}))
    assert out.tolist() == ["NAUSEA", "FEVER"]


def test_assign_unknown_parameter_is_refused():
    with pytest.raises(ValidationError):
        rule(rule="assign", colum="A")


# --- hardcode ---------------------------------------------------------------------------------

def test_hardcode_text_on_every_record():
    out = rule(rule="hardcode", value="AE").apply(context({"A": ["x", "y", "z"]}))
    assert out.tolist() == ["AE", "AE", "AE"]
    assert out.dtype == "string"


def test_hardcode_number_is_numeric():
    out = rule(rule="hardcode", value=2).apply(context({"A": ["x", "y"]}))
    assert out.dtype == "float64"
    assert out.tolist() == [2.0, 2.0]


def test_hardcode_yaml_boolean_is_not_silently_a_number():
    params = yaml.safe_load("{rule: hardcode, value: No}")
    try:
        parsed = rule(**params)
    except ValidationError:
        return  # refusing the spec ("quote the value") is a correct outcome too
    assert parsed.apply(context({"A": ["x"]})).tolist() == ["No"]


# --- number -----------------------------------------------------------------------------------

def test_number_reads_numbers_and_blanks():
    out = rule(rule="number", column="N").apply(context({"N": ["1", " 2.5 ", "", "-3e2"]}))
    assert out.dtype == "float64"
    assert out.iloc[[0, 1, 3]].tolist() == [1.0, 2.5, -300.0]
    assert np.isnan(out.iloc[2])


def test_number_non_numeric_names_file_row_and_value():
    ctx = context({"N": ["1", "2", "12,5"]})
    out = rule(rule="number", column="N").apply(ctx)
    message = reported(ctx.findings)
    assert np.isnan(out.iloc[2]) and out.iloc[1] == 2.0  # mapping goes on: the bad cell is left missing
    assert "xx.csv row 4" in message
    assert "column N" in message
    assert "'12,5'" in message
    assert "row 2," not in message and "row 3," not in message


def test_number_infinity_is_not_a_number():
    ctx = context({"N": ["inf"]})
    rule(rule="number", column="N").apply(ctx)
    assert "xx.csv row 2, column N: 'inf'" in reported(ctx.findings)


# --- codelist ---------------------------------------------------------------------------------

def test_codelist_maps_value_decode_and_synonym_case_insensitively():
    var = Variable(name="XXSER", label="Serious", type="Char", core="Exp", codelist="NY")
    ctx = context({"A": ["Yes", "no", "Y", " UNK ", "Unknown", ""]}, variable=var)
    out = rule(rule="codelist", column="A").apply(ctx)
    assert out.iloc[:5].tolist() == ["Y", "N", "Y", "U", "U"]
    assert pd.isna(out.iloc[5])
    assert ctx.findings == []


def test_codelist_output_decode():
    out = rule(rule="codelist", column="A", codelist="NY", output="decode").apply(context({"A": ["Y", "no"]}))
    assert out.tolist() == ["Yes", "No"]


def test_codelist_exact_case_wins_for_units():
    """g/L is gram per litre; G/L is giga per litre (10^9/L): case decides (the example spec: test_terminology)."""
    ctx = context({"U": ["g/L", "G/L", "Gram per Liter", "g/dl", "MG/ML"]})
    out = rule(rule="codelist", column="U", codelist="UNIT").apply(ctx)
    assert out.tolist() == ["g/L", "10^9/L", "g/L", "g/dL", "g/L"]
    assert ctx.findings == []


def test_codelist_non_extensible_unknown_names_file_row_and_value():
    ctx = context({"A": ["Yes", "Maybe"]})
    rule(rule="codelist", column="A", codelist="NY").apply(ctx)
    message = reported(ctx.findings)
    finding = ctx.findings[0]
    assert (finding.rule, finding.dataset, finding.variable, finding.sources) == ("codelist", "XX", "XXVAR", ("xx.csv:3",))
    assert "xx.csv row 3, column A: 'Maybe'" in message
    assert "NY" in message
    assert "row 2," not in message


def test_codelist_extensible_unknown_kept_as_collected():
    var = Variable(name="XXU", label="Unit", type="Char", core="Exp", codelist="UNIT")
    ctx = context({"U": ["g/L", "mmol/L", ""]}, variable=var)
    out = rule(rule="codelist", column="U").apply(ctx)
    assert out.iloc[:2].tolist() == ["g/L", "mmol/L"]
    assert pd.isna(out.iloc[2])
    # the variable carries the codelist, so the dataset schema warns (SCH-CT-EXT); not reported twice
    assert ctx.findings == []


def test_codelist_extensible_unknown_warns_when_the_schema_cannot():
    var = Variable(name="XXDECOD", label="Decode", type="Char", core="Req")  # no codelist: the schema won't check
    ctx = context({"U": ["g/L", "mmol/L"]}, variable=var)
    out = rule(rule="codelist", column="U", codelist="UNIT").apply(ctx)
    assert out.tolist() == ["g/L", "mmol/L"]
    assert len(ctx.findings) == 1
    finding = ctx.findings[0]
    assert finding.severity == "warning"
    assert finding.values == ("mmol/L",)
    assert finding.sources == ("xx.csv:3",)


def test_codelist_defaults_to_the_variables_codelist():
    var = Variable(name="XXSER", label="Serious", type="Char", core="Exp", codelist="NY")
    ctx = context({"A": ["mg/mL"]}, variable=var)
    rule(rule="codelist", column="A").apply(ctx)
    assert "'mg/mL'" in reported(ctx.findings)
    unit = Variable(name="XXU", label="Unit", type="Char", core="Exp", codelist="UNIT")
    assert rule(rule="codelist", column="A").apply(context({"A": ["mg/mL"]}, variable=unit)).tolist() == ["g/L"]


# --- iso8601 ----------------------------------------------------------------------------------

def test_iso8601_date_and_time():
    ctx = context({"D": ["12 MAR 2025", "12 mar 2025", "UN MAR 2025", "UN UNK 2025", ""],
                   "T": ["08:30", "", "", "", ""]})
    out = rule(rule="iso8601", date="D", time="T").apply(ctx)
    assert out.iloc[:4].tolist() == ["2025-03-12T08:30", "2025-03-12", "2025-03", "2025"]
    assert pd.isna(out.iloc[4])
    assert ctx.findings == []


def test_iso8601_date_only():
    out = rule(rule="iso8601", date="D").apply(context({"D": ["01 JAN 2024", "12 UNK 2025"]}))
    assert out.tolist() == ["2024-01-01", "2025---12"]


def test_iso8601_impossible_date_names_the_cell():
    ctx = context({"D": ["12 MAR 2025", "30 FEB 2025"]})
    out = rule(rule="iso8601", date="D").apply(ctx)
    message = reported(ctx.findings)
    assert "xx.csv row 3, column D: '30 FEB 2025'" in message
    assert "row 2," not in message
    assert out.iloc[0] == "2025-03-12" and pd.isna(out.iloc[1])


def test_iso8601_invalid_time_names_the_cell():
    ctx = context({"D": ["12 MAR 2025"], "T": ["25:10"]})
    rule(rule="iso8601", date="D", time="T").apply(ctx)
    assert "xx.csv row 2, column T: '25:10'" in reported(ctx.findings)


def test_iso8601_time_kept_with_partial_date_and_dropped_without_a_date():
    ctx = context({"D": ["UN MAR 2025", "", "12 MAR 2025"], "T": ["09:00", "10:00", "11:00"]})
    out = rule(rule="iso8601", date="D", time="T").apply(ctx)
    assert out.iloc[0] == "2025-03--T09:00"  # SDTMIG 4.4.4: the unknown day is a hyphen
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "2025-03-12T11:00"
    assert len(ctx.findings) == 1
    finding = ctx.findings[0]
    assert finding.severity == "warning"
    assert finding.sources == ("xx.csv:3",)
    assert set(finding.values) == {"10:00"}


# --- conditional ------------------------------------------------------------------------------

def test_conditional_first_matching_case_wins_else_otherwise():
    r = rule(rule="conditional", otherwise="OTHER", cases=[
        {"when": {"column": "A", "equals": "x"}, "value": "FIRST"},
        {"when": {"column": "B", "equals": "y"}, "value": "SECOND"},
    ])
    out = r.apply(context({"A": ["x", "x", "z", "z"], "B": ["y", "n", "y", "n"]}))
    assert out.tolist() == ["FIRST", "FIRST", "SECOND", "OTHER"]


def test_conditional_without_otherwise_is_missing():
    r = rule(rule="conditional", cases=[{"when": {"column": "A", "equals": "Yes", "ignore_case": True},
                                         "value": "ONGOING"}])
    out = r.apply(context({"A": ["YES", "No", ""]}))
    assert out.iloc[0] == "ONGOING"
    assert out.iloc[1:].isna().all()


def test_conditional_otherwise_column_and_case_column():
    r = rule(rule="conditional", otherwise_column="C", cases=[
        {"when": {"column": "C", "equals": "China", "ignore_case": True}, "value": "CHN"},
        {"when": {"column": "C", "missing": True}, "column": "D"},
    ])
    assert r.columns() == {"C", "D"}
    out = r.apply(context({"C": ["china", " Japan ", ""], "D": ["d1", "d2", " d3 "]}))
    assert out.tolist() == ["CHN", "Japan", "d3"]


def test_conditional_case_needs_exactly_one_output():
    with pytest.raises(ValidationError):
        rule(rule="conditional", cases=[{"when": {"column": "A", "equals": "x"}, "value": "V", "column": "B"}])
    with pytest.raises(ValidationError):
        rule(rule="conditional", cases=[{"when": {"column": "A", "equals": "x"}}])


# --- identifiers ------------------------------------------------------------------------------

def test_usubjid_is_studyid_separator_subject():
    out = rule(rule="usubjid").apply(context({"SUBJECT": ["01-001", " 01-002 "]}))
    assert out.tolist() == ["STUDY-1-01-001", "STUDY-1-01-002"]
    out = rule(rule="usubjid", column="SUBJ", separator="/").apply(context({"SUBJ": ["7"]}))
    assert out.tolist() == ["STUDY-1/7"]


def test_usubjid_empty_subject_stops_the_build():
    ctx = context({"SUBJECT": ["01-001", ""]})
    rule(rule="usubjid").apply(ctx)
    assert "xx.csv row 3, column SUBJECT" in reported(ctx.findings)


def test_study_and_record_position():
    ctx = context({"RECORDPOSITION": ["1", "2"]})
    assert rule(rule="study", field="studyid").apply(ctx).tolist() == ["STUDY-1", "STUDY-1"]
    assert rule(rule="record_position").apply(ctx).tolist() == ["1", "2"]
    assert rule(rule="record_position", prefix="AE-").apply(ctx).tolist() == ["AE-1", "AE-2"]


def test_not_collected_is_always_missing():
    out = rule(rule="not_collected").apply(context({"A": ["x", "y"]}))
    assert len(out) == 2
    assert out.isna().all()
    assert out.dtype == "string"


def test_number_with_decimal_comma_option_reads_commas_and_refuses_points():
    out = rule(rule="number", column="N", decimal=",").apply(context({"N": ["1,5", "2", ""]}))
    assert out.iloc[:2].tolist() == [1.5, 2.0] and np.isnan(out.iloc[2])
    ctx = context({"N": ["1.500", "2,5"]})  # a thousands separator?
    out = rule(rule="number", column="N", decimal=",").apply(ctx)
    assert np.isnan(out.iloc[0]) and out.iloc[1] == 2.5  # the bad cell is left missing, mapping goes on
    message = reported(ctx.findings)
    assert "xx.csv row 2, column N: '1.500'" in message and "row 3," not in message


def test_number_decimal_comma_without_the_option_says_so():
    ctx = context({"N": ["39,2"]})
    rule(rule="number", column="N").apply(ctx)
    message = reported(ctx.findings)
    assert "a decimal comma" in message and "xx.csv row 2, column N: '39,2'" in message


def test_usubjid_longer_than_a_key_names_the_cell():
    ctx = context({"SUBJECT": ["01-001", "X" * 200]})
    rule(rule="usubjid").apply(ctx)
    message = reported(ctx.findings)
    assert f"xx.csv row 3, column SUBJECT: '{'X' * 200}'" in message and "longer than 200" in message
    assert "row 2," not in message
    ok = rule(rule="usubjid").apply(context({"SUBJECT": ["X" * (200 - len("STUDY-1-"))]}))
    assert ok.str.len().tolist() == [200]


# --- then: steps chained after a rule ---------------------------------------------------------------

def test_then_steps_apply_in_order_then_codelist():
    params = {"rule": "assign", "column": "A",
              "then": [{"trim": True}, {"lower": True}, {"replace": {"oui": "yes", "non": "no"}}, {"codelist": "NY"}]}
    out = rule(**params).run(context({"A": ["  OUI ", "Non", "yes", "", None]}))
    assert out.iloc[:3].tolist() == ["Y", "N", "Y"]
    assert out.iloc[3:].isna().all()


def test_then_replace_is_whole_value_and_optionally_case_blind():
    base = {"rule": "assign", "column": "A"}
    frame = {"A": ["Po", "PO", "Per os", "IV push"]}
    out = rule(**base, then=[{"replace": {"Po": "ORAL", "IV": "INTRAVENOUS"}}]).run(context(frame))
    assert out.tolist() == ["ORAL", "PO", "Per os", "IV push"]
    out = rule(**base, then=[{"replace": {"po": "ORAL"}, "ignore_case": True}, {"upper": True}]).run(context(frame))
    assert out.tolist() == ["ORAL", "ORAL", "PER OS", "IV PUSH"]


def test_then_codelist_failure_names_the_raw_cell_and_the_value_after_the_steps():
    params = {"rule": "assign", "column": "A", "then": [{"replace": {"Oui": "Yes"}}, {"codelist": "NY"}]}
    ctx = context({"A": ["Oui", "Peut-etre"]})
    out = rule(**params).run(ctx)
    assert out.iloc[0] == "Y"  # the good cell is still mapped
    text = reported(ctx.findings)
    assert "xx.csv row 3, column A: 'Peut-etre'" in text and "non-extensible codelist NY" in text
    assert "row 2," not in text


def test_then_codelist_decode_and_extensible_warning():
    ctx = context({"A": [" g/l ", "mmol/L"]})
    out = rule(rule="assign", column="A", then=[{"trim": True}, {"replace": {"g/l": "mg/mL"}},
                                                   {"codelist": "UNIT"}]).run(ctx)
    assert out.tolist() == ["g/L", "mmol/L"]
    assert [f.rule for f in ctx.findings] == ["CT-EXT"] and ctx.findings[0].sources == ("xx.csv:3",)
    out = rule(rule="assign", column="A", then=[{"codelist": "NY", "output": "decode"}]).run(context({"A": ["Y", "n"]}))
    assert out.tolist() == ["Yes", "No"]


def test_then_steps_are_data_one_operation_each():
    for bad in [{"trim": True, "upper": True}, {}, {"trim": False}, {"lower": True, "ignore_case": True},
                {"upper": True, "output": "decode"}, {"eval": "x"}]:
        with pytest.raises(ValidationError):
            rule(rule="assign", column="A", then=[bad])


def test_then_on_a_numeric_rule_is_a_spec_error():
    from sdtmgen.errors import SpecError
    with pytest.raises(SpecError, match="gives numbers"):
        rule(rule="number", column="A", then=[{"trim": True}]).run(context({"A": ["1"]}))
