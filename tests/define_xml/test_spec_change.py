"""The spec drives both the data and its define.xml: removing a variable removes it from both, in one build."""

from __future__ import annotations

import re
import shutil

import pyreadstat
import pytest
from lxml import etree

from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.define_xml.package import write_define_package
from sdtmgen.errors import SpecError
from sdtmgen.pipeline import build

XSL = (b'<?xml version="1.0"?>\n<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
       b'<xsl:template match="/"><html/></xsl:template></xsl:stylesheet>\n')


def test_removing_a_variable_from_the_spec_removes_it_from_the_xpt_and_define(tmp_path, spec_folder, example_raw):
    specs = tmp_path / "work" / "specs"
    shutil.copytree(spec_folder, specs, ignore=shutil.ignore_patterns("adam"))  # SDTM only: faster
    lb = specs / "sdtm" / "lb.yaml"
    text = lb.read_text()
    assert "name: LBREASND" in text and "LBREASND: {rule:" in text
    lb.write_text(re.sub(r"(?m)^.*\bLBREASND\b.*\n", "", text))

    build(specs, example_raw, tmp_path / "out")

    sdtm = tmp_path / "out" / "sdtm"
    _, meta = pyreadstat.read_xport(str(sdtm / "lb.xpt"), metadataonly=True)
    assert "LBREASND" not in meta.column_names and "LBSTAT" in meta.column_names
    define = etree.parse(str(sdtm / "define.xml"))
    refs = define.xpath("//odm:ItemGroupDef[@Name='LB']/odm:ItemRef/@ItemOID", namespaces=XPATH_NS)
    assert "IT.LB.LBREASND" not in refs and "IT.LB.LBSTAT" in refs
    assert not define.xpath("//odm:ItemDef[@Name='LBREASND']", namespaces=XPATH_NS)
    orders = define.xpath("//odm:ItemGroupDef[@Name='LB']/odm:ItemRef/@OrderNumber", namespaces=XPATH_NS)
    assert [int(o) for o in orders] == list(range(1, len(meta.column_names) + 1))


def test_without_a_stylesheet_define_is_written_without_the_instruction_and_no_warning(tmp_path, spec, sdtm,
                                                                                        package):
    folder = tmp_path / "sdtm"
    shutil.copytree(package / "sdtm", folder, ignore=shutil.ignore_patterns("*.json", "*.ndjson", "define*"))
    plain = spec.model_copy(deep=True)
    plain.study.standards.define_stylesheet = None
    findings = write_define_package(folder, plain, sdtm.datasets, sdtm.specs, None, "SDTMIG")
    assert (folder / "define.xml").is_file() and not (folder / "define2-1.xsl").exists()
    assert b"xml-stylesheet" not in (folder / "define.xml").read_bytes()
    assert [f.rule for f in findings if f.severity == "error"] == []
    assert not any(f.rule == "DEFINE-STYLESHEET" for f in findings)


def test_a_named_stylesheet_is_copied_and_named_in_the_instruction(tmp_path, spec, sdtm, package):
    folder = tmp_path / "sdtm"
    shutil.copytree(package / "sdtm", folder, ignore=shutil.ignore_patterns("*.json", "*.ndjson", "define*"))
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "look.xsl").write_bytes(XSL)
    styled = spec.model_copy(deep=True)
    styled.folder = str(specs)
    styled.study.standards.define_stylesheet = "look.xsl"
    write_define_package(folder, styled, sdtm.datasets, sdtm.specs, None, "SDTMIG")
    assert (folder / "define2-1.xsl").read_bytes() == XSL
    assert b'<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>' in (folder / "define.xml").read_bytes()


@pytest.mark.parametrize("named", ["../../../../../../../etc/hostname", "gone.xsl", "ref/etc/hostname"])
def test_a_stylesheet_outside_the_spec_folder_or_missing_is_refused(tmp_path, spec, sdtm, package, named):
    """issue 12 item 8: a stylesheet path may not leave the spec folder, directly or through a symlink."""
    folder = tmp_path / "sdtm"
    folder.mkdir()
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "ref").symlink_to("/", target_is_directory=True)
    styled = spec.model_copy(deep=True)
    styled.folder = str(specs)
    styled.study.standards.define_stylesheet = named
    with pytest.raises(SpecError, match="standards.define_stylesheet"):
        write_define_package(folder, styled, sdtm.datasets, sdtm.specs, None, "SDTMIG")
    assert not (folder / "define2-1.xsl").exists()


@pytest.mark.parametrize("formats", ["nonsense"])
def test_an_unknown_format_is_refused(formats, spec_folder, tmp_path):
    with pytest.raises(ValueError):
        build(spec_folder, None, tmp_path / "out", formats=formats)
