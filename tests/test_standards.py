"""The standards data shipped with sdtmgen: what scripts/build_standards.py writes from the public files,
resolvable by kind and version, with provenance; unknown versions and unreadable files are errors."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from sdtmgen.define_xml.standards import IG_NAMES, define_ct_terms
from sdtmgen.errors import SpecError
from sdtmgen.spec.loader import load_spec
from sdtmgen.standards import (DATA, KINDS, UnknownStandard, controlled_terminology, ctcae_path, packaged_ig,
                               provenance, read_ig_file, standard_folder, versions)
from sdtmgen.standards.study import ig_metadata

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_standards.py"


def _script():
    spec = importlib.util.spec_from_file_location("build_standards", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _content(relative: str, data: bytes) -> bytes:
    """Compressed files compare by content (the bytes of gzip may differ between zlib builds)."""
    return gzip.decompress(data) if relative.endswith(".gz") else data


def test_packaged_data_is_what_the_script_writes_from_the_public_files(reference):
    built = _script().build(reference)
    packaged = {str(p.relative_to(DATA)): p.read_bytes() for p in DATA.rglob("*") if p.is_file()
                and p.name != "README.md"}
    assert sorted(packaged) == sorted(built)
    for relative, data in built.items():
        assert _content(relative, packaged[relative]) == _content(relative, data), relative


def test_the_script_is_deterministic(reference):
    script = _script()
    assert script.build(reference) == script.build(reference)


def test_every_packaged_standard_has_its_provenance():
    expected = {"sdtmig": ["3.4"], "adamig": ["1.3"], "ctcae": ["5.0"], "ct": ["2025-03-28"],
                "define_ct": ["2025-09-26"]}
    assert {kind: versions(kind) for kind in KINDS} == expected
    for kind, found in expected.items():
        for version in found:
            records = provenance(kind, version)
            assert records, (kind, version)
            for fields in records.values():
                assert fields["version"] == version and fields["kind"] == kind
                assert len(fields["source_sha256"]) == 64 and fields["licence"] and fields["source_project"]
                for name in fields["files"].split(", "):
                    assert (standard_folder(kind, version) / name).is_file()


def test_packaged_data_is_small():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 2_500_000


def test_packaged_contents_are_the_published_standards():
    sdtmig = packaged_ig("sdtmig", "3.4")
    dm = sdtmig[sdtmig["dataset"] == "DM"].set_index("name")
    assert dm.loc["USUBJID", "core"] == "Req" and dm.loc["SUBJID", "label"] == "Subject Identifier for the Study"
    assert {"SUPPQUAL", "RELREC", "LB", "AE", "TS"} <= set(sdtmig["dataset"])
    adamig = packaged_ig("adamig", "1.3")
    adsl = adamig[adamig["dataset"] == "Subject-Level Analysis Dataset"].set_index("name")
    assert adsl.loc["USUBJID", "core"] == "Req" and adsl.loc["TRTSDT", "label"] == "Date of First Exposure to Treatment"
    assert {"Basic Data Structure"} <= set(adamig["dataset"])
    sdtm_ct = controlled_terminology("2025-03-28", "SDTM")
    sex = sdtm_ct[sdtm_ct["codelist"] == "C66731"]
    assert set(sex["value"]) >= {"F", "M", "U"} and len(sdtm_ct) > 40_000
    adam_ct = controlled_terminology("2025-03-28", "ADaM")
    assert "DATEFL" in set(adam_ct["value"])
    define_ct = controlled_terminology("2025-09-26", "Define-XML")
    assert "BASIC DATA STRUCTURE" in set(define_ct["value"])
    criteria = json.loads(ctcae_path("5.0", "si").read_text(encoding="utf-8"))
    anemia = next(e for e in criteria if e["TERM"] == "Anemia")
    assert anemia["UNIT_CHECK"] == "g/L" and "< 80" in anemia["GRADE_3_CODE"]


@pytest.mark.parametrize("kind,version", [("sdtmig", "9.9"), ("ctcae", "4.03"), ("ct", "2019-12-20"),
                                          ("nonsense", "1")])
def test_an_unknown_kind_or_version_names_the_versions_available(kind, version):
    with pytest.raises(UnknownStandard) as err:
        standard_folder(kind, version)
    assert "available" in str(err.value) or "known" in str(err.value)


def _study(tmp_path: Path, spec_folder: Path, standards: str) -> Path:
    specs = tmp_path / "specs"
    import shutil

    shutil.copytree(spec_folder, specs, ignore=shutil.ignore_patterns("adam", "report.yaml"))
    study = (specs / "study.yaml").read_text(encoding="utf-8")
    start = study.index("  standards:\n")
    end = study.index("  elements:")
    (specs / "study.yaml").write_text(study[:start] + standards + study[end:], encoding="utf-8")
    return specs


@pytest.mark.parametrize("block,named", [
    ('  standards: {ctcae: "4.03"}\n', "standards.ctcae: version '4.03' is not packaged with sdtmgen (available: 5.0)"),
    ("  standards: {ct: 2019-12-20}\n", "standards.ct: version '2019-12-20' is not packaged"),
    ('  standards: {sdtmig: "3.3"}\n', "standards.sdtmig: version '3.3' is not packaged with sdtmgen (available: 3.4)"),
    ("  standards: {sdtmig_variables: x.csv}\n", "sdtmig_variables"),
])
def test_an_unknown_version_in_study_yaml_is_a_spec_error_naming_the_line(tmp_path, spec_folder, block, named):
    specs = _study(tmp_path, spec_folder, block)
    with pytest.raises(SpecError) as err:
        load_spec(specs)
    assert f"{specs / 'study.yaml'}:" in str(err.value) and named in str(err.value)


def test_versions_written_as_yaml_numbers_and_dates_are_read_as_text(tmp_path, spec_folder):
    specs = _study(tmp_path, spec_folder, "  standards: {sdtmig: 3.4, ctcae: 5.0, ct: 2025-03-28, "
                                          "define_ct: 2025-09-26}\n")
    standards = load_spec(specs).study.standards
    assert (standards.sdtmig, standards.ctcae, standards.ct, standards.define_ct) == ("3.4", "5.0", "2025-03-28",
                                                                                      "2025-09-26")


def test_the_terminology_ct_package_must_match_standards_ct(tmp_path, spec_folder):
    specs = _study(tmp_path, spec_folder, "  standards: {ct: 2025-03-28}\n")
    terms = (specs / "terminology.yaml").read_text(encoding="utf-8")
    (specs / "terminology.yaml").write_text(terms.replace('ct_package: "2025-03-28"', 'ct_package: "2024-12-20"'),
                                            encoding="utf-8")
    with pytest.raises(SpecError, match="terminology.yaml: ct_package '2024-12-20' differs"):
        load_spec(specs)


def test_a_sponsor_ig_file_replaces_the_packaged_metadata(tmp_path, spec_folder):
    cdisc = "\ufeff" + '"Dataset Name","Variable Name","Variable Label","Type","Core"\n"DM","USUBJID","Subject","Char","Req"\n'
    specs = _study(tmp_path, spec_folder, "  standards: {sdtmig_file: sponsor/ig.csv}\n")
    (specs / "sponsor").mkdir()
    (specs / "sponsor" / "ig.csv").write_text(cdisc, encoding="utf-8")
    spec = load_spec(specs)
    frame = ig_metadata(specs, spec.study.standards)
    assert frame.to_dict("records") == [{"dataset": "DM", "name": "USUBJID", "label": "Subject", "type": "Char",
                                         "core": "Req"}]


@pytest.mark.parametrize("content", [b"just,some\ncolumns,here\n", b"\xff\xfe\x00garbage"])
def test_an_unreadable_sponsor_ig_file_is_a_spec_error(tmp_path, content):
    path = tmp_path / "ig.csv"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=str(path)):
        read_ig_file(path)


def test_a_named_sponsor_file_that_is_missing_fails_at_spec_load(tmp_path, spec_folder):
    specs = _study(tmp_path, spec_folder, "  standards: {ctcae_file: mine/ctcae.json}\n")
    with pytest.raises(SpecError, match="standards.ctcae_file: mine/ctcae.json is not a readable file"):
        load_spec(specs)


def test_package_data_is_declared_for_the_wheel():
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert '"sdtmgen.standards" = ' in text or "sdtmgen.standards" in text
    for pattern in ("data/*/*/*.tsv", "data/*/*/*.tsv.gz", "data/*/*/*.json", "data/*/*/*PROVENANCE"):
        assert pattern in text, pattern


def test_the_example_spec_names_its_standards_by_version(spec_folder):
    study = yaml.safe_load((spec_folder / "study.yaml").read_text(encoding="utf-8"))["study"]
    assert "reference" not in study
    assert study["standards"] == {"sdtmig": "3.4", "adamig": "1.3", "ctcae": "5.0", "ctcae_units": "si",
                                  "ct": "2025-03-28", "define_ct": "2025-09-26"}


def test_nothing_on_the_build_path_reads_the_shared_reference_folder():
    root = Path(__file__).resolve().parents[1]
    for folder in ("sdtmgen", "specs"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".yaml", ".yml", ".md", ".txt"):
                assert "shared/reference" not in path.read_text(encoding="utf-8", errors="replace"), path


def test_define_xml_standard_names_and_types_are_define_xml_ct_terms():
    assert set(IG_NAMES.values()) | {"CDISC/NCI"} <= define_ct_terms("2025-09-26", "standard")
    assert {"IG", "CT"} <= define_ct_terms("2025-09-26", "standard_type")


def test_a_dataset_class_outside_define_xml_ct_is_a_spec_error_naming_the_line(tmp_path, spec_folder):
    specs = _study(tmp_path, spec_folder, "  standards: {define_ct: 2025-09-26}\n")
    lb = (specs / "sdtm" / "lb.yaml").read_text(encoding="utf-8")
    assert "\nclass: FINDINGS\n" in lb
    (specs / "sdtm" / "lb.yaml").write_text(lb.replace("\nclass: FINDINGS\n", "\nclass: LAB FINDINGS\n"), encoding="utf-8")
    line = lb.split("\n").index("class: FINDINGS") + 1
    with pytest.raises(SpecError) as err:
        load_spec(specs)
    assert f"{specs / 'sdtm' / 'lb.yaml'}:{line}: class 'LAB FINDINGS' is not a term of the Define-XML CT" in str(err.value)


@pytest.mark.parametrize("old,new,message", [
    ("      code: C16576\n", "      code: C16577\n", "SEX term 'F' (C16577): C16577 is not in the codelist in NCI SDTM CT 2025-03-28"),
    ("    - {value: INTERSEX, code: C45908", "    - {value: INTERSEXED, code: C45908",
     "SEX term 'INTERSEXED' (C45908): C45908 is 'INTERSEX' in NCI SDTM CT 2025-03-28"),
    ("    code: C66731\n    extensible: false\n", "    code: C66731\n    extensible: true\n",
     "codelist SEX is not extensible in NCI SDTM CT 2025-03-28"),
    ("    code: C66731\n", "    code: C66742\n", "codelist C66742 is 'NY' in NCI SDTM CT 2025-03-28, not 'SEX'"),
])
def test_cdisc_terms_in_terminology_yaml_are_checked_against_the_packaged_ct(tmp_path, spec_folder, old, new,
                                                                              message):
    specs = _study(tmp_path, spec_folder, "  standards: {ct: 2025-03-28}\n")
    terms = (specs / "terminology.yaml").read_text(encoding="utf-8")
    # the example takes SEX by reference (nci: C66731); written out (as `sdtmgen ct import` writes it), its
    # terms are checked against the packaged CT
    from sdtmgen.ct_reference import import_nci

    written = "".join(f"  {line}\n" for line in import_nci(["C66731"], "2025-03-28").splitlines()
                      if not line.startswith("#"))
    terms = terms.replace("  - nci: C66731  # SEX: Sex\n", written)
    assert terms.count(old) == 1
    (specs / "terminology.yaml").write_text(terms.replace(old, new), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(specs)
    assert f"{specs / 'terminology.yaml'}:" in str(err.value) and message in str(err.value)
