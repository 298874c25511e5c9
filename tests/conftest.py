"""Shared fixtures: paths to the project's specs and example export, and to ../shared/reference."""

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
        pytest.skip("../shared/reference is not available")
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
    """A copy of the example spec laid out like the project (specs/ with ../../shared beside it)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(spec_folder, project / "specs")
    if REFERENCE.is_dir():
        (tmp_path / "shared").symlink_to(REFERENCE.parent, target_is_directory=True)
    return project / "specs"
