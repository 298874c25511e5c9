"""Figures as PNG bytes: Kaplan-Meier curves by dose group, per-subject blood counts.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), in the
default style whatever the user's matplotlibrc, and saved without the Software/date metadata so the
same data give the same bytes.
"""

from __future__ import annotations

import io
import math
import textwrap
from typing import Iterator

import numpy as np
import pandas as pd

from sdtmgen.report.config import BloodCounts, ReportConfig
from sdtmgen.report.data import Inputs, is_y, iso_to_sas, relative_day
from sdtmgen.report.km import KmFit

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
FN_COLOR = "#f4a582"


def _png(fig, dpi: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _figure(width: float, height: float, constrained: bool = True):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def _style() -> Iterator[None]:
    import matplotlib.style

    return matplotlib.style.context("default")


def km_plot(title: str, fits: dict[str, KmFit], groups: list[str], cfg: ReportConfig) -> bytes:
    """S(t) (not yet recovered) per dose group; + marks censored subjects."""
    with _style():
        width, height = cfg.plots.km_width, cfg.plots.km_height
        fig = _figure(width, height, constrained=False)  # fixed margins in inches: faster than constrained layout
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, top=1 - 0.55 / height, bottom=0.55 / height)
        ax = fig.add_subplot()
        drawn = False
        for i, level in enumerate(groups):
            km = fits.get(level)
            if km is None or not km.n:
                continue
            color = COLORS[i % len(COLORS)]
            x = np.append(km.timeline, max(km.timeline[-1], cfg.window.last_day))
            y = np.append(km.survival, km.survival[-1])
            ax.step(x, y, where="post", color=color, label=f"{level} (n={km.n}, recovered {km.events})")
            if len(km.censor_times):
                ax.plot(km.censor_times, [km.at(t)[0] for t in km.censor_times], "+", color=color, markersize=9,
                        markeredgewidth=1.5)
            drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no subject at risk", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(0, cfg.window.last_day + 1)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel(f"Days from {cfg.window.anchor} (day 1)")
        ax.set_ylabel("Proportion not yet recovered")
        ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=9)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="lower left")  # recovery curves stay at 1 early on: that corner is free
        return _png(fig, cfg.plots.dpi)


def transfusion_days(inputs: Inputs, bc: BloodCounts) -> pd.DataFrame:
    """USUBJID, DAY (from the window anchor), LABEL, PANEL, COLOR of transfusions."""
    cm = inputs.cm
    t = bc.transfusions
    columns = ["USUBJID", "DAY", "LABEL", "PANEL", "COLOR"]
    if t is None or cm.empty or not {"USUBJID", "CMCAT", t.date}.issubset(cm.columns):
        return pd.DataFrame(columns=columns)
    rows = cm[cm["CMCAT"].astype(str) == t.category]
    rows = rows.assign(_DATE=iso_to_sas(rows[t.date])).merge(inputs.subjects, on="USUBJID", how="inner")
    rows = rows.assign(DAY=relative_day(rows["_DATE"], rows["ANCHOR"]))
    types = {x.value: x for x in t.types}
    kind = rows[t.type_variable].astype(str) if t.type_variable in rows.columns else pd.Series("", index=rows.index)
    out = pd.DataFrame({
        "USUBJID": rows["USUBJID"], "DAY": rows["DAY"],
        "LABEL": [types[k].label if k in types else "Transfusion" for k in kind],
        "PANEL": [types[k].panel if k in types else None for k in kind],
        "COLOR": [types[k].color if k in types else "tab:red" for k in kind],
    })
    return out.dropna(subset=["DAY"]).sort_values(["USUBJID", "DAY", "LABEL"], kind="stable")[columns]


def blood_count_plot(level: str, inputs: Inputs, cfg: ReportConfig, fn_episodes: pd.DataFrame | None) -> bytes:
    """Rows = subjects of one dose group, columns = the configured parameters, days of the window."""
    bc = cfg.plots.blood_counts
    assert bc is not None
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lb = inputs.group_of(inputs.adlb)
    lb = lb[lb["PARAMCD"].astype(str).isin([p.paramcd for p in bc.panels])]
    day = pd.to_numeric(lb[cfg.lab_day], errors="coerce")
    lb = lb.assign(_DAY=day, _AVAL=pd.to_numeric(lb["AVAL"], errors="coerce"))
    lb = lb[lb["_DAY"].between(cfg.window.first_day, cfg.window.last_day) & lb["_AVAL"].notna()]
    transfusions = transfusion_days(inputs, bc)
    subjects = list(inputs.members(level)["USUBJID"])
    first, last = cfg.window.first_day, cfg.window.last_day
    with _style():
        rows = max(len(subjects), 1)
        width, height = 3.3 * len(bc.panels), 1.9 * rows + 1.1
        fig = _figure(width, height, constrained=False)  # fixed margins (in inches): constrained layout is slow here
        fig.subplots_adjust(left=0.9 / width, right=1 - 0.15 / width, top=1 - 0.55 / height, bottom=0.85 / height,
                            wspace=0.25, hspace=0.15)
        axes = fig.subplots(rows, len(bc.panels), squeeze=False, sharex=True)
        axes[0][0].set_xlim(first - 0.5, last + 0.5)  # shared by every axes: set once, not once per axes (O(n^2))
        by_subject = dict(tuple(lb.groupby("USUBJID", sort=False, observed=True)))
        empty = lb.iloc[:0]
        for r, usubjid in enumerate(subjects):
            mine = by_subject.get(usubjid, empty)
            for c, panel in enumerate(bc.panels):
                ax = axes[r][c]
                values = mine[mine["PARAMCD"].astype(str) == panel.paramcd].sort_values(["_DAY"], kind="stable")
                if fn_episodes is not None:
                    for _, ep in fn_episodes[fn_episodes["USUBJID"] == usubjid].iterrows():
                        ax.axvspan(ep["START_DAY"] - 0.5, ep["END_DAY"] + 0.5, color=FN_COLOR, alpha=0.45, lw=0)
                for _, tr in transfusions[transfusions["USUBJID"] == usubjid].iterrows():
                    if tr["PANEL"] in (None, panel.paramcd) or (isinstance(tr["PANEL"], float) and math.isnan(tr["PANEL"])):
                        ax.axvline(tr["DAY"], color=tr["COLOR"], lw=1, ls="--")
                ax.plot(values["_DAY"], values["_AVAL"], "-o", color="0.2", markersize=2.5, lw=1)
                if bc.flag and bc.flag in values.columns:
                    hit = values[is_y(values[bc.flag])]
                    ax.plot(hit["_DAY"], hit["_AVAL"], "o", color="tab:red", markersize=3.5)
                if panel.log_scale:
                    ax.set_yscale("log")
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
                if r == 0:
                    ax.set_title(panel.label, fontsize=9)
                if c == 0:
                    ax.set_ylabel(usubjid, fontsize=7)
                if r == len(subjects) - 1:
                    ax.set_xlabel(f"Day from {cfg.window.anchor}", fontsize=8)
        if not subjects:
            axes[0][0].text(0.5, 0.5, "no subjects", ha="center", va="center", transform=axes[0][0].transAxes)
        handles = [Line2D([], [], color="0.2", marker="o", markersize=3, label="value")]
        if bc.flag:
            handles.append(Line2D([], [], color="tab:red", marker="o", lw=0, markersize=4, label=f"{bc.flag} = Y"))
        for t in (bc.transfusions.types if bc.transfusions else []):
            handles.append(Line2D([], [], color=t.color, ls="--", label=f"{t.label} transfusion"))
        if bc.febrile_neutropenia_flag:
            handles.append(Patch(color=FN_COLOR, alpha=0.45,
                                 label=f"{bc.febrile_neutropenia_label} ({bc.febrile_neutropenia_flag})"))
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
        fig.suptitle(f"{level}: blood counts, days {first}-{last}", fontsize=10)
        return _png(fig, cfg.plots.dpi)
