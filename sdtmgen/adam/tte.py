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

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import (AdamContext, AdamDerivation, DatasetVariable, Params, iso_datetime,
                               register_adam_derivation, relative_day, to_sas_datetime)
from sdtmgen.conditions import Condition

DAY_SECONDS = 86400.0


class TransfusionFree(Params):
    """Assessments count only without a matching transfusion in the days before them."""

    dataset: str = "CM"
    date: str = "CMSTDTC"
    where: Condition
    days_before: int = Field(ge=1)
    applies_to: Literal["all", "first"] = Field(
        "all", description="all: each of the consecutive assessments must be transfusion-free; first: only the first")


class Endpoint(Params):
    paramcd: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,7}$")
    param: str = Field(max_length=200)
    paramn: float
    lab: str = Field(description="PARAMCD of the lab parameter in the source dataset")
    threshold: float
    event: str = Field(max_length=200, description="EVNTDESC of an event")
    transfusion_free: Optional[TransfusionFree] = None


@register_adam_derivation("recovery", "time to recovery: first of N consecutive assessments at or above a threshold "
                                      "after falling below it (transfusion-free where required), censored at the "
                                      "last assessment of the window; one record per subject at risk and endpoint")
class Recovery(AdamDerivation):
    derive: Literal["recovery"]
    source: str = Field("ADLB", description="the lab BDS dataset")
    anchor: DatasetVariable = Field(description="the start date (e.g. ADSL.CHEMSDT): day 1 and STARTDT")
    from_day: int = 1
    to_day: int = Field(description="last day of the window (e.g. 42)")
    consecutive: int = Field(ge=1)
    censor_at_window_end: str = Field(max_length=200, description="CNSDTDSC when assessed up to the window end")
    censor_before_window_end: str = Field(max_length=200,
                                          description="CNSDTDSC when the last assessment is before the window end")
    source_domain: str = "LB"
    source_variable: str = "LBDTC"
    value: str = "AVAL"
    param: str = "PARAMCD"
    date: str = "ADT"
    datetime: Optional[str] = "ADTM"
    seq: str = Field("SRCSEQ", description="variable of the source holding the SDTM --SEQ")
    endpoints: list[Endpoint] = Field(min_length=1)

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
        anchor_src = ctx.source(self.anchor.dataset)
        anchors = pd.Series(anchor_src[self.anchor.variable].to_numpy(dtype=float),
                            index=anchor_src["USUBJID"].astype(str))
        anchors = anchors[~anchors.index.duplicated()]
        subject = labs["USUBJID"].astype(str)
        start = subject.map(anchors).to_numpy(dtype=float)
        no_anchor = sorted(set(subject[np.isnan(start)]))
        if no_anchor:
            ctx.warn("TTE-NO-START", "STARTDT", f"{len(no_anchor)} subject(s) with {self.source} records have no "
                     f"{self.anchor.dataset}.{self.anchor.variable}: not at risk for any endpoint",
                     values=tuple(no_anchor))
        adt = pd.to_numeric(labs[self.date], errors="coerce").to_numpy(dtype=float)
        when = (pd.to_numeric(labs[self.datetime], errors="coerce").to_numpy(dtype=float)
                if self.datetime else np.full(len(labs), np.nan))
        # no time: the end of the day, so that a transfusion that day counts as before it
        when = np.where(np.isnan(when), (adt + 1) * DAY_SECONDS - 1, when)
        day = relative_day(pd.Series(adt), pd.Series(start)).to_numpy(dtype=float)
        value = pd.to_numeric(labs[self.value], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            usable = ~np.isnan(value) & ~np.isnan(day) & (day >= self.from_day) & (day <= self.to_day)
        base = pd.DataFrame({"USUBJID": subject.to_numpy(), "_PARAM": labs[self.param].astype("string").to_numpy(),
                             "_V": value, "_ADT": adt, "_T": when, "_START": start,
                             "_SEQ": pd.to_numeric(labs[self.seq], errors="coerce").to_numpy(dtype=float)})[usable]
        parts = []
        for ep in self.endpoints:
            data = base[base["_PARAM"] == ep.lab].sort_values(["USUBJID", "_T", "_SEQ"], kind="mergesort")
            parts.append(self._endpoint(ep, data.reset_index(drop=True), self._supported(ctx, ep, data)))
        columns = ["USUBJID", *sorted(self.produces())]
        out = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
        out = out.sort_values(["USUBJID", "PARAMN"], kind="mergesort").reset_index(drop=True)
        for name in ("USUBJID", "PARAMCD", "PARAM", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR"):
            out[name] = out[name].astype("string")
        for name in ("PARAMN", "STARTDT", "ADT", "AVAL", "CNSR", "SRCSEQ"):
            out[name] = out[name].astype("float64")
        ctx.frame = out

    def _supported(self, ctx: AdamContext, ep: Endpoint, data: pd.DataFrame) -> np.ndarray:
        """True where a matching transfusion started in the ``days_before`` days before the assessment."""
        tf = ep.transfusion_free
        if tf is None or data.empty:
            return np.zeros(len(data), dtype=bool)
        given = ctx.source(tf.dataset)
        given = given[tf.where.evaluate(given)]
        starts = pd.DataFrame({"USUBJID": given["USUBJID"].astype(str).to_numpy(),
                               "_S": to_sas_datetime(iso_datetime(given[tf.date])).to_numpy()}).dropna()
        probe = pd.DataFrame({"USUBJID": data["USUBJID"].to_numpy(), "_T": data["_T"].to_numpy(dtype=float),
                              "_POS": np.arange(len(data))}).sort_values("_T", kind="mergesort")
        # the latest transfusion strictly before each assessment
        last = pd.merge_asof(probe, starts.sort_values("_S", kind="mergesort"), left_on="_T", right_on="_S",
                             by="USUBJID", direction="backward", allow_exact_matches=False)
        near = (last["_T"] - last["_S"] <= tf.days_before * DAY_SECONDS).fillna(False).to_numpy(dtype=bool)
        out = np.zeros(len(data), dtype=bool)
        out[last["_POS"].to_numpy()] = near
        return out

    def _endpoint(self, ep: Endpoint, data: pd.DataFrame, supported: np.ndarray) -> pd.DataFrame:
        """One record per subject at risk: the first qualifying run, else the last assessment (censored)."""
        value = data["_V"].to_numpy(dtype=float)
        below = value < ep.threshold
        above = value >= ep.threshold
        # at risk from the first value below the threshold: only later assessments may start a run
        below_before = pd.Series(below.astype(int), index=data.index).groupby(data["USUBJID"], sort=False).cumsum()
        after_nadir = (below_before.to_numpy() - below) > 0
        clean = above & ~supported
        every = ep.transfusion_free is None or ep.transfusion_free.applies_to == "all"
        counts = pd.Series(clean if every else above, index=data.index)
        run = clean.copy()
        for i in range(1, self.consecutive):
            run &= counts.groupby(data["USUBJID"], sort=False).shift(-i, fill_value=False).to_numpy(dtype=bool)
        hit = run & after_nadir
        at_risk = pd.Series(below, index=data.index).groupby(data["USUBJID"], sort=False).transform("any")
        data = data.assign(_HIT=hit, _RISK=at_risk.to_numpy(dtype=bool))[at_risk.to_numpy(dtype=bool)]
        events = data[data["_HIT"]].drop_duplicates("USUBJID", keep="first")
        censored = data[~data["USUBJID"].isin(events["USUBJID"])].drop_duplicates("USUBJID", keep="last")
        chosen = pd.concat([events.assign(_CNSR=0.0), censored.assign(_CNSR=1.0)], ignore_index=True)
        day = relative_day(chosen["_ADT"], chosen["_START"]).to_numpy(dtype=float)
        censor = np.where(day >= self.to_day, self.censor_at_window_end, self.censor_before_window_end)
        is_event = chosen["_CNSR"].to_numpy() == 0.0
        return pd.DataFrame({
            "USUBJID": chosen["USUBJID"].to_numpy(), "PARAMCD": ep.paramcd, "PARAM": ep.param, "PARAMN": ep.paramn,
            "STARTDT": chosen["_START"].to_numpy(), "ADT": chosen["_ADT"].to_numpy(),
            "AVAL": chosen["_ADT"].to_numpy() - chosen["_START"].to_numpy() + 1, "CNSR": chosen["_CNSR"].to_numpy(),
            "EVNTDESC": np.where(is_event, ep.event, censor), "CNSDTDSC": np.where(is_event, None, censor),
            "SRCDOM": self.source_domain, "SRCVAR": self.source_variable, "SRCSEQ": chosen["_SEQ"].to_numpy(),
        })
