"""reports/reviewers-guide.html: written by every build, from the spec and the data of that build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from lxml import html as lxml_html

from sdtmgen.errors import Finding, SpecError
from sdtmgen.guide import build_guide, write_reviewers_guide
from sdtmgen.pipeline import build
from sdtmgen.spec.loader import load_spec
import pyreadstat

SECTIONS = ["1. Study", "2. Standards", "3. Datasets", "4. Data flow", "5. Conformance findings",
            "6. Study settings", "7. Data problems handled"]


def _edit_study(spec_folder: Path, change) -> None:
    path = spec_folder / "study.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["study"])
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory, spec_folder, example_raw):
    """The example built with a negative lab result (DR-LB-NEGATIVE) and a raw value with trailing spaces
    (RAW-WHITESPACE), each explained in study.yaml justifications."""
    root = tmp_path_factory.mktemp("guide")
    specs, raw = root / "specs", root / "raw"
    shutil.copytree(spec_folder, specs)
    shutil.copytree(example_raw, raw)
    hem = (raw / "hem.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    hem[1] = hem[1].replace(",2.89,", ",-2.89,")
    (raw / "hem.csv").write_text("".join(hem), encoding="utf-8")
    ae = (raw / "ae.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    ae[1] = ae[1].replace(",Shivering,", ",Shivering  ,")
    (raw / "ae.csv").write_text("".join(ae), encoding="utf-8")
    _edit_study(specs, lambda s: s.setdefault("justifications", {}).update({
        "DR-LB-NEGATIVE": "The site confirmed the sign is a transcription slip <kept as collected>.",
        "RAW-WHITESPACE": "The EDC pads some free text; trimming it changes no meaning."}))
    out = root / "out"
    build(specs, raw, out)
    return out


def _page(out: Path):
    return lxml_html.fromstring((out / "reports" / "reviewers-guide.html").read_bytes())


def _rows(table) -> list[list[str]]:
    return [[cell.text_content() for cell in tr.findall("td")] for tr in table.iter("tr") if tr.findall("td")]


def _table_after(page, heading: str):
    h = next(e for e in page.iter("h2", "h3") if e.text_content() == heading)
    return next(e for e in h.itersiblings() if e.tag == "table")


def test_sections_and_study(built):
    page = _page(built)
    headings = [h.text_content() for h in page.iter("h2")]
    assert headings == SECTIONS
    study = dict(r[:2] for r in _rows(_table_after(page, "1. Study")))
    assert study["Study identifier"] == "UCMSC-EXO-AML-01"
    assert study["Registry identifier"] == "NCT06245746"
    standards = {r[0]: r[1] for r in _rows(_table_after(page, "2. Standards"))}
    assert standards["SDTM Implementation Guide"] == "3.4"
    assert standards["ADaM Implementation Guide"] == "1.3"
    assert standards["NCI SDTM and ADaM Controlled Terminology"] == "2025-03-28"
    assert standards["NCI Define-XML Controlled Terminology"] == "2025-09-26"
    assert standards["NCI CTCAE (lab toxicity grades)"] == "5.0"


def test_record_counts_are_those_of_the_xpt_files(built):
    rows = _rows(_table_after(_page(built), "3. Datasets"))
    shown = {r[1]: int(r[-1]) for r in rows}
    files = sorted((built / "sdtm").glob("*.xpt")) + sorted((built / "adam").glob("*.xpt"))
    assert len(files) == len(shown) > 20
    for path in files:
        assert shown[path.stem.upper()] == len(pyreadstat.read_xport(str(path))[0]), path.name
    assert {r[1]: r[0] for r in rows}["ADSL"] == "ADaM"


def test_data_flow_matches_reconciliation(built):
    page = _page(built)
    flow = {(r[0], r[1]): r[2:5] for r in _rows(_table_after(page, "Raw forms to SDTM"))}
    import csv

    with open(built / "reports" / "reconciliation.csv", encoding="utf-8") as fh:
        recon = list(csv.DictReader(fh))
    assert recon
    for rec in recon:
        assert flow[(rec["domain"], rec["form"])] == [rec["rows_read"], rec["rows_mapped"], rec["rows_excluded"]]
    links = [a.get("href") for a in page.iter("a") if a.get("href", "").endswith(".pdf")]
    assert links == ["../sdtm/acrf.pdf"] and (built / "reports" / links[0]).resolve().is_file()
    adam = {r[0]: r for r in _rows(_table_after(page, "SDTM to ADaM"))}
    assert adam["ADAE"][1] == "AE" and "ADSL" in adam["ADAE"][2]
    assert adam["ADTTE"][1] == "ADLB"


def test_justification_beside_its_finding(built):
    page = _page(built)
    rows = _rows(_table_after(page, "5. Conformance findings"))
    negative = [r for r in rows if r[0] == "DR-LB-NEGATIVE"]
    assert negative and negative[0][2].startswith("LB")
    assert negative[0][5] == "The site confirmed the sign is a transcription slip <kept as collected>."
    handled = [r for r in _rows(_table_after(page, "7. Data problems handled")) if r[0] == "RAW-WHITESPACE"]
    assert handled and "ae.csv" in handled[0][2]
    assert handled[0][5] == "The EDC pads some free text; trimming it changes no meaning."
    review = {r[0]: r for r in _rows(_table_after(page, "Data-review checks (study.yaml review)"))}
    assert review["DR-EX-DOSE-PLANNED"][3] == "protocol dose levels, ug/kg"
    # the example's explanations of CDISC CORE findings are kept even when no finding needs them here
    kept = {r[0] for r in _rows(_table_after(page, "Explanations kept for rules without findings in this build"))}
    assert "CORE-000701" in kept


def test_unknown_rule_refused_at_load(spec_copy):
    _edit_study(spec_copy, lambda s: s.setdefault("justifications", {}).update({"DR-NO-SUCH-CHECK": "because"}))
    with pytest.raises(SpecError, match="DR-NO-SUCH-CHECK"):
        load_spec(spec_copy)


def test_hostile_text_is_escaped(spec, tmp_path):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    study = spec.study.model_copy(update={"justifications": {"XD-SUBJ-DM": hostile}, "sponsor": hostile})
    hostile_spec = spec.model_copy(update={"study": study})
    finding = Finding(rule="XD-SUBJ-DM", severity="warning", dataset="AE", variable="USUBJID",
                      message=f"subject {hostile} not in DM", rows=(1, 2))
    path = tmp_path / "guide.html"
    write_reviewers_guide(path, hostile_spec, {"AE": 2}, [finding], None, {})
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text and "<img" not in text
    page = lxml_html.fromstring(text)
    assert not list(page.iter("script", "img"))
    row = [r for r in _rows(_table_after(page, "5. Conformance findings")) if r[0] == "XD-SUBJ-DM"][0]
    assert row[3] == "2" and row[4] == f"subject {hostile} not in DM" and row[5] == hostile


def test_same_inputs_same_bytes(spec, tmp_path):
    finding = Finding(rule="SCH-CT-EXT", severity="warning", dataset="LB", variable="LBORRESU", message="x")
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for path in (first, second):
        write_reviewers_guide(path, spec, {"LB": 3, "ADSL": 9}, [finding], None, {"sdtmig": {"version": "3.4"}})
    assert first.read_bytes() == second.read_bytes()
    assert build_guide(spec, {}, [], None, {}).find(".//h1") is not None


def test_a_headless_browser_shows_the_guide(built, tmp_path):
    """The page as a reviewer sees it: a screenshot kept in tests/artifacts/ and the DOM the browser built."""
    import subprocess

    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if browser is None:
        pytest.skip("chromium not found (the CI installs it: .ci/run)")
    artifacts = Path(__file__).resolve().parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    screenshot = artifacts / "reviewers-guide.png"
    screenshot.unlink(missing_ok=True)
    url = (built / "reports" / "reviewers-guide.html").resolve().as_uri()
    dump = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}",
                           "--window-size=1300,2400", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert dump.returncode == 0, dump.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    doc = lxml_html.fromstring(dump.stdout)
    assert [h.text_content() for h in doc.iter("h2")] == SECTIONS
