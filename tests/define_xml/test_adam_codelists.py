"""The ADaM define.xml: the CT standards it cites and a codelist for every variable with controlled values."""

from __future__ import annotations

import re

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from sdtmgen.define_xml import build_define
from sdtmgen.define_xml.adam_codelists import ig_codelist_code
from sdtmgen.define_xml.checks import check_define, observe_folder
from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.define_xml.standards import adam_ct_package
from sdtmgen.spec.models import DomainSpec, Variable
from sdtmgen.standards import controlled_terminology

DEF = "{http://www.cdisc.org/ns/def/v2.1}"

#: ADaM variables whose values are controlled, by name (ADaMIG 1.3 conventions)
CONTROLLED = re.compile(r"(PARAMCD|PARAM|PARAMN|EOSSTT|DCSREAS|ARM|ACTARM|TRT\d\d[PA]N?|\w+DTF|\w+TMF|\w+FL)\Z")


@pytest.fixture(scope="module")
def adam_define(define_files) -> etree._ElementTree:
    return etree.parse(str(define_files["adam"]))


@pytest.fixture(scope="module")
def adam_data(package) -> dict[str, pd.DataFrame]:
    return {p.stem.upper(): pyreadstat.read_xport(str(p))[0] for p in sorted((package / "adam").glob("*.xpt"))}


def codelist_of(tree, item_oid: str):
    ref = tree.xpath("//odm:ItemDef[@OID=$oid]/odm:CodeListRef/@CodeListOID", namespaces=XPATH_NS, oid=item_oid)
    if not ref:
        return None
    return tree.xpath("//odm:CodeList[@OID=$oid]", namespaces=XPATH_NS, oid=ref[0])[0]


def coded(codelist) -> list[str]:
    return codelist.xpath("odm:CodeListItem/@CodedValue|odm:EnumeratedItem/@CodedValue", namespaces=XPATH_NS)


def decodes(codelist) -> dict[str, str]:
    return {i.get("CodedValue"): i.findtext("odm:Decode/odm:TranslatedText", namespaces=XPATH_NS)
            for i in codelist.findall("odm:CodeListItem", XPATH_NS)}


def test_the_adam_define_cites_the_adam_ct_of_the_study_and_its_codelists_point_at_it(adam_define, spec):
    standards = {s.get("OID"): s for s in adam_define.xpath("//def:Standard", namespaces=XPATH_NS)}
    ct = {s.get("PublishingSet"): s.get("Version") for s in standards.values() if s.get("Type") == "CT"}
    assert ct == {"ADaM": str(spec.study.standards.ct), "SDTM": spec.terminology.ct_package}
    adam_ct = controlled_terminology(str(spec.study.standards.ct), "ADaM")
    adam_codes = set(adam_ct.loc[adam_ct["codelist"] == "", "code"])
    cited = set()
    for codelist in adam_define.xpath("//odm:CodeList[@def:StandardOID]", namespaces=XPATH_NS):
        standard = standards[codelist.get(f"{DEF}StandardOID")]  # every StandardOID resolves
        code = codelist.xpath("odm:Alias[@Context='nci:ExtCodeID']/@Name", namespaces=XPATH_NS)[0]
        assert standard.get("PublishingSet") == ("ADaM" if code in adam_codes else "SDTM"), codelist.get("OID")
        cited.add(standard.get("PublishingSet"))
    assert cited == {"ADaM", "SDTM"}


def test_every_controlled_adam_variable_has_a_codelist_holding_its_values(adam_define, adam_data, spec):
    checked = 0
    for ds in spec.adam:
        frame = adam_data[ds.dataset]
        for var in ds.variables:
            if not CONTROLLED.match(var.name) or (var.name.endswith("FL") and var.type != "Char"):
                continue
            codelist = codelist_of(adam_define, f"IT.{ds.dataset}.{var.name}")
            assert codelist is not None, f"{ds.dataset}.{var.name} has no CodeListRef"
            values = frame[var.name].dropna()
            values = {f"{v:g}" for v in values} if var.type == "Num" else {v for v in values.str.strip() if v}
            assert values <= set(coded(codelist)), (ds.dataset, var.name, values - set(coded(codelist)))
            checked += 1
    assert checked >= 40


def test_imputation_flags_and_study_status_take_the_adam_ct_codelists_with_nci_codes(adam_define, spec):
    adam_ct = controlled_terminology(str(spec.study.standards.ct), "ADaM")
    expected = {"IT.ADAE.ASTDTF": "C81223", "IT.ADAE.AENDTF": "C81223", "IT.ADSL.EOSSTT": "C124296"}
    for item_oid, code in expected.items():
        codelist = codelist_of(adam_define, item_oid)
        assert codelist.xpath("odm:Alias/@Name", namespaces=XPATH_NS) == [code]
        terms = adam_ct[adam_ct["codelist"] == code].set_index("value")["code"]
        for item in codelist.xpath("odm:CodeListItem|odm:EnumeratedItem", namespaces=XPATH_NS):
            assert item.xpath("odm:Alias/@Name", namespaces=XPATH_NS) == [terms[item.get("CodedValue")]]
    # DCSREAS is DS.DSDECOD: it reuses the SDTM codelist DSDECOD has
    assert codelist_of(adam_define, "IT.ADSL.DCSREAS").get("OID") == "CL.NCOMPLT"


def test_parameter_codelists_per_dataset_pair_paramcd_with_param_in_paramn_order(adam_define, adam_data):
    for dataset in ("ADLB", "ADTTE"):
        pairs = adam_data[dataset][["PARAMN", "PARAMCD", "PARAM"]].drop_duplicates().sort_values("PARAMN")
        paramcd = codelist_of(adam_define, f"IT.{dataset}.PARAMCD")
        assert paramcd.get("OID") == f"CL.{dataset}.PARAMCD"
        assert coded(paramcd) == pairs["PARAMCD"].tolist()
        assert decodes(paramcd) == dict(zip(pairs["PARAMCD"], pairs["PARAM"]))
        assert coded(codelist_of(adam_define, f"IT.{dataset}.PARAM")) == pairs["PARAM"].tolist()
        paramn = codelist_of(adam_define, f"IT.{dataset}.PARAMN")
        assert paramn.get("DataType") == "integer"
        assert decodes(paramn) == {f"{n:g}": p for n, p in zip(pairs["PARAMN"], pairs["PARAM"])}
    trt = adam_data["ADSL"][["TRT01PN", "TRT01P"]].drop_duplicates().sort_values("TRT01PN")
    assert decodes(codelist_of(adam_define, "IT.ADSL.TRT01PN")) == {f"{n:g}": t for n, t in trt.itertuples(index=False)}
    # one treatment codelist for every dataset carrying TRT01P
    assert {codelist_of(adam_define, f"IT.{d}.TRT01P").get("OID") for d in ("ADSL", "ADAE", "ADLB")} == {"CL.TRT01P"}


@pytest.mark.parametrize("name, code", [("ASTDTF", "C81223"), ("AENTMF", "C81226"), ("TR01SDTF", "C81223"),
                                        ("TR02ETMF", "C81226"), ("EOSSTT", "C124296"), ("EOT01STT", "C124296"),
                                        ("DTYPE", "C81224"), ("LSTALVDT", None), ("USUBJID", None)])
def test_adamig_names_the_codelist_by_variable_name_or_pattern(name, code):
    assert ig_codelist_code(name, "1.3") == code


def test_adam_ct_is_the_studys_ct_when_packaged_unless_the_terminology_names_one(spec):
    assert spec.terminology.adam_ct_package is None
    assert adam_ct_package(spec.terminology, spec.study) == str(spec.study.standards.ct)
    named = spec.terminology.model_copy(update={"adam_ct_package": "2024-12-20"})
    assert adam_ct_package(named, spec.study) == "2024-12-20"
    unpackaged = spec.study.model_copy(update={"standards": spec.study.standards.model_copy(update={"ct": "1999-01-01"})})
    assert adam_ct_package(spec.terminology.model_copy(update={"ct_package": "1999-01-01"}), unpackaged) is None


def _adxx(dtf: list, spec, name: str = "ADTF",
          label: str = "Analysis Date Imputation Flag") -> tuple[etree._ElementTree, pd.DataFrame, DomainSpec]:
    ds = DomainSpec.model_construct(
        domain="ADXX", label="Test", dataset_class="BASIC DATA STRUCTURE", structure="One record per subject",
        keys=["USUBJID"], variables=[
            Variable(name="USUBJID", label="Unique Subject Identifier", type="Char", core="Req", origin="Assigned"),
            Variable(name=name, label=label, type="Char", core="Cond", origin="Derived")],
        sources=[], derivations=[], supplemental=[], value_level=[])
    frame = pd.DataFrame({"USUBJID": [f"S{i}" for i in range(len(dtf))], name: dtf})
    tree, _ = build_define(study=spec.study, terminology=spec.terminology, datasets={"ADXX": frame},
                           specs={"ADXX": ds}, standard="ADaMIG")
    return tree, frame, ds


def test_an_imputation_flag_outside_datefl_is_reported_not_listed(spec, tmp_path):
    tree, frame, ds = _adxx(["D", "M", "X", None], spec)
    codelist = codelist_of(tree, "IT.ADXX.ADTF")
    assert coded(codelist) == ["D", "M"]  # the package's terms the data uses, in the package's order
    from sdtmgen.dataset_json import write_dataset_json

    write_dataset_json(tmp_path / "adxx.json", frame, ds, study=spec.study, name="ADXX", standard="ADaMIG")
    findings = check_define(tree, observe_folder(tmp_path, "json"), spec.terminology)
    assert [(f.rule, f.variable, f.values) for f in findings if f.rule == "DEFINE-CT"] == [("DEFINE-CT", "ADTF", ("X",))]


def test_a_time_imputation_flag_takes_timefl(spec):
    tree, _, _ = _adxx(["H", "M", None, "H"], spec, "ATMF", "Analysis Time Imputation Flag")
    codelist = codelist_of(tree, "IT.ADXX.ATMF")
    assert codelist.xpath("odm:Alias/@Name", namespaces=XPATH_NS) == ["C81226"]
    assert coded(codelist) == ["H", "M"]
