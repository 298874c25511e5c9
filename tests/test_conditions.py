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
