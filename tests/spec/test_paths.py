"""Paths written in a spec cannot reach outside the spec folder (or the other allowed roots), not even
through a symbolic link, and the spec cannot widen its own confinement (issue 12 item 8)."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.errors import SpecError
from sdtmgen.spec.paths import allowed_roots, resolve_spec_path
from sdtmgen.standards import DATA


def test_paths_inside_the_allowed_folders_resolve(tmp_path):
    spec = tmp_path / "project" / "specs"
    (spec / "sponsor").mkdir(parents=True)
    (tmp_path / "raw").mkdir()
    roots = allowed_roots(spec, tmp_path / "raw")
    assert roots == [spec.resolve(), (tmp_path / "raw").resolve(), DATA]
    assert resolve_spec_path(spec, "local.csv", None, "f") == spec.resolve() / "local.csv"
    assert resolve_spec_path(spec, "../specs/sponsor/x.json", None, "f") == spec.resolve() / "sponsor" / "x.json"
    assert resolve_spec_path(spec, "../../raw/x.csv", roots, "f") == (tmp_path / "raw" / "x.csv").resolve()
    # a link that stays inside the spec folder is fine
    (spec / "inner").symlink_to(spec / "sponsor", target_is_directory=True)
    assert resolve_spec_path(spec, "inner/x.json", None, "f") == spec.resolve() / "sponsor" / "x.json"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../../../etc/passwd", "../secrets.csv", "../../reference/x",
                                 "../../../../../../../../../../etc/hostname", "", "a\x00b"])
def test_paths_escaping_the_spec_folder_are_refused(tmp_path, bad):
    spec = tmp_path / "project" / "specs"
    spec.mkdir(parents=True)
    with pytest.raises(SpecError) as err:
        resolve_spec_path(spec, bad, None, "standards.sdtmig_file")
    assert "study.yaml: standards.sdtmig_file" in str(err.value)


def test_a_symlink_out_of_the_spec_folder_is_refused_naming_the_link(tmp_path):
    spec = tmp_path / "specs"
    spec.mkdir()
    (spec / "ref").symlink_to("/", target_is_directory=True)
    (spec / "host").symlink_to("/etc/hostname")
    for relative, link in (("ref/etc/hostname", "ref"), ("host", "host")):
        with pytest.raises(SpecError) as err:
            resolve_spec_path(spec, relative, None, "standards.define_stylesheet")
        message = str(err.value)
        assert "standards.define_stylesheet" in message and "symbolic link" in message
        assert str(spec / link) in message


def _copy(spec_folder: Path, tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(spec_folder, specs, ignore=shutil.ignore_patterns("adam", "report.yaml"))
    return specs


def _set_standards(specs: Path, *lines: str) -> None:
    study = (specs / "study.yaml").read_text(encoding="utf-8")
    assert "  standards:\n" in study
    (specs / "study.yaml").write_text(study.replace("  standards:\n", "  standards:\n" + "".join(
        f"    {line}\n" for line in lines)), encoding="utf-8")


def _build(specs: Path, raw: Path, out: Path):
    return CliRunner().invoke(main, ["build", "--spec", str(specs), "--raw", str(raw), "--out", str(out)])


def test_repro_reference_key_and_stylesheet_escape_copy_nothing(tmp_path, spec_folder, example_raw):
    """``reference: ../../../../../..`` with ``define_stylesheet: ../../../etc/hostname`` copied /etc/hostname."""
    specs = _copy(spec_folder, tmp_path)
    study = (specs / "study.yaml").read_text(encoding="utf-8")
    (specs / "study.yaml").write_text(study.replace("  standards:\n", "  reference: ../../../../../../..\n  standards:\n"),
                                      encoding="utf-8")
    result = _build(specs, example_raw, tmp_path / "out")
    assert result.exit_code != 0 and "reference" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()

    specs = _copy(spec_folder, tmp_path / "second")
    _set_standards(specs, "define_stylesheet: ../../../../../../../../../etc/hostname")
    result = _build(specs, example_raw, tmp_path / "out")
    assert result.exit_code != 0 and "standards.define_stylesheet" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_repro_symlinked_folder_in_the_spec_copies_nothing(tmp_path, spec_folder, example_raw):
    """A symlink ``specs/ref -> /`` with ``define_stylesheet: ref/etc/hostname``."""
    specs = _copy(spec_folder, tmp_path)
    (specs / "ref").symlink_to("/", target_is_directory=True)
    _set_standards(specs, "define_stylesheet: ref/etc/hostname")
    result = _build(specs, example_raw, tmp_path / "out")
    assert result.exit_code != 0 and "symbolic link" in result.output and str(specs / "ref") in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_a_sponsor_ig_file_outside_the_spec_folder_is_refused(tmp_path, spec_folder, example_raw):
    specs = _copy(spec_folder, tmp_path)
    (tmp_path / "ig.tsv").write_text("dataset\tname\tlabel\ttype\tcore\n", encoding="utf-8")
    _set_standards(specs, "sdtmig_file: ../ig.tsv")
    result = _build(specs, example_raw, tmp_path / "out")
    assert result.exit_code != 0 and "standards.sdtmig_file" in result.output and "Traceback" not in result.output
