"""The spec loader (sdtmgen/spec/loader.py): broken copies of the example spec in tmp_path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from sdtmgen.errors import SpecError
from sdtmgen.spec.loader import load_model, load_spec
from sdtmgen.spec.models import DomainSpec, StudySpec

CORE_DOMAINS = ["ae", "cm", "dm", "ds", "ex", "lb", "se"]


@pytest.fixture
def folder(spec_folder, tmp_path) -> Path:
    """The study, terminology and core domains of the example spec (other domains are being edited)."""
    out = tmp_path / "specs"
    (out / "sdtm").mkdir(parents=True)
    for name in ("study.yaml", "terminology.yaml"):
        shutil.copy(spec_folder / name, out / name)
    for name in CORE_DOMAINS:
        shutil.copy(spec_folder / "sdtm" / f"{name}.yaml", out / "sdtm" / f"{name}.yaml")
    return out


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` by `new`; return the 1-based line where `new` starts."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}: update the test"
    at = text.index(old)
    path.write_text(text[:at] + new + text[at + len(old):], encoding="utf-8")
    return text[:at].count("\n") + 1


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def load_error(folder: Path) -> str:
    """The error of loading the whole spec folder."""
    with pytest.raises(SpecError) as err:
        load_spec(folder)
    return str(err.value)


def domain_error(path: Path) -> str:
    """The error of loading one domain file, as load_spec does for each (faster than the whole folder)."""
    with pytest.raises(SpecError) as err:
        load_model(path, DomainSpec)
    return str(err.value)


def test_the_example_spec_loads(folder):
    spec = load_spec(folder)
    assert {d.domain for d in spec.domains} >= {"AE", "DM", "LB", "SE"}
    assert spec.domain("AE").variable("AETERM").type == "Char"


def test_misspelled_rule_names_file_and_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    line = edit(ae, "AETERM: {rule: assign,", "AETERM: {rule: asign,")
    message = load_error(folder)
    assert f"{ae}:{line}:" in message
    assert "asign" in message and "'assign'" in message


def test_misspelled_rule_in_block_style_points_at_the_rule_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    old = next(line for line in ae.read_text().splitlines() if line.strip().startswith("AETERM: {rule: assign"))
    indent = old[: len(old) - len(old.lstrip())]
    line = edit(ae, old, f"{indent}AETERM:\n{indent}  column: AETERM\n{indent}  rule: asign\n{indent}  upper: true")
    message = domain_error(ae)
    assert f"{ae}:{line + 2}:" in message


def test_unknown_rule_parameter_names_file_line_and_parameter(folder):
    ae = folder / "sdtm" / "ae.yaml"
    line = edit(ae, "AETERM: {rule: assign, column: AETERM", "AETERM: {rule: assign, colum: AETERM")
    message = domain_error(ae)
    assert f"{ae}:{line}:" in message
    assert "colum" in message and "Extra inputs are not permitted" in message


def test_misspelled_derivation(folder):
    lb = folder / "sdtm" / "lb.yaml"
    line = edit(lb, "{derive: seq, target: LBSEQ}", "{derive: sequence, target: LBSEQ}")
    message = domain_error(lb)
    assert f"{lb}:{line}:" in message and "sequence" in message


def test_label_longer_than_40_names_file_and_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    line = edit(ae, "label: Reported Term for the Adverse Event,",
                "label: Reported Term for the Adverse Event As Collected,")
    message = domain_error(ae)
    assert f"{ae}:{line}:" in message
    assert "label" in message and "40" in message


def test_reference_problems_are_all_reported_at_once(folder):
    ae = folder / "sdtm" / "ae.yaml"
    edit(ae, "codelist: OUT,", "codelist: OUTCOME,")
    edit(ae, "AESER: {rule: codelist, column: AESER}", "AESER: {rule: codelist, column: AESER, codelist: NOPE}")
    (folder / "sdtm" / "se.yaml").unlink()
    shutil.copy(folder / "sdtm" / "dm.yaml", folder / "sdtm" / "dm_copy.yaml")
    message = load_error(folder)
    assert re.search(re.escape(f"{ae}:") + r"\d+: AEOUT uses unknown codelist OUTCOME", message)
    assert re.search(re.escape(f"{ae}:") + r"\d+: AESER: unknown codelist NOPE", message)
    assert "needs domain SE, which has no spec" in message
    assert "domain DM is specified twice" in message


def test_unknown_codelist_reports_the_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    edit(ae, "codelist: OUT,", "codelist: OUTCOME,")
    line = line_of(ae, "codelist: OUTCOME")
    assert f"{ae}:{line}:" in load_error(folder)


def test_map_target_not_among_variables(folder):
    ae = folder / "sdtm" / "ae.yaml"
    old = next(line for line in ae.read_text().splitlines() if line.strip().startswith("AETERM: {rule: assign"))
    indent = old[: len(old) - len(old.lstrip())]
    edit(ae, old, f"{indent}AEXTERM: {{rule: assign, column: AETERM}}\n{old}")
    message = domain_error(ae)
    assert str(ae) in message and "AEXTERM" in message


def test_map_target_not_among_variables_reports_its_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    old = next(line for line in ae.read_text().splitlines() if line.strip().startswith("AETERM: {rule: assign"))
    indent = old[: len(old) - len(old.lstrip())]
    line = edit(ae, old, f"{indent}AEXTERM: {{rule: assign, column: AETERM}}\n{old}")
    assert f"{ae}:{line}:" in domain_error(ae)


def test_variable_without_mapping_or_derivation(folder):
    ae = folder / "sdtm" / "ae.yaml"
    edit(ae, "      AETERM: {rule: assign, column: AETERM, upper: true}\n", "")
    message = domain_error(ae)
    assert str(ae) in message and "AETERM" in message


def test_invalid_yaml_reports_the_line(folder):
    ae = folder / "sdtm" / "ae.yaml"
    line = edit(ae, "keys: [STUDYID", "keys: [STUDYID: [")
    message = domain_error(ae)
    assert f"{ae}:{line}:" in message and "not valid YAML" in message


def test_tab_indentation_reports_the_line(folder):
    study = folder / "study.yaml"
    line = edit(study, "  sponsor:", "\tsponsor:")
    with pytest.raises(SpecError, match=f"{study}:{line}:"):
        load_model(study, StudySpec, key="study")


@pytest.mark.parametrize("tag", ["!!python/object:argparse.Namespace {}", "!!python/object/apply:os.getcwd []",
                                 "!!python/name:os.system"])
def test_python_tags_are_refused(folder, tag):
    ae = folder / "sdtm" / "ae.yaml"
    line = edit(ae, "label: Adverse Events", f"label: {tag}")
    message = domain_error(ae)
    assert f"{ae}:{line}:" in message and "python" in message


def test_study_file_needs_its_top_level_key(folder):
    study = folder / "study.yaml"
    study.write_text("studyid: X\n", encoding="utf-8")
    with pytest.raises(SpecError, match=f"{study}:1:"):
        load_model(study, StudySpec, key="study")


def test_missing_folder_and_empty_domain_folder(folder, tmp_path):
    assert "not found" in load_error(tmp_path / "nowhere")
    for path in (folder / "sdtm").glob("*.yaml"):
        path.unlink()
    assert "no domain specs" in load_error(folder)


def test_then_step_with_an_unknown_codelist_is_a_spec_problem(folder):
    ae = folder / "sdtm" / "ae.yaml"
    edit(ae, "AESER: {rule: codelist, column: AESER}",
         "AESER: {rule: assign, column: AESER, then: [{trim: true}, {codelist: NOPE}]}")
    message = load_error(folder)
    assert re.search(re.escape(f"{ae}:") + r"\d+: AESER: 'then' step uses unknown codelist NOPE", message)
