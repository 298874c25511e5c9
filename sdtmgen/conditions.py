"""Conditions in specs: a small, declarative grammar evaluated on whole columns.

Specs are data, so a condition is never code. It is a mapping with exactly one operator::

    {column: AEONGO, equals: "Yes"}
    {column: AEOUT, in: ["Fatal", "Death"]}
    {column: AEENDAT, missing: true}        # empty cell (missing: false -> present)
    {column: MODIFY, not_equals_column: CMTRT}   # two raw columns
    {column: MODIFY, not_equals_variable: CMTRT} # a raw column and a variable mapped before it
    {column: DOSE, is_numeric: true}        # a finite number (false: text that is not one)
    {column: CODE, matches: "[A-Z]{2}[0-9]+"}  # the whole value, RE2 syntax (linear time)
    {column: TERM, length: {min: 1, max: 200}}
    {all: [<condition>, ...]}  {any: [<condition>, ...]}  {not: <condition>}

Comparisons are on the text as collected, after trimming spaces; ``equals``, ``in``, the column
comparisons and ``matches`` are exact unless ``ignore_case: true``. A missing (blank) cell never
equals, matches, is numeric or has a length; ``not_equals_*`` holds where the column has a value and
the other side differs from it or is missing. Patterns run on Arrow's RE2 engine, which has no
backtracking (no catastrophic patterns, no back-references): time is linear in the text whatever the
pattern, and a pattern longer than 200 characters or invalid for RE2 is refused when the spec loads.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdtmgen.arrowtext import Distinct, arrow_text, blank_as_missing
from sdtmgen.errors import SpecError
from sdtmgen.registry import Registry

MAX_PATTERN = 200

#: the operators of a condition: name -> the Condition field holding its operand (``column``: it reads a column)
CONDITIONS: Registry[str] = Registry(
    "condition operator", title="Conditions",
    where="`where:` of a source, `when:` of a `conditional` case, `where:` of derivations that filter records; "
          "one operator per condition; `ignore_case: true` makes text comparisons case-insensitive")
for _name, _field, _column, _description, _example in (
    ("equals", "equals", True, "the trimmed value equals the text", '{column: AEONGO, equals: "Yes"}'),
    ("in", "in_", True, "the trimmed value is one of the texts", '{column: AEOUT, in: ["Fatal", "Death"]}'),
    ("missing", "missing", True, "the cell is empty (false: it has a value)", "{column: AEENDAT, missing: true}"),
    ("equals_column", "equals_column", True, "equals another raw column of the same row",
     "{column: MODIFY, equals_column: TRT}"),
    ("not_equals_column", "not_equals_column", True,
     "has a value and the other raw column differs from it or is missing", "{column: MODIFY, not_equals_column: TRT}"),
    ("equals_variable", "equals_variable", True,
     "equals a variable mapped earlier in the same source's `map:`", "{column: MODIFY, equals_variable: CMTRT}"),
    ("not_equals_variable", "not_equals_variable", True,
     "has a value and the variable mapped earlier differs from it or is missing",
     "{column: MODIFY, not_equals_variable: CMTRT, ignore_case: true}"),
    ("is_numeric", "is_numeric", True, "a finite number (false: text that is not one; blanks are neither)",
     "{column: DOSE, is_numeric: true}"),
    ("matches", "matches", True, f"the whole value matches an RE2 pattern (linear time, at most {MAX_PATTERN} "
     "characters, checked at load)", '{column: CODE, matches: "[A-Z]{2}[0-9]+"}'),
    ("length", "length", True, "the value has a value and its length in characters is within min/max",
     "{column: TERM, length: {min: 1, max: 200}}"),
    ("all", "all", False, "every listed condition holds",
     '{all: [{column: AESER, equals: "Y"}, {column: AEOUT, missing: false}]}'),
    ("any", "any", False, "at least one listed condition holds",
     '{any: [{column: AEOUT, equals: "Fatal"}, {column: AESDTH, equals: "Y"}]}'),
    ("not", "not_", False, "the condition does not hold", "{not: {column: AEONGO, equals: \"Yes\"}}"),
):
    CONDITIONS.add(_name, _field, _description, example=_example, column=_column)


class Length(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: Optional[int] = Field(None, ge=0, description="fewest characters allowed")
    max: Optional[int] = Field(None, ge=0, description="most characters allowed")

    @model_validator(mode="after")
    def _bounds(self) -> "Length":
        if self.min is None and self.max is None:
            raise ValueError("length needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("length: min is greater than max")
        return self


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: Optional[str] = None
    equals: Optional[str] = None
    in_: Optional[list[str]] = Field(default=None, alias="in")
    missing: Optional[bool] = None
    equals_column: Optional[str] = None
    not_equals_column: Optional[str] = None
    equals_variable: Optional[str] = None
    not_equals_variable: Optional[str] = None
    is_numeric: Optional[bool] = None
    matches: Optional[str] = None
    length: Optional[Length] = None
    ignore_case: bool = False
    all: Optional[list["Condition"]] = None
    any: Optional[list["Condition"]] = None
    not_: Optional["Condition"] = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_operator(self) -> "Condition":
        column_ops = [getattr(self, CONDITIONS[name]) is not None for name in _COLUMN_OPS]
        logic_ops = [self.all is not None, self.any is not None, self.not_ is not None]
        if sum(column_ops) + sum(logic_ops) != 1:
            raise ValueError(f"a condition needs exactly one of: {', '.join(_COLUMN_OPS)}, all, any, not")
        if any(column_ops) and not self.column:
            raise ValueError(f"{'/'.join(_COLUMN_OPS)} need 'column'")
        if any(logic_ops) and self.column:
            raise ValueError("all/any/not take no 'column'")
        return self

    @field_validator("matches")
    @classmethod
    def _safe_pattern(cls, pattern: Optional[str]) -> Optional[str]:
        if pattern is None:
            return pattern
        if len(pattern) > MAX_PATTERN:
            raise ValueError(f"matches: pattern longer than {MAX_PATTERN} characters")
        try:  # RE2 (Arrow): refuses what it cannot run in linear time, e.g. back-references
            pc.match_substring_regex(pa.array([""], pa.large_string()), _anchored(pattern))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"matches: {pattern!r} is not a valid RE2 pattern ({exc})") from None
        return pattern

    def variables(self) -> set[str]:
        """Every mapped variable the condition reads (``equals_variable``/``not_equals_variable``)."""
        found = {v for v in (self.equals_variable, self.not_equals_variable) if v}
        for sub in (self.all or []) + (self.any or []) + ([self.not_] if self.not_ else []):
            found |= sub.variables()
        return found

    def columns(self) -> set[str]:
        """Every column the condition reads."""
        found = {self.column} if self.column else set()
        found |= {c for c in (self.equals_column, self.not_equals_column) if c}
        for sub in (self.all or []) + (self.any or []) + ([self.not_] if self.not_ else []):
            found |= sub.columns()
        return found

    def evaluate(self, frame: pd.DataFrame, variables: Optional[Mapping[str, Any]] = None) -> np.ndarray:
        """Boolean mask over the frame's rows; ``variables``: values already mapped from these rows."""
        if self.all is not None:
            mask = np.ones(len(frame), dtype=bool)
            for sub in self.all:
                mask &= sub.evaluate(frame, variables)
            return mask
        if self.any is not None:
            mask = np.zeros(len(frame), dtype=bool)
            for sub in self.any:
                mask |= sub.evaluate(frame, variables)
            return mask
        if self.not_ is not None:
            return ~self.not_.evaluate(frame, variables)
        values = frame[self.column]
        if self.equals is None and self.in_ is None and self.missing is None:
            return self._evaluate_more(frame, variables)
        text = values.astype("string[pyarrow]").str.strip()
        if self.missing is not None:
            is_missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
            return is_missing if self.missing else ~is_missing
        wanted = [self.equals] if self.equals is not None else list(self.in_ or [])
        if self.ignore_case:
            text = text.str.upper()
            wanted = [w.upper() for w in wanted]
        return text.isin(wanted).fillna(False).to_numpy(dtype=bool)

    def _evaluate_more(self, frame: pd.DataFrame, variables: Optional[Mapping[str, Any]]) -> np.ndarray:
        text = _text(frame[self.column])
        present = pc.is_valid(text)
        if self.is_numeric is not None:  # each distinct text converted once
            distinct = Distinct.of(frame[self.column])
            trimmed = distinct.values.str.strip()
            numbers = pd.to_numeric(trimmed.where(trimmed != ""), errors="coerce").to_numpy(dtype=float)
            finite = np.isfinite(numbers)
            blank = (trimmed == "").fillna(True).to_numpy(dtype=bool)
            wanted = finite if self.is_numeric else (~finite & ~blank)
            return distinct.spread_mask(wanted)
        if self.matches is not None:
            hit = pc.match_substring_regex(text, _anchored(self.matches), ignore_case=self.ignore_case)
            return _mask(hit)
        if self.length is not None:
            size = pc.utf8_length(text)
            ok = present
            if self.length.min is not None:
                ok = pc.and_(ok, pc.greater_equal(size, self.length.min))
            if self.length.max is not None:
                ok = pc.and_(ok, pc.less_equal(size, self.length.max))
            return _mask(ok)
        if self.equals_column or self.not_equals_column:
            other = _text(frame[self.equals_column or self.not_equals_column])
        else:
            name = self.equals_variable or self.not_equals_variable
            if not variables or name not in variables:
                raise SpecError(f"condition compares with variable {name!r}, which is not mapped before this "
                               f"rule in the same source (map it earlier in 'map:')")
            other = _text(pd.Series(variables[name], index=frame.index))
        left, right = (pc.utf8_upper(text), pc.utf8_upper(other)) if self.ignore_case else (text, other)
        same = _mask(pc.equal(left, right))
        if self.equals_column or self.equals_variable:
            return same
        return present.to_numpy(zero_copy_only=False) & ~same


_COLUMN_OPS = tuple(name for name in CONDITIONS if CONDITIONS.entry(name).metadata["column"])


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _text(values: pd.Series) -> pa.ChunkedArray:
    """Trimmed text, blanks as missing."""
    if values.dtype == "float64":  # a numeric mapped variable: compared as its text
        values = values.astype("string[pyarrow]")
    return blank_as_missing(arrow_text(values))


def _mask(array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)
