"""DLT counts per dose level, the 3+3 decision per dose level, and the MTD with the rule that decided it.

A DLT is an ADAE record flagged by ADaM (DLTFL); counts are subjects among the DLT-evaluable
(DLTEVLFL = "Y"). The 3+3 rules apply to cohorts of ``cohort_size`` [3] to ``expanded_size`` [6]
evaluable subjects, with the numbers from ``report.yaml`` (defaults in brackets):

- 3+3-INCOMPLETE: fewer than ``cohort_size`` evaluable -> the cohort is not complete (whatever the DLTs);
- 3+3-STOP: ``cohort_size`` to ``expanded_size`` evaluable, at least ``stop_min_dlt`` [2] DLTs -> the dose
  is too toxic, stop (">= 2 of 3-6");
- 3+3-ESCALATE: fewer than ``expanded_size`` evaluable, at most ``escalate_max_dlt`` [0] DLTs -> escalate;
- 3+3-EXPAND: fewer than ``expanded_size`` evaluable, more DLTs than that -> expand to ``expanded_size``;
- 3+3-ESCALATE-EXPANDED: ``expanded_size`` evaluable, at most ``mtd_max_dlt`` [1] DLTs -> escalate;
- 3+3-STOP-EXPANDED: ``expanded_size`` evaluable, more than ``mtd_max_dlt`` (fewer than ``stop_min_dlt``)
  DLTs -> stop;
- 3+3-TOP-DOSE / 3+3-TOP-DOSE-EXPANDED: an escalation due at the highest dose level: there is no higher
  level, the MTD is not reached (MTD >= the top dose);
- 3+3-BEYOND: more than ``expanded_size`` evaluable: outside the 3+3 cohort sizes, no decision.

The MTD is the highest dose with at most ``mtd_max_dlt`` DLTs among at least ``mtd_min_evaluable`` [6]
evaluable subjects, judged at the deciding dose: the dose just below the lowest too-toxic dose, or
the highest dose tested when none is too toxic.

- MTD-BELOW-LOWEST: the lowest dose is too toxic -> not determined (below the doses tested);
- MTD-TOO-FEW: the deciding dose has fewer than ``mtd_min_evaluable`` evaluable -> not determined;
- MTD-TOO-MANY: the deciding dose has more than ``mtd_max_dlt`` DLTs -> not determined;
- MTD-BELOW-TOXIC: MTD = the dose just below the lowest too-toxic dose;
- MTD-HIGHEST-TESTED: no dose too toxic, MTD = the highest dose tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sdtmgen.report.ard import Ard
from sdtmgen.spec.report import Dlt, Mtd, ThreePlusThree
from sdtmgen.report.data import Inputs, distinct_texts, is_y, text_is

NOT_DETERMINED = "not determined"


@dataclass(frozen=True)
class DoseCount:
    level: str
    evaluable: int
    dlt: int


@dataclass(frozen=True)
class Decision:
    decision: str  # escalate | expand | stop | incomplete
    rule: str
    reason: str


@dataclass(frozen=True)
class MtdResult:
    mtd: str  # the dose group, or NOT_DETERMINED
    rule: str
    reason: str


def decide(count: DoseCount, rules: ThreePlusThree, top: bool = False) -> Decision:
    """The 3+3 decision at one dose level; ``top``: it is the highest dose level of the study."""
    n, d = count.evaluable, count.dlt
    seen = f"{d} DLT(s) among {n} evaluable"
    sizes = f"{rules.cohort_size}-{rules.expanded_size}"
    if n < rules.cohort_size:
        return Decision("incomplete", "3+3-INCOMPLETE",
                        f"{seen}: fewer than {rules.cohort_size} evaluable, cohort not complete")
    if n > rules.expanded_size:
        return Decision("not applicable", "3+3-BEYOND",
                        f"{seen}: more than {rules.expanded_size} evaluable, outside the 3+3 cohorts of {sizes}")
    if d >= rules.stop_min_dlt:
        return Decision("stop", "3+3-STOP",
                        f"{seen} (>= {rules.stop_min_dlt} of {sizes}): dose too toxic, stop")
    if n < rules.expanded_size:
        if d <= rules.escalate_max_dlt:
            if top:
                return Decision("top dose", "3+3-TOP-DOSE",
                                f"{seen} (<= {rules.escalate_max_dlt}): highest dose level reached, no higher level "
                                f"to escalate to; MTD not reached (MTD >= this dose)")
            return Decision("escalate", "3+3-ESCALATE", f"{seen} (<= {rules.escalate_max_dlt}): escalate")
        return Decision("expand", "3+3-EXPAND",
                        f"{seen} (> {rules.escalate_max_dlt}, < {rules.stop_min_dlt}): expand to {rules.expanded_size}")
    if d <= rules.mtd_max_dlt:
        if top:
            return Decision("top dose", "3+3-TOP-DOSE-EXPANDED",
                            f"{seen} ({rules.expanded_size} evaluable, <= {rules.mtd_max_dlt} DLT): highest dose "
                            f"level reached, no higher level to escalate to; MTD not reached (MTD >= this dose)")
        return Decision("escalate", "3+3-ESCALATE-EXPANDED",
                        f"{seen} ({rules.expanded_size} evaluable, <= {rules.mtd_max_dlt} DLT): escalate")
    return Decision("stop", "3+3-STOP-EXPANDED",
                    f"{seen} ({rules.expanded_size} evaluable, > {rules.mtd_max_dlt} DLT): dose too toxic, stop")


def determine_mtd(counts: list[DoseCount], rules: ThreePlusThree) -> MtdResult:
    """``counts`` ordered by ascending dose."""
    if not counts:
        return MtdResult(NOT_DETERMINED, "MTD-TOO-FEW", "no dose level has DLT-evaluable subjects")
    decisions = [decide(c, rules, top=i == len(counts) - 1) for i, c in enumerate(counts)]
    toxic = next((i for i, d in enumerate(decisions) if d.decision == "stop"), None)
    if toxic == 0:
        c = counts[0]
        return MtdResult(NOT_DETERMINED, "MTD-BELOW-LOWEST",
                         f"the lowest dose {c.level} is too toxic ({c.dlt} DLT(s) among {c.evaluable} evaluable): "
                         f"the MTD is below the doses tested")
    i = (toxic - 1) if toxic is not None else len(counts) - 1
    c = counts[i]
    where = (f"{c.level}, the dose below the too-toxic {counts[toxic].level}," if toxic is not None
             else f"{c.level}, the highest dose tested (none too toxic),")
    if c.evaluable < rules.mtd_min_evaluable:
        return MtdResult(NOT_DETERMINED, "MTD-TOO-FEW",
                         f"{where} has {c.evaluable} evaluable subject(s), fewer than {rules.mtd_min_evaluable}")
    if c.dlt > rules.mtd_max_dlt:
        return MtdResult(NOT_DETERMINED, "MTD-TOO-MANY",
                         f"{where} has {c.dlt} DLT(s), more than {rules.mtd_max_dlt}")
    rule = "MTD-BELOW-TOXIC" if toxic is not None else "MTD-HIGHEST-TESTED"
    return MtdResult(c.level, rule, f"{where} has {c.dlt} DLT(s) among {c.evaluable} evaluable "
                                    f"(<= {rules.mtd_max_dlt} among >= {rules.mtd_min_evaluable})")


def dose_counts(inputs: Inputs, outcome: Dlt) -> tuple[list[DoseCount], pd.DataFrame]:
    ae = inputs.group_of(inputs.adae)
    dlt = ae[is_y(ae[outcome.flag])]
    evaluable = inputs.subjects[inputs.subjects["DLTEVL"]]
    dlt = dlt[dlt["USUBJID"].isin(evaluable["USUBJID"])]
    counts = []
    for level in inputs.groups:
        ids = evaluable.loc[evaluable["GROUP"] == level, "USUBJID"]
        counts.append(DoseCount(level, len(ids), int(dlt.loc[dlt["USUBJID"].isin(ids), "USUBJID"].nunique())))
    return counts, dlt


def dlt_table(ard: Ard, inputs: Inputs, outcome: Dlt, rules: ThreePlusThree | None) -> list[DoseCount]:
    counts, dlt = dose_counts(inputs, outcome)
    label = f"{outcome.title} (DLT-evaluable subjects)"
    evaluable = inputs.subjects[inputs.subjects["DLTEVL"]]
    for level in inputs.levels:
        ids = evaluable["USUBJID"] if level == inputs.overall else evaluable.loc[evaluable["GROUP"] == level, "USUBJID"]
        rows = dlt[dlt["USUBJID"].isin(ids)]
        ard.add_proportion(outcome.number, "DLT", label, level, outcome.flag, rows["USUBJID"].nunique(), len(ids),
                           variable_label="Subjects with a DLT", events=len(rows))
        for term in distinct_texts(dlt[outcome.term]):
            hits = rows[text_is(rows[outcome.term], term)]
            ard.add_proportion(outcome.number, "DLT", label, level, outcome.term, hits["USUBJID"].nunique(),
                               len(ids), variable_level=term, variable_label=term)
        if rules is not None and level != inputs.overall:
            count = next(c for c in counts if c.level == level)
            decision = decide(count, rules, top=level == inputs.groups[-1])
            for name, value in (("decision", decision.decision), ("rule", decision.rule),
                                ("reason", decision.reason)):
                ard.add(outcome.number, "DLT", label, level, "DECISION", name, value,
                        variable_label="3+3 decision", context="dlt")
    return counts


def mtd_table(ard: Ard, inputs: Inputs, outcome: Mtd, counts: list[DoseCount]) -> MtdResult:
    result = determine_mtd(counts, outcome.rules)
    for name, value in (("mtd", result.mtd), ("rule", result.rule), ("reason", result.reason)):
        ard.add(outcome.number, "MTD", outcome.title, inputs.overall, "MTD", name, value,
                variable_label="Maximum tolerated dose", context="mtd")
    return result
