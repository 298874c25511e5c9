"""The define.xml consistency checks pass on the example build and fire on broken copies of it."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from sdtmgen.define_xml.checks import check_define, observe_folder
from sdtmgen.define_xml.oids import XPATH_NS

DEF = "{http://www.cdisc.org/ns/def/v2.1}"


@pytest.fixture(scope="module")
def observed(package):
    return observe_folder(package / "sdtm", "xpt")


def check(tree, observed, package, spec):
    return check_define(tree, observed, spec.terminology, package / "sdtm")


def broken(sdtm_define):
    return copy.deepcopy(sdtm_define)


def rules(findings) -> set[tuple[str, str, str]]:
    return {(f.rule, f.dataset, f.variable) for f in findings}


def test_the_example_is_consistent(sdtm_define, observed, package, spec):
    assert check(sdtm_define, observed, package, spec) == []


def test_a_removed_item_def_is_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    item = tree.xpath("//odm:ItemDef[@OID='IT.DM.SEX']", namespaces=XPATH_NS)[0]
    item.getparent().remove(item)
    found = rules(check(tree, observed, package, spec))
    assert ("DEFINE-VARIABLE", "DM", "SEX") in found
    assert any(rule == "DEFINE-OID" for rule, _, _ in found)


def test_a_wrong_length_is_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    item = tree.xpath("//odm:ItemDef[@OID='IT.AE.AETERM']", namespaces=XPATH_NS)[0]
    item.set("Length", str(int(item.get("Length")) + 1))
    findings = check(tree, observed, package, spec)
    assert rules(findings) == {("DEFINE-LENGTH", "AE", "AETERM")}


def test_a_wrong_label_type_and_order_are_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    label = tree.xpath("//odm:ItemDef[@OID='IT.DM.AGE']/odm:Description/odm:TranslatedText", namespaces=XPATH_NS)[0]
    label.text = "Age in Years"
    tree.xpath("//odm:ItemDef[@OID='IT.DM.AGE']", namespaces=XPATH_NS)[0].set("DataType", "text")
    refs = tree.xpath("//odm:ItemGroupDef[@Name='VS']/odm:ItemRef", namespaces=XPATH_NS)
    refs[0].set("OrderNumber", "99")
    found = rules(check(tree, observed, package, spec))
    assert {("DEFINE-LABEL", "DM", "AGE"), ("DEFINE-TYPE", "DM", "AGE"), ("DEFINE-ORDER", "VS", "")} <= found


def test_a_dangling_reference_is_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    method = tree.xpath("//odm:MethodDef[@OID='MT.DM.RFSTDTC']", namespaces=XPATH_NS)[0]
    method.getparent().remove(method)
    findings = check(tree, observed, package, spec)
    assert [f.rule for f in findings] == ["DEFINE-OID"]
    assert "MT.DM.RFSTDTC" in findings[0].message


def test_a_dataset_without_item_group_and_a_described_dataset_without_file(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    group = tree.xpath("//odm:ItemGroupDef[@Name='TE']", namespaces=XPATH_NS)[0]
    group.set("Name", "TX")
    found = rules(check(tree, observed, package, spec))
    assert ("DEFINE-DATASET", "TE", "") in found and ("DEFINE-DATASET", "TX", "") in found


def test_a_codelist_value_missing_from_define_is_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    sexes = set(observed["DM"].frame["SEX"])
    value = sorted(sexes)[0]
    item = tree.xpath("//odm:CodeList[@OID='CL.SEX']/*[@CodedValue=$v]", namespaces=XPATH_NS, v=value)[0]
    item.getparent().remove(item)
    findings = check(tree, observed, package, spec)
    assert rules(findings) == {("DEFINE-CT", "DM", "SEX")}
    assert findings[0].values == (value,)


def test_extended_values_must_belong_to_extensible_codelists_and_be_marked(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    value = sorted(set(observed["DM"].frame["SEX"]))[0]
    tree.xpath("//odm:CodeList[@OID='CL.SEX']/*[@CodedValue=$v]", namespaces=XPATH_NS, v=value)[0].set(
        f"{DEF}ExtendedValue", "Yes")
    findings = check(tree, observed, package, spec)
    assert rules(findings) == {("DEFINE-CT", "DM", "SEX")} and "non-extensible" in findings[0].message

    # a sponsor value in an extensible CDISC codelist must carry def:ExtendedValue="Yes"
    terminology = spec.terminology.model_copy(deep=True)
    unit = terminology.get("UNIT")
    used = sorted(set(observed["LB"].frame["LBORRESU"]) - {""})[0]
    unit.terms = [t for t in unit.terms if t.value != used]
    findings = check_define(sdtm_define, observed, terminology, package / "sdtm")
    assert ("DEFINE-CT", "LB", "LBORRESU") in rules(findings)
    assert any("not marked" in f.message and used in f.values for f in findings)


def test_value_level_length_and_type_are_checked(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    item = tree.xpath("//odm:ItemDef[@OID='IT.LB.LBORRES.PLAT']", namespaces=XPATH_NS)[0]
    assert item.get("DataType") in ("integer", "float")
    item.set("Length", "1")
    item.set("DataType", "integer")
    tree.xpath("//odm:ItemDef[@OID='IT.LB.LBORRES.HGB']", namespaces=XPATH_NS)[0].set("DataType", "integer")
    found = check(tree, observed, package, spec)
    assert {(f.rule, f.variable) for f in found} >= {("DEFINE-LENGTH", "LBORRES"), ("DEFINE-TYPE", "LBORRES")}
    assert any("WC.LB.LBTESTCD.HGB" in f.message for f in found if f.rule == "DEFINE-TYPE")


def test_a_missing_data_file_behind_a_leaf_is_reported(sdtm_define, observed, package, spec):
    tree = broken(sdtm_define)
    leaf = tree.xpath("//odm:ItemGroupDef[@Name='DM']/def:leaf", namespaces=XPATH_NS)[0]
    leaf.set("{http://www.w3.org/1999/xlink}href", "dm.sas7bdat")
    assert rules(check(tree, observed, package, spec)) == {("DEFINE-LEAF", "DM", "")}


def test_the_checks_read_the_files_not_the_writer(package, spec, tmp_path):
    """A define written for other data (one variable fewer in the file) does not pass."""
    import shutil

    import pyreadstat

    from sdtmgen.xpt import XptVariable, write_xpt

    folder = tmp_path / "sdtm"
    shutil.copytree(package / "sdtm", folder, ignore=shutil.ignore_patterns("*.json", "*.ndjson"))
    frame, meta = pyreadstat.read_xport(str(folder / "te.xpt"))
    frame = frame.drop(columns=["TEDUR"])
    variables = [XptVariable(name=c, label=meta.column_names_to_labels[c],
                             type="Num" if meta.readstat_variable_types[c] == "double" else "Char")
                 for c in frame.columns]
    write_xpt(folder / "te.xpt", frame, dataset_name="TE", dataset_label=meta.file_label, variables=variables)
    findings = check_define(folder / "define.xml", observe_folder(folder, "xpt"), spec.terminology)
    assert ("DEFINE-VARIABLE", "TE", "TEDUR") in rules(findings)
    assert etree.parse(str(folder / "define.xml")) is not None
