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
