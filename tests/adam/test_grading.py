"""CTCAE grading from criteria data: the clause grammar, R's three-valued logic, and the derivation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sdtmgen.adam.grading import CriteriaSyntaxError, Env, evaluate, load_criteria, parse_clauses, signif
from sdtmgen.errors import SpecError
from sdtmgen.standards import ctcae_path


def env(**columns) -> Env:
    n = len(next(iter(columns.values())))
    numbers = {k: np.asarray(v, dtype=float) for k, v in columns.items() if not isinstance(v[0], (str, type(None)))}
    texts = {k: np.asarray(v, dtype=object) for k, v in columns.items() if k not in numbers}
    return Env(n=n, numbers=numbers, texts=texts, constants={"signif_dig": 15.0, "high_indicator": ["HIGH"]})


def test_clauses_parse_to_conditions_and_values():
    clauses = parse_clauses('is.na(ANRLO) ~ NA_character_,  signif(AVAL, signif_dig) < signif(ANRLO, signif_dig) ~ "1"')
    assert [value for _, value in clauses] == [None, "1"]


@pytest.mark.parametrize("text", ['AVAL < 1', 'AVAL < ~ "1"', 'system("rm") ~ "1"', 'AVAL < 1 ~ "1" extra'])
def test_bad_clauses_are_refused(text):
    with pytest.raises(CriteriaSyntaxError):
        parse_clauses(text)


def test_three_valued_logic_like_r():
    e = env(AVAL=[1.0, np.nan, 5.0, np.nan], ANRHI=[2.0, 2.0, np.nan, np.nan], BNRIND=["HIGH", None, "LOW", "HIGH"])
    (cond, _), = parse_clauses('!(BNRIND %in% high_indicator) & AVAL > 1.5*ANRHI ~ "2"')
    # NA & FALSE = FALSE; NA & TRUE = NA; a clause fires only on TRUE
    np.testing.assert_array_equal(evaluate(cond, e), [0.0, np.nan, np.nan, 0.0])
    (cond, _), = parse_clauses('AVAL > 3 | !is.na(ANRHI) ~ "1"')
    np.testing.assert_array_equal(evaluate(cond, e), [1.0, 1.0, 1.0, np.nan])
    (cond, _), = parse_clauses('AVAL <= -(-1) + ANRHI - 2 ~ "1"')
    np.testing.assert_array_equal(evaluate(cond, e), [1.0, np.nan, np.nan, np.nan])


def test_signif_rounds_to_significant_digits():
    np.testing.assert_allclose(signif(np.array([0.123456, 1234.5, 0.0, np.nan]), 2), [0.12, 1200.0, 0.0, np.nan])


CRITERIA = [
    {"TERM": "Count decreased", "DIRECTION": "L", "UNIT_CHECK": "10^9/L",
     "GRADE_NA_CODE": "is.na(AVAL) ~ NA_character_",
     "GRADE_4_CODE": 'signif(AVAL, signif_dig) < 0.5 ~ "4"',
     "GRADE_3_CODE": 'signif(AVAL, signif_dig) < 1 ~ "3"',
     "GRADE_1_CODE": 'is.na(ANRLO) ~ NA_character_,  signif(AVAL, signif_dig) < signif(ANRLO, signif_dig) ~ "1"'},
    {"TERM": "Count increased", "DIRECTION": "H",
     "GRADE_NA_CODE": "is.na(AVAL) | is.na(ANRHI) ~ NA_character_",
     "GRADE_2_CODE": 'signif(AVAL, signif_dig) > signif(ANRHI + 20, signif_dig) ~ "2"'},
]


@pytest.fixture
def criteria(tmp_path):
    (tmp_path / "ctcae.json").write_text(json.dumps(CRITERIA), encoding="utf-8")
    return tmp_path


def test_grades_per_direction_from_the_criteria_file(run_step, criteria, make_study):
    frame = pd.DataFrame({"USUBJID": ["A"] * 5 + ["B"], "PARAMCD": ["X"] * 5 + ["Y"],
                          "AVAL": [0.4, 0.7, 1.5, 40.0, np.nan, 0.1],
                          "ANRLO": [1.8, 1.8, 1.8, 1.8, 1.8, np.nan], "ANRHI": [10.0] * 6,
                          "_UNIT": ["10^9/L"] * 5 + ["g/L"]})
    out, ctx = run_step({"derive": "ctcae_grade", "unit": "_UNIT", "terms": [
        {"paramcd": "X", "low": "Count decreased", "high": "Count increased"},
        {"paramcd": "Y", "low": "Count decreased"}]}, frame, study_spec=make_study(ctcae_file="ctcae.json"), spec_folder=criteria)
    assert list(out["ATOXGRL"].fillna("-")) == ["4", "3", "1", "0", "-", "-"]
    assert list(out["ATOXGRH"].fillna("-")) == ["0", "0", "0", "2", "-", "-"]
    assert list(out["ATOXGR"].fillna("-")) == ["4", "3", "1", "0", "-", "-"]
    # Y is in g/L, the criteria in 10^9/L: not graded, and said so
    assert [f.rule for f in ctx.findings] == ["CTCAE-UNIT"] and ctx.findings[0].values == ("B",)


def test_analysis_direction_can_be_high(run_step, criteria, make_study):
    frame = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": ["X"], "AVAL": [40.0], "ANRLO": [1.8], "ANRHI": [10.0]})
    out, _ = run_step({"derive": "ctcae_grade", "terms": [
        {"paramcd": "X", "low": "Count decreased", "high": "Count increased", "analysis": "high"}]},
        frame, study_spec=make_study(ctcae_file="ctcae.json"), spec_folder=criteria)
    assert out["ATOXGR"].tolist() == ["2"]


def test_a_term_in_the_wrong_direction_is_a_spec_error(run_step, criteria, make_study):
    frame = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": ["X"], "AVAL": [40.0], "ANRHI": [10.0]})
    with pytest.raises(SpecError, match="grades the H direction"):
        run_step({"derive": "ctcae_grade", "terms": [{"paramcd": "X", "low": "Count increased"}]},
                 frame, study_spec=make_study(ctcae_file="ctcae.json"), spec_folder=criteria)


@pytest.mark.parametrize("named", [{"ctcae_file": "nowhere.json"}, {"ctcae_file": "../outside.json"},
                                   {"ctcae": "4.03"}, {"ctcae": "5.0", "ctcae_units": "metric"}])
def test_criteria_that_cannot_be_found_are_a_spec_error_not_empty_grades(run_step, tmp_path, make_study, named):
    (tmp_path / "outside.json").write_text(json.dumps(CRITERIA), encoding="utf-8")
    spec = tmp_path / "specs"
    spec.mkdir()
    frame = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": ["X"], "AVAL": [0.1]})
    with pytest.raises(SpecError, match="study.yaml: standards.ctcae"):
        run_step({"derive": "ctcae_grade", "terms": [{"paramcd": "X", "low": "Count decreased"}]},
                 frame, study_spec=make_study(**named), spec_folder=spec)


def test_an_unreadable_sponsor_criteria_file_is_a_spec_error(run_step, tmp_path, make_study):
    (tmp_path / "ctcae.json").write_text("{not json", encoding="utf-8")
    frame = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": ["X"], "AVAL": [0.1]})
    with pytest.raises(SpecError, match="CTCAE criteria cannot be read"):
        run_step({"derive": "ctcae_grade", "terms": [{"paramcd": "X", "low": "Count decreased"}]},
                 frame, study_spec=make_study(ctcae_file="ctcae.json"), spec_folder=tmp_path)


@pytest.mark.parametrize("units", ["si", "us"])
def test_every_packaged_criterion_parses(units):
    path = ctcae_path("5.0", units)
    terms = {e["TERM"] for e in json.loads(path.read_text(encoding="utf-8"))}
    assert len(terms) >= 30
    for term in terms:
        assert load_criteria(path, term), term


def test_every_published_criterion_parses(reference):
    for name in ("ctcae-v5-si.json", "ctcae-v5-us.json"):
        path = reference / "ctcae" / name
        for term in {e["TERM"] for e in json.loads(path.read_text(encoding="utf-8"))}:
            assert load_criteria(path, term), term


def test_real_cytopenia_grades_match_the_brief(run_step, make_study, tmp_path):
    """ANC < 0.5 = grade 4, platelets < 25 = grade 4, Hb < 80 g/L = grade 3, WBC < 1.0 = grade 4."""
    frame = pd.DataFrame({"USUBJID": ["A"] * 8, "PARAMCD": ["NEUT", "NEUT", "PLAT", "PLAT", "HGB", "HGB", "WBC", "WBC"],
                          "AVAL": [0.49, 0.5, 24.9, 25.0, 79.0, 80.0, 0.99, 1.0],
                          "ANRLO": [1.8, 1.8, 125, 125, 120, 120, 3.5, 3.5], "ANRHI": [6.3, 6.3, 350, 350, 160, 160, 9.5, 9.5]})
    out, _ = run_step({"derive": "ctcae_grade", "terms": [
        {"paramcd": "NEUT", "low": "Neutrophil count decreased"}, {"paramcd": "PLAT", "low": "Platelet count decreased"},
        {"paramcd": "HGB", "low": "Anemia", "high": "Hemoglobin increased"},
        {"paramcd": "WBC", "low": "White blood cell decreased", "high": "Leukocytosis"}]},
        frame, study_spec=make_study(ctcae="5.0", ctcae_units="si"), spec_folder=tmp_path)
    assert out["ATOXGR"].tolist() == ["4", "3", "4", "3", "3", "2", "4", "3"]
