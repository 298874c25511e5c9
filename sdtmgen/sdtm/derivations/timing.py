"""Timing: --DY from the subject's reference date, EPOCH from the subject's elements (SE)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from sdtmgen.dates import study_day
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation


def iso_to_timestamp(iso: pd.Series) -> pd.Series:
    """Complete dates (with or without time) as timestamps; partial or missing -> NaT."""
    codes, uniques = pd.factorize(iso.astype("string"), use_na_sentinel=True)
    stamps = _iso_to_timestamp(pd.Series(uniques, dtype="string")).to_numpy()
    values = np.where(codes < 0, np.datetime64("NaT"), stamps[np.maximum(codes, 0)] if len(stamps) else np.datetime64("NaT"))
    return pd.Series(values.astype("datetime64[ns]"), index=iso.index)


def _iso_to_timestamp(iso: pd.Series) -> pd.Series:
    text = iso.astype("string")
    date_ok = text.str.match(r"^\d{4}-\d{2}-\d{2}").fillna(False)
    stamp = pd.to_datetime(text.str.slice(0, 10).where(date_ok), format="%Y-%m-%d", errors="coerce")
    clock = text.str.extract(r"T(\d{2}):(\d{2})")
    minutes = (pd.to_numeric(clock[0], errors="coerce") * 60 + pd.to_numeric(clock[1], errors="coerce")).fillna(0)
    return stamp + pd.to_timedelta(minutes, unit="m")


@register_derivation("study_day", "--DY = date - reference + 1 on/after the reference, date - reference before (no day 0)")
class StudyDay(Derivation):
    derive: Literal["study_day"]
    target: str
    date: str
    reference: VariableRef = VariableRef(domain="DM", variable="RFSTDTC")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.reference.domain, self.reference.variable)}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        frame[self.target] = study_day(frame[self.date], ctx.subject_values(self.reference)).to_numpy()


@register_derivation("epoch", "EPOCH of the subject element (SE) in which the record's date falls")
class Epoch(Derivation):
    derive: Literal["epoch"]
    target: str = "EPOCH"
    date: str
    elements: str = "SE"

    def needs(self) -> set[tuple[str, str]]:
        return {(self.elements, "SESTDTC"), (self.elements, "EPOCH")}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        se = ctx.datasets[self.elements]
        starts = pd.DataFrame({"USUBJID": se["USUBJID"].astype(str),
                               "_T": iso_to_timestamp(se["SESTDTC"]),
                               "_EPOCH": se["EPOCH"].astype("string")}).dropna(subset=["_T"])
        obs = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(str), "_T": iso_to_timestamp(frame[self.date]),
                            "_POS": np.arange(len(frame))})
        known = obs.dropna(subset=["_T"]).sort_values("_T", kind="mergesort")
        matched = pd.merge_asof(known, starts.sort_values("_T", kind="mergesort"), on="_T", by="USUBJID",
                                direction="backward")
        epoch = pd.Series(pd.NA, index=range(len(frame)), dtype="string")
        epoch.iloc[matched["_POS"].to_numpy()] = matched["_EPOCH"].to_numpy()
        frame[self.target] = epoch.to_numpy()
