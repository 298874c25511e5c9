"""Kaplan-Meier: the ARD against a product-limit estimate and Greenwood log(-log) band computed by hand."""

from __future__ import annotations

import math

import pytest

from sdtmgen.report.km import fit

Z = 1.959963984540054  # two-sided 95% normal quantile


def hand_km(case: dict[str, tuple[int, int]]):
    """Product-limit estimate by hand: {event time: (S, lower, upper)} and the event times in order."""
    times = sorted({t for t, c in case.values() if c == 0})
    s, greenwood, out = 1.0, 0.0, {}
    for t in times:
        at_risk = sum(1 for u, _ in case.values() if u >= t)
        deaths = sum(1 for u, c in case.values() if u == t and c == 0)
        s *= 1 - deaths / at_risk
        if at_risk > deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths))
        if 0 < s < 1:
            # exponential Greenwood: CI of log(-log S), back-transformed
            half = Z * math.sqrt(greenwood) / math.log(s)
            out[t] = (s, s ** math.exp(-half), s ** math.exp(half))
        else:
            out[t] = (s, float("nan"), float("nan"))
    return out


def step(curve: dict[int, tuple[float, float, float]], t: float, index: int) -> float:
    before = [u for u in curve if u <= t]
    return curve[max(before)][index] if before else 1.0


def first_at_or_below(curve, index: int, q: float = 0.5) -> float:
    return next((t for t in sorted(curve) if curve[t][index] <= q), float("nan"))


def test_hand_computed_case_has_the_textbook_values(study):
    curve = hand_km(study.KM_CASE)
    # at risk 6, 5, 3, 2: S = 5/6, 5/6*4/5, *2/3, *1/2
    assert [round(curve[t][0], 6) for t in (15, 18, 21, 25)] == [0.833333, 0.666667, 0.444444, 0.222222]


@pytest.mark.parametrize("t", [14, 21, 28, 42])
def test_ard_survival_estimates_match_the_hand_computation(ard, stat, study, t):
    curve = hand_km(study.KM_CASE)
    for index, name in enumerate(("estimate", "conf.low", "conf.high")):
        value = stat(ard, outcome=4, analysis="ANCREC05", level="Overall", stat_name=name, variable="time",
                     variable_level=str(t))
        assert float(value) == pytest.approx(step(curve, t, index) if t >= 15 else 1.0, abs=1e-6), (t, name)


def test_ard_median_and_its_ci_match_the_hand_computation(ard, stat, study):
    curve = hand_km(study.KM_CASE)
    assert first_at_or_below(curve, 0) == 21
    get = lambda name: stat(ard, outcome=4, analysis="ANCREC05", level="Overall", stat_name=name,  # noqa: E731
                            variable="prob", variable_level="0.5")
    assert float(get("estimate")) == 21
    # lower limit: first time the lower band is <= 0.5; upper: the upper band never gets there -> NE
    assert float(get("conf.low")) == first_at_or_below(curve, 1) == 15
    assert math.isnan(first_at_or_below(curve, 2)) and get("conf.high") == ""
    row = ard[(ard["analysis"] == "ANCREC05") & (ard["group1_level"] == "Overall") & (ard["stat_name"] == "conf.high")
              & (ard["variable"] == "prob") & (ard["variable_level"] == "0.5")]
    assert row["stat_fmt"].iloc[0] == "NE"


def test_events_censored_and_at_risk_by_group(ard, stat, study):
    GROUPS = study.GROUPS
    expected = {GROUPS[1]: (3, 2, 1, "18.000000"), GROUPS[2]: (3, 2, 1, "25.000000"),
                GROUPS[3]: (0, 0, 0, ""), "Overall": (6, 4, 2, "21.000000")}
    for level, (n, events, censored, median) in expected.items():
        got = [stat(ard, outcome=4, analysis="ANCREC05", level=level, stat_name=s, variable="AVAL")
               for s in ("n_risk", "events", "censored")]
        assert got == [str(n), str(events), str(censored)], level
        assert stat(ard, outcome=4, analysis="ANCREC05", level=level, stat_name="estimate", variable="prob",
                    variable_level="0.5") == median


def test_per_group_curve_by_hand(ard, stat, study):
    GROUPS = study.GROUPS
    # DL1: 15 (event), 18 (event), 18 (censored): S = 2/3, then 2/3 * 1/2
    case = {k: v for k, v in study.KM_CASE.items() if k in ("S01", "S02", "S03")}
    curve = hand_km(case)
    for t in (21, 28):
        got = stat(ard, outcome=4, analysis="ANCREC05", level=GROUPS[1], stat_name="estimate", variable="time",
                   variable_level=str(t))
        assert float(got) == pytest.approx(curve[18][0], abs=1e-6) == pytest.approx(1 / 3)
        low = stat(ard, outcome=4, analysis="ANCREC05", level=GROUPS[1], stat_name="conf.low", variable="time",
                   variable_level=str(t))
        assert float(low) == pytest.approx(curve[18][1], abs=1e-6)


def test_every_configured_parameter_is_analysed(ard, report_config):
    for outcome in report_config.outcomes:
        if outcome.kind == "recovery":
            assert set(ard.loc[ard["outcome"] == outcome.number, "analysis"]) == set(outcome.paramcds)


def test_fit_edge_cases():
    empty = fit([], [])
    assert empty.n == 0 and math.isnan(empty.median)
    never = fit([10, 20, 30], [0, 1, 1])  # one recovery of three (CNSR 0): S = 2/3, never reaches 0.5
    assert never.events == 1 and never.censored == 2 and math.isnan(never.median)
    everyone = fit([5, 5, 7], [0, 0, 0])
    assert everyone.median == 5 and everyone.at(7)[0] == 0 and everyone.at(4) == (1.0, 1.0, 1.0)


def test_quartiles_limits_and_missing_bounds_as_r_survival_gives_them():
    # values printed by R 4.2 / survival 3.5: survfit(Surv(t, e) ~ 1, conf.type = "log-log"),
    # quantile(fit, c(.25, .5, .75)) and summary(fit, times, extend = TRUE)
    t = [2, 3, 5, 5, 7, 9, 12, 12, 15]
    e = [0, 0, 1, 1, 0, 1, 1, 0, 1]
    km = fit(t, [1 - x for x in e])
    nan = float("nan")
    expected = {0.25: (5, 5, 12), 0.5: (12, 5, nan), 0.75: (15, 9, nan)}
    for p, values in expected.items():
        assert km.quantiles[p] == pytest.approx(values, nan_ok=True), p
    assert km.at(1) == (1.0, 1.0, 1.0)  # before the first observed time (R's survfit0 row)
    s, lo, hi = km.at(2)  # S = 1 after a censoring: R gives no limits
    assert s == 1 and math.isnan(lo) and math.isnan(hi)
    assert km.at(14) == pytest.approx((0.3571429, 0.05197652, 0.698713), abs=1e-6)
    s, lo, hi = km.at(20)  # S = 0: no limits
    assert s == 0 and math.isnan(lo) and math.isnan(hi)


def test_a_curve_flat_at_the_probability_gives_the_midpoint():
    km = fit([1, 2, 3, 4], [0, 0, 0, 0])  # S = 0.75, 0.5, 0.25 exactly: R's quantile() gives 1.5, 2.5, 3.5
    assert [km.quantiles[p][0] for p in (0.25, 0.5, 0.75)] == [1.5, 2.5, 3.5]
