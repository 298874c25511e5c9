"""specs/report.yaml: loaded by the pydantic model, errors name the file and line."""

from __future__ import annotations

import shutil

import pytest

from sdtmgen.errors import SpecError
from sdtmgen.report import make_report
from sdtmgen.report.data import ReportDataError
from sdtmgen.spec.loader import load_report_config


def test_the_study_config_covers_the_16_outcome_measures(report_config):
    assert sorted(o.number for o in report_config.outcomes) == list(range(1, 17))
    kinds = {o.number: o.kind for o in report_config.outcomes}
    assert kinds[3] == "mtd" and kinds[4] == kinds[8] == kinds[10] == "recovery"
    mtd = next(o for o in report_config.outcomes if o.kind == "mtd")
    assert (mtd.rules.cohort_size, mtd.rules.stop_min_dlt, mtd.rules.mtd_min_evaluable) == (3, 2, 6)


def test_no_report_yaml_means_no_report(tmp_path):
    assert load_report_config(tmp_path) is None


def test_the_spec_loads_report_yaml_with_the_other_files_and_stops_on_its_errors(spec_folder, tmp_path):
    """report.yaml is part of the spec: sdtmgen.load_spec returns it checked, and an error in it stops the
    load (before any raw data is read), naming the file and line."""
    from sdtmgen.spec.loader import load_spec

    assert load_spec(spec_folder).report == load_report_config(spec_folder)
    folder = tmp_path / "spec"
    shutil.copytree(spec_folder, folder)
    path = folder / "report.yaml"
    path.write_text(path.read_text().replace("  ae_day: CADY", "  ae_dya: CADY", 1))
    with pytest.raises(SpecError, match=r"report\.yaml:\d+: ae_dya: Extra inputs are not permitted"):
        load_spec(folder)
    path.unlink()
    assert load_spec(folder).report is None


def copy_with(spec_folder, tmp_path, old: str, new: str):
    shutil.copy(spec_folder / "report.yaml", tmp_path / "report.yaml")
    path = tmp_path / "report.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return tmp_path


def test_an_unknown_key_is_reported_with_its_line(spec_folder, tmp_path):
    folder = copy_with(spec_folder, tmp_path, "  ae_day: CADY", "  ae_dya: CADY")
    with pytest.raises(SpecError, match=r"report\.yaml:\d+: ae_dya: Extra inputs are not permitted"):
        load_report_config(folder)


def test_duplicate_outcome_numbers_are_refused(spec_folder, tmp_path):
    folder = copy_with(spec_folder, tmp_path, "- {number: 5,", "- {number: 6,")
    with pytest.raises(SpecError, match="outcome numbers listed twice: \\[6\\]"):
        load_report_config(folder)


def test_inconsistent_3_3_rules_are_refused(spec_folder, tmp_path):
    folder = copy_with(spec_folder, tmp_path, "stop_min_dlt: 2", "stop_min_dlt: 0")
    with pytest.raises(SpecError, match="stop_min_dlt"):
        load_report_config(folder)


def test_an_unknown_outcome_kind_is_refused(spec_folder, tmp_path):
    folder = copy_with(spec_folder, tmp_path, "kind: lab_incidence", "kind: lab_incidenc")
    with pytest.raises(SpecError, match="lab_incidenc"):
        load_report_config(folder)


def test_a_missing_adam_variable_is_named(frames, report_config):
    broken = dict(frames, ADAE=frames["ADAE"].drop(columns=["FNFL"]))
    with pytest.raises(ReportDataError, match="ADAE lacks FNFL"):
        make_report(broken, report_config, draw=False)
    with pytest.raises(ReportDataError, match="ADTTE is missing"):
        make_report({k: v for k, v in frames.items() if k != "ADTTE"}, report_config, draw=False)


def test_a_missing_rule_number_is_named_not_defaulted(spec_folder, tmp_path):
    folder = copy_with(spec_folder, tmp_path, "        mtd_min_evaluable: 6", "")
    with pytest.raises(SpecError, match=r"report\.yaml:\d+: outcomes\.2\.mtd\.rules\.mtd_min_evaluable: Field required"):
        load_report_config(folder)
