"""Conditions in specs: a small, declarative grammar evaluated on whole columns.

Specs are data, so a condition is never code. It is a mapping with exactly one operator::

    {column: AEONGO, equals: "Yes"}
    {column: AEOUT, in: ["Fatal", "Death"]}
    {column: AEENDAT, missing: true}        # empty cell (missing: false -> present)
    {all: [<condition>, ...]}  {any: [<condition>, ...]}  {not: <condition>}

Comparisons are on the text as collected, after trimming spaces; ``equals`` and ``in`` are exact
unless ``ignore_case: true``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: Optional[str] = None
    equals: Optional[str] = None
    in_: Optional[list[str]] = Field(default=None, alias="in")
    missing: Optional[bool] = None
    ignore_case: bool = False
    all: Optional[list["Condition"]] = None
    any: Optional[list["Condition"]] = None
    not_: Optional["Condition"] = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_operator(self) -> "Condition":
        column_ops = [self.equals is not None, self.in_ is not None, self.missing is not None]
        logic_ops = [self.all is not None, self.any is not None, self.not_ is not None]
        if sum(column_ops) + sum(logic_ops) != 1:
            raise ValueError("a condition needs exactly one of: equals, in, missing, all, any, not")
        if any(column_ops) and not self.column:
            raise ValueError("equals/in/missing need 'column'")
        if any(logic_ops) and self.column:
            raise ValueError("all/any/not take no 'column'")
        return self

    def columns(self) -> set[str]:
        """Every column the condition reads."""
        found = {self.column} if self.column else set()
        for sub in (self.all or []) + (self.any or []) + ([self.not_] if self.not_ else []):
            found |= sub.columns()
        return found

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the frame's rows."""
        if self.all is not None:
            mask = np.ones(len(frame), dtype=bool)
            for sub in self.all:
                mask &= sub.evaluate(frame)
            return mask
        if self.any is not None:
            mask = np.zeros(len(frame), dtype=bool)
            for sub in self.any:
                mask |= sub.evaluate(frame)
            return mask
        if self.not_ is not None:
            return ~self.not_.evaluate(frame)
        values = frame[self.column]
        text = values.astype("string").str.strip()
        if self.missing is not None:
            is_missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
            return is_missing if self.missing else ~is_missing
        wanted = [self.equals] if self.equals is not None else list(self.in_ or [])
        if self.ignore_case:
            text = text.str.upper()
            wanted = [w.upper() for w in wanted]
        return text.isin(wanted).fillna(False).to_numpy(dtype=bool)
