"""Blood-count figures: subject by subject for small dose groups, the daily median and quartiles beyond
``plots.blood_counts.max_subjects`` (report.yaml), and the page says which groups were summarised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.report import make_report
from sdtmgen.report.data import prepare
from sdtmgen.report.plots import daily_summary, window_values


def with_max_subjects(report_config, n: int):
    bc = report_config.plots.blood_counts.model_copy(update={"max_subjects": n})
    outcomes = [o for o in report_config.outcomes if o.number == 5]  # tables are not what is tested here
    return report_config.model_copy(update={"plots": report_config.plots.model_copy(update={"blood_counts": bc}),
                                            "outcomes": outcomes})


def blood_figures(report):
    return [f for f in report.figures if f.outcome is None]


def test_the_study_spec_sets_the_limit(report_config):
    assert report_config.plots.blood_counts.max_subjects == 12


def test_groups_up_to_the_limit_are_drawn_by_subject_without_a_note(frames, report_config, study):
    report = make_report(frames, with_max_subjects(report_config, 3))  # 3 safety subjects per group
    figures = blood_figures(report)
    assert [f.name for f in figures] == [f"blood_counts_group{i}.png" for i in study.GROUPS]
    assert all("by subject" in f.caption for f in figures)
    assert "<h2>Blood counts by subject</h2>" in report.html and "are drawn as the median" not in report.html


def test_larger_groups_are_summarised_and_the_page_says_which_and_why(frames, report_config, study):
    report = make_report(frames, with_max_subjects(report_config, 2))
    figures = blood_figures(report)
    assert [f.name for f in figures] == [f"blood_counts_group{i}.png" for i in study.GROUPS]
    for figure, group in zip(figures, study.GROUPS.values()):
        assert figure.caption.startswith(f"{group}: ")
        assert "daily median and quartiles of 3 subjects" in figure.caption
        assert "more than the 2 subjects drawn one by one" in figure.caption
        assert figure.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<h2>Blood counts</h2>" in report.html
    assert "Dose groups of more than 2 safety subjects (plots.blood_counts.max_subjects in report.yaml)" in report.html
    assert "Drawn this way: UCMSC-Exo 50 ug/kg (3 subjects); UCMSC-Exo 100 ug/kg (3 subjects); " \
           "UCMSC-Exo 200 ug/kg (3 subjects)." in report.html
    # per-subject markers are named as left out, not dropped silently
    assert "transfusions) are drawn only subject by subject" in report.html


def test_summary_figures_are_deterministic(frames, report_config):
    cfg = with_max_subjects(report_config, 2)
    first, second = make_report(frames, cfg), make_report(frames, cfg)
    assert [f.png for f in blood_figures(first)] == [f.png for f in blood_figures(second)]


def test_the_limit_must_be_positive(report_config):
    with pytest.raises(ValueError):
        report_config.plots.blood_counts.model_validate({**report_config.plots.blood_counts.model_dump(),
                                                         "max_subjects": 0})


def test_window_values_keep_the_panels_on_window_days_of_the_safety_population(frames, report_config):
    values = window_values(prepare(frames, report_config), report_config)
    assert "S10" not in set(values["USUBJID"])  # not in the safety population
    assert values["_DAY"].between(1, 42).all()
    assert sorted(values["_PANEL"].unique()) == [0, 1, 2]  # NEUT, PLAT, HGB; WBC and LYM are not panels
    flagged = values[values["_FLAG"]]
    assert sorted(zip(flagged["USUBJID"], flagged["_DAY"])) == [("S01", 13.0), ("S02", 13.0), ("S02", 16.0),
                                                                ("S04", 16.0), ("S05", 16.0)]


def test_daily_summary_counts_subjects_once_per_day_and_gives_quartiles():
    values = pd.DataFrame({
        "USUBJID": ["A", "A", "B", "C", "D", "A", "B"],
        "GROUP": ["G1"] * 5 + ["G2", "G1"],
        "_PANEL": [0, 0, 0, 0, 0, 0, 1],
        "_DAY": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0],
        "_AVAL": [1.0, 3.0, 4.0, 6.0, 10.0, 7.0, 5.0],  # A has two values on day 1: counts once, as 2.0
        "_FLAG": [False, True, False, False, False, False, True],
    })
    summary = daily_summary(values).set_index(["GROUP", "_PANEL", "_DAY"])
    day1 = summary.loc[("G1", 0, 1.0)]
    assert (day1["N"], day1["FLAGGED"]) == (4, 1)
    # subjects' values 2, 4, 6, 10: linear quartiles 3.5, 5, 7
    assert (day1["Q1"], day1["MEDIAN"], day1["Q3"]) == (3.5, 5.0, 7.0)
    assert summary.loc[("G2", 0, 1.0), "N"] == 1 and summary.loc[("G1", 1, 2.0), "FLAGGED"] == 1
    assert len(summary) == 3
    np.testing.assert_array_equal(summary["MEDIAN"].to_numpy(), [5.0, 5.0, 7.0])
