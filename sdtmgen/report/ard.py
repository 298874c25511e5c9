"""The analysis results dataset (ARD): one row per statistic, long form, in the pharmaverse cards layout.

Columns, first those of a cards ARD in cards' order: ``group1``/``group1_level`` (dose group or the
overall level), ``group2``/``group2_level`` (e.g. SOC above PT, or PARAMCD), ``variable``/
``variable_level``, ``context`` (categorical, continuous, survival, dlt, mtd, ...), ``stat_name``
(cards names: n, N, p as a proportion 0-1, mean, sd, median, p25, p75, min, max, estimate,
conf.low, conf.high, conf.level, method, ...), ``stat_label``, ``stat`` (the value: integers as such,
other numbers with 6 decimals, text as is, missing empty), ``stat_fmt`` (the value as a table shows
it, proportions as percentages), ``fmt_fn`` (how: decimal places, or "xx.x%" for a proportion shown
as a percentage, cards' format-string alias), ``warning`` and ``error`` (a statistic that could not be
computed says why); then this project's keys: ``outcome`` (measure number), ``analysis`` (id of one
table block) and ``analysis_label``, ``variable_label`` (readable row text).

ard.json holds the same rows with typed values (numbers as numbers, missing as null).

Rows are sorted by outcome, then the order the analyses were added, then dose group (by dose level,
overall last), then the order within the analysis, so two builds give identical bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

CARDS_COLUMNS = ["group1", "group1_level", "group2", "group2_level", "variable", "variable_level", "context",
                 "stat_name", "stat_label", "stat", "stat_fmt", "fmt_fn", "warning", "error"]
COLUMNS = [*CARDS_COLUMNS, "outcome", "analysis", "analysis_label", "variable_label"]

STAT_LABELS = {
    "n": "n", "N": "N", "p": "%", "n_events": "Events (records)",
    "n_subjects": "Subjects with an episode", "n_episodes": "Episodes", "mean": "Mean", "sd": "SD",
    "median": "Median", "p25": "Q1", "p75": "Q3", "min": "Min", "max": "Max", "n_cut": "Episodes cut at window end",
    "n_risk": "Subjects at risk", "events": "Recovered (events)", "censored": "Censored",
    "estimate": "Estimate", "conf.low": "CI lower", "conf.high": "CI upper",
    "decision": "3+3 decision", "rule": "Rule", "reason": "Reason", "mtd": "MTD",
}

# digits shown in tables (stat_fmt); the stat column always keeps 6
DISPLAY_DIGITS = {"sum": 0, "mean": 1, "sd": 2, "median": 1, "p25": 1, "p75": 1, "min": 0, "max": 0,
                  "estimate": 3, "conf.low": 3, "conf.high": 3}


PROPORTION_METHOD = ("Exact (Clopper-Pearson) confidence limits of the proportion n/N "
                     "(R binom.test); N = 0 gives none")


@lru_cache(maxsize=4096)
def clopper_pearson(n: int, total: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Exact binomial limits of n/total (beta quantiles, as R's ``binom.test``); NaN when total is 0."""
    if total <= 0:
        return (math.nan, math.nan)
    # the beta quantile as the inverse of the regularised incomplete beta function: the same Boost routine
    # as scipy.stats.beta.ppf (same numbers), without importing scipy.stats (~0.4 s, ~50 MiB) for it
    from scipy.special import betaincinv

    alpha = 1 - conf_level
    low = 0.0 if n == 0 else float(betaincinv(n, total - n + 1, alpha / 2))
    high = 1.0 if n == total else float(betaincinv(n + 1, total - n, 1 - alpha / 2))
    return (low, high)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_stat(value: Any) -> str:
    """The value in the ``stat`` column: deterministic text."""
    if _missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "Y" if value else "N"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        text = f"{float(value):.6f}"
        return "0.000000" if text == "-0.000000" else text
    return str(value)


def round_half_up(value: float, digits: int) -> str:
    """Fixed-point text rounded half away from zero (5.25 -> 5.3, as tables are read), via the shortest repr."""
    quantum = Decimal(1).scaleb(-digits)
    text = str(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


PERCENT_STATS = ("p", "conf.low", "conf.high")  # of a categorical (proportion) row: shown as percentages


def format_fn(stat_name: str, value: Any, context: str = "", digits: int | None = None) -> str:
    """``fmt_fn`` of a row: the decimal places ``stat_fmt`` shows, "xx.x%" for a proportion shown as a
    percentage, empty for text."""
    if context == "categorical" and stat_name in PERCENT_STATS:
        return "xx.x%"
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return "0"
    return str(DISPLAY_DIGITS.get(stat_name, 1) if digits is None else digits)


def format_display(stat_name: str, value: Any, context: str = "", digits: int | None = None) -> str:
    """The value as a reader sees it (``stat_fmt``): NE for a KM quantity that is not estimable,
    a proportion's confidence limits as percentages."""
    if _missing(value) or (isinstance(value, float) and math.isinf(value)):
        return "NE" if context == "survival" else ""
    if context == "categorical" and stat_name in PERCENT_STATS:
        return round_half_up(100 * float(value), 1)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return round_half_up(value, DISPLAY_DIGITS.get(stat_name, 1) if digits is None else digits)
    return str(value)


@dataclass
class Ard:
    """Collects ARD rows; ``frame()`` returns them sorted and formatted."""

    groups: list[str]
    overall: str
    group_variable: str = "TRT01P"
    conf_level: float = 0.95  # of the proportions' exact limits
    rows: list[dict[str, Any]] = field(default_factory=list)
    _analyses: dict[tuple[int, str], int] = field(default_factory=dict)
    _described: set[tuple[int, str]] = field(default_factory=set)

    def add(self, outcome: int, analysis: str, analysis_label: str, level: str, variable: str,
            stat_name: str, value: Any, *, variable_level: str = "", variable_label: str = "",
            context: str = "categorical", stat_label: str | None = None, group2: str = "",
            group2_level: str = "", digits: int | None = None, warning: str = "", error: str = "") -> None:
        key = (outcome, analysis)
        self._analyses.setdefault(key, len(self._analyses))
        levels = [*self.groups, self.overall]
        self.rows.append({
            "outcome": outcome, "analysis": analysis, "analysis_label": analysis_label,
            "group1": self.group_variable, "group1_level": level, "group2": group2, "group2_level": group2_level,
            "variable": variable, "variable_level": variable_level, "variable_label": variable_label or variable,
            "context": context, "stat_name": stat_name,
            "stat_label": stat_label if stat_label is not None else STAT_LABELS.get(stat_name, stat_name),
            "stat": format_stat(value), "stat_fmt": format_display(stat_name, value, context, digits),
            "fmt_fn": format_fn(stat_name, value, context, digits), "warning": warning, "error": error,
            "_value": value, "_a": self._analyses[key], "_g": levels.index(level) if level in levels else len(levels),
            "_s": len(self.rows),
        })

    def add_proportion(self, outcome: int, analysis: str, analysis_label: str, level: str, variable: str,
                       n: int, denominator: int, *, variable_level: str = "Y", variable_label: str = "",
                       group2: str = "", group2_level: str = "", events: int | None = None) -> None:
        common = dict(variable_level=variable_level, variable_label=variable_label, group2=group2,
                      group2_level=group2_level)
        p = n / denominator if denominator else float("nan")
        low, high = clopper_pearson(int(n), int(denominator), self.conf_level)
        ci = f"{100 * self.conf_level:g}% CI"
        self.add(outcome, analysis, analysis_label, level, variable, "n", int(n), **common)
        self.add(outcome, analysis, analysis_label, level, variable, "N", int(denominator), **common)
        empty = "" if denominator else "denominator is 0"
        self.add(outcome, analysis, analysis_label, level, variable, "p", p, warning=empty, **common)
        self.add(outcome, analysis, analysis_label, level, variable, "conf.low", low, stat_label=f"{ci} lower",
                 warning=empty, **common)
        self.add(outcome, analysis, analysis_label, level, variable, "conf.high", high, stat_label=f"{ci} upper",
                 warning=empty, **common)
        if events is not None:
            self.add(outcome, analysis, analysis_label, level, variable, "n_events", int(events), **common)
        if (outcome, analysis) not in self._described:
            self._described.add((outcome, analysis))
            self.add(outcome, analysis, analysis_label, self.overall, variable, "method", PROPORTION_METHOD,
                     variable_label="Method", group2=group2, group2_level=group2_level)
            self.add(outcome, analysis, analysis_label, self.overall, variable, "conf.level", self.conf_level,
                     variable_label="Confidence level", group2=group2, group2_level=group2_level)

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return pd.DataFrame(columns=COLUMNS)
        frame = pd.DataFrame(self.rows)
        frame = frame.sort_values(["outcome", "_a", "_g", "_s"], kind="stable")
        return frame[COLUMNS].reset_index(drop=True)


    def values(self) -> list[Any]:
        """The typed values of ``frame()``'s rows, in its order."""
        if not self.rows:
            return []
        frame = pd.DataFrame({"_a": [r["_a"] for r in self.rows], "_g": [r["_g"] for r in self.rows],
                              "_s": [r["_s"] for r in self.rows], "outcome": [r["outcome"] for r in self.rows]})
        order = frame.sort_values(["outcome", "_a", "_g", "_s"], kind="stable").index
        return [self.rows[i]["_value"] for i in order]


def write_ard(frame: pd.DataFrame, path: Path) -> None:
    """ard.csv through the shared CSV writer (text that would start a spreadsheet formula is neutralised)."""
    from sdtmgen.csv_text import write_csv

    write_csv(path, frame[COLUMNS].astype(str))


def _json_value(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return str(value)


def write_ard_json(frame: pd.DataFrame, values: list[Any] | None, path: Path) -> None:
    """ard.json: the rows as objects, ``stat`` typed (from ``values`` when given, else parsed from text)."""
    import json

    records = frame[COLUMNS].astype(str).to_dict("records")
    for i, record in enumerate(records):
        record["outcome"] = int(record["outcome"])
        record["stat"] = _json_value(values[i]) if values is not None else (record["stat"] or None)
        record["warning"] = record["warning"] or None
        record["error"] = record["error"] or None
    text = json.dumps(records, ensure_ascii=False, indent=1, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8", newline="\n")
