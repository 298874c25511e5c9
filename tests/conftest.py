"""Shared fixtures: paths to the project's specs and example export, and to ../shared/reference.

Only tests that compare against the public reference files use ``reference`` (and skip, with a
reason, without ../shared); the build itself needs nothing outside the project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
EXAMPLE_RAW = ROOT / "examples" / "raw"
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip("../shared/reference is not available (public reference files for comparison; "
                    "the build does not need them)")
    return REFERENCE


@pytest.fixture(scope="session")
def spec_folder() -> Path:
    return SPECS


@pytest.fixture(scope="session")
def example_raw() -> Path:
    return EXAMPLE_RAW


@pytest.fixture(scope="session")
def spec():
    from sdtmgen.spec.loader import load_spec

    return load_spec(SPECS)


@pytest.fixture(scope="session")
def sdtm(spec):
    """The example study mapped to SDTM (not written)."""
    from sdtmgen.sdtm.build import build_sdtm

    return build_sdtm(spec, EXAMPLE_RAW)


@pytest.fixture
def spec_copy(tmp_path, spec_folder) -> Path:
    """A copy of the example spec (it needs nothing beside it: the standards ship with the package)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(spec_folder, project / "specs")
    return project / "specs"


@pytest.fixture
def core_findings_outside_justifications(tmp_path):
    """CDISC CORE on a built package of an example study: skips without CORE (or its Python 3.12), checks
    that enough rules ran to mean something, and returns (all findings by (rule, dataset), those whose
    rule the study's `justifications:` do not explain). One setup shared by every example's test."""

    def run(sdtm_dir: Path, specs: Path) -> tuple[dict, dict]:
        import importlib.util

        import sdtmgen

        location = importlib.util.spec_from_file_location("sdtmgen_core_helpers",
                                                          ROOT / "tests" / "validate" / "test_core.py")
        core = importlib.util.module_from_spec(location)
        location.loader.exec_module(core)
        if not core.RUN_CORE.is_file():
            pytest.skip(f"{core.RUN_CORE} is not available")
        if core._python312() is None:
            pytest.skip("CDISC CORE needs Python 3.12, which this machine does not have")
        report = core.run_core(sdtm_dir, tmp_path / "core")
        statuses = [r["status"] for r in report["Rules_Report"]]
        assert sum(s in ("SUCCESS", "ISSUE REPORTED") for s in statuses) > 150, "too few rules ran"
        justified = set(sdtmgen.load_spec(specs).study.justifications)
        found = {(i["core_id"], i["dataset"]): i["message"] for i in report["Issue_Summary"]}
        return found, {key: message for key, message in found.items() if key[0] not in justified}

    return run
