"""Assign through a codelist: collected text or synonym -> submission value (or decode)."""

from __future__ import annotations

from typing import Literal, Optional

import pandas as pd
from pydantic import Field

from sdtmgen.sdtm.rules.base import MapContext, MappingRule, register_rule
from sdtmgen.terminology import map_to_codelist


@register_rule("codelist", "collected value, decode or synonym mapped to the codelist's submission value",
               example="{rule: codelist, column: SEX, codelist: SEX}")
class CodelistRule(MappingRule):
    rule: Literal["codelist"]
    column: str = Field(description="raw column")
    codelist: Optional[str] = Field(None, description="codelist id in terminology.yaml; default: the target "
                                                      "variable's codelist")
    output: Literal["value", "decode"] = Field("value", description="the submission value, or its decode")

    def columns(self) -> set[str]:
        return {self.column}

    def codelist_id(self, variable_codelist: Optional[str]) -> Optional[str]:
        return self.codelist or variable_codelist

    def apply(self, ctx: MapContext) -> pd.Series:
        cl_id = self.codelist_id(ctx.variable.codelist if ctx.variable else None)
        codelist = ctx.terminology.get(cl_id)
        mapped, unmatched = map_to_codelist(ctx.frame[self.column], codelist, self.output, ctx.distinct(self.column))
        # extensible codelists keep the collected value; the dataset schema reports it (SCH-CT-EXT)
        # unless the variable itself carries another codelist (or none), so the rule reports it here
        own = ctx.variable.codelist if ctx.variable else None
        if unmatched.any() and codelist.extensible and own != codelist.id:
            ctx.warn("CT-EXT", self.column, f"value not in extensible codelist {codelist.id}; submitted as collected", unmatched)
        if unmatched.any() and not codelist.extensible:
            ctx.fail("codelist", self.column, f"value not in non-extensible codelist {codelist.id} ({codelist.name}); "
                     f"allowed: {', '.join(codelist.values())}", unmatched,
                     hint=f"correct the raw value, or add it as a synonym of a term of {codelist.id} in the spec")
        return mapped
