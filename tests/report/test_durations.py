"""Episodes: overlapping/touching records of a category merged, cut at the window end and flagged."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sdtmgen.report import make_report
from sdtmgen.report.durations import merge_episodes


def frame(*records):
    return pd.DataFrame([{"USUBJID": u, "START": float(s), "END": np.nan if e is None else float(e)}
                         for u, s, e in records])


def spans(merged: pd.DataFrame):
    return [(r.USUBJID, r.START, None if math.isnan(r.END) else r.END, r.RECORDS) for r in merged.itertuples()]


def test_overlapping_records_merge():
    assert spans(merge_episodes(frame(("A", 10, 15), ("A", 13, 20)), gap=0)) == [("A", 10, 20, 2)]


def test_touching_records_merge_and_a_gap_does_not():
    got = merge_episodes(frame(("A", 8, 10), ("A", 11, 12), ("A", 14, 15)), gap=0)
    assert spans(got) == [("A", 8, 12, 2), ("A", 14, 15, 1)]


def test_the_gap_is_a_parameter():
    # 9-11 and 14-15 leave two event-free days (12, 13) between them
    assert spans(merge_episodes(frame(("A", 9, 11), ("A", 14, 15)), gap=2)) == [("A", 9, 15, 2)]
    assert spans(merge_episodes(frame(("A", 9, 11), ("A", 14, 15)), gap=1)) == [("A", 9, 11, 1), ("A", 14, 15, 1)]


def test_contained_and_unsorted_records_and_subjects_kept_apart():
    got = merge_episodes(frame(("B", 5, 6), ("A", 12, 13), ("A", 10, 20), ("B", 5, 9)), gap=0)
    assert spans(got) == [("A", 10, 20, 2), ("B", 5, 9, 2)]


def test_an_ongoing_record_keeps_the_episode_open():
    assert spans(merge_episodes(frame(("A", 10, None), ("A", 30, 31)), gap=0)) == [("A", 10, None, 2)]


def test_durations_in_the_ard(ard, stat, study):
    G = study.GROUPS
    get = lambda level, name, outcome=6, analysis="FNFL.DURATION": stat(  # noqa: E731
        ard, outcome=outcome, analysis=analysis, level=level, stat_name=name)
    # DL1: S01 days 8-12 (touching, 5 days), S02 days 10-20 (overlapping, 11 days)
    assert [get(G[1], s) for s in ("n_subjects", "n", "mean", "median", "min", "max", "n_cut")] == \
        ["2", "2", "8.000000", "8.000000", "5.000000", "11.000000", "0"]
    # DL2: S04 days 9-11 and 14-15 stay apart (3 and 2 days); S10 (not safety) ignored
    assert [get(G[2], s) for s in ("n_subjects", "n", "min", "max")] == ["1", "2", "2.000000", "3.000000"]
    assert get(G[3], "n") == "0" and get(G[3], "mean") == ""
    # overall: 5, 11, 3, 2 -> mean 5.25 (shown 5.3), median 4
    assert [get("Overall", s) for s in ("n", "mean", "median")] == ["4", "5.250000", "4.000000"]
    row = ard[(ard["analysis"] == "FNFL.DURATION") & (ard["group1_level"] == "Overall") & (ard["stat_name"] == "mean")]
    assert row["stat_fmt"].iloc[0] == "5.3"


def test_episodes_cut_at_day_42_are_flagged(ard, stat, study):
    G = study.GROUPS
    # S02 pneumonia from day 40, ongoing: days 40-42 = 3 days, cut
    assert stat(ard, outcome=12, analysis="INFFL.DURATION", level=G[1], stat_name="max") == "3.000000"
    assert stat(ard, outcome=12, analysis="INFFL.DURATION", level=G[1], stat_name="n_cut") == "1"
    # S05 epistaxis days 41-45: cut to 2 days; the one on day 50 starts outside the window
    assert stat(ard, outcome=14, analysis="BLEEDFL.DURATION", level=G[2], stat_name="n") == "1"
    assert stat(ard, outcome=14, analysis="BLEEDFL.DURATION", level=G[2], stat_name="max") == "2.000000"
    assert stat(ard, outcome=14, analysis="BLEEDFL.DURATION", level="Overall", stat_name="n_cut") == "1"


def test_last_contact_cuts_earlier(report_config, study, stat):
    frames = study.datasets()
    adsl = frames["ADSL"]
    adsl["LSTCNTDT"] = adsl["CHEMSDT"] + 40  # day 41
    cfg = report_config.model_copy(update={"last_contact": "LSTCNTDT"})
    ard = make_report(frames, cfg, draw=False).ard
    assert stat(ard, outcome=12, analysis="INFFL.DURATION", level="Overall", stat_name="max") == "2.000000"
    assert stat(ard, outcome=14, analysis="BLEEDFL.DURATION", level="Overall", stat_name="max") == "1.000000"


def test_the_merge_gap_comes_from_the_spec(report_config, study, stat):
    outcomes = [o.model_copy(update={"merge_gap_days": 2}) if o.kind == "episode_duration" else o
                for o in report_config.outcomes]
    cfg = report_config.model_copy(update={"outcomes": outcomes})
    ard = make_report(study.datasets(), cfg, draw=False).ard
    # S04's two FN episodes (9-11, 14-15) are now one of 7 days
    assert stat(ard, outcome=6, analysis="FNFL.DURATION", level=study.GROUPS[2], stat_name="n") == "1"
    assert stat(ard, outcome=6, analysis="FNFL.DURATION", level=study.GROUPS[2], stat_name="max") == "7.000000"


@pytest.mark.parametrize("flag", ["FNFL", "INFFL", "BLEEDFL"])
def test_every_episode_outcome_has_all_levels(ard, flag):
    rows = ard[ard["analysis"] == f"{flag}.DURATION"]
    assert list(dict.fromkeys(rows["group1_level"]))[-1] == "Overall"
    assert rows["group1_level"].nunique() == 4


def test_per_subject_totals_and_quartiles(ard, stat, study):
    G = study.GROUPS
    get = lambda analysis, level, name: stat(ard, outcome=6, analysis=analysis, level=level,  # noqa: E731
                                             stat_name=name)
    # FN episodes: S01 one of 5 days, S02 one of 11, S04 two of 3 and 2 days -> totals 5, 11 (DL1), 5 (DL2)
    assert get("FNFL.SUBJECT_TOTAL", G[1], "n") == "2" and get("FNFL.SUBJECT_TOTAL", G[1], "mean") == "8.000000"
    assert get("FNFL.SUBJECT_TOTAL", G[2], "max") == "5.000000"
    assert get("FNFL.SUBJECT_TOTAL", "Overall", "median") == "5.000000"
    assert get("FNFL.SUBJECT_TOTAL", "Overall", "sd") == "3.464102"  # sqrt(((5-7)^2 + (11-7)^2 + (5-7)^2) / 2)
    # episodes 5, 11, 3, 2: R quantile(type = 2) gives Q1 2.5, Q3 8
    assert get("FNFL.DURATION", "Overall", "p25") == "2.500000"
    assert get("FNFL.DURATION", "Overall", "p75") == "8.000000"


def test_transfusion_episodes_and_volume_per_subject(ard, stat, study):
    G = study.GROUPS
    get = lambda level, variable, kind, name: stat(ard, outcome=15, analysis="COUNTS", level=level,  # noqa: E731
                                                   stat_name=name, variable=variable, variable_level=kind)
    # S01: platelets day 12 (250 mL) + RBC day 15 (300 mL); S02: two platelet bags on day 14 (450 mL), one episode
    assert get(G[1], "EPISODES", "ANY", "sum") == "3.000000" and get(G[1], "EPISODES", "ANY", "N") == "3"
    assert get(G[1], "EPISODES", "ANY", "max") == "2.000000" and get(G[1], "EPISODES", "ANY", "min") == "0.000000"
    assert get(G[1], "AMOUNT", "ANY", "sum") == "1000.000000"
    assert get(G[1], "EPISODES", "B05AX02", "sum") == "2.000000"
    assert get(G[1], "AMOUNT", "B05AX02", "max") == "450.000000"
    assert get("Overall", "EPISODES", "ANY", "N") == "9" and get("Overall", "EPISODES", "ANY", "sum") == "3.000000"
