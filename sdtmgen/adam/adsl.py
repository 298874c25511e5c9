"""Subject level (ADSL): treatment groups, subject dates, populations, disposition, record-based flags."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import (AdamContext, AdamDerivation, DatasetVariable, Distinct, Params, first_positions,
                               flag_array, present, register_adam_derivation, relative_day, take_rows,
                               text_from_codes)
from sdtmgen.conditions import Condition
from sdtmgen.dates import TIME_FLAG_LEVELS, impute_clock, iso_date, iso_datetime, parse_iso_date, to_sas_date


@register_adam_derivation("treatment_group", "treatment group text and number (TRTxxP/TRTxxPN, TRTxxA/TRTxxAN): "
                                             "the arm's description, numbered by the position of its code in 'order'",
                          example="{derive: treatment_group, target: TRT01P, numeric: TRT01PN, code: _ARMCD, text: ARM, order: [DL1, DL2, DL3]}")
class TreatmentGroup(AdamDerivation):
    derive: Literal["treatment_group"]
    target: str = Field(description="the text variable (TRT01P)")
    numeric: str = Field(description="the numeric variable (TRT01PN)")
    code: str = Field(description="variable of this dataset holding the arm code (e.g. a copy of DM.ARMCD)")
    text: str = Field(description="variable of this dataset holding the arm description (DM.ARM)")
    order: list[str] = Field(default_factory=list,
                             description="arm codes in dose order (N = position); default: the study's arms")

    def produces(self) -> set[str]:
        return {self.target, self.numeric}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        order = self.order or [a.armcd for a in ctx.study.arms]
        numbers = {code: float(i) for i, code in enumerate(order, start=1)}
        code = ctx.column(self.code).astype("string[pyarrow]").str.strip()
        text = ctx.column(self.text).astype("string[pyarrow]").str.strip()
        number = code.map(numbers).astype("float64")
        stray = (present(code) & number.isna().to_numpy()) if len(frame) else np.zeros(0, dtype=bool)
        if stray.any():
            ctx.warn("ADSL-TRTN", self.numeric, f"arm codes not in the order list {order}: "
                     f"{sorted(set(code[stray]))}; {self.numeric} left empty", stray)
        frame[self.target] = text.where(present(text)).array
        frame[self.numeric] = number.to_numpy()


class DateSource(Params):
    dataset: str = Field(description="the SDTM (or ADaM) dataset holding the dates")
    variable: str = Field(description="an ISO 8601 --DTC variable; only complete dates count")
    where: Optional[Condition] = Field(None, description="only records where this holds")


@register_adam_derivation("subject_date", "first (min) or last (max) complete date of the subject over one or "
                                          "more SDTM variables, as a SAS date or datetime",
                          example="{derive: subject_date, target: DTHDT, agg: min, sources: [{dataset: DM, variable: DTHDTC}]}")
class SubjectDate(AdamDerivation):
    derive: Literal["subject_date"]
    target: str = Field(description="the SAS date (datetime) variable, e.g. TRTSDT")
    sources: list[DateSource] = Field(min_length=1, description="the dates looked at, over every source")
    agg: Literal["min", "max"] = Field(description="the first (min) or last (max) date")
    kind: Literal["date", "datetime"] = Field("date", description="SAS date, or SAS datetime (a missing time is 00:00)")
    time_flag: Optional[str] = Field(None, description="time imputation flag variable (e.g. TRTSTMF), kind datetime "
                                                       "only: H when the chosen date had no time (or no hour), M "
                                                       "when it had no minutes, S (see flag_seconds); else empty")
    flag_seconds: bool = Field(False, description="the seconds are collected: flag S when only they are missing "
                                                  "(ADaMIG 1.3 3.1.3: seconds not collected need no flag)")

    @model_validator(mode="after")
    def _time_flag_needs_datetime(self) -> "SubjectDate":
        if self.kind != "datetime" and (self.time_flag or self.flag_seconds):
            raise ValueError("time_flag and flag_seconds need kind: datetime (a SAS date has no time to impute)")
        return self

    def produces(self) -> set[str]:
        return {self.target} | ({self.time_flag} if self.time_flag else set())

    def needs(self) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for src in self.sources:
            found |= {(src.dataset, src.variable), (src.dataset, "USUBJID")}
            if src.where is not None:
                found |= {(src.dataset, c) for c in src.where.columns()}
        return found

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        subjects = frame["USUBJID"]
        def to_sas(iso: pd.Series) -> pd.Series:
            days = to_sas_date(parse_iso_date(iso))
            # the time as the time flag reads it: an hour alone (THH) is that hour, not midnight
            return days * 86400.0 + impute_clock(iso)[0] if self.kind == "datetime" else days

        pick = np.fmin if self.agg == "min" else np.fmax
        found = np.full(len(frame), np.nan)
        chosen = []
        for src in self.sources:
            data = ctx.source(src.dataset)
            if src.where is not None:
                data = data[[src.variable, "USUBJID"]][src.where.evaluate(data)]
            distinct = Distinct(data[src.variable])
            value = distinct.map(lambda iso: to_sas(iso).to_numpy(dtype=float))
            row = first_positions(data["USUBJID"], subjects)
            known = (row >= 0) & ~np.isnan(value)
            pick.at(found, row[known], value[known])  # ordered dates: the extreme date is the extreme number
            if self.time_flag:
                chosen.append((distinct, value, row, known))
        at = first_positions(subjects, subjects)
        frame[self.target] = found[at]
        if self.time_flag:
            # the flag of the record giving the date; of tied records the least imputed (a collected
            # 00:00 beside a date alone is not an imputed time)
            level = np.full(len(frame), len(TIME_FLAG_LEVELS))
            for distinct, value, row, known in chosen:
                levels = distinct.map(lambda iso: impute_clock(iso, "first", self.flag_seconds)[1])
                hit = np.flatnonzero(known)[value[known] == found[row[known]]]
                np.minimum.at(level, row[hit], levels[hit])
            level = np.where(level == len(TIME_FLAG_LEVELS), -1, level)[at]
            frame[self.time_flag] = text_from_codes(level, TIME_FLAG_LEVELS)


class Prefixes(Params):
    """Text starting with any of the prefixes (e.g. ATC classes J01, J02, J05 in CMCLASCD)."""

    column: str = Field(description="text variable of the source, e.g. CMCLASCD")
    starts_with: list[str] = Field(min_length=1, description="the prefixes")
    ignore_case: bool = Field(True, description="compare regardless of case")


class Above(Params):
    """A numeric column greater than a value (e.g. EXDOSE > 0: a dose was given); missing or
    non-numeric values do not qualify."""

    column: str = Field(description="numeric variable of the source, e.g. EXDOSE")
    value: float = Field(0, description="the value it must exceed")


class DayWindow(Params):
    """A source date counted in days from a date variable of this dataset (anchor = day 1, no day 0)."""

    anchor: str = Field(description="SAS date variable of this dataset, e.g. CHEMSDT")
    date: str = Field(description="ISO 8601 variable of the source, e.g. CMSTDTC")
    from_day: int = Field(description="first day of the window")
    to_day: int = Field(description="last day of the window")

    @model_validator(mode="after")
    def _ordered(self) -> "DayWindow":
        if self.to_day < self.from_day:
            raise ValueError("to_day is before from_day")
        return self


@register_adam_derivation("record_flag", "Y when the subject has at least one record of a dataset that meets a "
                                         "condition (and optionally starts within a day window), else N",
                          example="{derive: record_flag, target: SAFFL, dataset: EX, where: {column: EXSTDTC, missing: false}, above: {column: EXDOSE, value: 0}}")
class RecordFlag(AdamDerivation):
    derive: Literal["record_flag"]
    target: str = Field(description="the flag variable, e.g. SAFFL")
    dataset: str = Field(description="the dataset whose records are looked at, e.g. EX")
    where: Optional[Condition] = Field(None, description="only records where this holds")
    prefixes: Optional[Prefixes] = Field(None, description="only records whose text starts with one of these")
    above: Optional[Above] = Field(None, description="only records whose number exceeds a value")
    window: Optional[DayWindow] = Field(None, description="only records whose date lies in a day window")
    yes: str = Field("Y", description="value for a subject with such a record")
    no: Optional[str] = Field("N", description="value for the others (null: missing)")

    def needs(self) -> set[tuple[str, str]]:
        read = {"USUBJID"}
        if self.where is not None:
            read |= self.where.columns()
        if self.prefixes is not None:
            read.add(self.prefixes.column)
        if self.above is not None:
            read.add(self.above.column)
        if self.window is not None:
            read.add(self.window.date)
        return {(self.dataset, c) for c in read}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        data = ctx.source(self.dataset)
        keep = np.ones(len(data), dtype=bool)
        if self.where is not None:
            keep &= self.where.evaluate(data)
        if self.prefixes is not None:
            text = data[self.prefixes.column].astype("string[pyarrow]").str.strip()
            starts = self.prefixes.starts_with
            if self.prefixes.ignore_case:
                text, starts = text.str.upper(), [s.upper() for s in starts]
            keep &= text.str.startswith(tuple(starts)).fillna(False).to_numpy(dtype=bool)
        if self.above is not None:
            number = pd.to_numeric(data[self.above.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            keep &= np.greater(number, self.above.value, where=~np.isnan(number), out=np.zeros(len(number), bool))
        subjects = data["USUBJID"][keep]
        if self.window is not None:
            anchor = take_rows(ctx.column(self.window.anchor), first_positions(subjects, frame["USUBJID"]))
            day = relative_day(to_sas_date(iso_date(data[self.window.date][keep])), pd.Series(anchor))
            inside = ((day >= self.window.from_day) & (day <= self.window.to_day)).to_numpy(dtype=bool)
            subjects = subjects[inside]
        hit = first_positions(frame["USUBJID"], subjects) >= 0
        frame[self.target] = flag_array(hit, self.yes, self.no)


@register_adam_derivation("disposition_status", "end-of-study status (COMPLETED / DISCONTINUED / ONGOING) and "
                                                "reason for discontinuation from the disposition records",
                          example="{derive: disposition_status, where: {column: DSCAT, equals: DISPOSITION EVENT}, completed: [COMPLETED]}")
class DispositionStatus(AdamDerivation):
    derive: Literal["disposition_status"]
    target: str = Field("EOSSTT", description="the status variable")
    reason: str = Field("DCSREAS", description="the reason variable: the last record's decod when discontinued")
    dataset: str = Field("DS", description="the disposition dataset")
    where: Optional[Condition] = Field(None, description="only records where this holds (e.g. DSCAT = DISPOSITION EVENT)")
    decod: str = Field("DSDECOD", description="the standardised disposition term")
    date: str = Field("DSSTDTC", description="ISO 8601 date ordering the records: the last one decides")
    completed: list[str] = Field(default_factory=lambda: ["COMPLETED"],
                                 description="decod values meaning completed (case ignored)")
    completed_value: str = Field("COMPLETED", description="status when the last record is a completion")
    discontinued_value: str = Field("DISCONTINUED", description="status when it is anything else")
    ongoing_value: str = Field("ONGOING", description="status of a subject without a record")

    def produces(self) -> set[str]:
        return {self.target, self.reason}

    def needs(self) -> set[tuple[str, str]]:
        read = {"USUBJID", self.decod, self.date} | (self.where.columns() if self.where is not None else set())
        return {(self.dataset, c) for c in read}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        data = ctx.source(self.dataset)
        if self.where is not None:
            data = data[self.where.evaluate(data)]
        data = data.assign(_T=iso_datetime(data[self.date]).to_numpy())
        last = data.sort_values("_T", kind="mergesort", na_position="first").drop_duplicates("USUBJID", keep="last")
        decod = last.set_index(last["USUBJID"].astype(str))[self.decod].astype("string[pyarrow]").str.strip()
        subject_decod = pd.Series(frame["USUBJID"].astype(str).map(decod).to_numpy(), index=frame.index,
                                  dtype="string[pyarrow]")
        done = subject_decod.str.upper().isin([c.upper() for c in self.completed]).fillna(False).to_numpy(dtype=bool)
        has = present(subject_decod)
        status = pd.Series(self.ongoing_value, index=frame.index, dtype="string[pyarrow]")
        status[has & done] = self.completed_value
        status[has & ~done] = self.discontinued_value
        reason = subject_decod.where(has & ~done)
        frame[self.target] = status.array
        frame[self.reason] = reason.array


class FlagValue(Params):
    variable: str = Field(description="the flag variable of this dataset, e.g. SAFFL")
    equals: str = Field("Y", description="the value meaning in the population")


@register_adam_derivation("dlt_evaluable", "DLT-evaluable: in the population and followed to the end of the DLT "
                                           "window (start + window_days - 1), or had a DLT",
                          example="{derive: dlt_evaluable, window_days: 14, start: TRTSDT, followed_until: LSTALVDT, dlt: {dataset: ADAE, variable: DLTFL}}")
class DltEvaluable(AdamDerivation):
    derive: Literal["dlt_evaluable"]
    target: str = Field("DLTEVLFL", description="the flag variable")
    population: FlagValue = Field(FlagValue(variable="SAFFL"), description="the population the subject must be in")
    start: str = Field("TRTSDT", description="SAS date of day 1 of the DLT window")
    followed_until: str = Field("LSTALVDT", description="SAS date the subject is known to be followed to")
    window_days: int = Field(ge=1, description="length of the DLT window in days")
    dlt: DatasetVariable = Field(DatasetVariable(dataset="ADAE", variable="DLTFL"),
                                 description="the per-event DLT flag (a subject with one is evaluable)")
    dlt_value: str = Field("Y", description="value of that flag meaning a DLT")
    yes: str = Field("Y", description="value for an evaluable subject")
    no: str = Field("N", description="value for the others")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.dlt.dataset, self.dlt.variable), (self.dlt.dataset, "USUBJID")}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        in_pop = (ctx.column(self.population.variable).astype("string[pyarrow]") == self.population.equals)
        in_pop = in_pop.fillna(False).to_numpy(dtype=bool)
        start = pd.to_numeric(ctx.column(self.start), errors="coerce").to_numpy(dtype=float)
        until = pd.to_numeric(ctx.column(self.followed_until), errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            completed = until >= start + self.window_days - 1
        events = ctx.source(self.dlt.dataset)
        with_dlt = set(events.loc[(events[self.dlt.variable].astype("string[pyarrow]") == self.dlt_value).fillna(False)
                                  .to_numpy(dtype=bool), "USUBJID"].astype(str))
        had = frame["USUBJID"].astype(str).isin(with_dlt).to_numpy(dtype=bool)
        frame[self.target] = flag_array(in_pop & (completed | had), self.yes, self.no)
