"""Every define.xml the build writes is valid Define-XML 2.1, and the same input gives the same bytes."""

from __future__ import annotations

from lxml import etree

from sdtmgen.define_xml import write_define
from sdtmgen.define_xml.package import xpt_lengths


ARM_NS = "http://www.cdisc.org/ns/arm/v1.0"


def test_every_define_validates_against_the_define_2_1_schema(define_files, schema, arm_schema):
    """A define with Analysis Results Metadata (the ADaM one) is checked with CDISC's ARM schema, which
    is Define-XML 2.1 extended by the arm: elements; the others with define2-1-0.xsd."""
    for kind, path in define_files.items():
        doc = etree.parse(str(path))
        with_arm = doc.find(f".//{{{ARM_NS}}}AnalysisResultDisplays") is not None
        checker = arm_schema if with_arm else schema
        valid = checker.validate(doc)
        errors = "\n".join(f"{e.line}: {e.message}" for e in list(checker.error_log)[:10])
        assert valid, f"{kind}/define.xml is not valid Define-XML 2.1:\n{errors}"


def test_the_schema_rejects_a_broken_define(define_files, schema):
    """The schema check is real: an ItemGroupDef without its required def:Structure fails."""
    doc = etree.parse(str(define_files["sdtm"]))
    group = doc.find(".//{http://www.cdisc.org/ns/odm/v1.3}ItemGroupDef")
    del group.attrib["{http://www.cdisc.org/ns/def/v2.1}Structure"]
    assert not schema.validate(doc)


def test_define_is_byte_identical_for_the_same_input_and_matches_the_build(spec, sdtm, package, tmp_path,
                                                                          example_raw):
    from sdtmgen.acrf import with_pages, write_acrf

    specs = with_pages(sdtm.specs, write_acrf(tmp_path / "acrf.pdf", spec, example_raw))  # as the build does
    lengths = xpt_lengths(package / "sdtm")
    href = "define2-1.xsl" if (package / "sdtm" / "define2-1.xsl").is_file() else None
    paths = [tmp_path / "a.xml", tmp_path / "b.xml"]
    for path in paths:
        write_define(path, study=spec.study, terminology=spec.terminology, datasets=sdtm.datasets, specs=specs,
                     standard="SDTMIG", lengths=lengths, stylesheet_href=href)
    first = paths[0].read_bytes()
    assert first == paths[1].read_bytes()
    assert first == (package / "sdtm" / "define.xml").read_bytes()
    if href:
        assert first.split(b"\n", 2)[1] == b'<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>'
    assert b'CreationDateTime="1970-01-01T00:00:00"' in first
