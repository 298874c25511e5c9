"""The mapper (sdtmgen/sdtm/mapper.py): raw CSV forms in tmp_path through a small domain spec."""

from __future__ import annotations

import pandas as pd
import pytest

from sdtmgen.errors import RawDataError
from sdtmgen.findings_text import format_findings
from sdtmgen.raw_export import RawExport
from sdtmgen.sdtm.mapper import map_domain, map_source
from sdtmgen.spec.models import DomainSpec, Spec, StudySpec
from sdtmgen.terminology import Terminology

STUDY = StudySpec(studyid="STUDY-1", title="t", sponsor="s", raw="raw",
                  visits=[{"visitnum": 1, "visit": "SCREENING", "collected": ["Screening"]}])
TERMINOLOGY = Terminology.model_validate({"ct_package": "2025-03-28", "codelists": [
    {"id": "NY", "name": "No Yes Response", "extensible": False, "terms": [
        {"value": "N", "decode": "No"}, {"value": "Y", "decode": "Yes"}]}]})


def var(name: str, type_: str = "Char", codelist: str | None = None) -> dict:
    return {"name": name, "label": name.title(), "type": type_, "core": "Exp", "codelist": codelist}


def domain_spec(sources: list[dict], variables: list[dict] | None = None) -> DomainSpec:
    variables = variables or [var("STUDYID"), var("USUBJID"), var("XXTERM"), var("XXSER", codelist="NY"),
                              var("XXDTC")]
    return DomainSpec.model_validate({"domain": "XX", "label": "Test", "class": "EVENTS", "structure": "s",
                                      "keys": ["USUBJID"], "variables": variables,
                                      "sources": sources})


def spec_of(domain: DomainSpec) -> Spec:
    return Spec.model_construct(study=STUDY, terminology=TERMINOLOGY, domains=[domain], folder=".")


MAP = {"STUDYID": {"rule": "study", "field": "studyid"}, "USUBJID": {"rule": "usubjid"},
       "XXTERM": {"rule": "assign", "column": "TERM", "upper": True},
       "XXSER": {"rule": "codelist", "column": "SER"}, "XXDTC": {"rule": "iso8601", "date": "DAT"}}


@pytest.fixture
def raw(tmp_path):
    (tmp_path / "xx.csv").write_text(
        "SUBJECT,TERM,SER,DAT,KEEP\n"
        "001,nausea,No,12 MAR 2025,Yes\n"
        "001,fever,Yes,UN MAR 2025,No\n"
        "002,rash,No,,Yes\n", encoding="utf-8")
    (tmp_path / "yy.csv").write_text("SUBJECT,TERM,SER,DAT\n003,cough,No,01 APR 2025\n", encoding="utf-8")
    (tmp_path / "ic.csv").write_text("SUBJECT,ICDAT\n001,01 MAR 2025\n002,02 MAR 2025\n", encoding="utf-8")
    return tmp_path


def test_map_source_maps_every_rule_and_keeps_lineage(raw):
    domain = domain_spec([{"form": "xx", "map": MAP}])
    out, count = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert out["USUBJID"].tolist() == ["STUDY-1-001", "STUDY-1-001", "STUDY-1-002"]
    assert out["XXTERM"].tolist() == ["NAUSEA", "FEVER", "RASH"]
    assert out["XXSER"].tolist() == ["N", "Y", "N"]
    assert out["XXDTC"].iloc[:2].tolist() == ["2025-03-12", "2025-03"] and pd.isna(out["XXDTC"].iloc[2])
    assert out["_FILE"].tolist() == ["xx.csv"] * 3
    assert out["_ROW"].tolist() == [2, 3, 4]  # line numbers in the CSV (header is line 1)
    assert (count.rows_read, count.rows_mapped, count.rows_excluded) == (3, 3, 0)


def test_where_excludes_rows_and_counts_them(raw):
    source = {"form": "xx", "where": {"column": "KEEP", "equals": "Yes"}, "exclude_reason": "not kept", "map": MAP}
    domain = domain_spec([source])
    out, count = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert out["_ROW"].tolist() == [2, 4]
    assert (count.rows_read, count.rows_mapped, count.rows_excluded) == (3, 2, 1)
    assert count.exclude_rule == "1: not kept"
    assert count.form == "xx.csv" and count.domain == "XX"


def test_map_domain_concatenates_sources(raw):
    domain = domain_spec([{"form": "xx", "map": MAP}, {"form": "yy", "map": MAP}])
    out, counts = map_domain(spec_of(domain), domain, RawExport(raw), [])
    assert len(out) == 4
    assert out["_FILE"].tolist() == ["xx.csv"] * 3 + ["yy.csv"]
    assert out["XXTERM"].iloc[3] == "COUGH"
    assert [c.form for c in counts] == ["xx.csv", "yy.csv"]


def test_rule_errors_name_the_raw_line(raw):
    (raw / "xx.csv").write_text("SUBJECT,TERM,SER,DAT\n001,a,No,12 MAR 2025\n001,b,Maybe,12 MAR 2025\n",
                                encoding="utf-8")
    domain = domain_spec([{"form": "xx", "map": MAP}])
    findings = []
    out, count = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), findings)
    assert "xx.csv row 3, column SER: 'Maybe'" in format_findings(findings)
    assert count.rows_mapped == 2 and out["XXTERM"].tolist() == ["A", "B"]  # the other rows and rules go on


def test_non_ascii_text_stops_naming_the_cell(raw):
    (raw / "xx.csv").write_text("SUBJECT,TERM,SER,DAT\n001,nausea,No,12 MAR 2025\n001,naus\u00e9e,No,12 MAR 2025\n",
                                encoding="utf-8")
    domain = domain_spec([{"form": "xx", "map": MAP}])
    findings = []
    map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), findings)
    message = format_findings(findings)
    assert "xx.csv row 3, column TERM" in message and "NAUS\u00c9E" in message
    assert [(f.rule, f.severity, f.sources) for f in findings] == [("ascii", "error", ("xx.csv:3",))]


def test_missing_raw_column_is_reported_before_mapping(raw):
    mapping = dict(MAP, XXTERM={"rule": "assign", "column": "AETERM"})
    domain = domain_spec([{"form": "xx", "map": mapping}])
    with pytest.raises(RawDataError) as err:
        map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert "xx.csv" in str(err.value) and "AETERM" in str(err.value)


def test_missing_form_is_reported(raw):
    domain = domain_spec([{"form": "zz", "map": MAP}])
    with pytest.raises(RawDataError, match="zz"):
        map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])


def test_extensible_unknown_values_pass_mapping_upper_cased(raw):
    terminology = Terminology.model_validate({"ct_package": "x", "codelists": [
        {"id": "NY", "name": "NY", "extensible": True, "terms": [{"value": "N", "decode": "No"}]}]})
    domain = domain_spec([{"form": "xx", "map": MAP}])
    spec = Spec.model_construct(study=STUDY, terminology=terminology, domains=[domain], folder=".")
    out, count = map_source(spec, domain, domain.sources[0], RawExport(raw), [])
    assert out["XXSER"].tolist() == ["N", "YES", "N"]
    assert count.rows_mapped == 3


def test_lookup_joins_another_form(raw):
    mapping = dict(MAP, XXDTC={"rule": "iso8601", "date": "ic.ICDAT"})
    domain = domain_spec([{"form": "xx", "lookups": [{"form": "ic", "columns": ["ICDAT"]}], "map": mapping}])
    out, count = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert out["XXDTC"].tolist() == ["2025-03-01", "2025-03-01", "2025-03-02"]
    assert out["_ROW"].tolist() == [2, 3, 4]
    assert count.rows_mapped == 3


def test_unique_lookup_with_duplicates_stops(raw):
    (raw / "ic.csv").write_text("SUBJECT,ICDAT\n001,01 MAR 2025\n001,05 MAR 2025\n", encoding="utf-8")
    mapping = dict(MAP, XXDTC={"rule": "iso8601", "date": "ic.ICDAT"})
    source = {"form": "xx", "lookups": [{"form": "ic", "columns": ["ICDAT"]}], "map": mapping}
    domain = domain_spec([source])
    with pytest.raises(RawDataError) as err:
        map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert "ic.csv lines 2, 3: more than one row per" in str(err.value)

    source["lookups"][0]["take"] = "last"
    domain = domain_spec([source])
    out, _ = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    assert out["XXDTC"].iloc[:2].tolist() == ["2025-03-05", "2025-03-05"]


def test_unpivot_and_drop_empty_account_for_every_raw_row(tmp_path):
    (tmp_path / "vs.csv").write_text(
        "SUBJECT,SYSBP,DIABP,BPU\n"
        "001,120,80,mmHg\n"
        "001,,,mmHg\n"
        "002,,70,mmHg\n", encoding="utf-8")
    variables = [var("USUBJID"), var("VSTESTCD"), var("VSORRES"), var("VSORRESU")]
    source = {"form": "vs", "unpivot": {"measurements": [{"test": "SYSBP", "result": "SYSBP", "unit": "BPU"},
                                                          {"test": "DIABP", "result": "DIABP", "unit": "BPU"}]},
              "drop_empty": "_RESULT",
              "map": {"USUBJID": {"rule": "usubjid"}, "VSTESTCD": {"rule": "assign", "column": "_TEST"},
                      "VSORRES": {"rule": "assign", "column": "_RESULT"},
                      "VSORRESU": {"rule": "assign", "column": "_UNIT"}}}
    domain = domain_spec([source], variables)
    out, count = map_source(spec_of(domain), domain, domain.sources[0], RawExport(tmp_path), [])
    assert out["VSTESTCD"].tolist() == ["SYSBP", "DIABP", "DIABP"]
    assert out["VSORRES"].tolist() == ["120", "80", "70"]
    assert out["VSORRESU"].tolist() == ["mmHg"] * 3
    assert out["_ROW"].tolist() == [2, 2, 4]
    assert (count.rows_read, count.rows_mapped, count.rows_excluded) == (3, 2, 1)
    assert count.exclude_rule.startswith("1: ") and "_RESULT" in count.exclude_rule


def test_mapped_text_is_arrow_backed_and_numbers_float(raw):
    mapping = dict(MAP, XXNUM={"rule": "number", "column": "SUBJECT"}, XXCONST={"rule": "hardcode", "value": "C"})
    variables = [var("STUDYID"), var("USUBJID"), var("XXTERM"), var("XXSER", codelist="NY"), var("XXDTC"),
                 var("XXNUM", "Num"), var("XXCONST")]
    domain = domain_spec([{"form": "xx", "map": mapping}], variables)
    out, _ = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
    text = ["STUDYID", "USUBJID", "XXTERM", "XXSER", "XXDTC", "XXCONST"]
    assert all(out[c].dtype == "string[pyarrow]" for c in text), out.dtypes
    assert out["XXNUM"].dtype == "float64" and out["XXNUM"].tolist() == [1.0, 1.0, 2.0]
    assert out["XXCONST"].tolist() == ["C"] * 3
    assert out.columns.tolist() == list(mapping) + ["_FILE", "_ROW"]


def test_forms_are_freed_after_the_last_domain_that_reads_them(raw, monkeypatch):
    first = domain_spec([{"form": "xx", "map": MAP}, {"form": "yy", "map": MAP}])
    second = domain_spec([{"form": "xx", "lookups": [{"form": "ic", "columns": ["ICDAT"]}], "map": MAP}])
    spec = Spec.model_construct(study=STUDY, terminology=TERMINOLOGY, domains=[first, second], folder=".")
    export = RawExport(raw)
    reads = []
    original = RawExport.read

    def counting_read(self, form):
        if form not in self._frames:
            reads.append(form)
        return original(self, form)

    monkeypatch.setattr(RawExport, "read", counting_read)
    map_domain(spec, first, export, [])
    assert set(export._frames) == {"xx"}  # yy is read by no later domain
    map_domain(spec, second, export, [])
    assert export._frames == {}
    assert sorted(export.forms) == ["ic", "xx", "yy"] and sorted(reads) == ["ic", "xx", "yy"]


def test_a_condition_compares_a_raw_column_with_a_variable_mapped_before_it(raw):
    def xxser(when: dict) -> list:
        mapping = {"STUDYID": MAP["STUDYID"], "USUBJID": MAP["USUBJID"], "XXTERM": MAP["XXTERM"],  # upper-cased
                   "XXSER": {"rule": "conditional", "otherwise": "N", "cases": [{"when": when, "value": "Y"}]}}
        domain = domain_spec([{"form": "xx", "map": mapping}])
        variables = [v for v in domain.variables if v.name != "XXDTC"]
        domain = domain.model_copy(update={"variables": variables})
        out, _ = map_source(spec_of(domain), domain, domain.sources[0], RawExport(raw), [])
        return out["XXSER"].tolist()

    assert xxser({"column": "TERM", "equals_variable": "XXTERM"}) == ["N", "N", "N"]  # nausea != NAUSEA
    assert xxser({"column": "TERM", "equals_variable": "XXTERM", "ignore_case": True}) == ["Y", "Y", "Y"]
    assert xxser({"column": "TERM", "not_equals_variable": "XXTERM"}) == ["Y", "Y", "Y"]
    assert xxser({"column": "SER", "equals_column": "KEEP"}) == ["N", "N", "N"]
    assert xxser({"column": "SER", "not_equals_column": "KEEP"}) == ["Y", "Y", "Y"]


def test_unpivoted_rules_read_carried_columns_by_their_codes(tmp_path):
    # the subject, the date and the test name are factorised before the unpivot repeats them: each record
    # still gets its own raw row's values, and a value only on a row the unpivot leaves out is not reported
    (tmp_path / "vs.csv").write_text(
        "SUBJECT,DAT,SYSBP,DIABP\n"
        "001,12 MAR 2025,120,80\n"
        "002,30 FEB 2025,,\n"
        "003,01 APR 2025,,70\n"
        "001,31 APR 2025,110,\n", encoding="utf-8")
    terminology = Terminology.model_validate({"ct_package": "2025-03-28", "codelists": [
        {"id": "VSTESTCD", "name": "Vital Signs Test Code", "extensible": False, "terms": [
            {"value": "SYSBP", "decode": "Systolic Blood Pressure"},
            {"value": "DIABP", "decode": "Diastolic Blood Pressure"}]}]})
    variables = [var("USUBJID"), var("VSTESTCD", codelist="VSTESTCD"), var("VSTEST"), var("VSORRES"), var("VSDTC")]
    source = {"form": "vs", "unpivot": {"measurements": [{"test": "Systolic Blood Pressure", "result": "SYSBP"},
                                                          {"test": "Diastolic Blood Pressure", "result": "DIABP"}]},
              "drop_empty": "_RESULT",
              "map": {"USUBJID": {"rule": "usubjid"}, "VSTESTCD": {"rule": "codelist", "column": "_TEST"},
                      "VSTEST": {"rule": "codelist", "column": "_TEST", "codelist": "VSTESTCD", "output": "decode"},
                      "VSORRES": {"rule": "assign", "column": "_RESULT"},
                      "VSDTC": {"rule": "iso8601", "date": "DAT"}}}
    domain = domain_spec([source], variables)
    spec = Spec.model_construct(study=STUDY, terminology=terminology, domains=[domain], folder=".")
    findings: list = []
    out, count = map_source(spec, domain, domain.sources[0], RawExport(tmp_path), findings)
    assert out["USUBJID"].tolist() == ["STUDY-1-001", "STUDY-1-001", "STUDY-1-003", "STUDY-1-001"]
    assert out["VSTESTCD"].tolist() == ["SYSBP", "DIABP", "DIABP", "SYSBP"]
    assert out["VSTEST"].tolist() == ["Systolic Blood Pressure", "Diastolic Blood Pressure",
                                      "Diastolic Blood Pressure", "Systolic Blood Pressure"]
    assert out["VSDTC"].fillna("").tolist() == ["2025-03-12", "2025-03-12", "2025-04-01", ""]
    assert out["_ROW"].tolist() == [2, 2, 4, 5]
    assert (count.rows_read, count.rows_mapped, count.rows_excluded) == (4, 3, 1)
    [invalid] = [f for f in findings if f.rule == "iso8601"]
    assert invalid.cells == ("vs.csv row 5, column DAT: '31 APR 2025'",)  # not row 3's 30 FEB: it has no record
