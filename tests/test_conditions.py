"""Spec conditions (sdtmgen/conditions.py): grammar and column-wise evaluation."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from sdtmgen.conditions import Condition

FRAME = pd.DataFrame({
    "A": ["Yes", " yes ", "No", "", None, "Fatal"],
    "B": ["x", "y", "x", "y", "x", "z"],
})


def cond(text: str) -> Condition:
    """A condition as written in a spec (YAML flow mapping)."""
    return Condition.model_validate(yaml.safe_load(text))


def test_equals_is_exact_after_trimming():
    assert cond('{column: A, equals: "Yes"}').evaluate(FRAME).tolist() == [True, False, False, False, False, False]


def test_equals_ignore_case():
    mask = cond('{column: A, equals: "YES", ignore_case: true}').evaluate(FRAME)
    assert mask.tolist() == [True, True, False, False, False, False]


def test_in():
    assert cond("{column: A, in: [Fatal, 'No']}").evaluate(FRAME).tolist() == [False, False, True, False, False, True]
    mask = cond("{column: A, in: [fatal, 'yes'], ignore_case: true}").evaluate(FRAME)
    assert mask.tolist() == [True, True, False, False, False, True]


def test_missing_true_and_false():
    assert cond("{column: A, missing: true}").evaluate(FRAME).tolist() == [False, False, False, True, True, False]
    assert cond("{column: A, missing: false}").evaluate(FRAME).tolist() == [True, True, True, False, False, True]


def test_blank_with_spaces_is_missing():
    frame = pd.DataFrame({"A": ["   ", "a"]})
    assert cond("{column: A, missing: true}").evaluate(frame).tolist() == [True, False]


def test_all_any_not():
    both = cond('{all: [{column: A, equals: "No"}, {column: B, equals: x}]}')
    assert both.evaluate(FRAME).tolist() == [False, False, True, False, False, False]
    either = cond('{any: [{column: A, equals: "Fatal"}, {column: B, equals: y}]}')
    assert either.evaluate(FRAME).tolist() == [False, True, False, True, False, True]
    negated = cond("{not: {column: B, equals: x}}")
    assert negated.evaluate(FRAME).tolist() == [False, True, False, True, False, True]


def test_nested_and_columns():
    c = cond('{all: [{not: {column: A, missing: true}}, {any: [{column: B, equals: x}, {column: C, in: [q]}]}]}')
    assert c.columns() == {"A", "B", "C"}
    frame = FRAME.assign(C=["q", "q", "n", "q", "q", "n"])
    assert c.evaluate(frame).tolist() == [True, True, True, False, False, False]


def test_not_of_a_missing_value_is_true():
    """A missing cell does not equal anything, so `not equals` holds there."""
    assert cond('{not: {column: A, equals: "Yes"}}').evaluate(FRAME).tolist()[3:5] == [True, True]


@pytest.mark.parametrize("text", [
    '{column: A, equals: "Yes", in: ["No"]}',     # two column operators
    '{column: A, equals: "Yes", missing: true}',
    '{all: [{column: A, missing: true}], not: {column: B, equals: x}}',  # two logic operators
    '{column: A}',                                 # no operator
    '{equals: "Yes"}',                             # column operator without column
    '{column: A, all: [{column: B, equals: x}]}',  # logic operator with column
    '{column: A, eq: "Yes"}',                      # unknown key
])
def test_malformed_conditions_are_rejected(text):
    with pytest.raises(ValidationError):
        cond(text)


def test_nested_malformed_condition_is_rejected():
    with pytest.raises(ValidationError):
        cond('{any: [{column: A, equals: "Yes", missing: true}]}')


def test_unquoted_yaml_booleans_are_refused_not_compared_as_text():
    """YAML reads `equals: Yes` as a boolean; the spec must quote it, and is told so at load time."""
    with pytest.raises(ValidationError):
        cond("{column: A, equals: Yes}")


# --- comparisons between columns, numbers, patterns, lengths ---------------------------------------

MORE = pd.DataFrame({
    "MODIFY": ["Paracetamol", "paracetamol", "Ibuprofen", "", None, "Aspirin"],
    "TRT": ["Paracetamol", "Paracetamol", "Aspirin", "Aspirin", "Aspirin", None],
    "DOSE": ["500", " 2.5 ", "1e3", "two", "", "inf"],
    "CODE": ["AB12", "ab12", "AB", "AB12X", None, "XY9"],
}, dtype="string[pyarrow]")


def test_equals_and_not_equals_column():
    assert cond("{column: MODIFY, equals_column: TRT}").evaluate(MORE).tolist() == [
        True, False, False, False, False, False]
    assert cond("{column: MODIFY, equals_column: TRT, ignore_case: true}").evaluate(MORE).tolist() == [
        True, True, False, False, False, False]
    # a value that differs, or stands against a missing one; a missing cell never differs
    assert cond("{column: MODIFY, not_equals_column: TRT}").evaluate(MORE).tolist() == [
        False, True, True, False, False, True]
    assert cond("{column: MODIFY, not_equals_column: TRT}").columns() == {"MODIFY", "TRT"}


def test_not_equals_variable_compares_with_a_mapped_value():
    mapped = {"CMTRT": pd.array(["PARACETAMOL", "PARACETAMOL", "ASPIRIN", None, "ASPIRIN", "ASPIRIN"],
                                dtype="string[pyarrow]")}
    condition = cond("{column: MODIFY, not_equals_variable: CMTRT, ignore_case: true}")
    assert condition.evaluate(MORE, mapped).tolist() == [False, False, True, False, False, False]
    assert condition.variables() == {"CMTRT"} and condition.columns() == {"MODIFY"}


def test_a_variable_not_mapped_yet_is_a_spec_error():
    from sdtmgen.errors import SpecError
    with pytest.raises(SpecError, match="CMTRT"):
        cond("{column: MODIFY, equals_variable: CMTRT}").evaluate(MORE, {})


def test_is_numeric():
    assert cond("{column: DOSE, is_numeric: true}").evaluate(MORE).tolist() == [True, True, True, False, False, False]
    assert cond("{column: DOSE, is_numeric: false}").evaluate(MORE).tolist() == [False, False, False, True, False, True]


def test_matches_the_whole_value():
    assert cond('{column: CODE, matches: "[A-Z]{2}[0-9]+"}').evaluate(MORE).tolist() == [
        True, False, False, False, False, True]
    assert cond('{column: CODE, matches: "[a-z]{2}[0-9]+", ignore_case: true}').evaluate(MORE).tolist() == [
        True, True, False, False, False, True]


def test_matches_refuses_unsafe_or_invalid_patterns_at_load():
    for bad in [r"(a)\1", "(?=a)a", "[", "a" * 201]:
        with pytest.raises(ValidationError):
            cond(yaml.safe_dump({"column": "CODE", "matches": bad}))


def test_matches_is_linear_on_a_catastrophic_pattern():
    import time
    frame = pd.DataFrame({"X": ["a" * 5000 + "!"] * 3}, dtype="string[pyarrow]")
    start = time.perf_counter()
    assert not cond('{column: X, matches: "(a+)+$"}').evaluate(frame).any()
    assert time.perf_counter() - start < 2  # backtracking engines take ages on this


def test_length_bounds():
    assert cond("{column: CODE, length: {min: 3, max: 4}}").evaluate(MORE).tolist() == [
        True, True, False, False, False, True]
    assert cond("{column: CODE, length: {max: 2}}").evaluate(MORE).tolist() == [False, False, True, False, False, False]
    for bad in ["{column: CODE, length: {}}", "{column: CODE, length: {min: 3, max: 2}}",
                "{column: CODE, length: {min: -1}}"]:
        with pytest.raises(ValidationError):
            cond(bad)


def test_new_operators_need_a_column_and_stay_one_per_condition():
    with pytest.raises(ValidationError):
        cond("{is_numeric: true}")
    with pytest.raises(ValidationError):
        cond('{column: A, is_numeric: true, matches: "x"}')
