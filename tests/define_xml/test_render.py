"""define.xml as a reviewer sees it: CDISC's stylesheet turns it into HTML listing every dataset and variable.

The lxml test runs the XSLT itself; the browser test opens define.xml in headless Chromium (which
applies the xml-stylesheet instruction, as a reviewer's browser does), keeps a screenshot in
tests/artifacts/ and checks the rendered DOM.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree, html

from sdtmgen.define_xml.oids import XPATH_NS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def variables_by_dataset(define: etree._ElementTree) -> dict[str, list[tuple[str, str, str]]]:
    """{group OID: [(item OID, variable name, label)]} in define.xml."""
    items = {i.get("OID"): i for i in define.xpath("//odm:ItemDef", namespaces=XPATH_NS)}
    out = {}
    for group in define.xpath("//odm:ItemGroupDef", namespaces=XPATH_NS):
        rows = []
        for ref in group.findall("odm:ItemRef", XPATH_NS):
            item = items[ref.get("ItemOID")]
            rows.append((item.get("OID"), item.get("Name"),
                         item.findtext("odm:Description/odm:TranslatedText", namespaces=XPATH_NS)))
        out[group.get("OID")] = rows
    return out


def assert_lists_everything(doc: html.HtmlElement, define: etree._ElementTree) -> None:
    ids = set(doc.xpath("//@id"))
    for group_oid, rows in variables_by_dataset(define).items():
        name = group_oid[3:]
        assert group_oid in ids, f"{name} missing from the dataset table"
        table = doc.xpath("//a[@id=$a]/following-sibling::div[1]//table", a=f"IG.{group_oid}")
        assert table, f"no variable table for {name}"
        cells = [" ".join(td.text_content().split()) for td in table[0].xpath(".//td")]
        for item_oid, variable, label in rows:
            assert f"{group_oid}.{item_oid}" in ids, f"{name}.{variable} missing"
            shown = variable in cells or f"{variable}VLM" in cells  # "LBORRESVLM": has value-level metadata
            assert shown and " ".join(label.split()) in cells, f"{name}.{variable} / {label!r} not shown"


def test_the_stylesheet_lists_every_dataset_and_variable(styled_define_files):
    define_files = styled_define_files
    stylesheet = define_files["sdtm"].parent / "define2-1.xsl"
    transform = etree.XSLT(etree.parse(str(stylesheet)))
    for kind, path in define_files.items():
        define = etree.parse(str(path))
        result = transform(define)
        assert not [e for e in transform.error_log if e.level_name == "ERROR"], kind
        assert_lists_everything(html.fromstring(str(result)), define)


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         # the stylesheet is a local file next to define.xml: let the file:// page load it
         "--allow-file-access-from-files", *args],
        capture_output=True, text=True, timeout=120, check=False)


def test_a_headless_browser_shows_the_define_as_html(styled_define_files, tmp_path):
    define_files = styled_define_files
    browser = _browser()
    if browser is None:
        pytest.skip("chromium not found (the CI installs it: .ci/run)")
    ARTIFACTS.mkdir(exist_ok=True)
    for kind, path in define_files.items():
        url = path.resolve().as_uri()
        screenshot = ARTIFACTS / f"define-{kind}.png"
        screenshot.unlink(missing_ok=True)
        dump = _chromium(browser, tmp_path / f"profile-{kind}", f"--screenshot={screenshot}",
                         "--window-size=1400,2000", "--dump-dom", url)
        assert dump.returncode == 0, dump.stderr[-2000:]
        assert screenshot.is_file() and screenshot.stat().st_size > 10_000, dump.stderr[-2000:]
        doc = html.fromstring(dump.stdout)
        define = etree.parse(str(path))
        study = define.findtext(".//odm:StudyName", namespaces=XPATH_NS)
        assert study in doc.findtext(".//title"), "the browser did not apply the stylesheet"
        assert_lists_everything(doc, define)
