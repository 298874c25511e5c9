"""The report's inputs: ADaM (and SDTM CM) frames, checked against the contract, and the groups.

Dates are SAS numeric dates (days since 1960-01-01), as ADaM keeps them; ``relative_day`` turns
a date into a day counted from an anchor with no day 0 (anchor = day 1, the day before = -1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from sdtmgen.errors import SdtmgenError
from sdtmgen.report.config import ReportConfig

SAS_EPOCH = pd.Timestamp("1960-01-01")


class ReportDataError(SdtmgenError):
    """An input dataset lacks what the report configuration needs."""


def is_y(values: pd.Series) -> pd.Series:
    """True where a flag is "Y" (case and blanks tolerated); missing counts as not flagged."""
    text = values.astype("string").str.strip().str.upper()
    return text.eq("Y").fillna(False).astype(bool)


def iso_to_sas(values: pd.Series) -> pd.Series:
    """ISO 8601 date/datetime text (date part used) -> SAS date number; partial or empty -> NaN."""
    text = values.astype("string").str.slice(0, 10)
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return ((dates - SAS_EPOCH).dt.days).astype("float64")


def relative_day(dates: pd.Series | np.ndarray, anchor: pd.Series | np.ndarray) -> np.ndarray:
    diff = np.asarray(dates, dtype="float64") - np.asarray(anchor, dtype="float64")
    return np.where(diff >= 0, diff + 1, diff)


def day_to_date(day: float, anchor: float) -> float:
    """Inverse of ``relative_day`` for day >= 1."""
    return anchor + day - 1


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

    @property
    def levels(self) -> list[str]:
        return [*self.groups, self.overall]

    def members(self, level: str) -> pd.DataFrame:
        """Safety-population subjects of one group, or all of them for the overall level."""
        if level == self.overall:
            return self.subjects
        return self.subjects[self.subjects["GROUP"] == level]

    def group_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` restricted to safety-population subjects, with their GROUP, ANCHOR and WEND."""
        return frame.merge(self.subjects, on="USUBJID", how="inner", suffixes=("", "_ADSL"))


def _frame(datasets: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = datasets.get(name)
    return frame.copy() if frame is not None else pd.DataFrame()


def needed_columns(cfg: ReportConfig) -> dict[str, set[str]]:
    """What each dataset must hold for this configuration."""
    need: dict[str, set[str]] = {"ADSL": {"USUBJID", cfg.groups.variable, cfg.groups.order_variable,
                                          cfg.populations.safety, cfg.window.anchor},
                                 "ADAE": set(), "ADLB": set(), "ADTTE": set(), "CM": set()}
    if cfg.last_contact:
        need["ADSL"].add(cfg.last_contact)
    for o in cfg.outcomes:
        if o.kind == "ae_summary":
            need["ADAE"] |= {"USUBJID", o.serious, o.grade, o.soc, o.term, *(w.flag for w in o.windows)}
            if o.treatment_emergent:
                need["ADAE"].add(o.treatment_emergent)
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
    bc = cfg.plots.blood_counts
    if bc is not None:
        need["ADLB"] |= {"USUBJID", "PARAMCD", "AVAL", cfg.lab_day}
        if bc.flag:
            need["ADLB"].add(bc.flag)
        if bc.febrile_neutropenia_flag:
            need["ADAE"] |= {"USUBJID", bc.febrile_neutropenia_flag, "ASTDT", "AENDT", cfg.ae_day}
    return need


def prepare(datasets: Mapping[str, pd.DataFrame], cfg: ReportConfig) -> Inputs:
    frames = {name: _frame(datasets, name) for name in ("ADSL", "ADAE", "ADLB", "ADTTE", "CM")}
    for name, columns in needed_columns(cfg).items():
        if columns and (name != "CM"):
            if frames[name].empty and not len(frames[name].columns):
                raise ReportDataError(f"{name} is missing; the report configuration uses it")
            require(frames[name], name, columns)
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
    for name in ("ADAE", "ADLB", "ADTTE", "CM"):
        if "USUBJID" in frames[name].columns:
            frames[name]["USUBJID"] = frames[name]["USUBJID"].astype(str)
    return Inputs(adsl=adsl, adae=frames["ADAE"], adlb=frames["ADLB"], adtte=frames["ADTTE"], cm=frames["CM"],
                  subjects=subjects, groups=groups, overall=cfg.groups.overall)
