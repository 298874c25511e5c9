"""The example study built once per test session with every output format (XPT, Dataset-JSON, NDJSON).

tests/test_dataset_json.py reuses the same folder (same path under the session's base temp).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from sdtmgen.pipeline import build

SCHEMA = Path("define-xml-2.1") / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"
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
def schema(reference) -> etree.XMLSchema:
    path = reference / SCHEMA
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return etree.XMLSchema(etree.parse(str(path)))

