"""Codelists by reference in terminology.yaml: ``nci: C-code`` (the packaged NCI CT), ``file: x.csv``
(a CSV codelist file), with subsets, sponsor synonyms and extensions; ``sdtmgen ct import``.

Expected terms, C-codes and counts are read from the CT files themselves (the packaged
``sdtm.tsv.gz`` read with the csv module, and NCI's own ``SDTM Terminology.txt`` when
../shared/reference is present), never typed here.
"""

from __future__ import annotations

import csv
import gzip
import io
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from sdtmgen.cli import main
from sdtmgen.ct_reference import import_nci, read_codelist_csv
from sdtmgen.errors import SpecError
from sdtmgen.spec.loader import load_spec, load_terminology
from sdtmgen.standards import DATA
from sdtmgen.terminology import map_to_codelist

VERSION = "2025-03-28"
PACKAGED = DATA / "ct" / VERSION / "sdtm.tsv.gz"
NCI_COLUMNS = {"Code": "code", "Codelist Code": "codelist", "Codelist Extensible (Yes/No)": "extensible",
               "Codelist Name": "codelist_name", "CDISC Submission Value": "value",
               "CDISC Synonym(s)": "synonyms", "NCI Preferred Term": "preferred_term"}


def ct_rows(text: str, columns: dict[str, str] | None = None) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t"))
    return [{columns.get(k, k): v for k, v in r.items()} for r in rows] if columns else rows


@pytest.fixture(scope="module")
def packaged_rows() -> list[dict[str, str]]:
    return ct_rows(gzip.decompress(PACKAGED.read_bytes()).decode("utf-8"))


@pytest.fixture(scope="module")
def nci_rows(reference) -> list[dict[str, str]]:
    with tarfile.open(reference / "controlled-terminology" / f"sdtm-ct-{VERSION}.tar.xz") as archive:
        member = archive.extractfile("SDTM Terminology.txt")
        assert member is not None
        return ct_rows(member.read().decode("utf-8"), NCI_COLUMNS)


def codelist_rows(rows: list[dict[str, str]], code: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    return next(r for r in rows if r["code"] == code and not r["codelist"]), [r for r in rows if r["codelist"] == code]


def add_codelists(specs: Path, entries: str) -> int:
    """Append codelist entries (YAML text, indented as list items) to terminology.yaml; their first line."""
    path = specs / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n" + entries, encoding="utf-8")
    return text.rstrip("\n").count("\n") + 2


def spec_error(specs: Path) -> str:
    with pytest.raises(SpecError) as err:
        load_terminology(specs)
    return str(err.value)


# ---- nci: the packaged CT ------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["C66742", "C66731", "C66781", "C66727", "C66768"])
def test_nci_codelist_is_the_packaged_ct_codelist(spec_folder, packaged_rows, code):
    """The example's whole-codelist references hold exactly the CT file's terms, codes and decodes."""
    head, members = codelist_rows(packaged_rows, code)
    codelist = next(c for c in load_terminology(spec_folder).codelists if c.code == code)
    assert (codelist.id, codelist.name, codelist.extensible) == (head["value"], head["codelist_name"],
                                                                 head["extensible"] == "Yes")
    assert len(codelist.terms) == len(members)
    assert {(t.value, t.code, t.decode) for t in codelist.terms} == {
        (r["value"], r["code"], r["preferred_term"]) for r in members}
    assert [t.value for t in codelist.terms] == sorted(r["value"] for r in members)
    for term in codelist.terms:
        row = next(r for r in members if r["code"] == term.code)
        assert term.synonyms == [s.strip() for s in row["synonyms"].split(";") if s.strip()]
        assert not term.extended


def test_nci_codelist_agrees_with_nci_own_file(spec_folder, nci_rows):
    """NCI's 'SDTM Terminology.txt' (not the packaged copy): C66742 and the example's units, term by term."""
    head, members = codelist_rows(nci_rows, "C66742")
    terminology = load_terminology(spec_folder)
    ny = terminology.get("NY")
    assert len(ny.terms) == len(members) and ny.name == head["codelist_name"]
    assert sorted((t.code, t.value, t.decode) for t in ny.terms) == sorted(
        (r["code"], r["value"], r["preferred_term"]) for r in members)
    unit = terminology.get("UNIT")
    by_code = {r["code"]: r for r in codelist_rows(nci_rows, "C71620")[1]}
    assert all(by_code[t.code]["value"] == t.value for t in unit.terms)


def test_nci_with_sponsor_synonyms_maps_collected_text(spec_copy):
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  - nci: C66742  # NY: No Yes Response\n"
    assert old in text
    path.write_text(text.replace(old, "  - nci: C66742\n    synonyms: {Sure: Y, 'nope!': N}\n"), encoding="utf-8")
    ny = load_terminology(spec_copy).get("NY")
    mapped, unmatched = map_to_codelist(pd.Series(["Sure", "NOPE!", "Yes", "Not Applicable", "maybe", None]), ny)
    assert mapped.tolist()[:4] == ["Y", "N", "Y", "NA"]
    assert unmatched.tolist() == [False, False, False, False, True, False]
    assert "Sure" in next(t for t in ny.terms if t.value == "Y").synonyms


def test_nci_subset_keeps_the_listed_terms_in_order(spec_copy, packaged_rows):
    _, members = codelist_rows(packaged_rows, "C66770")
    by_value = {r["value"]: r["code"] for r in members}
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    terms: [C, beats/min, breaths/min, kg, mmHg]\n"
    assert old in text
    path.write_text(text.replace(old, "    terms: [mmHg, kg]\n"), encoding="utf-8")
    vsresu = load_terminology(spec_copy).get("VSRESU")
    assert [(t.value, t.code) for t in vsresu.terms] == [("mmHg", by_value["mmHg"]), ("kg", by_value["kg"])]
    assert len(members) > 2 and vsresu.case_sensitive


def test_extension_of_an_extensible_codelist_is_flagged_without_code(spec_copy):
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    old = "    terms: [C, beats/min, breaths/min, kg, mmHg]\n"
    path.write_text(text.replace(old, old + "    extensions: [cm H2O, {value: hand spans, decode: Hand Span, "
                                           "synonyms: [spans]}]\n"), encoding="utf-8")
    spec_terms = load_terminology(spec_copy).get("VSRESU").terms
    assert [(t.value, t.code, t.extended) for t in spec_terms[-2:]] == [("cm H2O", None, True),
                                                                        ("hand spans", None, True)]
    assert spec_terms[-1].synonyms == ["spans"] and spec_terms[-1].decode == "Hand Span"
    assert not any(t.extended for t in spec_terms[:-2])


def test_define_xml_carries_the_nci_codes_of_a_referenced_codelist(spec_folder, packaged_rows):
    from sdtmgen.define_xml.codelist import NCI, CodeList
    from sdtmgen.define_xml.context import DefineContext

    terminology = load_terminology(spec_folder)
    ctx = DefineContext(study=None, terminology=terminology, standard="SDTMIG", datasets={}, specs={}, lengths={},
                        ct_standard_oids={"SDTM": f"STD.CT.SDTM.{VERSION}"})
    element = CodeList(ctx, terminology.get("NY"), set())
    head, members = codelist_rows(packaged_rows, "C66742")
    aliases = [a.get("Name") for a in element.iter("{*}Alias") if a.get("Context") == NCI]
    assert sorted(aliases) == sorted([r["code"] for r in members] + [head["code"]])
    assert etree.QName(element[0]).localname == "CodeListItem" and element.get("Name") == head["codelist_name"]


def test_the_example_references_resolve_to_the_codelists_written_out(spec_folder, tmp_path):
    """Each `nci:` of the example gives the codelist `ct import` writes out (then subset as the example asks):
    written out or by reference, the build gets the same codelists (so the same XPT and define.xml)."""
    import shutil

    by_reference = load_terminology(spec_folder)
    data = yaml.safe_load((spec_folder / "terminology.yaml").read_text(encoding="utf-8"))
    refs = [c for c in data["codelists"] if "nci" in c]
    assert len(refs) >= 30
    written = []
    for entry in data["codelists"]:
        if "nci" not in entry:
            written.append(entry)
            continue
        codelist = yaml.load(_written_out(entry["nci"]), Loader=yaml.CSafeLoader)[0]
        if "terms" in entry:
            codelist["terms"] = [next(t for t in codelist["terms"] if t["value"] == v) for v in entry["terms"]]
        for raw, value in entry.get("synonyms", {}).items():
            next(t for t in codelist["terms"] if t["value"] == value).setdefault("synonyms", []).append(raw)
        codelist.update({k: entry[k] for k in ("case_sensitive", "data_type") if k in entry})
        written.append(codelist)
    specs = tmp_path / "specs"
    shutil.copytree(spec_folder, specs)
    (specs / "terminology.yaml").write_text(yaml.safe_dump({**data, "codelists": written}, sort_keys=False),
                                            encoding="utf-8")
    assert load_terminology(specs) == by_reference


def _written_out(code: str) -> str:
    """What `ct import --nci` writes; LBTESTCD and LBTEST cannot be written out whole (two of their terms share
    a preferred term in the NCI file), so the example takes a subset of them: written out the same way."""
    try:
        return import_nci([code], VERSION)
    except SpecError as exc:
        assert code in ("C65047", "C67154") and "cannot be used whole" in str(exc)
    from sdtmgen.ct_reference import codelists_yaml, nci_codelist

    return codelists_yaml([nci_codelist(VERSION, code)], "test")


# ---- errors --------------------------------------------------------------------------------------

def test_unknown_c_code_names_file_line_and_code(spec_copy):
    line = add_codelists(spec_copy, "  - nci: C99999999\n")
    message = spec_error(spec_copy)
    assert f"{spec_copy / 'terminology.yaml'}:{line}: codelist C99999999 is not in NCI SDTM CT {VERSION}" in message


def test_term_not_in_the_codelist(spec_copy):
    line = add_codelists(spec_copy, "  - nci: C66742\n    terms:\n      - Y\n      - MAYBE\n")
    message = spec_error(spec_copy)
    assert f"terminology.yaml:{line + 3}: codelist NY (C66742): term 'MAYBE' is not in the codelist" in message


def test_wrong_id_for_a_c_code(spec_copy):
    line = add_codelists(spec_copy, "  - nci: C66731\n    id: GENDER\n")
    assert f"terminology.yaml:{line + 1}: codelist C66731 is 'SEX' in NCI SDTM CT {VERSION}, not 'GENDER'" in \
        spec_error(spec_copy)


def test_extension_of_a_non_extensible_codelist(spec_copy):
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  - nci: C66742  # NY: No Yes Response\n"
    path.write_text(text.replace(old, "  - nci: C66742\n    extensions: [PROBABLY]\n"), encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 2
    assert f"terminology.yaml:{line}: codelist NY (C66742) is not extensible in NCI SDTM CT {VERSION}: sponsor " \
           f"term 'PROBABLY' cannot be added" in spec_error(spec_copy)


@pytest.mark.parametrize("entry,message", [
    ("{nci: C71620, terms: [mg], synonyms: {Kilo: kg}}",
     "codelist UNIT (C71620): synonym 'Kilo' maps to 'kg', which is not among its terms listed"),
    ("{nci: C71620, terms: [mg, kg], synonyms: {Milligram: kg}}",
     "synonym 'Milligram' -> 'kg', but 'Milligram' already means 'mg'"),
    ("{nci: C71620, terms: [mg], extensions: [kg]}",
     "'kg' is already a term of the codelist in NCI SDTM CT 2025-03-28; list it in 'terms' instead"),
    ("{nci: C71620, terms: [mg, mg]}", "terms listed twice: ['mg']"),
    ("{nci: C71620, file: ct.csv}", "give either 'nci: <C-code>' or 'file: <csv file>'"),
    ("{nci: C71620, codelist: UNIT}", "'codelist' selects a codelist of a CSV file; it needs 'file'"),
    ("{nci: C71620, extensible: true}", "Extra inputs are not permitted"),
    ("{nci: C66731}", "codelist SEX is defined twice"),
    ("{nci: C65047}", "codelist LBTESTCD (C65047) in NCI SDTM CT 2025-03-28: Value error, 'Direct Glomerular"),
])
def test_reference_problems_name_the_line(spec_copy, entry, message):
    if "C71620" in entry:  # the example's UNIT is replaced, so the entry's id is free
        path = spec_copy / "terminology.yaml"
        text = path.read_text(encoding="utf-8")
        start = text.index("  - nci: C71620")
        end = text.index("  - nci: C66770")
        path.write_text(text[:start] + text[end:], encoding="utf-8")
    if entry == "{nci: C65047}":
        path = spec_copy / "terminology.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("  - nci: C65047  # LBTESTCD: Laboratory Test Code\n"
                                     "    terms: [HGB, LYM, NEUT, PLAT, WBC]\n", ""), encoding="utf-8")
    line = add_codelists(spec_copy, f"  - {entry}\n")
    message_text = spec_error(spec_copy)
    assert f"terminology.yaml:{line}" in message_text and message in message_text


def test_an_unpackaged_ct_version_is_named(spec_copy):
    study = spec_copy / "study.yaml"
    study.write_text(study.read_text(encoding="utf-8").replace('ct: "2025-03-28"', 'ct: "2019-12-20"'),
                     encoding="utf-8")
    assert "version '2019-12-20' is not packaged with sdtmgen" in spec_error(spec_copy)


# ---- file: CSV codelist files --------------------------------------------------------------------

SPONSOR_CSV = """codelist,codelist_name,extensible,code,value,decode,synonyms
TOXGR2,Toxicity Grade,No,,1,Mild,Grade 1;G1
TOXGR2,Toxicity Grade,No,,2,Moderate,Grade 2
SEVCAT,Severity Category,Yes,,LOW,Low,
"""


def test_file_reference_reads_a_sponsor_codelist_csv(spec_copy):
    (spec_copy / "ct").mkdir()
    (spec_copy / "ct" / "sponsor.csv").write_text(SPONSOR_CSV, encoding="utf-8")
    add_codelists(spec_copy, "  - {file: ct/sponsor.csv, codelist: TOXGR2, synonyms: {Grade one: '1'}}\n"
                             "  - {file: ct/sponsor.csv, codelist: SEVCAT, extensions: [HIGH]}\n")
    terminology = load_terminology(spec_copy)
    tox = terminology.get("TOXGR2")
    assert (tox.name, tox.extensible, tox.code) == ("Toxicity Grade", False, None)
    assert [(t.value, t.decode, t.synonyms) for t in tox.terms] == [("1", "Mild", ["Grade 1", "G1", "Grade one"]),
                                                                    ("2", "Moderate", ["Grade 2"])]
    assert [(t.value, t.extended) for t in terminology.get("SEVCAT").terms] == [("LOW", False), ("HIGH", True)]
    mapped, _ = map_to_codelist(pd.Series(["G1", "grade one", "Moderate"]), tox)
    assert mapped.tolist() == ["1", "1", "2"]
    load_spec(spec_copy)  # the whole spec loads with them


def test_file_reference_in_nci_layout_equals_the_nci_reference(spec_copy, packaged_rows):
    """A codelist file laid out as NCI's export (here C66742 cut from the packaged CT) gives what nci: gives."""
    head, members = codelist_rows(packaged_rows, "C66742")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(NCI_COLUMNS)
    writer.writerow(names)
    for row in [head, *members]:
        writer.writerow([row[NCI_COLUMNS[n]] for n in names])
    (spec_copy / "ny.csv").write_text(out.getvalue(), encoding="utf-8")
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    by_nci = load_terminology(spec_copy).get("NY")
    path.write_text(text.replace("  - nci: C66742  # NY: No Yes Response\n", "  - file: ny.csv\n"), encoding="utf-8")
    by_file = load_terminology(spec_copy).get("NY")
    assert sorted(by_file.terms, key=lambda t: t.value) == by_nci.terms
    assert by_file.model_dump(exclude={"terms"}) == by_nci.model_dump(exclude={"terms"})


def test_the_reference_subset_file_reads_as_the_packaged_ct(reference, packaged_rows):
    """NCI's layout as published (definitions column included): every codelist of the reference subset file
    has the packaged codelist's terms and codes."""
    codelists = read_codelist_csv(reference / "controlled-terminology" / f"sdtm-ct-{VERSION}-subset.tsv")
    assert len(codelists) > 30
    for codelist in codelists:
        head, members = codelist_rows(packaged_rows, codelist.code)
        assert (codelist.id, codelist.extensible) == (head["value"], head["extensible"] == "Yes")
        assert {(t.code, t.value) for t in codelist.terms} <= {(r["code"], r["value"]) for r in members}


@pytest.mark.parametrize("content,entry,message", [
    (None, "{file: ../outside.csv}", "points outside the allowed folders"),
    (None, "{file: missing.csv}", "codelist file cannot be read"),
    ("a,b\n1,2\n", "{file: x.csv}", "codelist file has no codelist or value column"),
    (SPONSOR_CSV, "{file: x.csv}", "holds 2 codelists (TOXGR2, SEVCAT); name one with 'codelist:'"),
    (SPONSOR_CSV, "{file: x.csv, codelist: NOPE}", "x.csv: codelist 'NOPE' is not in the file (it holds TOXGR2, SEVCAT)"),
    ("Code,Codelist Code,Codelist Extensible (Yes/No),Codelist Name,CDISC Submission Value\n"
     "C66742,,No,No Yes Response,NY\nC49487,C66742,,No Yes Response,N\n,C66742,,No Yes Response,PERHAPS\n",
     "{file: x.csv}", "x.csv:4: codelist NY (C66742) is not extensible: sponsor term 'PERHAPS' (no C-code)"),
    ("codelist,value,extensible\nAB,1,maybe\n", "{file: x.csv}", "x.csv:2: extensible must be Yes or No"),
    ("codelist,value,synonyms\nAB,1,one\nAB,2,one\n", "{file: x.csv}", "'one' maps to both '1' and '2'"),
    (b"codelist,value\nAB,\xff\n", "{file: x.csv}", "not UTF-8 text"),
])
def test_codelist_file_problems(spec_copy, tmp_path, content, entry, message):
    (tmp_path / "project" / "outside.csv").write_text(SPONSOR_CSV, encoding="utf-8")
    if content is not None:
        target = spec_copy / "x.csv"
        target.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    line = add_codelists(spec_copy, f"  - {entry}\n")
    text = spec_error(spec_copy)
    assert f"terminology.yaml:{line}" in text and message in text


# ---- sdtmgen ct import ---------------------------------------------------------------------------

def test_ct_import_nci_writes_yaml_that_loads_as_the_reference(spec_copy, packaged_rows):
    result = CliRunner().invoke(main, ["ct", "import", "--nci", "C66742", "--nci", "C66790"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(result.output)
    assert [c["id"] for c in written] == ["NY", "ETHNIC"]
    assert len(written[0]["terms"]) == len(codelist_rows(packaged_rows, "C66742")[1])
    # pasted in place of the references, the written-out codelists are the same codelists
    by_reference = load_terminology(spec_copy)
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    pasted = "".join(f"  {line}\n" for line in result.output.splitlines())
    text = text.replace("  - nci: C66742  # NY: No Yes Response\n", "").replace(
        "  - nci: C66790  # ETHNIC: Ethnic Group\n", pasted)
    path.write_text(text, encoding="utf-8")
    written_out = load_terminology(spec_copy)
    assert written_out.get("NY") == by_reference.get("NY") and written_out.get("ETHNIC") == by_reference.get("ETHNIC")


def test_ct_import_csv_to_a_file(tmp_path):
    source = tmp_path / "sponsor.csv"
    source.write_text(SPONSOR_CSV, encoding="utf-8")
    out = tmp_path / "fragment.yaml"
    result = CliRunner().invoke(main, ["ct", "import", "--csv", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert [c["id"] for c in written] == ["TOXGR2", "SEVCAT"]
    assert written[0]["terms"][0] == {"value": "1", "decode": "Mild", "synonyms": ["Grade 1", "G1"]}
    before = out.read_bytes()
    refused = CliRunner().invoke(main, ["ct", "import", "--nci", "C66742", "--out", str(out)])
    assert refused.exit_code == 2 and "exists; add --force" in refused.output and out.read_bytes() == before
    forced = CliRunner().invoke(main, ["ct", "import", "--nci", "C66742", "--out", str(out), "--force"])
    assert forced.exit_code == 0 and yaml.safe_load(out.read_text(encoding="utf-8"))[0]["id"] == "NY"


@pytest.mark.parametrize("args,code,message", [
    ([], 2, "give either --nci"),
    (["--nci", "C66742", "--csv", "x.csv"], 2, "give either --nci"),
    (["--nci", "C99999999"], 1, "--nci C99999999: codelist is not in NCI SDTM CT 2025-03-28"),
    (["--nci", "66742"], 1, "not an NCI C-code"),
    (["--nci", "C66742", "--ct-version", "2001-01-01"], 1, "'2001-01-01' is not packaged"),
    (["--csv", "does-not-exist.csv"], 1, "codelist file cannot be read"),
])
def test_ct_import_errors(tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["ct", "import", *args])
    assert result.exit_code == code and message in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_readme_example_loads(spec_copy):
    """The terminology.yaml example of README.md, as printed there, with a sponsor CSV beside it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```yaml\ncodelists:\n  - nci: C66742")
    block = readme[start + len("```yaml\n"): readme.index("```", start + 8)]
    (spec_copy / "ct").mkdir()
    (spec_copy / "ct" / "sponsor.csv").write_text("codelist,value,decode\nTOXGR,1,Mild\nTOXGR,2,Moderate\n",
                                                  encoding="utf-8")
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("codelists:\n")] + block, encoding="utf-8")
    terminology = load_terminology(spec_copy)
    assert [c.id for c in terminology.codelists] == ["NY", "VSRESU", "FREQ", "UNIT", "TOXGR"]
    unit = terminology.get("UNIT")
    assert [(t.value, t.extended) for t in unit.terms] == [("mg", False), ("kg", False), ("DROPLET", True),
                                                           ("SPANS", True)]
    mapped, _ = map_to_codelist(pd.Series(["Once daily", "span"]), terminology.get("FREQ"))
    assert mapped.tolist()[0] == "QD"


@pytest.fixture(scope="module")
def nci_export(reference, tmp_path_factory) -> Path:
    """NCI's 'SDTM Terminology.txt' (the whole SDTM CT export, tab-separated), unpacked."""
    folder = tmp_path_factory.mktemp("nci")
    with tarfile.open(reference / "controlled-terminology" / f"sdtm-ct-{VERSION}.tar.xz") as archive:
        member = archive.extractfile("SDTM Terminology.txt")
        assert member is not None
        (folder / "SDTM Terminology.txt").write_bytes(member.read())
    return folder / "SDTM Terminology.txt"


def test_ct_import_from_the_whole_nci_export_equals_the_packaged_ct(nci_export):
    """--csv on NCI's own export file, one codelist picked by C-code and one by id, writes what --nci writes."""
    from_csv = CliRunner().invoke(main, ["ct", "import", "--csv", str(nci_export), "--codelist", "C66742",
                                         "--codelist", "SEX"])
    from_nci = CliRunner().invoke(main, ["ct", "import", "--nci", "C66731", "--nci", "C66742"])
    assert from_csv.exit_code == 0 and from_nci.exit_code == 0, from_csv.output
    assert sorted(yaml.safe_load(from_csv.output), key=lambda c: c["id"]) == sorted(
        yaml.safe_load(from_nci.output), key=lambda c: c["id"])
    missing = CliRunner().invoke(main, ["ct", "import", "--csv", str(nci_export), "--codelist", "NOTACODELIST"])
    assert missing.exit_code == 1 and "codelist 'NOTACODELIST' is not in the file" in missing.output
    whole = CliRunner().invoke(main, ["ct", "import", "--csv", str(nci_export)])
    assert whole.exit_code == 1 and "codelist LBTESTCD: Value error" in whole.output  # NCI's shared decode


def test_file_reference_to_the_nci_export_picks_one_codelist(spec_copy, nci_export):
    import shutil

    shutil.copy(nci_export, spec_copy / "nci.txt")
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    by_nci = load_terminology(spec_copy).get("ROUTE")
    old = "  - nci: C66729  # ROUTE: Route of Administration Response\n"
    assert old in text
    path.write_text(text.replace(old, "  - file: nci.txt\n    codelist: ROUTE\n"), encoding="utf-8")
    assert load_terminology(spec_copy).get("ROUTE") == by_nci


def test_a_codelist_file_is_checked_against_the_packaged_ct_at_load(spec_copy):
    """A CSV that claims an NCI codelist with a wrong term C-code: the spec's CT check names the entry."""
    (spec_copy / "ny.csv").write_text("Code,Codelist Code,Codelist Extensible (Yes/No),Codelist Name,"
                                      "CDISC Submission Value\nC66742,,No,No Yes Response,NY\n"
                                      "C49488,C66742,,No Yes Response,Y\nC12345,C66742,,No Yes Response,N\n",
                                      encoding="utf-8")
    path = spec_copy / "terminology.yaml"
    text = path.read_text(encoding="utf-8")
    old = "  - nci: C66742  # NY: No Yes Response\n"
    path.write_text(text.replace(old, "  - file: ny.csv\n"), encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    with pytest.raises(SpecError) as err:
        load_spec(spec_copy)
    assert f"terminology.yaml:{line}: NY term 'N' (C12345): C12345 is not in the codelist in NCI SDTM CT" in \
        str(err.value)


def test_a_codelist_file_behind_a_link_out_of_the_spec_folder_is_refused(spec_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "codes.csv").write_text(SPONSOR_CSV, encoding="utf-8")
    (spec_copy / "ct").symlink_to(outside, target_is_directory=True)
    line = add_codelists(spec_copy, "  - {file: ct/codes.csv, codelist: SEVCAT}\n")
    message = spec_error(spec_copy)
    assert f"terminology.yaml:{line}: file ct/codes.csv: {spec_copy / 'ct'} is a symbolic link" in message


OAK_CT = Path(__file__).resolve().parents[1] / "examples" / "oak-cm" / "oak" / "sdtm_ct.csv"


def test_ct_import_reads_sdtm_oak_study_ct():
    """sdtm.oak's study CT layout (codelist_code, term_code, term_value, collected_value, term_preferred_term,
    term_synonyms) was refused ('no value column'): every collected text -> submission value pair of the
    shipped file is now a synonym of its term, codelists named by the packaged NCI CT."""
    result = CliRunner().invoke(main, ["ct", "import", "--csv", str(OAK_CT)])
    assert result.exit_code == 0, result.output
    written = {c["code"] if "code" in c else c["id"]: c for c in yaml.safe_load(result.output)}
    with OAK_CT.open(encoding="utf-8", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    for pair in pairs:  # every row of the file, as its term's synonym (or the term itself)
        terms = {t["value"]: t for t in written[pair["codelist_code"]]["terms"]}
        term = terms[pair["term_value"]]
        assert pair["collected_value"] in [term["value"], *term.get("synonyms", [])], pair
        if pair["term_code"].startswith("C"):
            assert term["code"] == pair["term_code"]
    assert written["C71113"]["id"] == "FREQ" and written["C66728"]["extensible"] is False
    route = {t["value"]: t for t in written["C66729"]["terms"]}
    assert route["ORAL"]["synonyms"] == ["Intraoral Route of Administration", "PO", "PO (Oral)"]
    vsall = next(t for t in written["C66741"]["terms"] if t["value"] == "VSALL")  # V00224: a sponsor term
    assert "code" not in vsall and vsall["extended"] is True
    assert written["VISIT"]["terms"][1] == {"value": "VISIT 1", "synonyms": ["Visit 1"]}
    # the terms the example's terminology.yaml writes by hand, as its synonyms
    frequency = {t["value"]: t["synonyms"] for t in written["C71113"]["terms"]}
    assert "QD (Every Day)" in frequency["QD"] and "BID (Twice a Day)" in frequency["BID"]


@pytest.mark.parametrize("rows,message", [
    ("C66742,C49488,Y,Yes,Yes,\nC66742,C12345,Y,YES,Yes,\n", "term 'Y' has code 'C12345' here and C49488 at line 2"),
    ("C99999998,C49488,Y,Yes,Yes,\n", "codelist C99999998 is not in NCI SDTM CT"),
    ("C66742,V001,MAYBE,Maybe,,\n", "is not extensible: sponsor term 'MAYBE'"),
])
def test_sdtm_oak_study_ct_problems_name_the_line(tmp_path, rows, message):
    source = tmp_path / "ct.csv"
    source.write_text("codelist_code,term_code,term_value,collected_value,term_preferred_term,term_synonyms\n" + rows,
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["ct", "import", "--csv", str(source)])
    assert result.exit_code == 1 and message in result.output, result.output
