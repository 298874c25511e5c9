"""3+3 decisions per dose level and the MTD, with the rule that decided each."""

from __future__ import annotations

import pytest

from sdtmgen.spec.report import ThreePlusThree
from sdtmgen.report.dlt import NOT_DETERMINED, DoseCount, decide, determine_mtd

RULES = ThreePlusThree(cohort_size=3, expanded_size=6, escalate_max_dlt=0, stop_min_dlt=2, mtd_max_dlt=1,
                       mtd_min_evaluable=6)


@pytest.mark.parametrize("evaluable, dlt, top, decision, rule", [
    # cohorts of 3
    (3, 0, False, "escalate", "3+3-ESCALATE"),          # 0/3 -> escalate
    (3, 0, True, "top dose", "3+3-TOP-DOSE"),           # 0/3 at the highest level: nowhere to escalate
    (3, 1, False, "expand", "3+3-EXPAND"),              # 1/3 -> expand to 6
    (3, 1, True, "expand", "3+3-EXPAND"),
    (3, 2, False, "stop", "3+3-STOP"),                  # 2/3 -> too toxic
    (3, 3, True, "stop", "3+3-STOP"),
    # cohorts of 6
    (6, 0, False, "escalate", "3+3-ESCALATE-EXPANDED"),
    (6, 1, False, "escalate", "3+3-ESCALATE-EXPANDED"),  # 1/6 -> escalate
    (6, 1, True, "top dose", "3+3-TOP-DOSE-EXPANDED"),   # 1/6 at the highest level: MTD >= top dose
    (6, 2, False, "stop", "3+3-STOP"),                  # >= 2 of 3-6
    (6, 2, True, "stop", "3+3-STOP"),
    (6, 4, False, "stop", "3+3-STOP"),
    # outside 3-6
    (2, 2, False, "incomplete", "3+3-INCOMPLETE"),      # 2 DLTs among 2: the rule is >= 2 of 3-6
    (2, 0, False, "incomplete", "3+3-INCOMPLETE"),
    (0, 0, True, "incomplete", "3+3-INCOMPLETE"),
    (4, 1, False, "expand", "3+3-EXPAND"),              # expansion under way
    (5, 2, False, "stop", "3+3-STOP"),
    (7, 2, False, "not applicable", "3+3-BEYOND"),      # more than 6 evaluable: no 3+3 decision
])
def test_three_plus_three_decision(evaluable, dlt, top, decision, rule):
    got = decide(DoseCount("D", evaluable, dlt), RULES, top=top)
    assert (got.decision, got.rule) == (decision, rule)
    assert f"{dlt} DLT(s) among {evaluable} evaluable" in got.reason
    if decision == "top dose":
        assert "MTD not reached" in got.reason and "escalate" not in got.decision


def test_stop_needs_a_gap_free_rule_set():
    # mtd_max_dlt 0 with stop_min_dlt 2: 1 DLT among 6 is above the MTD rule, below the stop rule
    rules = RULES.model_copy(update={"mtd_max_dlt": 0})
    assert decide(DoseCount("D", 6, 1), rules).rule == "3+3-STOP-EXPANDED"


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
    small = RULES.model_copy(update={"cohort_size": 2, "expanded_size": 4})
    assert decide(DoseCount("D", 2, 2), small).decision == "stop"
    assert decide(DoseCount("D", 6, 1), small).rule == "3+3-BEYOND"
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


def test_the_highest_dose_level_is_never_told_to_escalate(study, report_config, stat):
    from sdtmgen.report import make_report

    frames = study.datasets()
    frames["ADAE"]["DLTFL"] = None  # no DLT anywhere: DL1, DL2 escalate, DL3 is the top dose
    frames["ADSL"]["DLTEVLFL"] = frames["ADSL"]["DLTEVLFL"].where(frames["ADSL"]["USUBJID"] != "S06", "Y")
    ard = make_report(frames, report_config, draw=False).ard
    G = study.GROUPS
    decisions = [stat(ard, outcome=2, analysis="DLT", level=G[k], stat_name="decision") for k in (1, 2, 3)]
    assert decisions == ["escalate", "escalate", "top dose"]
    assert "MTD not reached" in stat(ard, outcome=2, analysis="DLT", level=G[3], stat_name="reason")
    assert stat(ard, outcome=3, analysis="MTD", level="Overall", stat_name="rule") == "MTD-TOO-FEW"
