"""The spec drives both the data and its define.xml: removing a variable removes it from both, in one build."""

from __future__ import annotations

import re
import shutil

import pyreadstat
import pytest
from lxml import etree

from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.define_xml.package import write_define_package
from sdtmgen.pipeline import build


def test_removing_a_variable_from_the_spec_removes_it_from_the_xpt_and_define(tmp_path, spec_folder, example_raw,
                                                                              reference):
    # the copy sits two levels below tmp_path, so its ../../shared/reference paths still resolve
    (tmp_path / "shared").symlink_to(reference.parent, target_is_directory=True)
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


@pytest.mark.parametrize("formats", ["nonsense"])
def test_an_unknown_format_is_refused(formats, spec_folder, tmp_path):
    with pytest.raises(ValueError):
        build(spec_folder, None, tmp_path / "out", formats=formats)
