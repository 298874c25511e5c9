"""Paths written in a spec cannot reach outside the spec, raw and declared reference folders."""

from pathlib import Path

import pytest

from sdtmgen.errors import SpecError
from sdtmgen.spec.paths import allowed_roots, resolve_spec_path


def test_paths_inside_the_allowed_folders_resolve(tmp_path):
    spec = tmp_path / "project" / "specs"
    (tmp_path / "reference" / "ig").mkdir(parents=True)
    spec.mkdir(parents=True)
    roots = allowed_roots(spec, tmp_path / "raw", "../../reference")
    assert resolve_spec_path(spec, "../../reference/ig/x.csv", roots, "f") == (tmp_path / "reference" / "ig" / "x.csv")
    assert resolve_spec_path(spec, "local.csv", roots, "f") == spec / "local.csv"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../../../etc/passwd", "../secrets.csv", "../../reference/../x"])
def test_paths_escaping_the_allowed_folders_are_refused(tmp_path, bad):
    spec = tmp_path / "project" / "specs"
    spec.mkdir(parents=True)
    roots = allowed_roots(spec, None, "../../reference")
    with pytest.raises(SpecError) as err:
        resolve_spec_path(spec, bad, roots, "standards.sdtmig_variables")
    assert "standards.sdtmig_variables" in str(err.value)


def test_an_absolute_reference_folder_is_refused(tmp_path):
    with pytest.raises(SpecError):
        allowed_roots(tmp_path, None, "/")
