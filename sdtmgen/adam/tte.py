"""Time to recovery (BDS time-to-event) from lab values, e.g. ANC, platelet and hemoglobin recovery.

Per subject and endpoint, on the assessments (non-missing AVAL) of the parameter whose day from the
anchor (anchor = day 1, no day 0) lies in the window:

1. the subject is at risk from the first assessment below the threshold; a subject never below it
   gets no record for the endpoint (not at risk);
2. recovery = the first of ``consecutive`` consecutive assessments at or above the threshold after
   that, none of them (or only the first, see ``applies_to``) preceded by a matching transfusion
   in the ``days_before`` days before it; event (CNSR = 0) at its date;
3. no recovery: censored (CNSR = 1) at the last assessment in the window.

AVAL = ADT - STARTDT + 1 (days); SRCDOM/SRCVAR/SRCSEQ point at the assessment that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import (AdamContext, AdamDerivation, Codes, DatasetVariable, Params, first_positions,
                               register_adam_derivation, relative_day, take_rows)
from sdtmgen.columns import ordering
from sdtmgen.conditions import Condition
from sdtmgen.dates import iso_datetime, to_sas_datetime

DAY_SECONDS = 86400.0


class TransfusionFree(Params):
    """Assessments count only without a matching transfusion in the days before them."""

    dataset: str = Field("CM", description="the dataset of the transfusions")
    date: str = Field("CMSTDTC", description="ISO 8601 start of a transfusion")
    where: Condition = Field(description="the records that are matching transfusions")
    days_before: int = Field(ge=1, description="an assessment at most this many days after a matching transfusion is not transfusion-free")
    applies_to: Literal["all", "first"] = Field(
        "all", description="all: each of the consecutive assessments must be transfusion-free; first: only the first")


class Endpoint(Params):
    paramcd: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,7}$", description="PARAMCD of the endpoint's records")
    param: str = Field(max_length=200, description="PARAM of the endpoint")
    paramn: float = Field(description="PARAMN of the endpoint")
    lab: str = Field(description="PARAMCD of the lab parameter in the source dataset")
    threshold: float = Field(description="recovered at values at or above it; at risk from a value below it")
    event: str = Field(max_length=200, description="EVNTDESC of an event")
    transfusion_free: Optional[TransfusionFree] = Field(None, description="assessments must not follow a transfusion")


@register_adam_derivation("recovery", "time to recovery: first of N consecutive assessments at or above a threshold "
                                      "after falling below it (transfusion-free where required), censored at the "
                                      "last assessment of the window; one record per subject at risk and endpoint",
                          example="{derive: recovery, source: ADLB, anchor: {dataset: ADSL, variable: CHEMSDT}, from_day: 1, to_day: 42, consecutive: 3, censor_at_window_end: NO RECOVERY BY DAY 42, censor_before_window_end: NO RECOVERY BY LAST ASSESSMENT, source_domain: LB, source_variable: LBDTC, endpoints: [{paramcd: ANCREC05, param: Time to ANC Recovery >= 0.5 x10^9/L (days), paramn: 1, lab: NEUT, threshold: 0.5, event: ANC >= 0.5 X10^9/L ON 3 CONSECUTIVE ASSESSMENTS}]}")
class Recovery(AdamDerivation):
    derive: Literal["recovery"]
    source: str = Field("ADLB", description="the lab BDS dataset")
    anchor: DatasetVariable = Field(description="the start date (e.g. ADSL.CHEMSDT): day 1 and STARTDT")
    from_day: int = Field(1, description="first day of the window")
    to_day: int = Field(description="last day of the window (e.g. 42)")
    consecutive: int = Field(ge=1, description="assessments at or above the threshold in a row that make recovery")
    censor_at_window_end: str = Field(max_length=200, description="CNSDTDSC when assessed up to the window end")
    censor_before_window_end: str = Field(max_length=200,
                                          description="CNSDTDSC when the last assessment is before the window end")
    source_domain: str = Field("LB", description="SRCDOM of the records")
    source_variable: str = Field("LBDTC", description="SRCVAR of the records")
    value: str = Field("AVAL", description="the lab value of the source")
    param: str = Field("PARAMCD", description="the parameter code of the source")
    date: str = Field("ADT", description="SAS date of an assessment")
    datetime: Optional[str] = Field("ADTM", description="SAS datetime of an assessment (orders a day's records)")
    seq: str = Field("SRCSEQ", description="variable of the source holding the SDTM --SEQ")
    endpoints: list[Endpoint] = Field(min_length=1, description="one parameter each")

    @model_validator(mode="after")
    def _valid(self) -> "Recovery":
        if self.to_day < self.from_day:
            raise ValueError("to_day is before from_day")
        for attr in ("paramcd", "paramn"):
            seen = [getattr(e, attr) for e in self.endpoints]
            if len(seen) != len(set(seen)):
                raise ValueError(f"endpoints: {attr} listed twice")
        return self

    def produces(self) -> set[str]:
        return {"PARAMCD", "PARAM", "PARAMN", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC", "CNSDTDSC",
                "SRCDOM", "SRCVAR", "SRCSEQ"}

    def creates_records(self) -> bool:
        return True

    def needs(self) -> set[tuple[str, str]]:
        found = {(self.source, v) for v in ("USUBJID", self.value, self.param, self.date, self.seq)}
        if self.datetime:
            found.add((self.source, self.datetime))
        found |= {(self.anchor.dataset, self.anchor.variable), (self.anchor.dataset, "USUBJID")}
        for ep in self.endpoints:
            tf = ep.transfusion_free
            if tf is not None:
                found |= {(tf.dataset, c) for c in tf.where.columns() | {tf.date, "USUBJID"}}
        return found

    def apply(self, ctx: AdamContext) -> None:
        labs = ctx.source(self.source)
        # subjects as codes in USUBJID order: records sort and group by integers, not text
        subject, subjects = _sorted_codes(labs["USUBJID"])
        anchor_src = ctx.source(self.anchor.dataset)
        start_of = take_rows(pd.Series(anchor_src[self.anchor.variable].to_numpy(dtype=float)),
                             first_positions(pd.Series(subjects), anchor_src["USUBJID"]))
        no_anchor = sorted(str(s) for s in subjects[np.isnan(start_of)])
        if no_anchor:
            ctx.warn("TTE-NO-START", "STARTDT", f"{len(no_anchor)} subject(s) with {self.source} records have no "
                     f"{self.anchor.dataset}.{self.anchor.variable}: not at risk for any endpoint",
                     values=tuple(no_anchor))
        start = np.where(subject >= 0, start_of[subject.clip(0)] if len(start_of) else np.nan, np.nan)
        adt = pd.to_numeric(labs[self.date], errors="coerce").to_numpy(dtype=float)
        when = (pd.to_numeric(labs[self.datetime], errors="coerce").to_numpy(dtype=float)
                if self.datetime else np.full(len(labs), np.nan))
        # no time: the end of the day, so that a transfusion that day counts as before it
        when = np.where(np.isnan(when), (adt + 1) * DAY_SECONDS - 1, when)
        day = relative_day(pd.Series(adt), pd.Series(start)).to_numpy(dtype=float)
        value = pd.to_numeric(labs[self.value], errors="coerce").to_numpy(dtype=float)
        seq = pd.to_numeric(labs[self.seq], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            usable = ~np.isnan(value) & ~np.isnan(day) & (day >= self.from_day) & (day <= self.to_day)
        param = Codes.of(labs[self.param].astype("string[pyarrow]"))
        parts = []
        near: dict[tuple[str, str], np.ndarray] = {}  # endpoints of one lab and transfusion rule share it
        given: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # the transfusions of a rule, read once for every lab
        for ep in self.endpoints:
            rows = np.flatnonzero(usable & param.rows_with(ep.lab))
            rows = rows[_time_order(subject[rows], when[rows], seq[rows])]
            assessments = Assessments(subject[rows], value[rows], adt[rows], when[rows], start[rows], seq[rows])
            tf = ep.transfusion_free
            key = (ep.lab, tf.model_dump_json() if tf is not None else "")
            if key not in near:
                near[key] = self._supported(ctx, tf, assessments, subjects, given)
            parts.append(self._endpoint(ep, assessments, near[key]))
        records = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        order = np.lexsort((records["PARAMN"], records["_SUBJECT"]))
        out = pd.DataFrame({"USUBJID": take_rows(pd.Series(subjects.astype("string[pyarrow]")), records.pop("_SUBJECT")[order]),
                            **{name: records[name][order] for name in sorted(records)}})
        for name in ("PARAMCD", "PARAM", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR"):
            out[name] = out[name].astype("string[pyarrow]")
        for name in ("PARAMN", "STARTDT", "ADT", "AVAL", "CNSR", "SRCSEQ"):
            out[name] = out[name].astype("float64")
        ctx.frame = out

    def _supported(self, ctx: AdamContext, tf: Optional[TransfusionFree], data: "Assessments",
                   subjects: pd.Index, given: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """True where a matching transfusion started in the ``days_before`` days before the assessment;
        ``given`` keeps each rule's transfusions (subject code, SAS datetime) for the next lab."""
        if tf is None or not len(data.subject):
            return np.zeros(len(data.subject), dtype=bool)
        rule = tf.model_dump_json(include={"dataset", "date", "where"})
        if rule not in given:
            source = ctx.source(tf.dataset)
            keep = tf.where.evaluate(source)
            at = to_sas_datetime(iso_datetime(source[tf.date][keep])).to_numpy(dtype=float)
            to = first_positions(source["USUBJID"][keep], pd.Series(subjects))
            known = (to >= 0) & ~np.isnan(at)
            given[rule] = to[known], at[known]
        given_to, given_at = given[rule]
        # the latest transfusion strictly before each assessment
        last = latest_before(data.subject, data.when, given_to, given_at)
        found = last >= 0
        near = np.zeros(len(data.subject), dtype=bool)
        near[found] = data.when[found] - given_at[last[found]] <= tf.days_before * DAY_SECONDS
        return near

    def _endpoint(self, ep: Endpoint, data: "Assessments", supported: np.ndarray) -> dict[str, np.ndarray]:
        """One record per subject at risk: the first qualifying run, else the last assessment (censored)."""
        n = len(data.subject)
        first = np.r_[True, data.subject[1:] != data.subject[:-1]] if n else np.zeros(0, dtype=bool)
        group = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:], n] - 1
        below = data.value < ep.threshold
        above = data.value >= ep.threshold
        # at risk from the first value below the threshold: only later assessments may start a run
        below_so_far = np.cumsum(below)
        below_before = below_so_far - below - (below_so_far - below)[starts][group]
        after_nadir = below_before > 0
        clean = above & ~supported
        every = ep.transfusion_free is None or ep.transfusion_free.applies_to == "all"
        counts = clean if every else above
        run = clean.copy()
        for i in range(1, self.consecutive):
            later = np.zeros(n, dtype=bool)
            later[:n - i] = counts[i:] & (data.subject[i:] == data.subject[:n - i])  # same subject, i records on
            run &= later
        hit = np.flatnonzero(run & after_nadir)
        at_risk = np.bincount(group, weights=below, minlength=len(starts)) > 0
        event_groups, first_hit = np.unique(group[hit], return_index=True)
        recovered = np.zeros(len(starts), dtype=bool)
        recovered[event_groups] = True
        chosen = np.concatenate([hit[first_hit], ends[at_risk & ~recovered]])
        cnsr = np.r_[np.zeros(len(first_hit)), np.ones(len(chosen) - len(first_hit))]
        adt, start = data.adt[chosen], data.start[chosen]
        day = relative_day(pd.Series(adt), pd.Series(start)).to_numpy(dtype=float)
        censor = np.where(day >= self.to_day, self.censor_at_window_end, self.censor_before_window_end)
        is_event = cnsr == 0.0
        size = len(chosen)
        return {
            "_SUBJECT": data.subject[chosen], "PARAMCD": np.full(size, ep.paramcd, dtype=object),
            "PARAM": np.full(size, ep.param, dtype=object), "PARAMN": np.full(size, ep.paramn),
            "STARTDT": start, "ADT": adt, "AVAL": adt - start + 1, "CNSR": cnsr,
            "EVNTDESC": np.where(is_event, ep.event, censor).astype(object),
            "CNSDTDSC": np.where(is_event, None, censor).astype(object),
            "SRCDOM": np.full(size, self.source_domain, dtype=object),
            "SRCVAR": np.full(size, self.source_variable, dtype=object), "SRCSEQ": data.seq[chosen],
        }


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)``; for Arrow text from the run's shared encoding of the column (the
    2.1 M ADLB subjects, encoded by seq already), only its distinct values sorted."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        return pd.factorize(values, sort=True)
    codes, uniques = ordering.factorize(values)
    order = np.asarray(uniques.argsort())
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return (np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else -1, -1),
            pd.Index(uniques.take(order)))


@dataclass
class Assessments:
    """One endpoint's usable assessments, sorted by subject (code) and time."""

    subject: np.ndarray
    value: np.ndarray
    adt: np.ndarray
    when: np.ndarray
    start: np.ndarray
    seq: np.ndarray


def _time_order(subject: np.ndarray, when: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Stable permutation putting assessments per subject in time (then --SEQ) order; records that come in
    that order already (a lab dataset sorted by its keys) only cost the check."""
    with np.errstate(invalid="ignore"):
        by_subject, by_time, by_seq = np.diff(subject), np.diff(when), np.diff(seq)
        in_order = (by_subject > 0) | ((by_subject == 0) & ((by_time > 0) | ((by_time == 0) & (by_seq >= 0))))
    if in_order.all():
        return np.arange(len(subject))
    return np.lexsort((seq, when, subject))


def latest_before(group: np.ndarray, at: np.ndarray, other_group: np.ndarray, other_at: np.ndarray) -> np.ndarray:
    """For each (group, at), the index of the ``other`` entry of the same group with the latest time strictly
    before ``at`` (-1 for none): one sort of both sets together, then a running 'last other seen'."""
    n = len(group)
    groups = np.concatenate([group, other_group])
    times = np.concatenate([at, other_at])
    is_other = np.r_[np.zeros(n, dtype=np.int8), np.ones(len(other_group), dtype=np.int8)]
    order = np.lexsort((is_other, times, groups))  # at equal times the probe comes first: strictly before
    seen = np.maximum.accumulate(np.where(is_other[order] == 1, np.arange(len(order)), -1)) if len(order) else order
    latest = np.where(seen >= 0, order[seen.clip(0)], -1) if len(order) else order
    same = (latest >= 0) & (groups[latest.clip(0)] == groups[order]) if len(order) else np.zeros(0, dtype=bool)
    found = np.full(len(order), -1)
    found[order] = np.where(same, latest - n, -1)
    return found[:n]
