"""Episode durations of one ADAE category (febrile neutropenia, infection, bleeding).

Records of a subject flagged for the category are merged into episodes when they overlap, touch
(one ends on day d, the next starts on d + 1) or leave at most ``merge_gap_days`` event-free days
between them (default 0).
An episode without an end, or ending after the window end (day ``last_day`` from the anchor, or the
subject's last contact if earlier), is cut there and flagged ``CUT``. Only episodes starting on
window days are kept (the incidence counts records starting there, so the two agree except for a
record that merges into an episode begun before day ``first_day``).
Duration = end - start + 1 days.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sdtmgen.report.ard import Ard
from sdtmgen.spec.report import EpisodeDuration, ReportConfig
from sdtmgen.report.data import Inputs, is_y, relative_day

EPISODE_COLUMNS = ["USUBJID", "GROUP", "START", "END", "START_DAY", "END_DAY", "DURATION", "CUT", "RECORDS"]


def merge_episodes(records: pd.DataFrame, gap: int) -> pd.DataFrame:
    """Merge one category's records per subject.

    ``records``: USUBJID, START, END (SAS dates; END NaN = ongoing). Returns USUBJID, START, END
    (NaN when an ongoing record is part of the episode) and RECORDS (how many were merged), by
    USUBJID and START. Records sorted by start: a record opens a new episode when it starts more than
    ``gap`` + 1 days after the latest end of the subject's earlier records (which is the open
    episode's end, every earlier episode having ended before it started).
    """
    frame = records.dropna(subset=["START"]).sort_values(["USUBJID", "START", "END"], kind="stable")
    usubjid = frame["USUBJID"].to_numpy(dtype=object)
    start = frame["START"].to_numpy(float)
    end = frame["END"].to_numpy(float)
    end = np.where(np.isnan(end), math.inf, np.fmax(end, start))
    first = np.ones(len(frame), dtype=bool)
    first[1:] = usubjid[1:] != usubjid[:-1]
    subject = np.cumsum(first) - 1
    latest = pd.Series(end).groupby(subject).cummax().to_numpy()  # latest end so far, within the subject
    before = np.concatenate(([-math.inf], latest[:-1]))
    opens = first | (start > before + 1 + gap)
    episode = np.cumsum(opens) - 1
    merged = pd.DataFrame({"USUBJID": usubjid[opens], "START": start[opens],
                           "END": np.maximum.reduceat(end, np.flatnonzero(opens)) if len(end) else end,
                           "RECORDS": np.bincount(episode, minlength=int(opens.sum())) if len(end) else episode})
    merged["END"] = merged["END"].replace(math.inf, np.nan)
    return merged


def episodes(inputs: Inputs, flag: str, cfg: ReportConfig, gap: int) -> pd.DataFrame:
    """Merged, window-cut episodes of the safety population for one ADAE flag."""
    ae = inputs.group_of(inputs.adae)
    ae = ae[is_y(ae[flag])]
    records = pd.DataFrame({"USUBJID": ae["USUBJID"].to_numpy(),
                            "START": pd.to_numeric(ae["ASTDT"], errors="coerce").to_numpy(float),
                            "END": pd.to_numeric(ae["AENDT"], errors="coerce").to_numpy(float)})
    merged = merge_episodes(records, gap).merge(inputs.subjects, on="USUBJID", how="inner")
    start_day = relative_day(merged["START"], merged["ANCHOR"])
    keep = (start_day >= cfg.window.first_day) & (start_day <= cfg.window.last_day)
    merged = merged[keep].copy()
    limit = merged["WEND"].to_numpy(float)
    end = merged["END"].to_numpy(float)
    cut = np.isnan(end) | (end > limit)
    merged["END"] = np.where(cut, np.fmax(limit, merged["START"].to_numpy(float)), end)
    merged["CUT"] = cut
    merged["START_DAY"] = relative_day(merged["START"], merged["ANCHOR"])
    merged["END_DAY"] = relative_day(merged["END"], merged["ANCHOR"])
    merged["DURATION"] = merged["END"] - merged["START"] + 1
    return merged[EPISODE_COLUMNS].sort_values(["USUBJID", "START"], kind="stable").reset_index(drop=True)


QUANTILE_METHOD = "averaged_inverted_cdf"  # Hyndman-Fan type 2, cards' p25/p75 (SAS PCTLDEF=5)


def summary_stats(values: np.ndarray) -> dict[str, float]:
    """mean, sd (n - 1), median, p25, p75 (Hyndman-Fan type 2, as cards and SAS by default), min, max."""
    d = np.asarray(values, dtype=float)
    d = d[~np.isnan(d)]
    if not len(d):
        return {name: math.nan for name in ("mean", "sd", "median", "p25", "p75", "min", "max")}
    p25, median, p75 = np.quantile(d, [0.25, 0.5, 0.75], method=QUANTILE_METHOD)
    return {"mean": float(d.mean()), "sd": float(d.std(ddof=1)) if len(d) > 1 else math.nan,
            "median": float(median), "p25": float(p25), "p75": float(p75),
            "min": float(d.min()), "max": float(d.max())}


def episode_duration(ard: Ard, inputs: Inputs, outcome: EpisodeDuration, cfg: ReportConfig) -> pd.DataFrame:
    eps = episodes(inputs, outcome.flag, cfg, outcome.merge_gap_days)
    analysis = f"{outcome.flag}.DURATION"
    merge = ("overlapping or touching records merged" if not outcome.merge_gap_days else
             f"records with <= {outcome.merge_gap_days} event-free day(s) between them merged")
    label = (f"{outcome.title} (episodes starting on days {cfg.window.first_day}-{cfg.window.last_day}, "
             f"{merge}, cut at day {cfg.window.last_day})")
    totals = eps.groupby("USUBJID", sort=True)["DURATION"].sum()
    total_label = (f"{outcome.title}: total days per subject with an episode (episodes as above, "
                   f"summed per subject)")
    for level in inputs.levels:
        members = inputs.members(level)
        rows = eps[eps["USUBJID"].isin(members["USUBJID"])]
        stats = {"n_subjects": int(rows["USUBJID"].nunique()), "n": int(len(rows)),
                 **summary_stats(rows["DURATION"].to_numpy(float)), "n_cut": int(rows["CUT"].sum())}
        for name, value in stats.items():
            ard.add(outcome.number, analysis, label, level, "DURATION", name, value,
                    variable_label="Episode duration (days)", context="continuous",
                    stat_label={"n": "n (episodes)"}.get(name))
        subject_totals = totals[totals.index.isin(members["USUBJID"])].to_numpy(float)
        for name, value in {"n": len(subject_totals), **summary_stats(subject_totals)}.items():
            ard.add(outcome.number, f"{outcome.flag}.SUBJECT_TOTAL", total_label, level, "TOTAL_DURATION", name,
                    int(value) if name == "n" else value, variable_label="Total days per subject",
                    context="continuous", stat_label={"n": "n (subjects)"}.get(name))
    return eps
