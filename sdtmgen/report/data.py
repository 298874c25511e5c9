"""The report's inputs: ADaM (and SDTM CM) frames, checked against the contract, and the groups.

Dates are SAS numeric dates (days since 1960-01-01), as ADaM keeps them; ``relative_day`` turns
a date into a day counted from an anchor with no day 0 (anchor = day 1, the day before = -1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from sdtmgen.dates import iso_sas_date, study_day
from sdtmgen.errors import SdtmgenError
from sdtmgen.spec.report import ReportConfig



class ReportDataError(SdtmgenError):
    """An input dataset lacks what the report configuration needs."""


def per_distinct(values: pd.Series, test, dtype=bool) -> pd.Series:
    """``test`` (Series of distinct values -> array) evaluated once per distinct value, not per row.

    Missing values are passed to ``test`` too (as one more distinct value), so the answer for them is
    the test's own.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = values.cat.codes.to_numpy(), pd.Series(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Series(uniques)
    answers = np.append(np.asarray(test(uniques.astype(object)), dtype=dtype),
                        np.asarray(test(pd.Series([np.nan], dtype=object)), dtype=dtype)[:1])
    return pd.Series(answers[codes], index=values.index)  # code -1 (missing) takes the last answer


def _flag_y(values: pd.Series) -> pd.Series:
    text = values.astype("string[pyarrow]").str.strip().str.upper()
    return text.eq("Y").fillna(False).astype(bool)


def is_y(values: pd.Series) -> pd.Series:
    """True where a flag is "Y" (case and blanks tolerated); missing counts as not flagged."""
    return per_distinct(values, _flag_y)


def text_is(values: pd.Series, text: str) -> pd.Series:
    """``values.astype(str) == text``, judged once per distinct value."""
    return per_distinct(values, lambda u: u.astype(str).eq(text))


def distinct_texts(values: pd.Series) -> list[str]:
    """The sorted distinct non-missing values as text."""
    present = values.dropna()
    if isinstance(present.dtype, pd.CategoricalDtype):
        present = present.cat.remove_unused_categories().cat.categories.to_series()
    return sorted(set(present.astype(str).unique()))


def iso_to_sas(values: pd.Series) -> pd.Series:
    """ISO 8601 date/datetime text (date part used) -> SAS date number; partial or empty -> NaN
    (``sdtmgen.dates.iso_sas_date``)."""
    return iso_sas_date(values)


def relative_day(dates: pd.Series | np.ndarray, anchor: pd.Series | np.ndarray) -> np.ndarray:
    """Day of SAS ``dates`` from the window ``anchor`` (day 1) by the study-day rule, ``sdtmgen.dates.study_day``."""
    return study_day(dates, anchor)


def require(frame: pd.DataFrame, name: str, columns: Iterable[str | None]) -> None:
    missing = sorted({c for c in columns if c and c not in frame.columns})
    if missing:
        raise ReportDataError(f"{name} lacks {', '.join(missing)}, which the report configuration uses")


@dataclass
class Inputs:
    """The datasets, the safety population with each subject's dose group, and the group order."""

    adsl: pd.DataFrame
    adae: pd.DataFrame
    adlb: pd.DataFrame
    adtte: pd.DataFrame
    cm: pd.DataFrame
    subjects: pd.DataFrame  # USUBJID, GROUP, ANCHOR (window day 1), WEND (window end date), DLTEVL
    groups: list[str]  # dose groups ordered by dose level
    overall: str
    vs: pd.DataFrame = field(default_factory=pd.DataFrame)  # SDTM VS (the derived febrile-neutropenia check)

    @property
    def levels(self) -> list[str]:
        return [*self.groups, self.overall]

    def members(self, level: str) -> pd.DataFrame:
        """Safety-population subjects of one group, or all of them for the overall level."""
        if level == self.overall:
            return self.subjects
        return self.subjects[self.subjects["GROUP"] == level]

    @cached_property
    def _sizes(self) -> dict[str, int]:
        return {level: len(self.members(level)) for level in self.levels}

    def size(self, level: str) -> int:
        """Number of safety-population subjects of one group (or all of them for the overall level)."""
        return self._sizes[level] if level in self._sizes else len(self.members(level))

    def group_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` restricted to safety-population subjects, with their GROUP, ANCHOR, WEND and DLTEVL.

        Rows keep their order and index; the subject columns are looked up by position, not merged.
        """
        position = subject_positions(frame["USUBJID"], self.subjects["USUBJID"])
        keep = position >= 0
        rows, position = frame[keep].copy(deep=False), position[keep]  # (assign would copy the rows again)
        for name in SUBJECT_COLUMNS:
            rows[name] = self.subjects[name].to_numpy()[position]
        return rows


SUBJECT_COLUMNS = ("GROUP", "ANCHOR", "WEND", "DLTEVL")


def subject_positions(usubjid: pd.Series, subjects: pd.Series) -> np.ndarray:
    """Row of ``subjects`` (unique USUBJIDs) for each value, -1 when not there."""
    return pd.Categorical(usubjid, categories=pd.Index(subjects)).codes.astype(np.int64)


def _frame(datasets: Mapping[str, pd.DataFrame], name: str, keep: set[str], numbers: set[str]) -> pd.DataFrame:
    """The columns the report reads; text (not ``numbers``) as categories, compared once per distinct value."""
    frame = datasets.get(name)
    if frame is None:
        return pd.DataFrame()
    columns = [c for c in frame.columns if c in keep]
    out = {}
    for column in columns:
        values = frame[column]
        textual = pd.api.types.is_string_dtype(values.dtype) or pd.api.types.is_object_dtype(values.dtype)
        categorise = textual and column not in numbers and not isinstance(values.dtype, pd.CategoricalDtype)
        out[column] = values.astype("category") if categorise else values
    # copy=False: the columns kept as they are (not copied into one block: the report only reads them)
    return pd.DataFrame(out, index=frame.index, copy=False)


def needed_columns(cfg: ReportConfig) -> dict[str, set[str]]:
    """What each dataset must hold for this configuration."""
    need: dict[str, set[str]] = {"ADSL": {"USUBJID", cfg.groups.variable, cfg.groups.order_variable,
                                          cfg.populations.safety, cfg.window.anchor},
                                 "ADAE": set(), "ADLB": set(), "ADTTE": set(), "CM": set(), "VS": set()}
    if cfg.last_contact:
        need["ADSL"].add(cfg.last_contact)
    for o in cfg.outcomes:
        if o.kind == "ae_summary":
            need["ADAE"] |= {"USUBJID", o.serious, o.grade, o.soc, o.term, *(w.flag for w in o.windows)}
            if o.treatment_emergent:
                need["ADAE"].add(o.treatment_emergent)
            if o.related is not None:
                need["ADAE"].add(o.related.variable)
        elif o.kind == "dlt":
            need["ADSL"].add(cfg.populations.dlt_evaluable)
            need["ADAE"] |= {"USUBJID", o.flag, o.term}
        elif o.kind == "recovery":
            need["ADTTE"] |= {"USUBJID", "PARAMCD", "AVAL", "CNSR"}
        elif o.kind == "event_incidence":
            need["ADAE"] |= {"USUBJID", o.flag, cfg.ae_day}
        elif o.kind == "episode_duration":
            need["ADAE"] |= {"USUBJID", o.flag, "ASTDT", "AENDT", cfg.ae_day}
        elif o.kind == "lab_incidence":
            need["ADLB"] |= {"USUBJID", "PARAMCD", cfg.lab_day, *o.flags}
        elif o.kind == "subject_flags":
            need["ADSL"] |= {f.flag for f in o.flags}
            if o.medications is not None:
                m = o.medications
                need["CM"] |= {"USUBJID", m.class_variable, m.date, *([m.indication] if m.indication else [])}
            if o.counts is not None:
                c = o.counts
                need["CM"] |= {"USUBJID", c.category_variable, c.date,
                               *(v for v in (c.type_variable, c.amount, c.amount_unit) if v)}
    fn = cfg.febrile_neutropenia_check
    if fn is not None:
        need["ADLB"] |= {"USUBJID", "PARAMCD", "AVAL", "ADT"}
        need["ADAE"] |= {"USUBJID", fn.reported_flag, cfg.ae_day, "ASTDT", "AENDT", fn.term}
        need["VS"] |= {"USUBJID", fn.testcd_variable, fn.result, fn.datetime}
    bc = cfg.plots.blood_counts
    if bc is not None:
        need["ADLB"] |= {"USUBJID", "PARAMCD", "AVAL", cfg.lab_day}
        if bc.flag:
            need["ADLB"].add(bc.flag)
        if bc.febrile_neutropenia_flag:
            need["ADAE"] |= {"USUBJID", bc.febrile_neutropenia_flag, "ASTDT", "AENDT", cfg.ae_day}
    return need


def optional_columns(cfg: ReportConfig) -> dict[str, set[str]]:
    """Columns read when present: texts shown in labels (PARAM, CRITn) and the transfusion markers."""
    optional: dict[str, set[str]] = {"ADSL": set(), "ADAE": set(), "ADLB": set(), "ADTTE": {"PARAM"}, "CM": set(),
                                     "VS": set()}
    for o in cfg.outcomes:
        if o.kind == "lab_incidence":
            optional["ADLB"] |= {f[:-2] for f in o.flags if f.endswith("FL")}
    bc = cfg.plots.blood_counts
    if bc is not None and bc.transfusions is not None:
        t = bc.transfusions
        optional["CM"] |= {"USUBJID", "CMCAT", t.date, t.type_variable}
    return optional


def prepare(datasets: Mapping[str, pd.DataFrame], cfg: ReportConfig) -> Inputs:
    need, optional = needed_columns(cfg), optional_columns(cfg)
    for name, columns in need.items():
        if columns and name not in ("CM", "VS"):
            found = datasets.get(name)
            if found is None or (found.empty and not len(found.columns)):
                raise ReportDataError(f"{name} is missing; the report configuration uses it")
            require(found, name, columns)
    numbers = {"AVAL", "CNSR", "ASTDT", "AENDT", "ADT", cfg.ae_day, cfg.lab_day,
               *(o.counts.amount for o in cfg.outcomes if o.kind == "subject_flags" and o.counts and o.counts.amount)}
    if cfg.febrile_neutropenia_check is not None:
        numbers |= {cfg.febrile_neutropenia_check.result, cfg.febrile_neutropenia_check.datetime}
    frames = {name: _frame(datasets, name, need[name] | optional[name], numbers)
              for name in ("ADAE", "ADLB", "ADTTE", "CM", "VS")}
    frames["ADSL"] = datasets["ADSL"].copy()
    adsl = frames["ADSL"]
    safety = adsl[is_y(adsl[cfg.populations.safety])]
    order = (safety[[cfg.groups.variable, cfg.groups.order_variable]].drop_duplicates()
             .sort_values([cfg.groups.order_variable, cfg.groups.variable], kind="stable"))
    clash = order[cfg.groups.variable].duplicated()
    if clash.any():
        raise ReportDataError(f"ADSL: dose group {order[cfg.groups.variable][clash].iloc[0]!r} has more than one "
                              f"{cfg.groups.order_variable}")
    groups = [str(g) for g in order[cfg.groups.variable]]
    if cfg.groups.overall in groups:
        raise ReportDataError(f"a dose group is called {cfg.groups.overall!r}, the overall label; rename it in report.yaml")
    anchor = pd.to_numeric(safety[cfg.window.anchor], errors="coerce").astype("float64")
    wend = anchor + cfg.window.last_day - 1
    if cfg.last_contact:
        wend = np.fmin(wend, pd.to_numeric(safety[cfg.last_contact], errors="coerce").astype("float64"))
    subjects = pd.DataFrame({
        "USUBJID": safety["USUBJID"].astype(str).to_numpy(),
        "GROUP": safety[cfg.groups.variable].astype(str).to_numpy(),
        "ANCHOR": anchor.to_numpy(),
        "WEND": np.asarray(wend, dtype="float64"),
        "DLTEVL": (is_y(safety[cfg.populations.dlt_evaluable]).to_numpy()
                   if cfg.populations.dlt_evaluable in safety.columns else False),
    }).sort_values("USUBJID", kind="stable").reset_index(drop=True)
    return Inputs(adsl=adsl, adae=frames["ADAE"], adlb=frames["ADLB"], adtte=frames["ADTTE"], cm=frames["CM"],
                  subjects=subjects, groups=groups, overall=cfg.groups.overall, vs=frames["VS"])
