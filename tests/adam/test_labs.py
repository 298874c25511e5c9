"""Lab BDS: parameters, analysis values with qualified results, baseline and change, criteria flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError


def test_parameters_from_test_codes_and_unlisted_tests_dropped(run_step):
    frame = pd.DataFrame({"USUBJID": ["A", "A", "A"], "_TESTCD": ["PLAT", "NEUT", "ALT"]})
    out, _ = run_step({"derive": "parameters", "test": "_TESTCD", "parameters": [
        {"test": "NEUT", "paramcd": "NEUT", "param": "Neutrophils (10^9/L)", "paramn": 1},
        {"test": "PLAT", "paramcd": "PLAT", "param": "Platelets (10^9/L)", "paramn": 2}]}, frame)
    assert out[["PARAMCD", "PARAM", "PARAMN"]].values.tolist() == [
        ["PLAT", "Platelets (10^9/L)", 2.0], ["NEUT", "Neutrophils (10^9/L)", 1.0]]


def test_parameters_must_be_unique():
    from sdtmgen.adam.labs import Parameters

    with pytest.raises(ValidationError, match="listed twice"):
        Parameters.model_validate({"derive": "parameters", "test": "T", "parameters": [
            {"test": "A", "paramcd": "A", "param": "a", "paramn": 1},
            {"test": "B", "paramcd": "A", "param": "b", "paramn": 2}]})


FRAME = pd.DataFrame({"USUBJID": ["A"] * 5, "_N": [0.4, np.nan, np.nan, np.nan, np.nan],
                      "_C": ["0.4", "<0.1", "> 1000", "NEG", None]})


@pytest.mark.parametrize("below, above, expected", [
    ("limit", "limit", [0.4, 0.1, 1000.0]),
    ("half_limit", "missing", [0.4, 0.05, np.nan]),
    ("missing", "missing", [0.4, np.nan, np.nan]),
])
def test_qualified_results_are_imputed_by_rule_and_flagged(run_step, below, above, expected):
    out, _ = run_step({"derive": "analysis_value", "numeric": "_N", "text": "_C", "below_limit": below,
                       "above_limit": above}, FRAME)
    np.testing.assert_allclose(out["AVAL"].to_numpy()[:3], expected)
    assert np.isnan(out["AVAL"].to_numpy()[3:]).all()  # 'NEG' and missing stay missing
    assert list(out["AVALC"].fillna("-")) == ["0.4", "<0.1", "> 1000", "NEG", "-"]
    imputed = [below != "missing", above != "missing"]
    assert list(out["AVALIMFL"].fillna("-")) == ["-", "Y" if imputed[0] else "-", "Y" if imputed[1] else "-", "-", "-"]


def test_baseline_is_the_last_value_on_or_before_the_anchor(run_step, sas):
    day = 86400.0
    adt = sas("2024-02-20", "2024-03-01", "2024-03-01", "2024-03-01", "2024-03-02", "2024-03-01")
    frame = pd.DataFrame({
        "USUBJID": ["A", "A", "A", "A", "A", "B"],
        "PARAMCD": ["NEUT"] * 6,
        "AVAL": [3.0, 2.0, 2.5, np.nan, 1.0, 4.0],
        "ADT": adt,
        # two samples on the anchor day: the later one (08:00) is baseline; a missing value never is
        "ADTM": [adt[0] * day, adt[1] * day + 8 * 3600, adt[2] * day + 6 * 3600, adt[3] * day + 9 * 3600,
                 adt[4] * day, np.nan],
        "CHEMSDT": sas(*["2024-03-01"] * 5, "2024-02-01"),
    })
    out, _ = run_step({"derive": "baseline", "anchor": "CHEMSDT"}, frame)
    assert list(out["ABLFL"].fillna("-")) == ["-", "Y", "-", "-", "-", "-"]
    assert out["BASE"].tolist()[:5] == [2.0] * 5 and np.isnan(out["BASE"].iloc[5])
    assert np.isnan(out["CHG"].iloc[:4]).all() and out["CHG"].iloc[4] == -1.0
    assert out["PCHG"].iloc[4] == -50.0


def test_criterion_flag_per_parameter(run_step):
    frame = pd.DataFrame({"USUBJID": ["A"] * 5, "PARAMCD": ["PLAT", "PLAT", "PLAT", "HGB", "LYM"],
                          "AVAL": [49.9, 50.0, np.nan, 79.0, 0.1]})
    out, _ = run_step({"derive": "criterion_flag", "target": "CRIT1FL", "text": "CRIT1", "criteria": [
        {"paramcd": "PLAT", "operator": "lt", "value": 50, "text": "Platelets < 50 x10^9/L"},
        {"paramcd": "HGB", "operator": "le", "value": 79, "text": "Hemoglobin <= 79 g/L"}]}, frame)
    assert list(out["CRIT1FL"].fillna("-")) == ["Y", "N", "-", "Y", "-"]
    assert list(out["CRIT1"].fillna("-")) == ["Platelets < 50 x10^9/L"] * 3 + ["Hemoglobin <= 79 g/L", "-"]
