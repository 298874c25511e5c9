"""3+3 decisions per dose level and the MTD, with the rule that decided each."""

from __future__ import annotations

import pytest

from sdtmgen.report.config import ThreePlusThree
from sdtmgen.report.dlt import NOT_DETERMINED, DoseCount, decide, determine_mtd

RULES = ThreePlusThree(cohort_size=3, expanded_size=6, escalate_max_dlt=0, stop_min_dlt=2, mtd_max_dlt=1,
                       mtd_min_evaluable=6)


@pytest.mark.parametrize("evaluable, dlt, decision, rule", [
    (3, 0, "escalate", "3+3-ESCALATE"),          # 0/3 -> escalate
    (3, 1, "expand", "3+3-EXPAND"),              # 1/3 -> expand to 6
    (3, 2, "stop", "3+3-STOP"),                  # 2/3 -> too toxic
    (3, 3, "stop", "3+3-STOP"),
    (6, 1, "escalate", "3+3-ESCALATE-EXPANDED"),  # 1/6 -> escalate
    (6, 0, "escalate", "3+3-ESCALATE-EXPANDED"),
    (6, 2, "stop", "3+3-STOP"),                  # >= 2 of 3-6
    (2, 2, "stop", "3+3-STOP"),                  # two DLTs stop even an incomplete cohort
    (2, 0, "incomplete", "3+3-INCOMPLETE"),
    (0, 0, "incomplete", "3+3-INCOMPLETE"),
    (4, 1, "expand", "3+3-EXPAND"),              # expansion under way
])
def test_three_plus_three_decision(evaluable, dlt, decision, rule):
    got = decide(DoseCount("D", evaluable, dlt), RULES)
    assert (got.decision, got.rule) == (decision, rule)
    assert f"{dlt} DLT(s) among {evaluable} evaluable" in got.reason


def counts(*pairs):
    return [DoseCount(f"DL{i}", n, d) for i, (n, d) in enumerate(pairs, start=1)]


@pytest.mark.parametrize("doses, mtd, rule", [
    (((3, 0), (6, 1), (3, 2)), "DL2", "MTD-BELOW-TOXIC"),      # DL3 too toxic, DL2 1/6
    (((3, 0), (3, 0), (3, 0)), NOT_DETERMINED, "MTD-TOO-FEW"),  # the example study: 3 at the top dose
    (((3, 0), (3, 0), (6, 1)), "DL3", "MTD-HIGHEST-TESTED"),
    (((3, 2), (3, 0)), NOT_DETERMINED, "MTD-BELOW-LOWEST"),
    (((3, 0), (3, 1), (3, 2)), NOT_DETERMINED, "MTD-TOO-FEW"),  # DL2 was never expanded
    (((6, 1), (6, 2), (3, 0)), "DL1", "MTD-BELOW-TOXIC"),      # doses above a too-toxic one do not count
    (((3, 0), (5, 0), (3, 3)), NOT_DETERMINED, "MTD-TOO-FEW"),  # 5 < 6 evaluable below the toxic dose
])
def test_mtd_and_the_rule_that_decided_it(doses, mtd, rule):
    got = determine_mtd(counts(*doses), RULES)
    assert (got.mtd, got.rule) == (mtd, rule)
    assert got.reason


def test_rule_numbers_come_from_the_spec():
    lenient = RULES.model_copy(update={"mtd_min_evaluable": 3})
    got = determine_mtd(counts((3, 0), (3, 0), (3, 0)), lenient)
    assert (got.mtd, got.rule) == ("DL3", "MTD-HIGHEST-TESTED")
    strict = RULES.model_copy(update={"stop_min_dlt": 1})
    assert decide(DoseCount("D", 3, 1), strict).decision == "stop"
    with pytest.raises(ValueError):
        ThreePlusThree(**(RULES.model_dump() | {"escalate_max_dlt": 2, "stop_min_dlt": 2}))


def test_ard_rows_per_dose_level(ard, stat, study):
    G = study.GROUPS
    # S06 is not DLT-evaluable, S10 is not in the safety population: DL2 has 2 evaluable
    assert [stat(ard, outcome=2, analysis="DLT", level=G[k], stat_name="N", variable="DLTFL") for k in (1, 2, 3)] \
        == ["3", "2", "3"]
    assert stat(ard, outcome=2, analysis="DLT", level=G[3], stat_name="n", variable="DLTFL") == "1"
    assert stat(ard, outcome=2, analysis="DLT", level="Overall", stat_name="n", variable="DLTFL") == "1"
    assert stat(ard, outcome=2, analysis="DLT", level="Overall", stat_name="N", variable="DLTFL") == "8"
    decisions = [stat(ard, outcome=2, analysis="DLT", level=G[k], stat_name="decision") for k in (1, 2, 3)]
    rules = [stat(ard, outcome=2, analysis="DLT", level=G[k], stat_name="rule") for k in (1, 2, 3)]
    assert decisions == ["escalate", "incomplete", "expand"]
    assert rules == ["3+3-ESCALATE", "3+3-INCOMPLETE", "3+3-EXPAND"]
    assert stat(ard, outcome=2, analysis="DLT", level=G[3], stat_name="n", variable="AEDECOD",
                variable_level="Hepatic failure") == "1"


def test_ard_mtd_row(ard, stat, study):
    assert stat(ard, outcome=3, analysis="MTD", level="Overall", stat_name="mtd") == NOT_DETERMINED
    assert stat(ard, outcome=3, analysis="MTD", level="Overall", stat_name="rule") == "MTD-TOO-FEW"
    reason = stat(ard, outcome=3, analysis="MTD", level="Overall", stat_name="reason")
    assert study.GROUPS[3] in reason and "fewer than 6" in reason
