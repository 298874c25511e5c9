"""Conditional assignment: the first case whose condition holds gives the value."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sdtmgen.arrowtext import arrow_text, blank_as_missing, repeat_text, text_series
from sdtmgen.conditions import Condition
from sdtmgen.sdtm.rules.base import MapContext, MappingRule, register_rule


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: Condition = Field(description="the condition on the raw row; the first case that holds gives the result")
    value: Optional[str] = Field(None, description="the result when the condition holds")
    column: Optional[str] = Field(None, description="or the raw column giving the result")

    @model_validator(mode="after")
    def _one_output(self) -> "Case":
        if (self.value is None) == (self.column is None):
            raise ValueError("a case gives either 'value' or 'column'")
        return self


@register_rule("conditional", "the value of the first case whose condition holds, else 'otherwise'",
               example='{rule: conditional, cases: [{when: {column: AEONGO, equals: "Yes"}, value: ONGOING}], otherwise: RECOVERED}')
class Conditional(MappingRule):
    rule: Literal["conditional"]
    cases: list[Case] = Field(description="tried in order; the first whose condition holds gives the value")
    otherwise: Optional[str] = Field(None, description="the value when no case holds (default: missing)")
    otherwise_column: Optional[str] = Field(None, description="or the raw column giving it")

    def columns(self) -> set[str]:
        cols: set[str] = set()
        for case in self.cases:
            cols |= case.when.columns() | ({case.column} if case.column else set())
        return cols | ({self.otherwise_column} if self.otherwise_column else set())

    def apply(self, ctx: MapContext) -> pd.Series:
        index = ctx.frame.index
        out = self._text(ctx, self.otherwise, self.otherwise_column)
        decided = np.zeros(len(index), dtype=bool)
        for case in self.cases:
            hit = case.when.evaluate(ctx.frame, ctx.mapped) & ~decided
            out = pc.if_else(pa.array(hit), self._text(ctx, case.value, case.column), out)
            decided |= hit
        return text_series(out, index)

    @staticmethod
    def _text(ctx: MapContext, value: Optional[str], column: Optional[str]) -> pa.Array:
        if column:
            return blank_as_missing(arrow_text(ctx.frame[column]))
        return repeat_text(value, len(ctx.frame))
