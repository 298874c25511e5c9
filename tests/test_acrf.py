"""acrf.pdf: the annotated CRF written by `sdtmgen acrf` and by the build, and define.xml's page links into it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from sdtmgen.acrf import NOT_SUBMITTED, annotations, form_fields, write_acrf
from sdtmgen.cli import main
from sdtmgen.pipeline import build

SCHEMA = Path("define-xml-2.1") / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    return found


def _page_count(pdf: Path) -> int:
    info = subprocess.run([_poppler("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def _page_text(pdf: Path, page: int) -> str:
    return subprocess.run([_poppler("pdftotext"), "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory, spec_folder, example_raw) -> Path:
    out = tmp_path_factory.mktemp("acrf") / "out"
    build(spec_folder, example_raw, out)
    return out


def test_every_field_is_annotated(spec, example_raw):
    notes = annotations(spec)
    fields = form_fields(example_raw)
    assert "ae" in fields and "AETERM" in fields["ae"]
    assert ("AE", "AETERM", "AE.AETERM") in notes[("ae", "AETERM")]
    assert notes[("ae", "AEDLT")] == [("SUPPAE", "AEDLT", "SUPPAE.QNAM = AEDLT")]
    # a temporary read by another domain's derivation: ds.csv DTHDAT -> DS._DTHDTC -> DM.DTHDTC
    assert ("DM", "DTHDTC", "DM.DTHDTC") in notes[("ds", "DTHDAT")]
    # a lookup column is annotated on its own form: ic.csv ICDAT -> DM.RFICDTC
    assert ("DM", "RFICDTC", "DM.RFICDTC") in notes[("ic", "ICDAT")]
    # a wide form: one annotation per test
    assert [a[2] for a in notes[("vs", "TEMP")]] == ["VS.VSORRES when VSTEST = Temperature"]
    assert ("vs", "SITENUMBER") not in notes  # shown as NOT SUBMITTED


def test_pdf_sections_outline_and_text(spec, example_raw, tmp_path):
    pdf = tmp_path / "acrf.pdf"
    pages = write_acrf(pdf, spec, example_raw)
    forms = form_fields(example_raw)
    assert _page_count(pdf) >= len(forms) + 1  # a cover, then at least a page per form
    text = {p: _page_text(pdf, p) for p in range(1, _page_count(pdf) + 1)}
    for form in forms:
        assert any(f"Form {form} ({form}.csv)" in t for t in text.values()), form
    assert NOT_SUBMITTED in text[pages[("VS", "VSORRES")][0]]
    raw = pdf.read_bytes()
    assert b"/Outlines" in raw
    for title in [b"(Forms)", b"(Domains)", b"(ae.csv)", b"(SUPPAE)", b"(LB)"]:
        assert title in raw, title


def test_same_inputs_same_bytes(spec, example_raw, tmp_path):
    write_acrf(tmp_path / "a.pdf", spec, example_raw)
    write_acrf(tmp_path / "b.pdf", spec, example_raw)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_define_page_refs_point_at_annotated_pages(built):
    pdf, define = built / "sdtm" / "acrf.pdf", built / "sdtm" / "define.xml"
    assert pdf.is_file()
    tree = etree.parse(str(define))
    leaf = tree.find(".//def:leaf[@ID='LF.acrf']", NS)
    assert leaf is not None and leaf.get("{http://www.w3.org/1999/xlink}href") == "acrf.pdf"
    count = _page_count(pdf)
    checked = 0
    for item in tree.iterfind(".//odm:ItemDef", NS):
        for ref in item.iterfind("def:Origin/def:DocumentRef/def:PDFPageRef", NS):
            domain = item.get("OID").split(".")[1]
            for page in map(int, ref.get("PageRefs").split()):
                assert 1 <= page <= count, (item.get("OID"), page)
                assert f"{domain}.{item.get('Name')}" in _page_text(pdf, page), (item.get("OID"), page)
                checked += 1
    assert checked >= 80
    aeterm = tree.find(".//odm:ItemDef[@OID='IT.AE.AETERM']/def:Origin/def:DocumentRef/def:PDFPageRef", NS)
    assert aeterm is not None


def test_define_still_valid(built, reference):
    path = reference / SCHEMA
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    arm = reference / "define-xml-2.1" / "schema" / "cdisc-arm-1.0" / "arm1-0-0.xsd"
    for kind, xsd in (("sdtm", path), ("adam", arm)):  # the ADaM define carries Analysis Results Metadata
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        doc = etree.parse(str(built / kind / "define.xml"))
        assert schema.validate(doc), schema.error_log


def test_cli(tmp_path, spec_folder, example_raw):
    out = tmp_path / "crf.pdf"
    result = CliRunner().invoke(main, ["acrf", "--spec", str(spec_folder), "--raw", str(example_raw),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    refused = CliRunner().invoke(main, ["acrf", "--spec", str(spec_folder), "--out", str(spec_folder / "x.pdf")])
    assert refused.exit_code == 2 and not (spec_folder / "x.pdf").exists()
