"""Timing: --DY from the subject's reference date, EPOCH from the subject's elements (SE)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from sdtmgen.dates import parse_iso_datetime, study_day
from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation
from sdtmgen.columns.text import take_text
from sdtmgen.sdtm.derivations.isodates import (MISSING, iso_day_end_minutes, iso_days, iso_minutes,
                                                minutes_to_timestamps)
from sdtmgen.columns.ordering import lookup

_NS_PER_MINUTE = 60_000_000_000


def iso_to_minutes(iso: pd.Series) -> np.ndarray:
    """Complete dates (with or without time) as int64 minutes since 1970; partial or missing -> MISSING."""
    return iso_minutes(iso, _fallback_minutes)


def iso_to_timestamp(iso: pd.Series) -> pd.Series:
    """Complete dates (with or without time) as timestamps; partial or missing -> NaT."""
    return minutes_to_timestamps(iso_to_minutes(iso), iso.index)


def iso_to_days(iso: pd.Series) -> np.ndarray:
    """The calendar day (days since 1970) of complete ISO 8601 values; partial or missing -> MISSING."""
    return iso_days(iso, lambda uniques: _to_day(_fallback_minutes(uniques.str.slice(0, 10))))


def _to_day(minutes: np.ndarray) -> np.ndarray:
    return np.where(minutes == MISSING, MISSING, minutes // 1440)


def _fallback_minutes(iso: pd.Series) -> np.ndarray:
    """The plain reading of any text (``sdtmgen.dates.parse_iso_datetime``, to the minute), for shapes the
    fast path does not read."""
    ns = parse_iso_datetime(iso).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return np.where(ns == MISSING, MISSING, ns // _NS_PER_MINUTE)


def subject_positions(ctx: DeriveContext, domain: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The first record per subject of ``domain``, and for each record of this frame its row there (-1: none)."""
    other = ctx.datasets[domain].drop_duplicates("USUBJID")
    return other, lookup(ctx.frame["USUBJID"], pd.Index(other["USUBJID"]))


def study_days(days: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """SDTM --DY from day numbers (MISSING: unknown) by the study-day rule, ``sdtmgen.dates.study_day``."""
    known = (days != MISSING) & (reference != MISSING)
    return study_day(np.where(known, days, np.nan), np.where(known, reference, np.nan))


@register_derivation("study_day", "--DY = date - reference + 1 on/after the reference, date - reference before (no day 0)",
                     example="{derive: study_day, target: LBDY, date: LBDTC}")
class StudyDay(Derivation):
    derive: Literal["study_day"]
    target: str = Field(description="the --DY variable")
    date: str = Field(description="its --DTC variable")
    reference: VariableRef = Field(VariableRef(domain="DM", variable="RFSTDTC"),
                                   description="day 1: any subject-level date, e.g. DM.RFXSTDTC; XD-DY-RFSTDTC checks "
                                               "against it")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.reference.domain, self.reference.variable)}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        subjects, rows = subject_positions(ctx, self.reference.domain)
        ref_days = iso_to_days(subjects[self.reference.variable])
        reference = np.where(rows >= 0, ref_days[np.maximum(rows, 0)] if len(ref_days) else MISSING, MISSING)
        frame[self.target] = study_days(iso_to_days(frame[self.date]), reference)


@register_derivation("epoch", "EPOCH of the subject element (SE) in which the record's date falls",
                     example="{derive: epoch, date: LBDTC}")
class Epoch(Derivation):
    derive: Literal["epoch"]
    target: str = Field("EPOCH", description="the variable written")
    date: str = Field(description="the record's --DTC (or --STDTC)")
    elements: str = Field("SE", description="the subject elements domain")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.elements, "SESTDTC"), (self.elements, "EPOCH")}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        se = ctx.datasets[self.elements]
        frame[self.target] = element_epochs(se["USUBJID"], iso_to_minutes(se["SESTDTC"]), se["EPOCH"],
                                            frame["USUBJID"], day_end_minutes(frame[self.date]))


def day_end_minutes(iso: pd.Series) -> np.ndarray:
    """Minutes of complete dates for comparison with date-times: a date without a time stands for its
    whole day, so it is read as the day's last minute (an element starting that day, at any time,
    contains it); values with a time keep their minute."""
    return iso_day_end_minutes(iso, _fallback_minutes)  # (per distinct value)


def day_end_timestamp(iso: pd.Series) -> pd.Series:
    """``day_end_minutes`` as timestamps (NaT for partial or missing values)."""
    return minutes_to_timestamps(day_end_minutes(iso), iso.index)


def element_epochs(se_subject: pd.Series, se_start: np.ndarray, se_epoch: pd.Series,
                   subject: pd.Series, when: np.ndarray):
    """EPOCH of the last element a subject started at or before each time (missing when none).

    Elements of one subject starting at the same time: the later one in SE wins.
    """
    se_codes, subjects = pd.factorize(se_subject, use_na_sentinel=True)
    codes = lookup(subject, pd.Index(subjects))
    se_known = (se_start != MISSING) & (se_codes >= 0)
    known = (when != MISSING) & (codes >= 0)
    times = np.concatenate([se_start[se_known], when[known]])
    low = times.min() if len(times) else 0
    span = (times.max() - low + 1) if len(times) else 1
    se_key = se_codes[se_known].astype(np.int64) * span + (se_start[se_known] - low)
    order = np.argsort(se_key, kind="stable")
    se_key = se_key[order]
    se_rows = np.flatnonzero(se_known)[order]
    key = codes[known].astype(np.int64) * span + (when[known] - low)
    at = np.searchsorted(se_key, key, side="right") - 1
    hit = at >= 0
    hit[hit] = se_key[at[hit]] // span == codes[known][hit]
    positions = np.full(len(when), -1, dtype=np.int64)
    positions[np.flatnonzero(known)[hit]] = se_rows[at[hit]]
    return take_text(se_epoch.astype("string[pyarrow]"), positions)
