"""Trial design datasets (TS, TI, TE, TV, TA) from the study spec, and SV from the collected visits."""

from __future__ import annotations

from typing import Literal, Optional, Union

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.arrowtext import arrow_text as as_chunks, concat_text
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.columns.text import STRING, arrow_text, missing_text, take_text
from sdtmgen.sdtm.derivations.isodates import MISSING, date_numbers
from sdtmgen.sdtm.derivations.timing import day_end_minutes, iso_to_minutes
from sdtmgen.columns.ordering import codes_over, order_codes, pack, stable_order


def _frame(ctx: DeriveContext, records: list[dict], domain: str) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame.insert(0, "DOMAIN", domain)
    frame.insert(0, "STUDYID", ctx.study.studyid)
    return frame


@register_derivation("spec_records", "records written out in the spec itself (TS parameters, TI criteria)",
                     example='{derive: spec_records, records: [{IETESTCD: INCL01, IETEST: Age 18 to 65 years, IECAT: INCLUSION, TIVERS: "1.0"}]}')
class SpecRecords(Derivation):
    derive: Literal["spec_records"]
    records: list[dict[str, Union[str, float, int, None]]] = Field(description="the records, variable -> value, written as they are (printable ASCII)")

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN"} | {k for r in self.records for k in r}

    def apply(self, ctx: DeriveContext) -> None:
        ctx.frame = _frame(ctx, self.records, ctx.domain.domain)


@register_derivation("trial_elements", "TE: one record per element of the study spec",
                     example="{derive: trial_elements}")
class TrialElements(Derivation):
    derive: Literal["trial_elements"]

    def produces(self) -> set[str]:
        return {"STUDYID", "DOMAIN", "ETCD", "ELEMENT", "TESTRL", "TEENRL", "TEDUR"}

    def apply(self, ctx: DeriveContext) -> None:
        ctx.frame = _frame(ctx, [{"ETCD": e.etcd, "ELEMENT": e.element, "TESTRL": e.start_rule,
                                  "TEENRL": e.end_rule, "TEDUR": e.duration}
                                 for e in ctx.study.elements], "TE")


@register_derivation("trial_visits", "TV: one record per planned visit per arm of the study spec",
                     example="{derive: trial_visits}")
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


@register_derivation("trial_arms", "TA: one record per planned element per arm of the study spec",
                     example="{derive: trial_arms}")
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


@register_derivation("subject_visits", "SV: one record per subject and visit seen in the listed domains",
                     example="{derive: subject_visits, domains: {LB: LBDTC, VS: VSDTC}}")
class SubjectVisits(Derivation):
    derive: Literal["subject_visits"]
    domains: dict[str, str] = Field(description="domain -> its --DTC variable: a visit is seen on its records' dates")  # domain -> its --DTC variable

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
        # SVSTDTC/SVENDTC are the visit's first and last record date-times as collected (a visit
        # starting before the first dose on the day treatment starts is in the epoch before it);
        # a date without a time counts as the day's start for the first and its end for the last
        # (one value per record of LB, VS ...: 4.6 M at 10,000 subjects, where the SDTM step peaks;
        # codes fit 32 bits, and the record times are kept only for the records with a visit; the
        # dates themselves are taken as text for the first and last records only)
        subject_code, visit_code = (c.astype(np.int32) for c in (subject_code, visit_code))
        first_at = np.concatenate([iso_to_minutes(f[col]) for f, col in zip(frames, self.domains.values())])
        rows = np.flatnonzero(~np.isnan(visitnum) & (first_at != MISSING))
        first_at = first_at[rows]
        last_at = np.concatenate([day_end_minutes(f[col]) for f, col in zip(frames, self.domains.values())])[rows]
        subject_key = np.where(subject_code[rows] < 0, len(subjects), subject_code[rows]).astype(np.int64)  # packed
        visit_key, n_visits = _visit_order(visitnum[rows], visit_code[rows], len(visits))
        low = first_at.min() if len(rows) else 0
        span = int(last_at.max() - low + 1) if len(rows) else 1
        group = [(subject_key, len(subjects) + 1), (visit_key, n_visits)]
        # first record per subject and visit by sorting (no per-group Python): the earliest, of
        # records at the same time the first one
        by_first = stable_order(pack([*group, (first_at - low, span)]))
        del first_at
        ordered = rows[by_first]
        starts = np.ones(len(rows), dtype=bool)
        starts[1:] = (subject_key[by_first][1:] != subject_key[by_first][:-1]) | \
            (visit_key[by_first][1:] != visit_key[by_first][:-1])
        first = ordered[starts]
        # last record: the latest, of records at the same time the last one (the highest row), per
        # group of the same sort (reduceat over its runs; no second sort)
        last = rows
        if len(rows):
            latest = last_at[by_first]
            del last_at
            bounds = np.flatnonzero(starts)
            at_latest = latest == np.maximum.reduceat(latest, bounds)[np.cumsum(starts) - 1]
            del latest
            last = np.maximum.reduceat(np.where(at_latest, ordered, -1), bounds)
        dtc_text = concat_text(*(as_chunks(f[col]) for f, col in zip(frames, self.domains.values())))
        sv = pd.DataFrame({"USUBJID": take_text(subjects.astype("string[pyarrow]"), subject_code[first]),
                           "VISITNUM": visitnum[first],
                           "VISIT": take_text(visits.astype("string[pyarrow]"), visit_code[first]),
                           "SVSTDTC": pd.arrays.ArrowStringArray(dtc_text.take(pa.array(first))),
                           "SVENDTC": pd.arrays.ArrowStringArray(dtc_text.take(pa.array(last)))})
        sv = pd.concat([sv, _missed_visits(ctx, sv)], ignore_index=True)
        planned_day = {float(v.visitnum): float(v.day) for v in ctx.study.visits if v.day is not None}
        sv["VISITDY"] = sv["VISITNUM"].map(planned_day)
        planned = sv["VISITNUM"].isin([float(v.visitnum) for v in ctx.study.visits]).to_numpy(dtype=bool)
        sv["SVUPDES"] = pd.Series(pd.NA, index=sv.index, dtype="string[pyarrow]").mask(
            ~planned, ctx.study.unplanned_visits.description)
        # SVPRESP: Y for the visits of the plan (TV), null for unplanned ones; SVOCCUR: whether a planned
        # visit took place -- Y when it has data, N for the missed visits added above (null when unplanned)
        occurred = sv["SVSTDTC"].notna().to_numpy(dtype=bool)
        sv["SVPRESP"] = take_text(pd.Series(["Y"], dtype="string[pyarrow]"), np.where(planned, 0, -1))
        sv["SVOCCUR"] = take_text(pd.Series(["Y", "N"], dtype="string[pyarrow]"),
                                  np.where(planned, np.where(occurred, 0, 1), -1))
        sv = sv.sort_values(["USUBJID", "VISITNUM"], kind="mergesort").reset_index(drop=True)
        for column in ("USUBJID", "VISIT", "SVSTDTC", "SVENDTC", "SVUPDES", "SVPRESP", "SVOCCUR"):
            sv[column] = pd.arrays.ArrowStringArray(arrow_text(sv[column]))  # one contiguous array each
        sv.insert(0, "DOMAIN", pd.Series("SV", index=sv.index, dtype=STRING))
        sv.insert(0, "STUDYID", pd.Series(ctx.study.studyid, index=sv.index, dtype=STRING))
        ctx.frame = sv


def _visit_order(visitnum: np.ndarray, visit_code: np.ndarray, n_codes: int) -> tuple[np.ndarray, int]:
    """``order_codes`` of the (non-missing) visit numbers: ranks 0..k-1 of their distinct values, and k.

    A visit number is normally one per visit name, so it is read per name code (a few dozen values)
    instead of hashing millions of floats; when it is not, every number is factorised.
    """
    per_code = np.full(n_codes + 1, np.nan)  # (code -1, a missing VISIT, is the last slot)
    per_code[visit_code] = visitnum
    if len(visitnum) and not (per_code[visit_code] == visitnum).all():
        return order_codes(pd.Series(visitnum), na_first=False)
    seen = np.zeros(n_codes + 1, dtype=bool)
    seen[visit_code] = True
    distinct, rank = np.unique(per_code[seen], return_inverse=True)
    code_rank = np.zeros(n_codes + 1, dtype=np.int64)
    code_rank[seen] = rank
    return code_rank[visit_code], len(distinct) + 1  # (as order_codes counts missing in)


def _missed_visits(ctx: DeriveContext, sv: pd.DataFrame) -> pd.DataFrame:
    """Planned visits a subject missed: those of the plan between the subject's first and last attended
    planned visits that have no data. After a subject's last attended visit nothing says whether a
    visit was still due (the subject may have left the study), so no record is made there; the
    export has no visit-status form, so the reason (SVREASOC) is not known.
    """
    plan = np.array(sorted(float(v.visitnum) for v in ctx.study.visits))
    names = pd.Series([v.visit for v in sorted(ctx.study.visits, key=lambda v: float(v.visitnum))], dtype="string[pyarrow]")
    at = np.searchsorted(plan, sv["VISITNUM"].to_numpy(dtype="float64"))
    attended = (at < len(plan)) & (plan[np.minimum(at, len(plan) - 1)] == sv["VISITNUM"].to_numpy(dtype="float64"))
    if not attended.any():
        return sv.iloc[:0]
    subject, subjects = pd.factorize(sv["USUBJID"].astype("string[pyarrow]"))
    seen = np.zeros((len(subjects), len(plan)), dtype=bool)
    seen[subject[attended], at[attended]] = True
    index = np.arange(len(plan))
    first = np.where(seen.any(axis=1), seen.argmax(axis=1), len(plan))
    last = len(plan) - 1 - seen[:, ::-1].argmax(axis=1)
    missed = ~seen & (index >= first[:, None]) & (index <= last[:, None])
    who, which = np.nonzero(missed)
    return pd.DataFrame({"USUBJID": take_text(pd.Series(subjects, dtype="string[pyarrow]"), who),
                         "VISITNUM": plan[which], "VISIT": take_text(names, which),
                         "SVSTDTC": missing_text(len(who)), "SVENDTC": missing_text(len(who))})


class DataParameter(BaseModel):
    """A trial summary parameter whose value comes from the data (e.g. SSTDTC, ACTSUB)."""

    model_config = ConfigDict(extra="forbid")

    TSPARMCD: str = Field(description="the parameter code, e.g. SSTDTC")
    TSPARM: str = Field(description="the parameter name, e.g. Study Start Date")
    domain: str = Field(description="the domain the value is computed from")
    variable: str = Field(description="the variable of that domain")
    agg: Literal["min_date", "max_date", "count_unique"] = Field(
        description="earliest or latest complete date of the variable, or its number of distinct values")
    TSVCDREF: Optional[str] = Field(None, description="code reference of the value, e.g. ISO 8601 for a date")


@register_derivation("data_parameters", "TS records whose value is computed from another domain (first consent, subjects)",
                     example="{derive: data_parameters, parameters: [{TSPARMCD: ACTSUB, TSPARM: Actual Number of Subjects, domain: DM, variable: USUBJID, agg: count_unique}]}")
class DataParameters(Derivation):
    derive: Literal["data_parameters"]
    parameters: list[DataParameter] = Field(description="TS parameters computed from a domain: {TSPARMCD, TSPARM, domain, variable, agg: min_date|max_date|count_unique, TSVCDREF}")

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
            rows.append({"TSSEQ": 1.0, "TSPARMCD": p.TSPARMCD, "TSPARM": p.TSPARM, "TSVAL": value,
                         "TSVCDREF": p.TSVCDREF if value is not None else None})
        ctx.frame = pd.concat([ctx.frame, _frame(ctx, rows, ctx.domain.domain)], ignore_index=True)


@register_derivation("trial_summary_checks",
                     "warnings when TS parameters written in the spec disagree with the data: a data cut-off "
                     "date before the last data, more subjects than planned",
                     example="{derive: trial_summary_checks, dates: {AE: [AESTDTC, AEENDTC], LB: [LBDTC]}}")
class TrialSummaryChecks(Derivation):
    derive: Literal["trial_summary_checks"]
    dates: dict[str, list[str]] = Field({}, description="domain -> its --DTC variables, whose latest date is the last data")  # domain -> its --DTC variables, whose latest date is the last data
    cutoff: str = Field("DCUTDTC", description="TS parameter of the data cut-off date")
    planned: str = Field("PLANSUB", description="TS parameter of the planned number of subjects")
    actual: str = Field("ACTSUB", description="TS parameter of the actual number of subjects")

    def produces(self) -> set[str]:
        return set()

    def needs(self) -> set[tuple[str, str]]:
        return {(d, v) for d, variables in self.dates.items() for v in variables}

    def apply(self, ctx: DeriveContext) -> None:
        ts = ctx.frame
        code = ts["TSPARMCD"].astype("string[pyarrow]")

        def value(parmcd: str) -> tuple[np.ndarray, Optional[str]]:
            rows = (code == parmcd).fillna(False).to_numpy(dtype=bool)
            values = ts["TSVAL"].astype("string[pyarrow]")[rows].dropna()
            return rows, (values.iloc[0] if len(values) else None)

        rows, cutoff = value(self.cutoff)
        if cutoff is not None and self.dates:
            latest = max((int(n.max()) for d, variables in self.dates.items() if d in ctx.datasets
                          for v in variables if v in ctx.datasets[d]
                          for n in [date_numbers(ctx.datasets[d][v].astype("string[pyarrow]"))] if (n != MISSING).any()),
                         default=None)
            cut = date_numbers(pd.Series([cutoff], dtype="string[pyarrow]"))[0]
            if latest is not None and cut != MISSING and latest > cut:
                last = f"{latest // 10000:04d}-{latest // 100 % 100:02d}-{latest % 100:02d}"
                ctx.warn("TS-DCUTDTC", "TSVAL", f"{self.cutoff} {cutoff} precedes the last date in the data ({last}): data after the "
                         "cut-off are in the package; correct the cut-off in the spec or the data", rows)
        rows, planned = value(self.planned)
        _, actual = value(self.actual)
        try:
            planned_n, actual_n = int(float(planned)), int(float(actual))
        except (TypeError, ValueError):
            return
        if actual_n > planned_n:
            ctx.warn("TS-PLANSUB", "TSVAL", f"{self.actual} {actual_n} exceeds {self.planned} {planned_n}: more subjects than planned", rows)
