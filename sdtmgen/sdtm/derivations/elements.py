"""SE: the subject's actual elements, from first dates in other domains."""

from __future__ import annotations

from typing import Literal, Optional

import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.conditions import Condition
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation
from sdtmgen.sdtm.derivations.reference_dates import subject_extreme


class ElementStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    etcd: str
    domain: str
    variable: str
    agg: Literal["min", "max"] = "min"
    where: Optional[Condition] = None
    offset_days: int = 0


@register_derivation("subject_elements", "one SE record per element a subject entered, start = first date, end = next start")
class SubjectElements(Derivation):
    derive: Literal["subject_elements"]
    elements: list[ElementStart]
    end: VariableRef

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "USUBJID", "ETCD", "ELEMENT", "TAETORD", "EPOCH", "SESTDTC", "SEENDTC"}

    def needs(self) -> set[tuple[str, str]]:
        found = {(self.end.domain, self.end.variable), ("DM", "USUBJID")}
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
        dm = ctx.datasets["DM"]
        end = dm.drop_duplicates("USUBJID").set_index("USUBJID")[self.end.variable]
        next_start = se.groupby("USUBJID")["SESTDTC"].shift(-1)
        se["SEENDTC"] = next_start.fillna(se["USUBJID"].map(end)).astype("string[pyarrow]")
        se["STUDYID"] = ctx.study.studyid
        se["DOMAIN"] = "SE"
        # an element that would start after the subject left the study never happened
        ends_before = se["SEENDTC"].notna() & (se["SEENDTC"].str.slice(0, 10) < se["SESTDTC"].str.slice(0, 10))
        ctx.frame = se[~ends_before].reset_index(drop=True)
