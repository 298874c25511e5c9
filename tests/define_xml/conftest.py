"""The example study built once per test session with every output format (XPT, Dataset-JSON, NDJSON).

tests/test_dataset_json.py reuses the same folder (same path under the session's base temp).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from sdtmgen.pipeline import build

SCHEMA = Path("define-xml-2.1") / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"
ARM_SCHEMA = Path("define-xml-2.1") / "schema" / "cdisc-arm-1.0" / "arm1-0-0.xsd"
STYLESHEET = Path("define-xml-2.1") / "stylesheets" / "define2-1.xsl"


def example_package(tmp_path_factory, spec_folder: Path, example_raw: Path) -> Path:
    out = tmp_path_factory.getbasetemp() / "example-package-all-formats"
    if not (out / "manifest.json").is_file():
        build(spec_folder, example_raw, out, formats="all")
    return out


@pytest.fixture(scope="session")
def package(tmp_path_factory, spec_folder, example_raw) -> Path:
    return example_package(tmp_path_factory, spec_folder, example_raw)


@pytest.fixture(scope="session")
def define_files(package) -> dict[str, Path]:
    """{"sdtm": .../sdtm/define.xml, "adam": .../adam/define.xml (when the build has ADaM)}."""
    found = {kind: package / kind / "define.xml" for kind in ("sdtm", "adam") if (package / kind).is_dir()}
    assert "sdtm" in found and found["sdtm"].is_file()
    return found


@pytest.fixture(scope="session")
def sdtm_define(define_files) -> etree._ElementTree:
    return etree.parse(str(define_files["sdtm"]))


@pytest.fixture(scope="session")
def styled_define_files(tmp_path_factory, spec_folder, example_raw, reference) -> dict[str, Path]:
    """The example built with CDISC's define2-1.xsl named in study.yaml (copied into the spec folder from
    ../shared/reference): {"sdtm": define.xml, "adam": define.xml}, each with the stylesheet beside it."""
    import shutil

    source = reference / STYLESHEET
    if not source.is_file():
        pytest.skip(f"{source} is not available")
    root = tmp_path_factory.mktemp("styled")
    specs = root / "specs"
    shutil.copytree(spec_folder, specs, ignore=shutil.ignore_patterns("report.yaml"))
    shutil.copyfile(source, specs / "define2-1.xsl")
    study = (specs / "study.yaml").read_text(encoding="utf-8")
    (specs / "study.yaml").write_text(study.replace("  standards:\n", "  standards:\n    define_stylesheet: define2-1.xsl\n"),
                                      encoding="utf-8")
    build(specs, example_raw, root / "out")
    found = {kind: root / "out" / kind / "define.xml" for kind in ("sdtm", "adam")}
    for path in found.values():
        assert (path.parent / "define2-1.xsl").read_bytes() == source.read_bytes()
        assert b'<?xml-stylesheet type="text/xsl" href="define2-1.xsl"?>' in path.read_bytes()
    return found


@pytest.fixture(scope="session")
def schema(reference) -> etree.XMLSchema:
    path = reference / SCHEMA
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(scope="session")
def arm_schema(reference) -> etree.XMLSchema:
    """Define-XML 2.1 extended by Analysis Results Metadata 1.0 (CDISC's arm1-0-0.xsd)."""
    path = reference / ARM_SCHEMA
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return etree.XMLSchema(etree.parse(str(path)))

