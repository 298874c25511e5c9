"""Conditional assignment: the first case whose condition holds gives the value."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from sdtmgen.conditions import Condition
from sdtmgen.sdtm.rules.base import MapContext, MappingRule, as_text, register_rule


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: Condition
    value: Optional[str] = None
    column: Optional[str] = None

    @model_validator(mode="after")
    def _one_output(self) -> "Case":
        if (self.value is None) == (self.column is None):
            raise ValueError("a case gives either 'value' or 'column'")
        return self


@register_rule("conditional", "the value of the first case whose condition holds, else 'otherwise'")
class Conditional(MappingRule):
    rule: Literal["conditional"]
    cases: list[Case]
    otherwise: Optional[str] = None
    otherwise_column: Optional[str] = None

    def columns(self) -> set[str]:
        cols: set[str] = set()
        for case in self.cases:
            cols |= case.when.columns() | ({case.column} if case.column else set())
        return cols | ({self.otherwise_column} if self.otherwise_column else set())

    def apply(self, ctx: MapContext) -> pd.Series:
        index = ctx.frame.index
        if self.otherwise_column:
            out = as_text(ctx.frame[self.otherwise_column], index)
        else:
            out = pd.Series(self.otherwise, index=index, dtype="string")
        decided = np.zeros(len(index), dtype=bool)
        for case in self.cases:
            hit = case.when.evaluate(ctx.frame) & ~decided
            new = (pd.Series(case.value, index=index, dtype="string") if case.value is not None
                   else as_text(ctx.frame[case.column], index))
            out = out.mask(hit, new)
            decided |= hit
        return out
