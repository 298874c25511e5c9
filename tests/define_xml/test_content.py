"""What the SDTM define.xml says, checked against the spec and the XPT files it describes."""

from __future__ import annotations

import pandas as pd
import pyreadstat
from lxml import etree

from sdtmgen.define_xml import build_define
from sdtmgen.define_xml.checks import check_define, observe_folder
from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.spec.models import DomainSpec, Variable

DEF = "{http://www.cdisc.org/ns/def/v2.1}"
XLINK = "{http://www.w3.org/1999/xlink}"


def one(tree, path: str, **variables):
    hits = tree.xpath(path, namespaces=XPATH_NS, **variables)
    assert len(hits) == 1, f"{path} {variables}: {len(hits)} hits"
    return hits[0]


def text(element) -> str:
    return element.findtext("odm:Description/odm:TranslatedText", namespaces=XPATH_NS)


def test_standards_name_the_ig_and_the_spec_ct_package(sdtm_define, spec):
    ig = one(sdtm_define, "//def:Standard[@Type='IG']")
    assert (ig.get("Name"), ig.get("Version")) == ("SDTMIG", spec.study.sdtmig_version)
    ct = one(sdtm_define, "//def:Standard[@Type='CT']")
    assert (ct.get("PublishingSet"), ct.get("Version")) == ("SDTM", spec.terminology.ct_package)


def test_every_dataset_has_its_item_group_with_keys_order_and_mandatory_from_the_spec(sdtm_define, package):
    sdtm = package / "sdtm"
    groups = {g.get("Name"): g for g in sdtm_define.xpath("//odm:ItemGroupDef", namespaces=XPATH_NS)}
    assert set(groups) == {p.stem.upper() for p in sdtm.glob("*.xpt")}
    for name, group in groups.items():
        assert group.get("OID") == f"IG.{name}" and group.get("SASDatasetName") == name
        assert group.get("Purpose") == "Tabulation"
        leaf = group.find("def:leaf", XPATH_NS)
        assert leaf.get("{http://www.w3.org/1999/xlink}href") == f"{name.lower()}.xpt"
        assert group.get(f"{DEF}ArchiveLocationID") == leaf.get("ID")


def test_item_refs_follow_the_spec(sdtm_define, spec):
    for domain in spec.domains:
        group = one(sdtm_define, "//odm:ItemGroupDef[@Name=$n]", n=domain.domain)
        refs = group.findall("odm:ItemRef", XPATH_NS)
        assert [r.get("ItemOID") for r in refs] == [f"IT.{domain.domain}.{v.name}" for v in domain.variables]
        for ref, var in zip(refs, domain.variables):
            assert ref.get("Mandatory") == ("Yes" if var.core == "Req" else "No"), var.name
            expected_key = str(domain.keys.index(var.name) + 1) if var.name in domain.keys else None
            assert ref.get("KeySequence") == expected_key, var.name
            assert (ref.get("MethodOID") is not None) == (var.origin == "Derived"), var.name
        trial_design = domain.dataset_class == "TRIAL DESIGN"
        assert group.get("IsReferenceData") == ("Yes" if trial_design else "No")
        assert one(group, "def:Class").get("Name") == domain.dataset_class


def test_item_defs_carry_origin_crf_pages_methods_comments_and_codelists(sdtm_define, spec, example_raw, tmp_path):
    from sdtmgen.acrf import write_acrf

    # the build replaces the spec's crf_pages with the pages of the acrf.pdf it writes
    crf_pages = write_acrf(tmp_path / "acrf.pdf", spec, example_raw)
    for domain in spec.domains:
        for var in domain.variables:
            item = one(sdtm_define, "//odm:ItemDef[@OID=$oid]", oid=f"IT.{domain.domain}.{var.name}")
            assert item.get("Name") == var.name and text(item) == var.label
            origin = one(item, "def:Origin")
            assert origin.get("Type") == var.origin
            pages = item.xpath("def:Origin/def:DocumentRef[@leafID='LF.acrf']/def:PDFPageRef/@PageRefs",
                               namespaces=XPATH_NS)
            expected = crf_pages.get((domain.domain, var.name)) if var.origin == "Collected" else None
            assert pages == ([" ".join(str(p) for p in expected)] if expected else [])
            if var.origin == "Derived":
                ref = one(sdtm_define, "//odm:ItemRef[@ItemOID=$oid]", oid=item.get("OID"))
                method = one(sdtm_define, "//odm:MethodDef[@OID=$oid]", oid=ref.get("MethodOID"))
                assert ref.get("MethodOID") == f"MT.{domain.domain}.{var.name}"
                if var.method:
                    assert text(method) == var.method
            if var.comment:
                comment = one(sdtm_define, "//def:CommentDef[@OID=$oid]", oid=item.get(f"{DEF}CommentOID"))
                assert text(comment) == var.comment
            ref = item.find("odm:CodeListRef", XPATH_NS)
            if var.codelist:
                assert ref.get("CodeListOID") == f"CL.{var.codelist}"
            elif var.dictionary:
                codelist = one(sdtm_define, "//odm:CodeList[@OID=$oid]", oid=ref.get("CodeListOID"))
                dictionary = next(d for d in spec.terminology.dictionaries if d.id == var.dictionary)
                external = one(codelist, "odm:ExternalCodeList")
                assert (external.get("Dictionary"), external.get("Version")) == (dictionary.name, dictionary.version)
                assert codelist.get("DataType") == item.get("DataType") or item.get("DataType") == "text"
            else:
                assert ref is None


def test_cdisc_codelists_carry_nci_codes_and_sponsor_codelists_are_non_standard(sdtm_define, spec):
    for element in sdtm_define.xpath("//odm:CodeList[not(odm:ExternalCodeList)]", namespaces=XPATH_NS):
        codelist = spec.terminology.get(element.get("OID")[3:])
        aliases = element.xpath("odm:Alias[@Context='nci:ExtCodeID']/@Name", namespaces=XPATH_NS)
        if codelist.code:
            assert aliases == [codelist.code]
            assert element.get(f"{DEF}StandardOID") == f"STD.CT.SDTM.{spec.terminology.ct_package}"
        else:
            assert aliases == [] and element.get(f"{DEF}IsNonStandard") == "Yes"
        items = element.xpath("odm:CodeListItem|odm:EnumeratedItem", namespaces=XPATH_NS)
        assert [i.get("CodedValue") for i in items][: len(codelist.terms)] == codelist.values()
        for item, term in zip(items, codelist.terms):
            assert item.xpath("odm:Alias/@Name", namespaces=XPATH_NS) == ([term.code] if term.code else [])


def test_value_level_metadata_per_test_code_and_qnam_comes_from_the_data(sdtm_define, package):
    for dataset, topic, results in (("LB", "LBTESTCD", ["LBORRES", "LBORRESU", "LBSTRESN"]),
                                    ("VS", "VSTESTCD", ["VSORRES", "VSORRESU", "VSSTRESN"])):
        frame, _ = pyreadstat.read_xport(str(package / "sdtm" / f"{dataset.lower()}.xpt"))
        for result in results:
            vl = one(sdtm_define, "//def:ValueListDef[@OID=$oid]", oid=f"VL.{dataset}.{result}")
            assert one(sdtm_define, "//odm:ItemDef[@OID=$oid]/def:ValueListRef", oid=f"IT.{dataset}.{result}"
                       ).get("ValueListOID") == vl.get("OID")
            present = frame[frame[result].astype(str).str.strip().ne("") & frame[result].notna()]
            expected = set(present[topic])
            clauses = vl.xpath("odm:ItemRef/def:WhereClauseRef/@WhereClauseOID", namespaces=XPATH_NS)
            assert {c.rsplit(".", 1)[1] for c in clauses} == expected
            for oid in clauses:
                clause = one(sdtm_define, "//def:WhereClauseDef[@OID=$oid]", oid=oid)
                check = one(clause, "odm:RangeCheck")
                assert check.get(f"{DEF}ItemOID") == f"IT.{dataset}.{topic}" and check.get("Comparator") == "EQ"
    assert one(sdtm_define, "//def:WhereClauseDef[@OID='WC.LB.LBTESTCD.NEUT']") is not None
    for supp in sorted((package / "sdtm").glob("supp*.xpt")):
        frame, _ = pyreadstat.read_xport(str(supp))
        name = supp.stem.upper()
        vl = one(sdtm_define, "//def:ValueListDef[@OID=$oid]", oid=f"VL.{name}.QVAL")
        items = [one(sdtm_define, "//odm:ItemDef[@OID=$oid]", oid=o)
                 for o in vl.xpath("odm:ItemRef/@ItemOID", namespaces=XPATH_NS)]
        labels = dict(zip(frame["QNAM"], frame["QLABEL"]))
        assert {i.get("Name"): text(i) for i in items} == labels


def test_lengths_are_the_xpt_lengths_and_numbers_are_typed(sdtm_define, package):
    for path in sorted((package / "sdtm").glob("*.xpt")):
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        for name, width in meta.variable_storage_width.items():
            item = one(sdtm_define, "//odm:ItemDef[@OID=$oid]", oid=f"IT.{meta.table_name}.{name}")
            if item.get("Length") is not None:
                assert int(item.get("Length")) == width, (meta.table_name, name)
            if meta.readstat_variable_types[name] == "double":
                assert item.get("DataType") in ("integer", "float")
    assert one(sdtm_define, "//odm:ItemDef[@OID='IT.LB.LBDTC']").get("DataType") in (
        "date", "datetime", "partialDate", "partialDatetime")
    assert one(sdtm_define, "//odm:ItemDef[@OID='IT.LB.LBSTRESN']").get("SignificantDigits") is not None


def _tiny(values: list[str], extensible: bool, spec, tmp_path):
    """A one-variable dataset coded with a copy of the UNIT codelist."""
    terminology = spec.terminology.model_copy(deep=True)
    unit = terminology.get("UNIT")
    unit.extensible = extensible
    ds = DomainSpec.model_construct(
        domain="XX", label="Test", dataset_class="FINDINGS", structure="One record per test", keys=["XXSEQ"],
        variables=[Variable(name="XXSEQ", label="Sequence Number", type="Num", core="Req", origin="Assigned"),
                   Variable(name="XXORRESU", label="Original Units", type="Char", core="Exp", codelist="UNIT")],
        sources=[], derivations=[], supplemental=[], value_level=[])
    frame = pd.DataFrame({"XXSEQ": [float(i + 1) for i in range(len(values))], "XXORRESU": values})
    tree, _ = build_define(study=spec.study, terminology=terminology, datasets={"XX": frame}, specs={"XX": ds})
    return tree, frame, terminology


def test_values_outside_an_extensible_codelist_are_listed_as_extended_values(spec, tmp_path):
    tree, frame, terminology = _tiny(["mg", "furlong/fortnight"], True, spec, tmp_path)
    item = one(tree, "//odm:CodeList[@OID='CL.UNIT']/*[@CodedValue='furlong/fortnight']")
    assert item.get(f"{DEF}ExtendedValue") == "Yes" and not item.xpath("odm:Alias", namespaces=XPATH_NS)
    assert one(tree, "//odm:CodeList[@OID='CL.UNIT']/*[@CodedValue='mg']").get(f"{DEF}ExtendedValue") is None


def test_values_outside_a_non_extensible_codelist_are_not_invented(spec, tmp_path):
    tree, frame, terminology = _tiny(["mg", "furlong/fortnight"], False, spec, tmp_path)
    assert not tree.xpath("//odm:CodeList[@OID='CL.UNIT']/*[@CodedValue='furlong/fortnight']", namespaces=XPATH_NS)


def test_crf_page_references_only_into_an_annotated_crf_in_the_package(spec, sdtm_define, define_files):
    # the build writes acrf.pdf before define.xml: every page reference points into that file
    leaves = sdtm_define.xpath("//def:leaf[@ID='LF.acrf']", namespaces=XPATH_NS)
    assert sdtm_define.xpath("//def:PDFPageRef", namespaces=XPATH_NS) and len(leaves) == 1
    assert (define_files["sdtm"].parent / leaves[0].get(f"{XLINK}href")).is_file()
    mh = next(d for d in spec.domains if d.domain == "MH")
    frame = pd.DataFrame({v.name: pd.Series([], dtype="float64" if v.type == "Num" else "string[pyarrow]")
                          for v in mh.variables})
    without, _ = build_define(study=spec.study, terminology=spec.terminology, datasets={"MH": frame},
                              specs={"MH": mh})  # no annotated CRF in the package: no reference to one
    assert not without.xpath("//def:AnnotatedCRF | //def:leaf[@ID='LF.acrf'] | //def:PDFPageRef",
                             namespaces=XPATH_NS)
    tree, _ = build_define(study=spec.study, terminology=spec.terminology, datasets={"MH": frame},
                           specs={"MH": mh}, annotated_crf=True)
    for var in mh.variables:
        pages = tree.xpath("//odm:ItemDef[@OID=$oid]/def:Origin/def:DocumentRef[@leafID='LF.acrf']/def:PDFPageRef/@PageRefs",
                           oid=f"IT.MH.{var.name}", namespaces=XPATH_NS)
        assert pages == ([" ".join(str(p) for p in sorted(var.crf_pages))] if var.crf_pages and
                         var.origin == "Collected" else []), var.name
    assert one(tree, "//def:leaf[@ID='LF.acrf']").get(f"{XLINK}href") == "acrf.pdf"
    assert tree.xpath("//def:AnnotatedCRF/def:DocumentRef[@leafID='LF.acrf']", namespaces=XPATH_NS)


def test_text_is_escaped(spec, tmp_path):
    ds = DomainSpec.model_construct(
        domain="XX", label="Tests <&> \"quoted\"", dataset_class="FINDINGS", structure="One record per <test>",
        keys=["XXSEQ"], variables=[Variable(name="XXSEQ", label="Seq & <Number>", type="Num", core="Req",
                                            origin="Derived", method='a < b && c > "d"')],
        sources=[], derivations=[], supplemental=[], value_level=[])
    tree, _ = build_define(study=spec.study, terminology=spec.terminology,
                           datasets={"XX": pd.DataFrame({"XXSEQ": [1.0]})}, specs={"XX": ds})
    again = etree.fromstring(etree.tostring(tree))
    assert text(one(again, "//odm:MethodDef")) == 'a < b && c > "d"'
    assert text(one(again, "//odm:ItemDef")) == "Seq & <Number>"
    assert one(again, "//odm:ItemGroupDef").get(f"{DEF}Structure") == "One record per <test>"


def test_the_package_passes_its_own_consistency_check(package, spec):
    for kind in ("sdtm", "adam"):
        folder = package / kind
        if folder.is_dir():
            for ext in ("xpt", "json", "ndjson"):
                observed = observe_folder(folder, ext)
                assert observed, (kind, ext)
                assert check_define(folder / "define.xml", observed, spec.terminology) == [], (kind, ext)


def test_dsdecod_codelists_by_dscat_and_country_is_iso_3166(sdtm_define):
    # DSDECOD takes NCOMPLT for disposition events and PROTMLST for milestones: one codelist per DSCAT
    refs = {item.get("OID"): item.find("odm:CodeListRef", XPATH_NS).get("CodeListOID")
            for item in sdtm_define.xpath("//odm:ItemDef[starts-with(@OID, 'IT.DS.DSDECOD.')]", namespaces=XPATH_NS)}
    assert refs == {"IT.DS.DSDECOD.DISPOSITION_EVENT": "CL.NCOMPLT", "IT.DS.DSDECOD.PROTOCOL_MILESTONE": "CL.PROTMLST"}
    country = one(sdtm_define, "//odm:ItemDef[@OID='IT.DM.COUNTRY']/odm:CodeListRef").get("CodeListOID")
    external = one(sdtm_define, "//odm:CodeList[@OID=$oid]/odm:ExternalCodeList", oid=country)
    assert external.get("Dictionary") == "ISO 3166"
