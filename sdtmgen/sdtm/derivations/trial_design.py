"""Trial design datasets (TS, TI, TE, TV, TA) from the study spec, and SV from the collected visits."""

from __future__ import annotations

from typing import Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.sdtm.derivations.columns import STRING, missing_text, take_text
from sdtmgen.sdtm.derivations.isodates import MISSING, date_numbers
from sdtmgen.sdtm.derivations.ordering import codes_over, order_codes, pack, stable_order


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
        frames = [ctx.datasets[domain] for domain in self.domains]
        # text as codes into small tables of distinct values, so nothing is copied per record
        subject_code, subjects = codes_over([f["USUBJID"] for f in frames], sort=True)
        visit_code, visits = codes_over([f["VISIT"] for f in frames])
        visitnum = np.concatenate([f["VISITNUM"].to_numpy(dtype="float64") for f in frames])
        day = np.concatenate([date_numbers(f[col]) for f, col in zip(frames, self.domains.values())])
        rows = np.flatnonzero(~np.isnan(visitnum) & (day != MISSING))
        # first and last date per subject and visit by sorting once (no per-group Python)
        subject_key = np.where(subject_code[rows] < 0, len(subjects), subject_code[rows])
        visit_key, n_visits = order_codes(pd.Series(visitnum[rows]), na_first=False)
        low = day[rows].min() if len(rows) else 0
        span = int(day[rows].max() - low + 1) if len(rows) else 1
        perm = stable_order(pack([(subject_key, len(subjects) + 1), (visit_key, n_visits), (day[rows] - low, span)]))
        rows, subject_key, visit_key = rows[perm], subject_key[perm], visit_key[perm]
        starts = np.ones(len(rows), dtype=bool)
        starts[1:] = (subject_key[1:] != subject_key[:-1]) | (visit_key[1:] != visit_key[:-1])
        first = rows[starts]
        last = rows[np.append(starts[1:], True)] if len(rows) else rows
        sv = pd.DataFrame({"USUBJID": take_text(subjects.astype("string[pyarrow]"), subject_code[first]),
                           "VISITNUM": visitnum[first],
                           "VISIT": take_text(visits.astype("string[pyarrow]"), visit_code[first]),
                           "SVSTDTC": _date_text(day[first]), "SVENDTC": _date_text(day[last])})
        planned_day = {float(v.visitnum): float(v.day) for v in ctx.study.visits if v.day is not None}
        sv["VISITDY"] = sv["VISITNUM"].map(planned_day)
        unplanned = ~sv["VISITNUM"].isin(list(planned_day))
        sv["SVUPDES"] = pd.Series(pd.NA, index=sv.index, dtype="string[pyarrow]").mask(
            unplanned, ctx.study.unplanned_visits.description)
        # visits are derived from data that exist, so each one occurred; SVPRESP/SVOCCUR apply to
        # pre-specified visits collected on a visit form, which this export does not have
        sv["SVPRESP"] = missing_text(len(sv))
        sv["SVOCCUR"] = missing_text(len(sv))
        sv.insert(0, "DOMAIN", pd.Series("SV", index=sv.index, dtype=STRING))
        sv.insert(0, "STUDYID", pd.Series(ctx.study.studyid, index=sv.index, dtype=STRING))
        ctx.frame = sv


def _date_text(numbers: np.ndarray):
    """``YYYY-MM-DD`` of YYYYMMDD numbers (each distinct one formatted once)."""
    distinct, at = np.unique(numbers, return_inverse=True)
    text = pd.Series([f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}" for n in distinct.tolist()],
                     dtype="string[pyarrow]")
    return take_text(text, at.reshape(-1))


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
                dates = values.astype("string[pyarrow]").str.slice(0, 10)
                dates = dates[dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)]
                value = (dates.min() if p.agg == "min_date" else dates.max()) if len(dates) else None
            rows.append({"TSSEQ": 1.0, "TSPARMCD": p.TSPARMCD, "TSPARM": p.TSPARM, "TSVAL": value})
        ctx.frame = pd.concat([ctx.frame, _frame(ctx, rows, ctx.domain.domain)], ignore_index=True)
