"""Subject-level values taken from another domain: first/last dates (RFSTDTC, RFXENDTC...)."""

from __future__ import annotations

from typing import Literal, Optional

import pandas as pd
from pydantic import Field

from sdtmgen.conditions import Condition
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


def subject_extreme(frame: pd.DataFrame, variable: str, agg: str, where: Optional[Condition]) -> pd.Series:
    """Earliest/latest non-missing ISO 8601 value per USUBJID (ISO text sorts chronologically)."""
    rows = frame if where is None else frame[where.evaluate(frame)]
    values = rows[["USUBJID", variable]].dropna()
    values = values[(values[variable].astype("string[pyarrow]") != "").to_numpy(dtype=bool)]
    ordered = values.sort_values(["USUBJID", variable], ascending=[True, agg == "min"], kind="mergesort")
    first = ordered.drop_duplicates("USUBJID", keep="first")
    return pd.Series(first[variable].to_numpy(), index=pd.Index(first["USUBJID"].to_numpy(), name="USUBJID"),
                     name=variable)


@register_derivation("subject_date", "first or last date per subject of a variable of another domain",
                     example="{derive: subject_date, target: DTHDTC, domain: DS, variable: _DTHDTC, agg: max}")
class SubjectDate(Derivation):
    derive: Literal["subject_date"]
    target: str = Field(description="the variable written (e.g. RFSTDTC)")
    domain: str = Field(description="the domain holding the dates")
    variable: str = Field(description="its date variable (or _TEMPORARY)")
    agg: Literal["min", "max"] = Field(description="first (min) or last (max) date per subject")
    where: Optional[Condition] = Field(None, description="only the records meeting this condition")
    date_only: bool = Field(False, description="keep the date part only (drop the time)")

    def needs(self) -> set[tuple[str, str]]:
        cols = self.where.columns() if self.where else set()
        return {(self.domain, self.variable)} | {(self.domain, c) for c in cols}

    def apply(self, ctx: DeriveContext) -> None:
        table = subject_extreme(ctx.datasets[self.domain], self.variable, self.agg, self.where)
        values = ctx.frame["USUBJID"].map(table).astype("string[pyarrow]")
        ctx.frame[self.target] = values.str.slice(0, 10) if self.date_only else values


@register_derivation("flag_if_present", "'Y' when another variable of the record is not missing",
                     example="{derive: flag_if_present, target: DTHFL, variable: DTHDTC}")
class FlagIfPresent(Derivation):
    derive: Literal["flag_if_present"]
    target: str = Field(description="the flag variable")
    variable: str = Field(description="the variable of the same record that must be present")

    def apply(self, ctx: DeriveContext) -> None:
        present = ctx.frame[self.variable].notna() & (ctx.frame[self.variable].astype("string[pyarrow]") != "")
        ctx.frame[self.target] = pd.Series(pd.NA, index=ctx.frame.index, dtype="string[pyarrow]").mask(present, "Y")
