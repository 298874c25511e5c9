"""Single-file outputs of the command line (acrf --out, schema --out) never replace a user's other file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sdtmgen.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("command", [("acrf", "--spec", "SPEC", "--raw", "RAW"), ("schema",), ("schema", "--reference")],
                         ids=["acrf", "schema", "reference"])
def test_an_existing_file_of_other_content_is_refused_and_kept(command, tmp_path, spec_folder, example_raw):
    args = [{"SPEC": spec_folder, "RAW": example_raw}.get(a, a) for a in command]
    thesis = tmp_path / "thesis.docx"  # a mistyped --out naming someone's file
    thesis.write_bytes(b"PK\x03\x04 the only copy of a thesis")
    refused = invoke(*args, "--out", thesis)
    assert refused.exit_code == 2, refused.output
    assert "the file exists and is not" in refused.output and "--force" in refused.output
    assert thesis.read_bytes() == b"PK\x03\x04 the only copy of a thesis"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.docx"]  # no partial file left either
    forced = invoke(*args, "--out", thesis, "--force")
    assert forced.exit_code == 0, forced.output
    assert not thesis.read_bytes().startswith(b"PK")


def test_a_file_written_before_is_replaced_without_force(tmp_path, spec_folder, example_raw):
    pdf = tmp_path / "acrf.pdf"
    for _ in range(2):
        result = invoke("acrf", "--spec", spec_folder, "--raw", example_raw, "--out", pdf)
        assert result.exit_code == 0, result.output
    schema = tmp_path / "study.schema.json"
    for kind in ("domain", "study"):
        result = invoke("schema", "--kind", kind, "--out", schema)
        assert result.exit_code == 0, result.output
    assert "StudySpec" in json.loads(schema.read_text(encoding="utf-8"))["$defs"]
    reference = tmp_path / "spec-reference.md"
    for _ in range(2):
        assert invoke("schema", "--reference", "--out", reference).exit_code == 0
    assert reference.read_text(encoding="utf-8").startswith("# Spec reference")


def test_simulate_does_not_overwrite_a_real_export(tmp_path, spec_folder, example_raw):
    """simulate --out naming the study's raw folder replaced the site's forms with simulated ones."""
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    before = {p.name: p.read_bytes() for p in raw.iterdir()}
    args = ("simulate", "--subjects", "2", "--seed", "7", "--params", spec_folder / "simulation.yaml", "--out", raw)
    refused = invoke(*args)
    assert refused.exit_code == 2 and "already holds files" in refused.output, refused.output
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == before
    assert invoke(*args, "--force").exit_code == 0
    assert {p.name: p.read_bytes() for p in raw.iterdir()} != before
    fresh = invoke(*args[:-1], tmp_path / "new")
    assert fresh.exit_code == 0 and (tmp_path / "new" / "dm.csv").is_file(), fresh.output


@pytest.mark.parametrize("given", ["~", "~/study-out", "~nobody/out"])
def test_an_unexpanded_tilde_is_refused(given, tmp_path, spec_folder, example_raw, monkeypatch):
    """--out '~' (quoted, or from a config file) made a folder named '~' in the current folder, which a
    later 'rm -rf ~' typed to remove it would take for the home folder."""
    monkeypatch.chdir(tmp_path)
    result = invoke("build", "--spec", spec_folder, "--raw", example_raw, "--out", given)
    assert result.exit_code == 2 and "'~' the shell did not expand" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_acrf_with_a_header_name_longer_than_a_page(tmp_path, spec_folder, example_raw):
    """A raw column named with 5,000 characters (an export gone wrong) made the PDF layout fail (exit 5)."""
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    form = raw / "ae.csv"
    lines = form.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",X" + "Y" * 4999] + [line + "," for line in lines[1:]]
    form.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "acrf.pdf"
    result = invoke("acrf", "--spec", spec_folder, "--raw", raw, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
