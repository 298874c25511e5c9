"""Analysis Results Metadata (ARM 1.0) in the ADaM define.xml: valid against CDISC's ARM schema, one
display per outcome measure of report.yaml, selections that hold in the data, the ARD's methods."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from lxml import etree

from sdtmgen.define_xml.checks import check_define, observe_folder
from sdtmgen.spec.loader import load_report_config
from sdtmgen.xpt import read_xpt

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "arm": "http://www.cdisc.org/ns/arm/v1.0"}


@pytest.fixture(scope="module")
def adam_define(define_files) -> etree._ElementTree:
    if "adam" not in define_files:
        pytest.skip("the example build has no ADaM package")
    return etree.parse(str(define_files["adam"]))


@pytest.fixture(scope="module")
def cfg(spec_folder):
    return load_report_config(spec_folder)


def text(element) -> str:
    return element.findtext("odm:Description/odm:TranslatedText", namespaces=NS)


def test_the_adam_define_with_results_validates_against_the_arm_schema(adam_define, arm_schema):
    assert adam_define.find(".//arm:AnalysisResultDisplays", NS) is not None
    assert arm_schema.validate(adam_define), "\n".join(str(e) for e in list(arm_schema.error_log)[:10])


def test_the_arm_schema_rejects_a_result_without_datasets(adam_define, arm_schema):
    """The check is real: a result without its arm:AnalysisDatasets, or a display without results, fail."""
    doc = copy.deepcopy(adam_define)
    display = doc.find(".//arm:ResultDisplay", NS)
    for result in display.findall("arm:AnalysisResult", NS):
        display.remove(result)
    assert not arm_schema.validate(doc)
    doc = copy.deepcopy(adam_define)
    result = doc.find(".//arm:AnalysisResult", NS)
    result.remove(result.find("arm:AnalysisDatasets", NS))
    assert not arm_schema.validate(doc)


def test_one_display_per_outcome_measure_with_its_table(adam_define, cfg, package):
    displays = adam_define.findall(".//arm:ResultDisplay", NS)
    assert [text(d) for d in displays] == [o.title for o in sorted(cfg.outcomes, key=lambda o: o.number)]
    leaves = {leaf.get("ID"): leaf.get("{http://www.w3.org/1999/xlink}href")
              for leaf in adam_define.iterfind(".//def:leaf", NS)}
    for display in displays:
        ref = display.find("def:DocumentRef", NS)
        href = leaves[ref.get("leafID")]
        assert (package / "adam" / href).resolve().is_file(), href  # the RTF table the build wrote


def where(adam_define, oid: str) -> list[tuple[str, str, list[str]]]:
    clause = adam_define.find(f".//def:WhereClauseDef[@OID='{oid}']", NS)
    assert clause is not None, oid
    return [(check.get("{http://www.cdisc.org/ns/def/v2.1}ItemOID"), check.get("Comparator"),
             [v.text for v in check.iterfind("odm:CheckValue", NS)]) for check in clause.iterfind("odm:RangeCheck", NS)]


def test_each_recovery_parameter_is_a_km_result_on_adtte_selected_by_paramcd(adam_define, cfg, package):
    adtte, _ = read_xpt(package / "adam" / "adtte.xpt")
    results = {r.get("OID"): r for r in adam_define.iterfind(".//arm:AnalysisResult", NS)}
    recovery = [(o, p) for o in cfg.outcomes if o.kind == "recovery" for p in o.paramcds]
    assert len(recovery) == 6
    assert set(adtte["PARAMCD"]) <= {p for _, p in recovery}  # every ADTTE parameter is analysed
    for outcome, paramcd in recovery:
        result = results[f"AR.OUTCOME_{outcome.number:02d}.{paramcd}"]
        assert result.get("ParameterOID") == "IT.ADTTE.PARAMCD"
        dataset = result.find("arm:AnalysisDatasets/arm:AnalysisDataset", NS)
        assert dataset.get("ItemGroupOID") == "IG.ADTTE"
        clause = where(adam_define, dataset.find("def:WhereClauseRef", NS).get("WhereClauseOID"))
        assert clause == [("IT.ADTTE.PARAMCD", "EQ", [paramcd])]
        variables = [v.get("ItemOID") for v in dataset.iterfind("arm:AnalysisVariable", NS)]
        assert variables == ["IT.ADTTE.AVAL", "IT.ADTTE.CNSR"]
        assert "Kaplan-Meier" in result.findtext("arm:Documentation/odm:Description/odm:TranslatedText",
                                                 namespaces=NS)
        assert result.find("arm:ProgrammingCode/arm:Code", NS).text


def test_the_methods_are_those_the_ard_states(adam_define, package):
    ard = pd.read_csv(package / "report" / "ard.csv", dtype=str, keep_default_na=False)
    methods = ard[ard["stat_name"] == "method"]
    documented = {r.get("OID"): r.findtext("arm:Documentation/odm:Description/odm:TranslatedText", namespaces=NS)
                  for r in adam_define.iterfind(".//arm:AnalysisResult", NS)}
    checked = 0
    for outcome, stat in methods[["outcome", "stat"]].drop_duplicates().itertuples(index=False):
        mine = [t for oid, t in documented.items() if oid.startswith(f"AR.OUTCOME_{int(outcome):02d}.")]
        if mine:
            assert f"Method: {stat}." in mine, (outcome, stat, mine)
            checked += 1
    assert checked >= 10


def test_every_where_clause_of_the_results_selects_records(adam_define, package):
    """A clause selects records, unless the ARD counts nobody for that analysis (n = 0 in every group,
    or no statistic at all: a parameter nobody was at risk for): never a selection that misses data."""
    ard = pd.read_csv(package / "report" / "ard.csv", dtype=str, keep_default_na=False)
    counted = ard[ard["stat_name"] == "n"].assign(n=lambda f: pd.to_numeric(f["stat"], errors="coerce"))
    frames = {}
    clauses = adam_define.findall(".//def:WhereClauseDef", NS)
    arm_clauses = [c for c in clauses if c.get("OID").startswith("WC.AR.")]
    assert len(arm_clauses) >= 30
    empty = []
    for clause in arm_clauses:
        keep = None
        for item, comparator, values in where(adam_define, clause.get("OID")):
            assert comparator == "EQ"
            _, dataset, variable = item.split(".")
            if dataset not in frames:
                frames[dataset], _ = read_xpt(package / "adam" / f"{dataset.lower()}.xpt")
            mask = frames[dataset][variable].astype(str).str.strip().isin(values)
            keep = mask if keep is None else keep & mask
        if not keep.any():
            _, _, outcome, key, _ = clause.get("OID").split(".")
            rows = counted[(counted["outcome"].astype(int) == int(outcome.split("_")[1]))
                           & (counted["analysis"].str.replace(".", "_", regex=False) == key)]
            assert (rows["n"].fillna(0) == 0).all(), (clause.get("OID"), rows)
            empty.append(clause.get("OID"))
    assert len(empty) < len(arm_clauses) / 4, empty


def test_the_read_back_check_catches_a_dangling_parameter(adam_define, package, spec):
    doc = copy.deepcopy(adam_define)
    doc.find(".//arm:AnalysisResult[@ParameterOID]", NS).set("ParameterOID", "IT.ADTTE.NOPE")
    doc.find(".//arm:AnalysisDataset", NS).set("ItemGroupOID", "IG.ADNOPE")
    findings = check_define(doc, observe_folder(package / "adam", "xpt"), spec.terminology, None)
    messages = " ".join(f.message for f in findings if f.rule == "DEFINE-OID")
    assert "IT.ADTTE.NOPE" in messages and "IG.ADNOPE" in messages
    assert not [f for f in check_define(adam_define, observe_folder(package / "adam", "xpt"), spec.terminology, None)
                if f.severity == "error"]


def test_define_html_has_the_analysis_results_section(define_files, adam_define):
    page = (define_files["adam"].parent / "define.html").read_text(encoding="utf-8")
    assert 'href="#analysis-results"' in page and 'id="analysis-results"' in page
    section = page[page.index('id="analysis-results"'):]
    for result in adam_define.iterfind(".//arm:AnalysisResult", NS):
        assert f'id="{result.get("OID")}"' in section
    assert "PARAMCD</a> EQ ANCREC05" in section and "Kaplan-Meier" in section
