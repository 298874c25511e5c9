"""Kaplan-Meier time to recovery from ADTTE, computed as R's survival package computes it.

Event = recovery (CNSR = 0), AVAL in days. S(t) is the product-limit probability of not yet having
recovered by day t; 1 - S(t) is the cumulative incidence of recovery (what the plots draw).

The method is that of ``survival::survfit(Surv(AVAL, 1 - CNSR) ~ 1, conf.type = "log-log")``
(also SAS PROC LIFETEST's default ``CONFTYPE=LOGLOG``), reproduced number for number:

- at each distinct observed time (events and censorings): S = prod(1 - d/n), Greenwood standard
  error of log S, se = sqrt(cumsum(d / (n (n - d)))) (infinite once S = 0);
- pointwise log-log limits exp(-exp(log(-log S) -/+ z se / log S)) with z the normal quantile of
  ``conf_level``; where S = 1 (a censoring before the first event) or S = 0 they are missing, as in R,
  and before the first observed time (R's ``survfit0`` row at time 0) they are 1;
- S(t) at a day t as ``summary(fit, times = t, extend = TRUE)``: the last step at or before t;
- quantiles (Q1, median, Q3 = the days by which 25%, 50%, 75% have recovered) with their confidence
  limits as ``quantile.survfit`` (Brookmeyer-Crowley: the days where the limit curves cross the
  probability), with R's tolerance (sqrt of the double epsilon), midpoint rule for a curve lying flat
  exactly at the probability, and NA where a curve never gets there.

ARD rows follow cardx ``ard_survival_survfit``: variable ``prob`` / level 0.25, 0.5, 0.75 for the
quantiles, variable ``time`` / level t for S(t), stat_name estimate / conf.low / conf.high, plus the
method and confidence level of each analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

from sdtmgen.report.ard import Ard
from sdtmgen.spec.report import Recovery
from sdtmgen.report.data import Inputs, text_is

PROBS = (0.25, 0.5, 0.75)
TOLERANCE = math.sqrt(np.finfo(float).eps)  # quantile.survfit's default tolerance
METHOD = ("Kaplan-Meier product-limit estimate, Greenwood variance, log-log confidence limits "
          "(R survival::survfit conf.type = \"log-log\"); quantile limits by Brookmeyer-Crowley "
          "(quantile.survfit); limits not reached are NA")


@dataclass
class KmFit:
    n: int
    events: int
    censored: int
    conf_level: float
    time: np.ndarray  # distinct observed times (events and censorings), ascending
    n_risk: np.ndarray
    n_event: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray  # Greenwood standard error of log S
    lower: np.ndarray  # NaN where R gives NA
    upper: np.ndarray
    censor_times: np.ndarray
    quantiles: dict[float, tuple[float, float, float]] = field(default_factory=dict)  # p -> (est, low, high)

    @property
    def median(self) -> float:
        return self.quantiles.get(0.5, (math.nan,) * 3)[0]

    @property
    def median_low(self) -> float:
        return self.quantiles.get(0.5, (math.nan,) * 3)[1]

    @property
    def median_high(self) -> float:
        return self.quantiles.get(0.5, (math.nan,) * 3)[2]

    # the curve with R's survfit0 row at time 0 (S = 1, limits 1), for plots and S(t)
    @property
    def timeline(self) -> np.ndarray:
        return np.concatenate(([0.0], self.time))

    @property
    def survival(self) -> np.ndarray:
        return np.concatenate(([1.0], self.surv))

    @property
    def low(self) -> np.ndarray:
        return np.concatenate(([1.0], self.lower))

    @property
    def high(self) -> np.ndarray:
        return np.concatenate(([1.0], self.upper))

    def at_times(self, times) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """S(t) and its limits at each t, the last step at or before t (``summary(extend = TRUE)``)."""
        times = np.asarray(times, dtype=float)
        if not self.n:
            nan = np.full(times.shape, math.nan)
            return nan, nan.copy(), nan.copy()
        i = np.searchsorted(self.timeline, times, side="right") - 1
        i = np.maximum(i, 0)
        return self.survival[i], self.low[i], self.high[i]

    def at(self, t: float) -> tuple[float, float, float]:
        s, lo, hi = self.at_times([t])
        return (float(s[0]), float(lo[0]), float(hi[0]))


def z_value(conf_level: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - conf_level) / 2)


def loglog_limits(surv: np.ndarray, std_err: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """R's ``survfit_confint(conf.type = "log-log")``: missing where S is 0 or 1."""
    z = z_value(conf_level)
    xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
    with np.errstate(divide="ignore", invalid="ignore"):
        se2 = z * std_err / np.log(xx)
        loglog = np.log(-np.log(xx))
        lower = np.exp(-np.exp(loglog - se2))
        upper = np.exp(-np.exp(loglog + se2))
    return lower, upper


def find_quantiles(x: np.ndarray, y: np.ndarray, probs, tol: float = TOLERANCE) -> np.ndarray:
    """R survival's ``findq``: the first x where the non-decreasing y reaches each p.

    ``y`` (cumulative probability, NaN = missing) with ``x`` its times; repeated y values keep their
    first time; a flat stretch lying within ``tol`` of p gives the midpoint of its first time and the
    next one (or of the last time, for the last value); NaN where y never reaches p.
    """
    probs = np.asarray(probs, dtype=float)
    if not len(y) or np.all(np.isnan(y)) or np.nanmax(y) < probs.min():
        return np.full(probs.shape, math.nan)
    xmax = x[-1]
    keep = ~pd.Series(y).duplicated().to_numpy()  # NaN counts as one value, as R's duplicated()
    x, y = x[keep], y[keep]
    n = len(y)
    positions = np.arange(n)
    present = ~np.isnan(y)

    def first_reaching(knots: np.ndarray) -> np.ndarray:
        # approx(knots, 1:n, p, method = "constant", f = 1): the first knot >= p, NaN outside the knots
        k, pos = knots[present], positions[present]
        order = np.argsort(k, kind="stable")
        k, pos = k[order], pos[order]
        j = np.searchsorted(k, probs, side="left")
        inside = (j < len(k)) & (probs >= k[0] if len(k) else False)
        return np.where(inside, pos[np.minimum(j, len(k) - 1)], -1)

    i1, i2 = first_reaching(y + tol), first_reaching(y - tol)
    ok = (i1 >= 0) & (i2 >= 0)
    quant = np.where(ok, (x[np.maximum(i1, 0)] + x[np.maximum(i2, 0)]) / 2, math.nan)
    quant = np.where(probs == 0, x[0], quant)
    if not np.isnan(y[n - 1]):
        last = np.abs(probs - y[n - 1]) < tol
        quant = np.where(last & (i1 >= 0), (x[np.maximum(i1, 0)] + xmax) / 2, np.where(last, math.nan, quant))
    return quant


def fit(times: pd.Series | np.ndarray, censored: pd.Series | np.ndarray, conf_level: float = 0.95,
        probs=PROBS) -> KmFit:
    """Product-limit fit of (time, CNSR) pairs; records with either missing are left out."""
    times = np.asarray(times, dtype=float)
    cnsr = np.asarray(censored, dtype=float)
    ok = ~np.isnan(times) & ~np.isnan(cnsr)
    times, cnsr = times[ok], cnsr[ok]
    event = cnsr == 0
    empty = np.array([], dtype=float)
    if not len(times):
        return KmFit(0, 0, 0, conf_level, empty, empty, empty, empty, empty, empty, empty, empty,
                     {p: (math.nan,) * 3 for p in probs})
    time, inverse = np.unique(times, return_inverse=True)
    total = np.bincount(inverse, minlength=len(time))
    n_event = np.bincount(inverse, weights=event, minlength=len(time))
    n_risk = len(times) - np.concatenate(([0], np.cumsum(total)[:-1]))
    surv = np.cumprod((n_risk - n_event) / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(term))
    lower, upper = loglog_limits(surv, std_err, conf_level)
    x = np.concatenate(([0.0], time))  # quantile.survfit: from start.time 0
    est = find_quantiles(x, np.concatenate(([0.0], 1 - surv)), probs)
    lo = find_quantiles(x, np.concatenate(([0.0], 1 - lower)), probs)
    hi = find_quantiles(x, np.concatenate(([0.0], 1 - upper)), probs)
    return KmFit(
        n=int(len(times)), events=int(event.sum()), censored=int((~event).sum()), conf_level=conf_level,
        time=time, n_risk=n_risk.astype(float), n_event=n_event, surv=surv, std_err=std_err,
        lower=lower, upper=upper, censor_times=np.sort(times[~event]),
        quantiles={p: (float(e), float(a), float(b)) for p, e, a, b in zip(probs, est, lo, hi)},
    )


QUANTILE_LABELS = {0.25: "Q1 (25% recovered)", 0.5: "Median", 0.75: "Q3 (75% recovered)"}


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
                        group2="PARAMCD", group2_level=paramcd, digits=1 if variable == "prob" else None,
                        warning="" if km.n or variable == "AVAL" else "no subject at risk")

            add("AVAL", "n_risk", km.n, variable_label="Subjects at risk (fell below the threshold)")
            add("AVAL", "events", km.events, variable_label="Recovered (events)")
            add("AVAL", "censored", km.censored, variable_label="Censored")
            for p in PROBS:
                est, low, high = km.quantiles[p]
                name = QUANTILE_LABELS[p]
                q_label = f"Time to recovery, days: {name} ({ci_pct} CI)"
                add("prob", "estimate", est, f"{p:g}", q_label, name)
                add("prob", "conf.low", low, f"{p:g}", q_label, f"{ci_pct} CI lower")
                add("prob", "conf.high", high, f"{p:g}", q_label, f"{ci_pct} CI upper")
            s, lo, hi = km.at_times(outcome.timepoints)
            for t, values in zip(outcome.timepoints, zip(s, lo, hi)):
                day_label = f"Not yet recovered at day {t}, KM ({ci_pct} CI)"
                for stat, value, stat_label in zip(("estimate", "conf.low", "conf.high"), values,
                                                   ("S(t)", f"{ci_pct} CI lower", f"{ci_pct} CI upper")):
                    add("time", stat, float(value), str(t), day_label, stat_label)
            add("AVAL", "method", METHOD, variable_label="Method")
            add("AVAL", "conf.level", outcome.conf_level, variable_label="Confidence level")
    return fits
