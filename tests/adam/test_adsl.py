"""ADSL derivations: treatment groups, subject dates, record flags, disposition, DLT-evaluable."""

from __future__ import annotations

import numpy as np
import pandas as pd

DM = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3"], "_ARMCD": ["DL2", "DL1", "DLX"],
                   "ARM": ["Dose 100", "Dose 50", "Other"]})


def test_treatment_group_numbers_by_dose_order(run_step):
    out, ctx = run_step({"derive": "treatment_group", "target": "TRT01P", "numeric": "TRT01PN", "code": "_ARMCD",
                         "text": "ARM", "order": ["DL1", "DL2"]}, DM)
    assert out["TRT01P"].tolist() == ["Dose 100", "Dose 50", "Other"]
    assert out["TRT01PN"].tolist()[:2] == [2.0, 1.0] and np.isnan(out["TRT01PN"].iloc[2])
    assert [f.rule for f in ctx.findings] == ["ADSL-TRTN"]


def test_treatment_group_defaults_to_the_study_arm_order(run_step):
    out, _ = run_step({"derive": "treatment_group", "target": "TRT01P", "numeric": "TRT01PN", "code": "_ARMCD",
                       "text": "ARM"}, DM.iloc[:2])
    assert out["TRT01PN"].tolist() == [2.0, 1.0]


def test_subject_date_takes_min_or_max_of_complete_dates(run_step, sas):
    ex = pd.DataFrame({"USUBJID": ["S-1", "S-1", "S-2"], "EXSTDTC": ["2024-03-10T11:20", "2024-03-12", "2024-04"]})
    ds = pd.DataFrame({"USUBJID": ["S-1"], "DSSTDTC": ["2024-05-01"], "DSCAT": ["DISPOSITION EVENT"]})
    out, _ = run_step({"derive": "subject_date", "target": "TRTSDT", "agg": "min",
                       "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]}, DM, EX=ex)
    assert out["TRTSDT"].iloc[0] == sas("2024-03-10")[0]
    assert out["TRTSDT"].iloc[1:].isna().all()  # a partial date does not count
    out, _ = run_step({"derive": "subject_date", "target": "LSTALVDT", "agg": "max",
                       "sources": [{"dataset": "EX", "variable": "EXSTDTC"},
                                   {"dataset": "DS", "variable": "DSSTDTC",
                                    "where": {"column": "DSCAT", "equals": "DISPOSITION EVENT"}}]},
                      DM, EX=ex, DS=ds)
    assert out["LSTALVDT"].iloc[0] == sas("2024-05-01")[0]
    out, _ = run_step({"derive": "subject_date", "target": "TRTSDTM", "agg": "min", "kind": "datetime",
                       "sources": [{"dataset": "EX", "variable": "EXSTDTC"}]}, DM, EX=ex)
    assert out["TRTSDTM"].iloc[0] == sas("2024-03-10")[0] * 86400 + 11 * 3600 + 20 * 60


def test_record_flag_with_a_day_window_from_an_anchor(run_step, sas):
    adsl = DM.assign(CHEMSDT=sas("2024-03-01", "2024-03-01", "2024-03-01"))
    cm = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-3", "S-3"],
                       "CMCAT": ["BLOOD TRANSFUSION", "BLOOD TRANSFUSION", "BLOOD TRANSFUSION", "OTHER"],
                       # day 42 counts; the day before day 1 is day -1; day 43 is out
                       "CMSTDTC": ["2024-04-11T10:00", "2024-02-29", "2024-04-12", "2024-03-05"]})
    out, _ = run_step({"derive": "record_flag", "target": "TRANSFL", "dataset": "CM",
                       "where": {"column": "CMCAT", "equals": "BLOOD TRANSFUSION"},
                       "window": {"anchor": "CHEMSDT", "date": "CMSTDTC", "from_day": 1, "to_day": 42}}, adsl, CM=cm)
    assert out["TRANSFL"].tolist() == ["Y", "N", "N"]


def test_record_flag_by_code_prefix(run_step):
    cm = pd.DataFrame({"USUBJID": ["S-1", "S-2"], "CMCLASCD": ["J02AC04", "A02BC01"]})
    out, _ = run_step({"derive": "record_flag", "target": "ANTIINFL", "dataset": "CM",
                       "prefixes": {"column": "CMCLASCD", "starts_with": ["J01", "j02", "J05"]}}, DM, CM=cm)
    assert out["ANTIINFL"].tolist() == ["Y", "N", "N"]


def test_disposition_status(run_step):
    ds = pd.DataFrame({"USUBJID": ["S-1", "S-2", "S-2"], "DSDECOD": ["COMPLETED", "INFORMED CONSENT", "DEATH"],
                       "DSCAT": ["DISPOSITION EVENT", "PROTOCOL MILESTONE", "DISPOSITION EVENT"],
                       "DSSTDTC": ["2025-01-01", "2024-01-01", "2024-06-01"]})
    out, _ = run_step({"derive": "disposition_status", "where": {"column": "DSCAT", "equals": "DISPOSITION EVENT"}},
                      DM, DS=ds)
    assert out["EOSSTT"].tolist() == ["COMPLETED", "DISCONTINUED", "ONGOING"]
    assert list(out["DCSREAS"].fillna("-")) == ["-", "DEATH", "-"]


def test_dlt_evaluable_completed_window_or_had_a_dlt(run_step, sas):
    adsl = pd.DataFrame({"USUBJID": ["A", "B", "C", "D"], "SAFFL": ["Y", "Y", "Y", "N"],
                         "TRTSDT": sas("2024-03-01", "2024-03-01", "2024-03-01", None),
                         # A followed to day 14, B only to day 13, C to day 13 but had a DLT
                         "LSTALVDT": sas("2024-03-14", "2024-03-13", "2024-03-13", "2024-06-01")})
    adae = pd.DataFrame({"USUBJID": ["B", "C"], "DLTFL": [None, "Y"]})
    out, _ = run_step({"derive": "dlt_evaluable", "window_days": 14}, adsl, ADAE=adae)
    assert out["DLTEVLFL"].tolist() == ["Y", "N", "Y", "N"]
