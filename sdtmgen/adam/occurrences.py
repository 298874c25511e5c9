"""Occurrence flags (OCCDS): treatment emergence, relationship, term/category flags, DLT."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import AdamContext, AdamDerivation, Params, flag_array, register_adam_derivation


def _text(values: pd.Series, ignore_case: bool) -> pd.Series:
    text = values.astype("string[pyarrow]").str.strip()
    return text.str.upper() if ignore_case else text


@register_adam_derivation("treatment_emergent", "Y when the event starts on or after the first treatment date "
                                                "(optionally up to N days after the last); a missing start counts "
                                                "as emergent when 'missing_start' says so",
                          example="{derive: treatment_emergent, target: TRTEMFL, start: ASTDT, reference: TRTSDT, missing_start: emergent}")
class TreatmentEmergent(AdamDerivation):
    derive: Literal["treatment_emergent"]
    target: str = Field("TRTEMFL", description="the flag variable")
    start: str = Field("ASTDT", description="SAS start date of the event")
    reference: str = Field("TRTSDT", description="SAS date of the first treatment; an untreated subject has no emergent event")
    end_reference: Optional[str] = Field(None, description="e.g. TRTEDT; with days_after, the emergence window end")
    days_after: Optional[int] = Field(None, ge=0, description="days after end_reference still counted as emergent")
    missing_start: Literal["emergent", "not_emergent"] = Field(
        "emergent", description="an event of a treated subject with no start date counts as emergent or not")

    @model_validator(mode="after")
    def _pair(self) -> "TreatmentEmergent":
        if (self.end_reference is None) != (self.days_after is None):
            raise ValueError("end_reference and days_after go together")
        return self

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        start = pd.to_numeric(ctx.column(self.start), errors="coerce").to_numpy(dtype=float)
        ref = pd.to_numeric(ctx.column(self.reference), errors="coerce").to_numpy(dtype=float)
        treated = ~np.isnan(ref)
        with np.errstate(invalid="ignore"):
            hit = treated & (start >= ref)
            if self.end_reference is not None:
                end = pd.to_numeric(ctx.column(self.end_reference), errors="coerce").to_numpy(dtype=float)
                hit &= start <= end + self.days_after
        if self.missing_start == "emergent":
            hit |= treated & np.isnan(start)
        frame[self.target] = flag_array(hit)


@register_adam_derivation("relatedness", "analysis relationship: 'related' when the collected causality is in the "
                                         "list of related terms, else 'not related'",
                          example="{derive: relatedness, target: AREL, source: AEREL, related: [POSSIBLY RELATED, PROBABLY RELATED], missing_as: related}")
class Relatedness(AdamDerivation):
    derive: Literal["relatedness"]
    target: str = Field("AREL", description="the analysis relationship variable")
    source: str = Field("AEREL", description="the collected causality variable")
    related: list[str] = Field(min_length=1, description="collected values that count as related")
    related_value: str = Field("RELATED", description="value written for a related event")
    not_related_value: str = Field("NOT RELATED", description="value written for the others")
    missing_as: Literal["related", "not_related", "missing"] = Field(
        "related", description="what a missing causality becomes (conservative default: related)")

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        text = _text(ctx.column(self.source), True)
        related = text.isin([r.upper() for r in self.related]).fillna(False).to_numpy(dtype=bool)
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
        out = pd.Series(np.where(related, self.related_value, self.not_related_value), index=frame.index,
                        dtype="string[pyarrow]")
        if self.missing_as == "related":
            out[missing] = self.related_value
        elif self.missing_as == "missing":
            out[missing] = pd.NA
        frame[self.target] = out.array


@register_adam_derivation("term_flag", "Y when a coded term (PT, SOC, ...) is in a list, e.g. febrile neutropenia, "
                                       "infections, the bleeding terms",
                          example="{derive: term_flag, target: FNFL, variable: AEDECOD, values: [FEBRILE NEUTROPENIA]}")
class TermFlag(AdamDerivation):
    derive: Literal["term_flag"]
    target: str = Field(description="the flag variable, e.g. FNFL")
    variable: str = Field(description="the coded term variable, e.g. AEDECOD")
    values: list[str] = Field(min_length=1, description="the terms that set the flag")
    ignore_case: bool = Field(True, description="compare regardless of case")

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        wanted = [v.strip().upper() if self.ignore_case else v.strip() for v in self.values]
        hit = _text(ctx.column(self.variable), self.ignore_case).isin(wanted).fillna(False).to_numpy(dtype=bool)
        frame[self.target] = flag_array(hit)


class Fallback(Params):
    """DLT criteria used when the investigator's assessment was not collected for an event."""

    grade: str = Field("ATOXGR", description="toxicity grade variable (text 1-5)")
    min_grade: int = Field(ge=1, le=5, description="lowest toxicity grade that is a DLT")
    term: str = Field("AEDECOD", description="term variable checked against exclude_terms")
    exclude_terms: list[str] = Field(default_factory=list, description="never DLTs (e.g. expected cytopenias)")


@register_adam_derivation("dlt_flag", "DLT: starts within the DLT window (relative day in [from_day, to_day]), "
                                      "related, and the investigator says DLT where assessed (else the fallback "
                                      "criteria, if any)",
                          example="{derive: dlt_flag, target: DLTFL, day: ASTDY, from_day: 1, to_day: 14, related: AREL, assessment: AEDLT, when_not_assessed: {min_grade: 3, exclude_terms: [NEUTROPENIA, ANAEMIA]}}")
class DltFlag(AdamDerivation):
    derive: Literal["dlt_flag"]
    target: str = Field("DLTFL", description="the flag variable")
    day: str = Field("ASTDY", description="relative day from the infusion (infusion day = day 1)")
    from_day: int = Field(1, description="first day of the DLT window")
    to_day: int = Field(description="last day of the DLT window")
    related: str = Field("AREL", description="the relationship variable")
    related_value: str = Field("RELATED", description="its value for a related event (case ignored)")
    assessment: Optional[str] = Field("AEDLT", description="investigator's DLT assessment (e.g. from SUPPAE)")
    assessment_yes: str = Field("Y", description="the assessment's value meaning DLT (case ignored)")
    when_not_assessed: Optional[Fallback] = Field(None, description="no fallback: unassessed events are not DLTs")

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        day = pd.to_numeric(ctx.column(self.day), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            in_window = (day >= self.from_day) & (day <= self.to_day)
        related = (_text(ctx.column(self.related), True) == self.related_value.upper()).fillna(False)
        candidate = in_window & related.to_numpy(dtype=bool)
        if self.assessment is not None:
            said = _text(ctx.column(self.assessment), True)
            assessed = (said.notna() & (said != "")).to_numpy(dtype=bool)
            yes = (said == self.assessment_yes.upper()).fillna(False).to_numpy(dtype=bool)
        else:
            assessed = np.zeros(len(frame), dtype=bool)
            yes = assessed.copy()
        dlt = candidate & assessed & yes
        if self.when_not_assessed is not None:
            fb = self.when_not_assessed
            grade = pd.to_numeric(ctx.column(fb.grade), errors="coerce").to_numpy(dtype=float)
            excluded = _text(ctx.column(fb.term), True).isin([t.upper() for t in fb.exclude_terms])
            with np.errstate(invalid="ignore"):
                meets = (grade >= fb.min_grade) & ~excluded.fillna(False).to_numpy(dtype=bool)
            dlt |= candidate & ~assessed & meets
        frame[self.target] = flag_array(dlt)
