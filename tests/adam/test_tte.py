"""Time to recovery: at risk only after falling below, N consecutive, transfusion-free, censoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

DAY = 86400.0
START = 23000.0  # chemotherapy day 1 (SAS date)


def labs(values_by_subject: dict[str, list[tuple[int, float]]], param: str = "PLAT") -> pd.DataFrame:
    """ADLB rows from {subject: [(study day, value), ...]}; day 1 = START, no day 0."""
    rows = []
    for usubjid, points in values_by_subject.items():
        for seq, (day, value) in enumerate(points, start=1):
            adt = START + day - 1 if day > 0 else START + day
            rows.append({"USUBJID": usubjid, "PARAMCD": param, "AVAL": value, "ADT": adt,
                         "ADTM": adt * DAY + 7 * 3600, "SRCSEQ": float(seq)})
    return pd.DataFrame(rows)


def adsl(*subjects: str) -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": list(subjects), "CHEMSDT": [START] * len(subjects)})


def step(**endpoint) -> dict:
    ep = {"paramcd": "PLTREC50", "param": "Time to platelets >= 50", "paramn": 1, "lab": "PLAT", "threshold": 50,
          "event": "RECOVERED", **endpoint}
    return {"derive": "recovery", "anchor": {"dataset": "ADSL", "variable": "CHEMSDT"}, "to_day": 42,
            "consecutive": 3, "censor_at_window_end": "NO RECOVERY BY DAY 42",
            "censor_before_window_end": "NO RECOVERY BY LAST ASSESSMENT", "endpoints": [ep]}


def cm_transfusions(*days: int) -> pd.DataFrame:
    dates = [(pd.Timestamp("1960-01-01") + pd.Timedelta(days=START + d - 1)).strftime("%Y-%m-%dT%H:%M")
             for d in days]
    return pd.DataFrame({"USUBJID": ["A"] * len(days), "CMCAT": ["BLOOD TRANSFUSION"] * len(days),
                         "CMSTDTC": [d[:11] + "10:00" for d in dates]})


TF = {"dataset": "CM", "date": "CMSTDTC", "days_before": 7, "where": {"column": "CMCAT", "equals": "BLOOD TRANSFUSION"}}


def run(run_step, lab, **others):
    out, _ = run_step(step(**others.pop("endpoint", {})), name="ADTTE", ADLB=lab,
                      ADSL=adsl(*lab["USUBJID"].unique()), **others)
    return out


def test_recovery_is_the_first_of_three_consecutive_values_after_the_nadir(run_step):
    lab = labs({"A": [(1, 120), (5, 40), (8, 55), (9, 30), (10, 60), (12, 70), (14, 80), (16, 90)]})
    out = run(run_step, lab)
    record = out.iloc[0]
    # day 8 >= 50 but day 9 falls again: the run restarts; recovery on day 10
    assert (record["CNSR"], record["AVAL"], record["ADT"], record["SRCSEQ"]) == (0.0, 10.0, START + 9, 5.0)
    assert record["AVAL"] == record["ADT"] - record["STARTDT"] + 1
    assert record["EVNTDESC"] == "RECOVERED" and pd.isna(record["CNSDTDSC"])
    assert (record["SRCDOM"], record["SRCVAR"], record["PARAMCD"]) == ("LB", "LBDTC", "PLTREC50")


def test_a_subject_never_below_the_threshold_is_not_at_risk(run_step):
    lab = labs({"A": [(1, 120), (5, 60), (9, 50)], "B": [(1, 120), (5, 20), (7, 60), (9, 70), (11, 80)]})
    out = run(run_step, lab)
    assert out["USUBJID"].tolist() == ["B"]


def test_values_before_day_1_or_after_the_window_do_not_count(run_step):
    lab = labs({"A": [(-3, 20), (1, 120), (40, 120), (41, 40), (42, 60), (43, 70), (50, 80)]})
    out = run(run_step, lab)
    record = out.iloc[0]
    # below on day 41 only; day 42 starts a run that the window cuts: censored at day 42
    assert (record["CNSR"], record["AVAL"], record["CNSDTDSC"]) == (1.0, 42.0, "NO RECOVERY BY DAY 42")
    assert record["EVNTDESC"] == "NO RECOVERY BY DAY 42" and record["SRCSEQ"] == 5.0


def test_censored_at_the_last_assessment_before_the_window_end(run_step):
    out = run(run_step, labs({"A": [(1, 120), (6, 20), (9, 30), (20, 60), (25, 70)]}))
    record = out.iloc[0]
    assert (record["CNSR"], record["AVAL"], record["CNSDTDSC"]) == (1.0, 25.0, "NO RECOVERY BY LAST ASSESSMENT")


@pytest.mark.parametrize("transfusion_day, applies_to, expected_day", [
    (None, "all", 10),
    (5, "all", 14),      # day 5 transfusion supports days 10 and 12 (within 7 days): first clean run from 14
    (12, "all", 20),     # supports 14, 16, 18 -> 20
    (12, "first", 10),   # only the first assessment of the run must be transfusion-free
    (10, "all", 18),     # day 10 at 10:00 is after that day's 07:00 sample; it supports days 12-16
])
def test_transfusion_in_the_days_before_blocks_an_assessment(run_step, transfusion_day, applies_to, expected_day):
    lab = labs({"A": [(1, 120), (6, 20), (10, 60), (12, 60), (14, 60), (16, 60), (18, 60), (20, 60), (22, 60),
                      (24, 60)]})
    endpoint = {"transfusion_free": {**TF, "applies_to": applies_to}} if transfusion_day else {}
    others = {"CM": cm_transfusions(transfusion_day)} if transfusion_day else {}
    out = run(run_step, lab, endpoint=endpoint, **others)
    assert out["AVAL"].tolist() == [float(expected_day)] and out["CNSR"].tolist() == [0.0]


def test_one_record_per_endpoint_and_output_types(run_step):
    lab = labs({"A": [(1, 120), (6, 20), (10, 30), (12, 60), (14, 60), (16, 60)]})
    two = step()
    two["endpoints"].append({**two["endpoints"][0], "paramcd": "PLTREC20", "paramn": 2, "threshold": 20})
    out, _ = run_step(two, name="ADTTE", ADLB=lab, ADSL=adsl("A"))
    # never below 20 (20 is not below 20): no PLTREC20 record
    assert out["PARAMCD"].tolist() == ["PLTREC50"]
    assert str(out["PARAMCD"].dtype) == "string" and out["CNSR"].dtype == np.float64


def test_subjects_without_a_start_date_are_reported(run_step):
    lab = labs({"A": [(1, 120), (6, 20)], "B": [(1, 120), (6, 20)]})
    out, ctx = run_step(step(), name="ADTTE", ADLB=lab, ADSL=adsl("A").assign(CHEMSDT=[float("nan")]))
    assert out.empty and [(f.rule, f.values) for f in ctx.findings] == [("TTE-NO-START", ("A", "B"))]


def test_records_out_of_time_order_give_the_same_records(run_step):
    lab = labs({"A": [(1, 120), (5, 40), (8, 55), (9, 30), (10, 60), (12, 70), (14, 80), (16, 90)],
                "B": [(1, 120), (6, 20), (9, 30), (20, 60), (25, 70)]})
    shuffled = lab.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not shuffled["ADTM"].is_monotonic_increasing
    pd.testing.assert_frame_equal(run(run_step, shuffled), run(run_step, lab))


def test_latest_before_is_per_group_and_strictly_earlier():
    from sdtmgen.adam.tte import latest_before

    # probes (group, time) against others (group, time): same group, time strictly before, the latest
    found = latest_before(np.array([0, 0, 0, 1, 1]), np.array([5.0, 10.0, 20.0, 1.0, 30.0]),
                          np.array([1, 0, 0, 0]), np.array([1.0, 10.0, 4.0, 15.0]))
    assert found.tolist() == [2, 2, 3, -1, 0]
