"""Kaplan-Meier time to recovery from ADTTE (lifelines ``KaplanMeierFitter``).

Event = recovery (CNSR = 0), AVAL in days. S(t) is the product-limit probability of not yet having
recovered by day t. Median = the first time S(t) <= 0.5 (lifelines convention); its confidence
interval comes from lifelines' pointwise exponential Greenwood (log(-log)) band
(``median_survival_times``). Quantities that are not reached are reported as missing (NE).
ARD rows follow cardx ``ard_survival_survfit``: variable ``prob`` / level ``0.5`` for the median,
variable ``time`` / level t for S(t), stat_name estimate / conf.low / conf.high.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdtmgen.report.ard import Ard
from sdtmgen.report.config import Recovery
from sdtmgen.report.data import Inputs, text_is


@dataclass
class KmFit:
    n: int
    events: int
    censored: int
    median: float
    median_low: float
    median_high: float
    timeline: np.ndarray  # step times, starting at 0
    survival: np.ndarray  # S(t) on timeline
    low: np.ndarray
    high: np.ndarray
    censor_times: np.ndarray

    def at(self, t: float) -> tuple[float, float, float]:
        """S(t) and its confidence limits (right-continuous step function)."""
        if not len(self.timeline):
            return (math.nan, math.nan, math.nan)
        i = int(np.searchsorted(self.timeline, t, side="right")) - 1
        if i < 0:
            return (1.0, 1.0, 1.0)
        return (float(self.survival[i]), float(self.low[i]), float(self.high[i]))


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan


def fit(times: pd.Series | np.ndarray, censored: pd.Series | np.ndarray, conf_level: float = 0.95) -> KmFit:
    times = np.asarray(times, dtype=float)
    cnsr = np.asarray(censored, dtype=float)
    ok = ~np.isnan(times) & ~np.isnan(cnsr)
    times, cnsr = times[ok], cnsr[ok]
    events = (cnsr == 0).astype(int)
    empty = np.array([], dtype=float)
    if not len(times):
        return KmFit(0, 0, 0, math.nan, math.nan, math.nan, empty, empty, empty, empty, empty)
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = KaplanMeierFitter(alpha=1 - conf_level).fit(times, event_observed=events)
        ci = kmf.confidence_interval_
        median_ci = median_survival_times(ci)
    return KmFit(
        n=int(len(times)), events=int(events.sum()), censored=int((events == 0).sum()),
        median=_finite(kmf.median_survival_time_),
        median_low=_finite(median_ci.iloc[0, 0]), median_high=_finite(median_ci.iloc[0, 1]),
        timeline=kmf.survival_function_.index.to_numpy(float),
        survival=kmf.survival_function_.iloc[:, 0].to_numpy(float),
        low=ci.iloc[:, 0].to_numpy(float), high=ci.iloc[:, 1].to_numpy(float),
        censor_times=np.sort(times[events == 0]),
    )


def recovery(ard: Ard, inputs: Inputs, outcome: Recovery) -> dict[str, dict[str, KmFit]]:
    """ARD rows for each PARAMCD and level; returns the fits (PARAMCD -> level -> fit) for the plots."""
    tte = inputs.group_of(inputs.adtte)
    fits: dict[str, dict[str, KmFit]] = {}
    ci_pct = f"{100 * outcome.conf_level:g}%"
    for paramcd in outcome.paramcds:
        rows = tte[text_is(tte["PARAMCD"], paramcd)]
        texts = (inputs.adtte.loc[text_is(inputs.adtte["PARAMCD"], paramcd), "PARAM"].dropna().astype(str)
                 if "PARAM" in inputs.adtte.columns else pd.Series(dtype=str))
        label = (f"{texts.iloc[0]} ({paramcd})" if len(texts)
                 else f"{paramcd} (no ADTTE record: no subject fell below the threshold)")
        fits[paramcd] = {}
        for level in inputs.levels:
            sub = rows if level == inputs.overall else rows[rows["GROUP"].to_numpy() == level]
            km = fit(pd.to_numeric(sub["AVAL"], errors="coerce"), pd.to_numeric(sub["CNSR"], errors="coerce"),
                     outcome.conf_level)
            fits[paramcd][level] = km

            def add(variable: str, stat: str, value, variable_level: str = "", variable_label: str = "",
                    stat_label: str | None = None) -> None:
                ard.add(outcome.number, paramcd, label, level, variable, stat, value, variable_level=variable_level,
                        variable_label=variable_label, context="survival", stat_label=stat_label,
                        group2="PARAMCD", group2_level=paramcd, digits=1 if variable == "prob" else None)

            add("AVAL", "n_risk", km.n, variable_label="Subjects at risk (fell below the threshold)")
            add("AVAL", "events", km.events, variable_label="Recovered (events)")
            add("AVAL", "censored", km.censored, variable_label="Censored")
            median_label = f"Median time to recovery, days ({ci_pct} CI)"
            add("prob", "estimate", km.median, "0.5", median_label, "Median")
            add("prob", "conf.low", km.median_low, "0.5", median_label, f"{ci_pct} CI lower")
            add("prob", "conf.high", km.median_high, "0.5", median_label, f"{ci_pct} CI upper")
            for t in outcome.timepoints:
                s, lo, hi = km.at(t) if km.n else (math.nan, math.nan, math.nan)
                day_label = f"Not yet recovered at day {t}, KM ({ci_pct} CI)"
                add("time", "estimate", s, str(t), day_label, "S(t)")
                add("time", "conf.low", lo, str(t), day_label, f"{ci_pct} CI lower")
                add("time", "conf.high", hi, str(t), day_label, f"{ci_pct} CI upper")
    return fits
