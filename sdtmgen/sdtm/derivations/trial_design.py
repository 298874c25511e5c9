"""Trial design datasets (TS, TI, TE, TV, TA) from the study spec, and SV from the collected visits."""

from __future__ import annotations

from typing import Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


def _frame(ctx: DeriveContext, records: list[dict], domain: str) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame.insert(0, "DOMAIN", domain)
    frame.insert(0, "STUDYID", ctx.study.studyid)
    return frame


@register_derivation("spec_records", "records written out in the spec itself (TS parameters, TI criteria)")
class SpecRecords(Derivation):
    derive: Literal["spec_records"]
    records: list[dict[str, Union[str, float, int, None]]]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN"} | {k for r in self.records for k in r}

    def apply(self, ctx: DeriveContext) -> None:
        ctx.frame = _frame(ctx, self.records, ctx.domain.domain)


@register_derivation("trial_elements", "TE: one record per element of the study spec")
class TrialElements(Derivation):
    derive: Literal["trial_elements"]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"}

    def apply(self, ctx: DeriveContext) -> None:
        ctx.frame = _frame(ctx, [{"ETCD": e.etcd, "ELEMENT": e.element, "TESTRL": e.start_rule,
                                  "TEENRL": e.end_rule, "TEDUR": e.duration}
                                 for e in ctx.study.elements], "TE")


@register_derivation("trial_visits", "TV: one record per planned visit per arm of the study spec")
class TrialVisits(Derivation):
    derive: Literal["trial_visits"]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "VISITNUM", "VISIT", "VISITDY", "ARMCD", "ARM", "TVSTRL", "TVENRL"}

    def apply(self, ctx: DeriveContext) -> None:
        arms = ctx.study.arms or [None]
        ctx.frame = _frame(ctx, [{"VISITNUM": float(v.visitnum), "VISIT": v.visit,
                                  "VISITDY": float(v.day) if v.day is not None else np.nan,
                                  "ARMCD": a.armcd if a else None, "ARM": a.arm if a else None,
                                  "TVSTRL": v.start_rule or None, "TVENRL": v.end_rule or None}
                                 for a in arms for v in ctx.study.visits], "TV")


@register_derivation("trial_arms", "TA: one record per planned element per arm of the study spec")
class TrialArms(Derivation):
    derive: Literal["trial_arms"]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "ARMCD", "ARM", "TAETORD", "ETCD", "ELEMENT", "TABRANCH", "TATRANS", "EPOCH"}

    def apply(self, ctx: DeriveContext) -> None:
        elements = {e.etcd: e for e in ctx.study.elements}
        ctx.frame = _frame(ctx, [{"ARMCD": a.armcd, "ARM": a.arm, "TAETORD": float(i), "ETCD": etcd,
                                  "ELEMENT": elements[etcd].element, "TABRANCH": None, "TATRANS": None,
                                  "EPOCH": elements[etcd].epoch}
                                 for a in ctx.study.arms for i, etcd in enumerate(a.elements, start=1)], "TA")


@register_derivation("subject_visits", "SV: one record per subject and visit seen in the listed domains")
class SubjectVisits(Derivation):
    derive: Literal["subject_visits"]
    domains: dict[str, str]  # domain -> its --DTC variable

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "USUBJID", "VISITNUM", "VISIT", "VISITDY", "SVSTDTC", "SVENDTC", "SVUPDES",
                "SVPRESP", "SVOCCUR"}

    def needs(self) -> set[tuple[str, str]]:
        return {(d, v) for d, dtc in self.domains.items() for v in ("VISITNUM", "VISIT", dtc)}

    def apply(self, ctx: DeriveContext) -> None:
        parts = []
        for domain, dtc in self.domains.items():
            frame = ctx.datasets[domain]
            parts.append(pd.DataFrame({"USUBJID": frame["USUBJID"], "VISITNUM": frame["VISITNUM"],
                                       "VISIT": frame["VISIT"], "_D": frame[dtc].astype("string").str.slice(0, 10)}))
        seen = pd.concat(parts, ignore_index=True).dropna(subset=["VISITNUM"])
        seen = seen[seen["_D"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)]
        # first and last date per subject and visit by sorting once (no per-group Python)
        seen = seen.sort_values(["USUBJID", "VISITNUM", "_D"], kind="mergesort")
        first = seen.drop_duplicates(["USUBJID", "VISITNUM"], keep="first")
        last = seen.drop_duplicates(["USUBJID", "VISITNUM"], keep="last")
        sv = pd.DataFrame({"USUBJID": first["USUBJID"].to_numpy(), "VISITNUM": first["VISITNUM"].to_numpy(),
                           "VISIT": first["VISIT"].to_numpy(), "SVSTDTC": first["_D"].to_numpy(),
                           "SVENDTC": last["_D"].to_numpy()})
        planned_day = {float(v.visitnum): float(v.day) for v in ctx.study.visits if v.day is not None}
        sv["VISITDY"] = sv["VISITNUM"].map(planned_day)
        unplanned = ~sv["VISITNUM"].isin(list(planned_day))
        sv["SVUPDES"] = pd.Series(pd.NA, index=sv.index, dtype="string").mask(
            unplanned, ctx.study.unplanned_visits.description)
        # visits are derived from data that exist, so each one occurred; SVPRESP/SVOCCUR apply to
        # pre-specified visits collected on a visit form, which this export does not have
        sv["SVPRESP"] = pd.NA
        sv["SVOCCUR"] = pd.NA
        sv.insert(0, "DOMAIN", "SV")
        sv.insert(0, "STUDYID", ctx.study.studyid)
        ctx.frame = sv


class DataParameter(BaseModel):
    """A trial summary parameter whose value comes from the data (e.g. SSTDTC, ACTSUB)."""

    model_config = ConfigDict(extra="forbid")

    TSPARMCD: str
    TSPARM: str
    domain: str
    variable: str
    agg: Literal["min_date", "max_date", "count_unique"]


@register_derivation("data_parameters", "TS records whose value is computed from another domain (first consent, subjects)")
class DataParameters(Derivation):
    derive: Literal["data_parameters"]
    parameters: list[DataParameter]

    def produces(self) -> set[str]:
        return {"TSSEQ", "TSPARMCD", "TSPARM", "TSVAL"}

    def needs(self) -> set[tuple[str, str]]:
        return {(p.domain, p.variable) for p in self.parameters}

    def apply(self, ctx: DeriveContext) -> None:
        rows = []
        for p in self.parameters:
            values = ctx.datasets[p.domain][p.variable].dropna()
            if p.agg == "count_unique":
                value = str(values.nunique())
            else:
                dates = values.astype("string").str.slice(0, 10)
                dates = dates[dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)]
                value = (dates.min() if p.agg == "min_date" else dates.max()) if len(dates) else None
            rows.append({"TSSEQ": 1.0, "TSPARMCD": p.TSPARMCD, "TSPARM": p.TSPARM, "TSVAL": value})
        ctx.frame = pd.concat([ctx.frame, _frame(ctx, rows, ctx.domain.domain)], ignore_index=True)
