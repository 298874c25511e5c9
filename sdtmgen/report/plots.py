"""Figures as PNG bytes: Kaplan-Meier curves by dose group, blood counts by subject or by day.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), in the
default style whatever the user's matplotlibrc, and saved without the Software/date metadata so the
same data give the same bytes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sdtmgen.report import draw
from sdtmgen.spec.report import BloodCounts, ReportConfig
from sdtmgen.report.data import Inputs, is_y, iso_to_sas, per_distinct, relative_day, subject_positions, text_is
from sdtmgen.report.km import KmFit

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
FN_COLOR = "#f4a582"


_png, _figure, _style = draw.png, draw.figure, draw.style


def at_risk(km: KmFit, days: np.ndarray) -> np.ndarray:
    """Subjects still at risk (not yet recovered nor censored before) at each day of ``days``."""
    index = np.searchsorted(km.time, days, side="left")
    padded = np.append(km.n_risk, 0)
    return padded[np.minimum(index, len(km.n_risk))].astype(int)


RISK_STEP = 7   # days between the columns of the number-at-risk table
RISK_ROW = 0.17  # inches per row of that table


def km_spec(title: str, fits: dict[str, KmFit], groups: list[str], cfg: ReportConfig) -> dict:
    """What ``draw.km`` draws (plain numbers, arrays and text): see ``km_plot``."""
    shown = [lv for lv in groups if fits.get(lv) is not None and fits[lv].n]
    table = (len(shown) + 1) * RISK_ROW + 0.1 if shown else 0.0
    days = np.arange(0, cfg.window.last_day + 1, RISK_STEP, dtype=float)
    curves = []
    for i, level in enumerate(groups):
        km = fits.get(level)
        if km is None or not km.n:
            continue
        x = np.append(km.timeline, max(km.timeline[-1], cfg.window.last_day))
        low, high = 1 - np.append(km.high, km.high[-1]), 1 - np.append(km.low, km.low[-1])
        at = np.searchsorted(km.timeline, km.censor_times, side="right") - 1  # S(t) right-continuous
        curves.append({"label": f"{level} (n={km.n}, recovered {km.events})", "color": COLORS[i % len(COLORS)],
                       "x": x, "y": 1 - np.append(km.survival, km.survival[-1]), "low": low, "high": high,
                       "band": ~np.isnan(low) & ~np.isnan(high), "censor_x": km.censor_times,
                       "censor_y": 1 - km.survival[at] if len(km.censor_times) else np.empty(0)})
    return {"width": cfg.plots.km_width, "height": cfg.plots.km_height + table, "table": table,
            "left": max(0.75, 0.065 * max((len(lv) for lv in shown), default=0) + 0.3), "days": days,
            "risk_row": RISK_ROW,
            "at_risk": [(level, COLORS[groups.index(level) % len(COLORS)], at_risk(fits[level], days))
                        for level in shown],
            "curves": curves, "last_day": cfg.window.last_day,
            "xlabel": f"Days from {cfg.labels.get(cfg.window.anchor, cfg.window.anchor)} (day 1)",
            "ylabel": "Cumulative incidence of recovery, 1 - KM", "title": title, "dpi": cfg.plots.dpi}


def km_plot(title: str, fits: dict[str, KmFit], groups: list[str], cfg: ReportConfig) -> bytes:
    """Cumulative incidence of recovery, 1 - S(t), per dose group with its pointwise log-log band
    (shaded where R gives both limits); + marks censored subjects; under the x axis the number of
    subjects at risk per group every week (days 0, 7, 14, ...)."""
    return draw.km(km_spec(title, fits, groups, cfg))


def transfusion_days(inputs: Inputs, bc: BloodCounts) -> pd.DataFrame:
    """USUBJID, DAY (from the window anchor), LABEL, PANEL, COLOR of transfusions."""
    cm = inputs.cm
    t = bc.transfusions
    columns = ["USUBJID", "DAY", "LABEL", "PANEL", "COLOR"]
    if t is None or cm.empty or not {"USUBJID", "CMCAT", t.date}.issubset(cm.columns):
        return pd.DataFrame(columns=columns)
    rows = inputs.group_of(cm[text_is(cm["CMCAT"], t.category)])
    rows = rows.assign(DAY=relative_day(iso_to_sas(rows[t.date]), rows["ANCHOR"]))
    types = {x.value: x for x in t.types}
    kind = (per_distinct(rows[t.type_variable], lambda u: u.astype(str), dtype=object) if t.type_variable in rows.columns
            else pd.Series("", index=rows.index, dtype=object))
    out = pd.DataFrame({
        "USUBJID": rows["USUBJID"].to_numpy(dtype=object), "DAY": rows["DAY"].to_numpy(),
        "LABEL": kind.map(lambda k: types[k].label if k in types else "Transfusion").to_numpy(dtype=object),
        "PANEL": kind.map(lambda k: types[k].panel if k in types else None).to_numpy(dtype=object),
        "COLOR": kind.map(lambda k: types[k].color if k in types else "tab:red").to_numpy(dtype=object),
    })
    return out.dropna(subset=["DAY"]).sort_values(["USUBJID", "DAY", "LABEL"], kind="stable")[columns]


def window_values(inputs: Inputs, cfg: ReportConfig) -> pd.DataFrame:
    """ADLB values of the blood-count panels on window days, safety population, in ADLB row order.

    USUBJID, GROUP, _PANEL (index in the configured panels), _DAY, _AVAL, _FLAG (the drawn flag = Y).
    """
    bc = cfg.plots.blood_counts
    assert bc is not None
    paramcds = [p.paramcd for p in bc.panels]
    def panel_of(paramcd: pd.Series) -> np.ndarray:
        return per_distinct(paramcd, lambda u: [paramcds.index(v) if v in paramcds else -1 for v in u.astype(str)],
                            dtype=np.int64).to_numpy()

    adlb = inputs.adlb
    # judged on the whole columns (per distinct value, by subject position), rows taken once at the end: no
    # intermediate frames, and the subjects' USUBJID/GROUP texts shared, not made again for every record
    position = subject_positions(adlb["USUBJID"], inputs.subjects["USUBJID"])
    panel = panel_of(adlb["PARAMCD"])
    day = pd.to_numeric(adlb[cfg.lab_day], errors="coerce").to_numpy(float)
    aval = pd.to_numeric(adlb["AVAL"], errors="coerce").to_numpy(float)
    keep = np.flatnonzero((panel >= 0) & (position >= 0) & (day >= cfg.window.first_day)
                          & (day <= cfg.window.last_day) & ~np.isnan(aval))
    flag = is_y(adlb[bc.flag]).to_numpy()[keep] if bc.flag else np.zeros(len(keep), dtype=bool)
    at = position[keep]
    return pd.DataFrame({"USUBJID": inputs.subjects["USUBJID"].to_numpy(dtype=object)[at],
                         "GROUP": inputs.subjects["GROUP"].to_numpy(dtype=object)[at],
                         "_PANEL": panel[keep], "_DAY": day[keep], "_AVAL": aval[keep], "_FLAG": flag})


THRESHOLD_COLOR = draw.THRESHOLD_COLOR


def _thresholds(ax, panel) -> None:
    """The panel's reference lines (dotted, labelled at the right end)."""
    draw.thresholds(ax, [(t.value, t.label) for t in panel.thresholds])


def panel_limits(values: pd.DataFrame, panels: list) -> list[tuple[float, float] | None]:
    """One y range per panel over every group's values and its thresholds, so that dose groups drawn in
    separate figures compare at a glance (log panels: positive values only)."""
    limits: list[tuple[float, float] | None] = []
    for c, panel in enumerate(panels):
        v = values["_AVAL"].to_numpy(float)[values["_PANEL"].to_numpy() == c]
        v = np.concatenate([v, [t.value for t in panel.thresholds]])
        if panel.log_scale:
            v = v[v > 0]
        v = v[np.isfinite(v)]
        if not len(v):
            limits.append(None)
            continue
        low, high = float(v.min()), float(v.max())
        if panel.log_scale:
            limits.append((low / 1.3, high * 1.3))
        else:
            pad = (high - low) * 0.06 or 1.0
            limits.append((min(0.0, low - pad) if low >= 0 else low - pad, high + pad))
    return limits


_legend = draw.legend


def blood_count_plot(level: str, inputs: Inputs, cfg: ReportConfig, values: pd.DataFrame,
                     transfusions: pd.DataFrame, fn_episodes: pd.DataFrame | None) -> bytes:
    """Rows = subjects of one dose group, columns = the configured parameters, days of the window.

    ``values`` from ``window_values``, ``transfusions`` from ``transfusion_days``.
    """
    bc = cfg.plots.blood_counts
    assert bc is not None
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    subjects = list(inputs.members(level)["USUBJID"])
    lb = values[values["GROUP"].to_numpy() == level]
    first, last = cfg.window.first_day, cfg.window.last_day
    with _style():
        rows = max(len(subjects), 1)
        width, height = 3.3 * len(bc.panels), 1.9 * rows + 1.1
        fig = _figure(width, height, constrained=False)  # fixed margins (in inches): constrained layout is slow here
        fig.subplots_adjust(left=0.9 / width, right=1 - 0.15 / width, top=1 - 0.55 / height, bottom=0.85 / height,
                            wspace=0.25, hspace=0.15)
        axes = fig.subplots(rows, len(bc.panels), squeeze=False, sharex=True, sharey="col")
        axes[0][0].set_xlim(first - 0.5, last + 0.5)  # shared by every axes: set once, not once per axes (O(n^2))
        for c, limit in enumerate(panel_limits(values, bc.panels)):  # same scale in every group's figure
            if bc.panels[c].log_scale:
                axes[0][c].set_yscale("log")
            if limit is not None:
                axes[0][c].set_ylim(*limit)
        by_subject = dict(tuple(lb.groupby("USUBJID", sort=False, observed=True)))
        empty = lb.iloc[:0]
        for r, usubjid in enumerate(subjects):
            mine = by_subject.get(usubjid, empty)
            for c, panel in enumerate(bc.panels):
                ax = axes[r][c]
                values = mine[mine["_PANEL"].to_numpy() == c].sort_values(["_DAY"], kind="stable")
                if fn_episodes is not None:
                    for _, ep in fn_episodes[fn_episodes["USUBJID"] == usubjid].iterrows():
                        ax.axvspan(ep["START_DAY"] - 0.5, ep["END_DAY"] + 0.5, color=FN_COLOR, alpha=0.45, lw=0)
                for _, tr in transfusions[transfusions["USUBJID"] == usubjid].iterrows():
                    if tr["PANEL"] in (None, panel.paramcd) or (isinstance(tr["PANEL"], float) and math.isnan(tr["PANEL"])):
                        ax.axvline(tr["DAY"], color=tr["COLOR"], lw=1, ls="--")
                _thresholds(ax, panel)
                ax.plot(values["_DAY"], values["_AVAL"], "-o", color="0.2", markersize=2.5, lw=1)
                if bc.flag:
                    hit = values[values["_FLAG"].to_numpy()]
                    ax.plot(hit["_DAY"], hit["_AVAL"], "o", color="tab:red", markersize=3.5)
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
                if r == 0:
                    ax.set_title(panel.label, fontsize=9)
                if c == 0:
                    ax.set_ylabel(usubjid, fontsize=7)
                if r == len(subjects) - 1:
                    ax.set_xlabel(f"Day from {cfg.labels.get(cfg.window.anchor, cfg.window.anchor)}", fontsize=8)
        if not subjects:
            axes[0][0].text(0.5, 0.5, "no subjects", ha="center", va="center", transform=axes[0][0].transAxes)
        handles = [Line2D([], [], color="0.2", marker="o", markersize=3, label="value")]
        if any(p.thresholds for p in bc.panels):
            handles.append(Line2D([], [], color=THRESHOLD_COLOR, ls=":", label="threshold"))
        if bc.flag:
            handles.append(Line2D([], [], color="tab:red", marker="o", lw=0, markersize=4,
                                  label=bc.flag_label or f"{bc.flag} = Y"))
        for t in (bc.transfusions.types if bc.transfusions else []):
            handles.append(Line2D([], [], color=t.color, ls="--", label=f"{t.label} transfusion"))
        if bc.febrile_neutropenia_flag:
            handles.append(Patch(color=FN_COLOR, alpha=0.45,
                                 label=bc.febrile_neutropenia_label))
        _legend(fig, handles)
        fig.suptitle(f"{level}: blood counts, days {first}-{last}", fontsize=10)
        return _png(fig, cfg.plots.dpi)


def daily_summary(values: pd.DataFrame) -> pd.DataFrame:
    """Per GROUP, _PANEL and _DAY: subjects with a value (N), with the flag (FLAGGED), quartiles Q1/MEDIAN/Q3.

    A subject contributes one value per day (the median of that day's values) and counts as flagged
    when any of that day's values is; quartiles interpolate linearly between order statistics.
    """
    aval = values["_AVAL"].to_numpy(float)
    if np.isnan(aval).any() or np.isnan(values["_DAY"].to_numpy(float)).any() or values["GROUP"].isna().any():
        return _daily_summary_grouped(values)
    # the records ordered by (group, panel, day, subject) on one integer key; a subject's values of a day are
    # ordered by value only where there are three or more; the quartiles of a day from a partition of its
    # subjects' medians. The arithmetic is that of pandas' grouped median and linear quantile (the same
    # numbers as _daily_summary_grouped)
    group, groups = pd.factorize(values["GROUP"].to_numpy(), sort=True)
    panel, panels = pd.factorize(values["_PANEL"].to_numpy(), sort=True)
    day, days = pd.factorize(values["_DAY"].to_numpy(), sort=True)
    subject, subjects = pd.factorize(values["USUBJID"])
    width = max(len(subjects), 1)
    key = ((group.astype(np.int64) * len(panels) + panel) * len(days) + day) * width + subject
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.intp)
    n = np.diff(np.r_[starts, len(key)])
    several = np.repeat(n >= 3, n)
    if several.any():
        at = np.flatnonzero(several)
        order[at] = order[at][np.lexsort((aval[order[at]], key[at]))]
    aval, flag = aval[order], values["_FLAG"].to_numpy(bool)[order]
    upper = aval[starts + n // 2]
    lower = aval[starts + np.maximum(n // 2 - 1, 0)]
    median = np.where(n % 2 == 1, upper, (upper + lower) / 2)
    flagged = np.logical_or.reduceat(flag, starts).astype(np.int64) if len(starts) else np.zeros(0, dtype=np.int64)
    day_key = key[starts] // width  # of each subject's daily value, in order
    firsts = np.flatnonzero(np.r_[True, day_key[1:] != day_key[:-1]]) if len(day_key) else starts[:0]
    ends = np.r_[firsts[1:], len(day_key)]
    quantiles = np.empty((len(firsts), 3))
    for row, (a, b) in enumerate(zip(firsts, ends)):
        places = [q * float(b - a - 1) for q in (0.25, 0.5, 0.75)]
        kth = sorted({k for place in places for k in (int(place), min(int(place) + 1, b - a - 1))})
        part = np.partition(median[a:b], kth)
        for j, place in enumerate(places):
            value, frac = part[int(place)], place % 1
            quantiles[row, j] = value if frac == 0.0 else value + (part[int(place) + 1] - value) * frac
    per_day = day_key[firsts]
    rest = per_day // len(days) if len(days) else per_day
    return pd.DataFrame({"GROUP": np.asarray(groups, dtype=object)[rest // max(len(panels), 1)],
                         "_PANEL": np.asarray(panels)[rest % max(len(panels), 1)],
                         "_DAY": np.asarray(days)[per_day % len(days) if len(days) else per_day],
                         "N": np.diff(np.r_[firsts, len(day_key)]).astype(np.int64),
                         "FLAGGED": np.add.reduceat(flagged, firsts) if len(firsts) else np.zeros(0, dtype=np.int64),
                         "Q1": quantiles[:, 0], "MEDIAN": quantiles[:, 1], "Q3": quantiles[:, 2]})


def _daily_summary_grouped(values: pd.DataFrame) -> pd.DataFrame:
    """``daily_summary`` through pandas' grouping (values with missing keys or values)."""
    subject = pd.factorize(values["USUBJID"])[0]
    per_subject = (values.assign(_SUBJECT=subject)
                   .groupby(["GROUP", "_PANEL", "_DAY", "_SUBJECT"], sort=True)
                   .agg(_AVAL=("_AVAL", "median"), _FLAG=("_FLAG", "any")))
    by_day = per_subject.groupby(level=["GROUP", "_PANEL", "_DAY"], sort=True)
    quartiles = by_day["_AVAL"].quantile([0.25, 0.5, 0.75]).unstack()
    return pd.DataFrame({"N": by_day.size(), "FLAGGED": by_day["_FLAG"].sum(), "Q1": quartiles[0.25],
                         "MEDIAN": quartiles[0.5], "Q3": quartiles[0.75]}).reset_index()


def blood_count_summary_spec(level: str, n_subjects: int, cfg: ReportConfig, summary: pd.DataFrame) -> dict:
    """What ``draw.blood_count_summary`` draws (plain numbers, arrays and text): see ``blood_count_summary_plot``."""
    bc = cfg.plots.blood_counts
    assert bc is not None
    first, last = cfg.window.first_day, cfg.window.last_day
    days = np.arange(first, last + 1, dtype=float)
    mine = summary[summary["GROUP"].to_numpy() == level]
    limits = panel_limits(pd.concat([summary[["_PANEL"]].assign(_AVAL=summary[q]) for q in ("Q1", "Q3")]),
                          bc.panels)  # every group's quartile band, so the groups' figures compare
    panels = []
    for c, panel in enumerate(bc.panels):
        stats = mine[mine["_PANEL"].to_numpy() == c].set_index("_DAY").reindex(days)
        panels.append({"label": panel.label, "log_scale": panel.log_scale, "limits": limits[c],
                       "thresholds": [(t.value, t.label) for t in panel.thresholds],
                       "q1": stats["Q1"].to_numpy(float), "q3": stats["Q3"].to_numpy(float),
                       "median": stats["MEDIAN"].to_numpy(float), "n": stats["N"].fillna(0).to_numpy(float),
                       "flagged": stats["FLAGGED"].fillna(0).to_numpy(float)})
    return {"first": first, "last": last, "panels": panels, "flag": bool(bc.flag),
            "flag_label": (f"subjects {bc.flag_label}" if bc.flag_label else f"subjects with {bc.flag} = Y")
            if bc.flag else "",
            "xlabel": f"Day from {cfg.labels.get(cfg.window.anchor, cfg.window.anchor)}",
            "title": f"{level}: blood counts of {n_subjects} subjects by day, days {first}-{last}", "dpi": cfg.plots.dpi}


def blood_count_summary_plot(level: str, n_subjects: int, cfg: ReportConfig, summary: pd.DataFrame) -> bytes:
    """Columns = the configured parameters: the daily median and quartile band, and below it the number of
    subjects with a value and with the flag on each day. ``summary`` from ``daily_summary``."""
    return draw.blood_count_summary(blood_count_summary_spec(level, n_subjects, cfg, summary))
