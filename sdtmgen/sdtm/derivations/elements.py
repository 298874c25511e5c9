"""SE: the subject's actual elements, from first dates in other domains."""

from __future__ import annotations

from typing import Literal, Optional, Union

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.conditions import Condition
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation
from sdtmgen.sdtm.derivations.reference_dates import subject_extreme


class ElementStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    etcd: str = Field(description="the element code (study.yaml elements)")
    domain: str = Field(description="the domain holding the element's start date")
    variable: str = Field(description="its --DTC variable")
    agg: Literal["min", "max"] = Field("min", description="the subject's first (min) or last (max) date")
    where: Optional[Condition] = Field(None, description="only records where this holds")
    offset_days: int = Field(0, description="days added to that date (e.g. 1: the element starts the day after)")


@register_derivation("subject_elements",
                     "one SE record per element a subject entered, start = first date, end = next start "
                     "or the earliest end date (end of participation, death, disposition)",
                     example="{derive: subject_elements, elements: [{etcd: SCRN, domain: DM, variable: RFICDTC}, {etcd: TRT, domain: EX, variable: EXSTDTC}], end: [{domain: DM, variable: RFPENDTC}]}")
class SubjectElements(Derivation):
    derive: Literal["subject_elements"]
    elements: list[ElementStart] = Field(description="each element's start: {etcd, domain, variable, agg: min|max, where, offset_days}")
    end: Union[VariableRef, list[VariableRef]] = Field(description="the subject's end dates (DM variables); the earliest present one ends the last element and cuts any element running past it")

    def ends(self) -> list[VariableRef]:
        return self.end if isinstance(self.end, list) else [self.end]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "USUBJID", "ETCD", "ELEMENT", "TAETORD", "EPOCH", "SESTDTC", "SEENDTC"}

    def needs(self) -> set[tuple[str, str]]:
        found = {(e.domain, e.variable) for e in self.ends()} | {("DM", "USUBJID")}
        for el in self.elements:
            found.add((el.domain, el.variable))
            if el.where:
                found |= {(el.domain, c) for c in el.where.columns()}
        return found

    def apply(self, ctx: DeriveContext) -> None:
        design = {e.etcd: e for e in ctx.study.elements}
        parts = []
        for order, el in enumerate(self.elements, start=1):
            start = subject_extreme(ctx.datasets[el.domain], el.variable, el.agg, el.where)
            if el.offset_days:
                start = (pd.to_datetime(start.str.slice(0, 10), errors="coerce")
                         + pd.Timedelta(days=el.offset_days)).dt.strftime("%Y-%m-%d")
            start = start.dropna()
            parts.append(pd.DataFrame({"USUBJID": start.index, "SESTDTC": start.to_numpy(),
                                       "ETCD": el.etcd, "TAETORD": float(order),
                                       "ELEMENT": design[el.etcd].element, "EPOCH": design[el.etcd].epoch}))
        se = pd.concat(parts, ignore_index=True).sort_values(["USUBJID", "TAETORD"], kind="mergesort")
        se["SESTDTC"] = se["SESTDTC"].astype("string[pyarrow]")
        end = se["USUBJID"].map(earliest_end(ctx, self.ends())).astype("string[pyarrow]")
        # an element that would start after the subject's end (a later day) never happened
        day = se["SESTDTC"].str.slice(0, 10)
        end_day = end.str.slice(0, 10)
        after_end = (end.notna() & (day > end_day)).fillna(False).to_numpy(dtype=bool)
        se, end, end_day = se[~after_end], end[~after_end], end_day[~after_end]
        next_start = se.groupby("USUBJID")["SESTDTC"].shift(-1).astype("string[pyarrow]")
        # the next element's start ends this one unless the subject's end comes on an earlier day
        beyond = (next_start.str.slice(0, 10) > end_day).fillna(False)
        se["SEENDTC"] = next_start.where(next_start.notna() & ~beyond, end).astype("string[pyarrow]")
        se["STUDYID"] = ctx.study.studyid
        se["DOMAIN"] = "SE"
        ctx.frame = se.reset_index(drop=True)


def earliest_end(ctx: DeriveContext, ends: list[VariableRef]) -> pd.Series:
    """The earliest of the listed end dates per subject, by calendar day (the more precise text on a tie)."""
    values = []
    for ref in ends:
        frame = ctx.datasets[ref.domain].drop_duplicates("USUBJID")
        values.append(pd.DataFrame({"USUBJID": frame["USUBJID"].astype("string[pyarrow]").to_numpy(),
                                    "END": frame[ref.variable].astype("string[pyarrow]").to_numpy()}))
    table = pd.concat(values, ignore_index=True)
    table = table[table["END"].notna() & (table["END"].str.len() >= 10)]
    table = table.assign(DAY=table["END"].str.slice(0, 10), LEN=-table["END"].str.len())
    table = table.sort_values(["USUBJID", "DAY", "LEN"], kind="mergesort").drop_duplicates("USUBJID")
    return pd.Series(table["END"].to_numpy(), index=pd.Index(table["USUBJID"].to_numpy()), dtype="string[pyarrow]")
