"""Occurrence flags: treatment emergence, relationship, term flags, DLT."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_treatment_emergent(run_step, sas):
    frame = pd.DataFrame({"USUBJID": list("ABCD"),
                          "ASTDT": sas("2024-03-09", "2024-03-10", None, "2024-03-12"),
                          "TRTSDT": sas("2024-03-10", "2024-03-10", "2024-03-10", None)})
    out, _ = run_step({"derive": "treatment_emergent"}, frame)
    # before the infusion: no; on the day: yes; missing start: yes; never treated: no
    assert list(out["TRTEMFL"].fillna("-")) == ["-", "Y", "Y", "-"]
    out, _ = run_step({"derive": "treatment_emergent", "missing_start": "not_emergent"}, frame)
    assert list(out["TRTEMFL"].fillna("-")) == ["-", "Y", "-", "-"]


def test_treatment_emergent_window_after_last_dose(run_step, sas):
    frame = pd.DataFrame({"USUBJID": ["A", "A"], "ASTDT": sas("2024-03-20", "2024-03-21"),
                          "TRTSDT": sas("2024-03-10", "2024-03-10"), "TRTEDT": sas("2024-03-10", "2024-03-10")})
    out, _ = run_step({"derive": "treatment_emergent", "end_reference": "TRTEDT", "days_after": 10}, frame)
    assert list(out["TRTEMFL"].fillna("-")) == ["Y", "-"]


def test_relatedness(run_step):
    frame = pd.DataFrame({"USUBJID": list("ABCD"),
                          "AEREL": ["possibly related", "UNLIKELY RELATED", None, "DEFINITELY RELATED"]})
    step = {"derive": "relatedness", "related": ["POSSIBLY RELATED", "PROBABLY RELATED", "DEFINITELY RELATED"]}
    out, _ = run_step(step, frame)
    assert out["AREL"].tolist() == ["RELATED", "NOT RELATED", "RELATED", "RELATED"]
    out, _ = run_step({**step, "missing_as": "not_related"}, frame)
    assert out["AREL"].tolist()[2] == "NOT RELATED"


def test_term_flag_ignores_case(run_step):
    frame = pd.DataFrame({"USUBJID": list("ABC"), "AEDECOD": ["FEBRILE NEUTROPENIA", "Neutropenia", None]})
    out, _ = run_step({"derive": "term_flag", "target": "FNFL", "variable": "AEDECOD",
                       "values": ["Febrile neutropenia"]}, frame)
    assert list(out["FNFL"].fillna("-")) == ["Y", "-", "-"]


def test_dlt_flag(run_step):
    frame = pd.DataFrame({
        "USUBJID": list("ABCDEFG"),
        "ASTDY": [14.0, 15.0, 3.0, 3.0, 3.0, 3.0, np.nan],
        "AREL": ["RELATED", "RELATED", "NOT RELATED", "RELATED", "RELATED", "RELATED", "RELATED"],
        "AEDLT": ["Y", "Y", "Y", "N", None, None, "Y"],
        "ATOXGR": ["3", "3", "3", "3", "3", "4", "3"],
        "AEDECOD": ["RASH", "RASH", "RASH", "RASH", "RASH", "NEUTROPENIA", "RASH"],
    })
    step = {"derive": "dlt_flag", "to_day": 14}
    out, _ = run_step(step, frame)
    # unassessed events are not DLTs without fallback criteria
    assert list(out["DLTFL"].fillna("-")) == ["Y", "-", "-", "-", "-", "-", "-"]
    out, _ = run_step({**step, "when_not_assessed": {"min_grade": 3, "exclude_terms": ["Neutropenia"]}}, frame)
    # E: not assessed, grade 3 -> DLT; F: an excluded (expected) cytopenia
    assert list(out["DLTFL"].fillna("-")) == ["Y", "-", "-", "-", "Y", "-", "-"]
