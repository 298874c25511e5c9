"""define.html: define.xml as a page that needs no XSLT, rendered by the project from the define.xml tree.

Checked against define.xml itself (every dataset, variable, value-level item, codelist term,
method and comment, counted), against the dataset files (record counts read with pyreadstat),
for links that resolve, for escaping of hostile text, for stable bytes, and in headless Chromium.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyreadstat
import pytest
from lxml import etree, html

from sdtmgen.define_xml import build_define
from sdtmgen.define_xml.html import render_define_html
from sdtmgen.define_xml.oids import XPATH_NS, define, xlink
from sdtmgen.define_xml.package import write_define_package, xpt_lengths

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOSTILE = "<script>alert('x')</script> & \"quoted\" 'single' </td></tr><b>bold</b>"


def _words(element: html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _page(path: Path) -> html.HtmlElement:
    return html.fromstring(path.read_bytes())


def _by_id(doc: html.HtmlElement) -> dict[str, html.HtmlElement]:
    ids = doc.xpath("//@id")
    assert len(ids) == len(set(ids)), "duplicate ids"
    return {e.get("id"): e for e in doc.xpath("//*[@id]")}


def _xp(tree, path: str, **kw):
    return tree.xpath(path, namespaces=XPATH_NS, **kw)


@pytest.fixture(scope="session")
def pages(define_files) -> dict[str, tuple[etree._ElementTree, html.HtmlElement, Path]]:
    out = {}
    for kind, path in define_files.items():
        page = path.parent / "define.html"
        assert page.is_file(), f"{kind}/define.html was not written"
        out[kind] = (etree.parse(str(path)), _page(page), path.parent)
    return out


def test_every_dataset_and_variable_of_define_xml_is_on_the_page(pages):
    for kind, (define_tree, doc, _folder) in pages.items():
        ids = _by_id(doc)
        items = {i.get("OID"): i for i in _xp(define_tree, "//odm:ItemDef")}
        groups = _xp(define_tree, "//odm:ItemGroupDef")
        assert groups
        overview = doc.xpath("//section[@id='datasets']//tbody/tr")
        assert [_words(tr.xpath("td")[0]) for tr in overview] == [g.get("Name") for g in groups], kind
        for group in groups:
            section = ids[group.get("OID")]
            assert section.tag == "section", f"{kind}: no section for {group.get('Name')}"
            heading = _words(section.find("h2"))
            description = _xp(group, "string(odm:Description/odm:TranslatedText)")
            assert heading.startswith(f"{group.get('Name')} \u2014 {description}"), heading
            refs = group.findall("odm:ItemRef", XPATH_NS)
            rows = section.xpath("./table/tbody/tr")
            assert len(rows) == len(refs), f"{kind}: {group.get('Name')} has {len(rows)} rows for {len(refs)} variables"
            for ref, row in zip(refs, rows):
                item = items[ref.get("ItemOID")]
                cells = [_words(td) for td in row.xpath("td")]
                assert row.get("id") == item.get("OID")
                assert cells[0] == ref.get("OrderNumber") and cells[1] == item.get("Name")
                label = _xp(item, "string(odm:Description/odm:TranslatedText)")
                assert cells[2] == " ".join(label.split())
                assert cells[3] == (ref.get("KeySequence") or "")
                assert cells[4:7] == [item.get("DataType"), item.get("Length") or "", item.get("SignificantDigits") or ""]
                assert cells[7] == (item.get(define("DisplayFormat")) or "")
                assert cells[11] == ref.get("Mandatory")
                if ref.get("Role"):
                    assert cells[12] == ref.get("Role")
                origin = item.find("def:Origin", XPATH_NS)
                assert cells[9].startswith(origin.get("Type")), (item.get("OID"), cells[9])
                for pages_ref in _xp(origin, "def:DocumentRef/def:PDFPageRef/@PageRefs"):
                    shown = "CRF p. " if len(pages_ref.split()) == 1 else "CRF pp. "
                    assert shown + ", ".join(pages_ref.split()) in cells[9]
                if ref.get("MethodOID"):
                    assert row.xpath(".//a[@href=$h]", h=f"#{ref.get('MethodOID')}")
                codelist = item.find("odm:CodeListRef", XPATH_NS)
                if codelist is not None:
                    assert row.xpath(".//a[@href=$h]", h=f"#{codelist.get('CodeListOID')}")
        # every ItemDef (dataset variables and value-level items) has exactly one row
        rows = doc.xpath("//tr[starts-with(@id, 'IT.')]/@id")
        assert sorted(rows) == sorted(items), kind


def test_value_level_metadata_shows_readable_where_clauses(pages):
    seen = 0
    for _kind, (define_tree, doc, _folder) in pages.items():
        ids = _by_id(doc)
        items = {i.get("OID"): i for i in _xp(define_tree, "//odm:ItemDef")}
        clauses = {w.get("OID"): w for w in _xp(define_tree, "//def:WhereClauseDef")}
        for vl in _xp(define_tree, "//def:ValueListDef"):
            block = ids[vl.get("OID")]
            refs = vl.findall("odm:ItemRef", XPATH_NS)
            rows = block.xpath(".//tbody/tr")
            assert len(rows) == len(refs), vl.get("OID")
            for ref, row in zip(refs, rows):
                check = clauses[_xp(ref, "string(def:WhereClauseRef/@WhereClauseOID)")].find("odm:RangeCheck",
                                                                                              XPATH_NS)
                topic = items[check.get(define("ItemOID"))].get("Name")
                value = check.findtext("odm:CheckValue", namespaces=XPATH_NS)
                # values with blanks, commas, quotes or parentheses are quoted SAS-style (html._quoted)
                shown = f'"{value.replace(chr(34), chr(34) * 2)}"' if re.search(r'[ ,"()]', value) else value
                assert _words(row.xpath("td")[0]) == f"{topic} {check.get('Comparator')} {shown}"
                assert row.get("id") == ref.get("ItemOID")
                seen += 1
    assert seen > 50
    lb = _by_id(pages["sdtm"][1])["VL.LB.LBORRES"]
    assert "LBTESTCD EQ NEUT" in [_words(tr.xpath("td")[0]) for tr in lb.xpath(".//tbody/tr")]


def test_codelists_methods_and_comments_match_define_xml(pages):
    terms = 0
    for _kind, (define_tree, doc, _folder) in pages.items():
        ids = _by_id(doc)
        for codelist in _xp(define_tree, "//odm:CodeList"):
            block = ids[codelist.get("OID")]
            external = codelist.find("odm:ExternalCodeList", XPATH_NS)
            if external is not None:
                cells = [_words(td) for td in block.xpath("td")]
                assert cells[1:3] == [external.get("Dictionary"), external.get("Version")]
                continue
            entries = _xp(codelist, "odm:CodeListItem | odm:EnumeratedItem")
            rows = block.xpath(".//tbody/tr")
            assert len(rows) == len(entries), codelist.get("OID")
            for entry, row in zip(entries, rows):
                cells = [_words(td) for td in row.xpath("td")]
                assert cells[0] == entry.get("CodedValue")
                code = _xp(entry, "string(odm:Alias[@Context='nci:ExtCodeID']/@Name)")
                if code:
                    assert code in cells
                decode = _xp(entry, "string(odm:Decode/odm:TranslatedText)")
                if decode:
                    assert cells[1] == " ".join(decode.split())
                assert ("extended value" in cells) == (entry.get(define("ExtendedValue")) == "Yes")
                terms += 1
            code = _xp(codelist, "string(odm:Alias[@Context='nci:ExtCodeID']/@Name)")
            if code:
                assert f"NCI code: {code}" in _words(block)
        methods = _xp(define_tree, "//odm:MethodDef")
        assert len(doc.xpath("//section[@id='methods']//tbody/tr")) == len(methods)
        for method in methods:
            text = " ".join(_xp(method, "string(odm:Description/odm:TranslatedText)").split())
            assert text in _words(ids[method.get("OID")])
        comments = _xp(define_tree, "//def:CommentDef")
        assert len(doc.xpath("//section[@id='comments']//tbody/tr")) == len(comments)
        for comment in comments:
            assert " ".join(_xp(comment, "string(odm:Description/odm:TranslatedText)").split()) in \
                _words(ids[comment.get("OID")])
    assert terms > 100


def test_the_header_and_the_record_counts_come_from_define_xml_and_the_files(pages):
    for kind, (define_tree, doc, folder) in pages.items():
        header = _words(doc.xpath("//header")[0])
        assert _xp(define_tree, "string(//odm:StudyName)") in header
        for standard in _xp(define_tree, "//def:Standard"):
            assert standard.get("Version") in header
        for tr in doc.xpath("//section[@id='datasets']//tbody/tr"):
            name = _words(tr.xpath("td")[0])
            records = _words(tr.xpath("td")[5]).replace(",", "")
            _, meta = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"), metadataonly=True)
            frame, _ = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"), usecols=meta.column_names[:1])
            assert int(records) == len(frame), f"{kind} {name}: {records} records shown"


def _assert_links_resolve(doc: html.HtmlElement, folder: Path) -> int:
    ids = set(_by_id(doc))
    checked = 0
    for href in doc.xpath("//a/@href"):
        if href.startswith("#"):
            assert unquote(href[1:]) in ids, f"dangling in-page link {href}"
        else:
            parts = urlsplit(href)
            assert not parts.scheme and not parts.netloc and not parts.path.startswith("/"), href
            target = (folder / unquote(parts.path)).resolve()
            assert target.is_relative_to(folder.resolve()) and target.is_file(), f"link to a missing file {href}"
        checked += 1
    # self-contained: no script, no external resource
    assert not doc.xpath("//script | //link | //img | //iframe | //object | //embed | //@src")
    return checked


def test_every_link_resolves_in_page_or_to_a_file_of_the_package(pages):
    for _kind, (_define_tree, doc, folder) in pages.items():
        assert _assert_links_resolve(doc, folder) > 200
    doc = pages["sdtm"][1]
    for href in ("#IG.DM", "#IT.DM.SEX", "#CL.SEX", "#MT.DM.RFSTDTC", "#VL.LB.LBORRES", "#methods", "dm.xpt",
                 "define.xml"):
        assert doc.xpath("//a[@href=$h]", h=href), f"no link {href}"


def _hostile_tree(define_tree: etree._ElementTree) -> etree._ElementTree:
    tree = copy.deepcopy(define_tree)
    root = tree.getroot()
    _xp(root, "//odm:StudyName")[0].text = HOSTILE
    dm_sex = _xp(root, "//odm:ItemDef[@OID='IT.DM.SEX']")[0]
    _xp(dm_sex, "odm:Description/odm:TranslatedText")[0].text = HOSTILE
    dm_sex.set(define("CommentOID"), _xp(root, "//def:CommentDef/@OID")[0])
    _xp(root, "//def:CommentDef/odm:Description/odm:TranslatedText")[0].text = HOSTILE
    _xp(root, "//odm:MethodDef/odm:Description/odm:TranslatedText")[0].text = HOSTILE
    item = _xp(root, "//odm:CodeList[@OID='CL.SEX']/odm:CodeListItem")[0]
    item.set("CodedValue", HOSTILE)
    _xp(item, "odm:Decode/odm:TranslatedText")[0].text = HOSTILE
    _xp(root, "//def:WhereClauseDef/odm:RangeCheck/odm:CheckValue")[0].text = HOSTILE
    leaves = _xp(root, "//odm:ItemGroupDef/def:leaf")
    leaves[0].set(xlink("href"), "javascript:alert(1)")
    leaves[1].set(xlink("href"), "../../../etc/passwd")
    leaves[2].set(xlink("href"), "/etc/passwd")
    return tree


def test_hostile_text_is_escaped_and_hostile_hrefs_are_not_links(pages):
    define_tree, _doc, folder = pages["sdtm"]
    page = render_define_html(_hostile_tree(define_tree), folder)
    assert b"<script>" not in page and b"<b>bold" not in page
    doc = html.fromstring(page)
    assert not doc.xpath("//script | //b[text()='bold']")
    ids = _by_id(doc)
    sex = ids["IT.DM.SEX"]
    assert sex.xpath("td")[2].text_content() == HOSTILE
    assert HOSTILE in sex.xpath("td")[10].text_content()
    assert doc.xpath("//title")[0].text_content().startswith(HOSTILE)
    assert ids["CL.SEX"].xpath(".//tbody/tr/td")[0].text_content() == HOSTILE
    assert ids["CL.SEX"].xpath(".//tbody/tr/td")[1].text_content() == HOSTILE
    quoted = HOSTILE.replace('"', '""')
    assert ids["VL.TS.TSVAL"].xpath(".//tbody/tr/td")[0].text_content() == f'TSPARMCD EQ "{quoted}"'
    assert _assert_links_resolve(doc, folder) > 500
    for bad in ("javascript:alert(1)", "../../../etc/passwd", "/etc/passwd"):
        assert not doc.xpath("//a[contains(@href, $h)]", h=bad.lstrip("./"))


def test_define_html_is_rendered_from_the_define_tree_and_byte_stable(spec, sdtm, package, pages, tmp_path,
                                                                      example_raw):
    """The build's define.html equals a rendering of build_define's in-memory tree: one model, one page."""
    from sdtmgen.acrf import with_pages, write_acrf

    folder = package / "sdtm"
    href = "define2-1.xsl" if (folder / "define2-1.xsl").is_file() else None
    specs = with_pages(sdtm.specs, write_acrf(tmp_path / "acrf.pdf", spec, example_raw))  # as the build does
    tree, _ = build_define(study=spec.study, terminology=spec.terminology, datasets=sdtm.datasets, specs=specs,
                           standard="SDTMIG", lengths=xpt_lengths(folder), stylesheet_href=href,
                           annotated_crf=(folder / "acrf.pdf").is_file())
    records = {name: len(frame) for name, frame in sdtm.datasets.items()}
    first = render_define_html(tree, folder, records)
    assert first == render_define_html(tree, folder, records)
    assert first == (folder / "define.html").read_bytes()
    assert first.startswith(b"<!DOCTYPE html>") and b"1970-01-01T00:00:00" in first


def test_without_a_stylesheet_define_html_is_the_readable_form_and_nothing_is_reported(tmp_path, spec, sdtm,
                                                                                       package):
    folder = tmp_path / "sdtm"
    shutil.copytree(package / "sdtm", folder, ignore=shutil.ignore_patterns("*.json", "*.ndjson", "define*"))
    plain = spec.model_copy(deep=True)
    plain.study.standards.define_stylesheet = None
    specs = dict(sdtm.specs)
    specs["DM"] = specs["DM"].model_copy(deep=True)  # a hostile comment travels spec -> define.xml -> define.html
    next(v for v in specs["DM"].variables if v.name == "SEX").comment = HOSTILE
    findings = write_define_package(folder, plain, sdtm.datasets, specs, None, "SDTMIG")
    assert not [f for f in findings if f.rule == "DEFINE-STYLESHEET"]
    assert not [f for f in findings if f.severity == "error"]
    assert b"xml-stylesheet" not in (folder / "define.xml").read_bytes()
    assert not (folder / "define2-1.xsl").exists()
    page = (folder / "define.html").read_bytes()
    assert b"<script>" not in page
    doc = _page(folder / "define.html")
    assert _assert_links_resolve(doc, folder) > 500
    assert len(doc.xpath("//section[contains(@class, 'dataset')]")) == len(sdtm.specs.keys() & sdtm.datasets.keys())
    assert _by_id(doc)["COM.DM.SEX"].xpath("td")[1].text_content() == HOSTILE
    assert HOSTILE in _by_id(doc)["IT.DM.SEX"].text_content()


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def test_a_headless_browser_renders_define_html(pages, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("chromium not found (the CI installs it: .ci/run)")
    ARTIFACTS.mkdir(exist_ok=True)
    for kind, (define_tree, _doc, folder) in pages.items():
        screenshot = ARTIFACTS / f"define-html-{kind}.png"
        screenshot.unlink(missing_ok=True)
        run = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / kind}",
             f"--screenshot={screenshot}", "--window-size=1400,2400", "--dump-dom",
             (folder / "define.html").resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        assert screenshot.is_file() and screenshot.stat().st_size > 10_000, run.stderr[-2000:]
        dom = html.fromstring(run.stdout)
        assert _xp(define_tree, "string(//odm:StudyName)") in dom.findtext(".//title")
        ids = set(dom.xpath("//@id"))
        assert {g.get("OID") for g in _xp(define_tree, "//odm:ItemGroupDef")} <= ids
        assert {i.get("OID") for i in _xp(define_tree, "//odm:ItemDef")} <= ids


def test_crf_pages_link_to_the_annotated_crf_only_when_it_is_in_the_folder(pages, tmp_path):
    define_tree, doc, _folder = pages["sdtm"]
    collected = _xp(define_tree, "//odm:ItemDef[def:Origin/def:DocumentRef/def:PDFPageRef]")
    assert collected
    # the build writes acrf.pdf beside define.xml, so its page links resolve
    assert doc.xpath("//a[starts-with(@href, 'acrf.pdf')]") and (_folder / "acrf.pdf").is_file()
    _assert_links_resolve(doc, _folder)
    # without the file in the folder, no link is written
    assert not html.fromstring(render_define_html(define_tree, tmp_path)).xpath("//a[starts-with(@href, 'acrf.pdf')]")
    (tmp_path / "acrf.pdf").write_bytes(b"%PDF-1.4\n")
    with_crf = html.fromstring(render_define_html(define_tree, tmp_path))
    _assert_links_resolve(with_crf, tmp_path)
    for item in collected:
        page_refs = _xp(item, "string(def:Origin/def:DocumentRef/def:PDFPageRef/@PageRefs)").split()
        row = _by_id(with_crf)[item.get("OID")]
        assert row.xpath(".//a/@href") and set(page_refs) <= {
            h.split("#page=")[1] for h in row.xpath(".//a/@href") if h.startswith("acrf.pdf#page=")}
