"""Blood counts (hem.csv) and the transfusions they trigger, generated as subject x draw matrices.

Draw matrix columns: the screening draw, the inpatient schedule, an unscheduled draw and the
follow-up visits, sorted by day per subject and cut at the subject's last day of data. True values
come from the latent curves; a transfusion given after a draw below the subject's trigger adds a
decaying rise to the following values of its test. The only Python loop runs over draw positions
(about 30), each step vectorised over all subjects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.simulate.kinetics import Curve, true_values
from sdtmgen.spec.simulation import SimulationParams, Transfusion
from sdtmgen.simulate.schedule import Schedule
from sdtmgen.simulate.subjects import Subjects
from sdtmgen.simulate.text import chemo_day_offset, format_dates, format_fixed, format_number, format_times

NEVER = 10**6  # day of padding cells (after every real day)


@dataclass
class DrawMatrix:
    day: np.ndarray  # (S, T) chemo day; NEVER where invalid
    time: np.ndarray  # (S, T) minutes
    visit: np.ndarray  # (S, T) visit code
    valid: np.ndarray  # (S, T)


def draw_matrix(params: SimulationParams, rng: np.random.Generator, sched: Schedule, last_day: np.ndarray) -> DrawMatrix:
    bc = params.blood_counts
    n, g = sched.draw_days.shape
    f = sched.followup_days.shape[1]
    day = np.concatenate(
        [sched.screening_day[:, None], sched.draw_days, sched.unscheduled_day[:, None], sched.followup_days], axis=1
    )
    valid = np.concatenate(
        [np.ones((n, 1), bool), sched.draw_valid, (sched.unscheduled_day != 0)[:, None], np.ones((n, f), bool)], axis=1
    )
    inpatient = draw.times(rng, bc.time, (n, g))
    clinic = draw.times(rng, bc.clinic_time, (n, 2 + f))
    time = np.concatenate([clinic[:, :1], inpatient, clinic[:, 1:]], axis=1)
    treatment_codes = sched.treatment_codes(np.where(sched.draw_valid, sched.draw_days, min(sched.day_code)))
    visit = np.concatenate(
        [
            np.full((n, 1), sched.screening_code),
            treatment_codes,
            np.full((n, 1), sched.unscheduled_code),
            np.broadcast_to(sched.followup_codes, (n, f)),
        ],
        axis=1,
    )
    valid &= day <= last_day[:, None]
    day = np.where(valid, day, NEVER)
    order = np.argsort(day, axis=1, kind="stable")
    pick = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
    return DrawMatrix(day=pick(day), time=pick(time), visit=pick(visit), valid=pick(valid))


@dataclass
class TransfusionLog:
    subject: np.ndarray
    day: np.ndarray
    time: np.ndarray
    product: np.ndarray
    units: np.ndarray
    ae_row: np.ndarray  # AE line it was given for, -1 = triggered by a count


def _boost(days: np.ndarray, given: np.ndarray, amount: np.ndarray, tau: float) -> np.ndarray:
    """Rise at `days` (rows of one subject each) from transfusions on day `given` (after that day)."""
    dt = days - given[:, None]
    return np.where(dt > 0, amount[:, None] * np.exp(-np.clip(dt, 0, None) / tau), 0.0)


def _transfuse(
    rule: Transfusion,
    rng: np.random.Generator,
    m: DrawMatrix,
    value: np.ndarray,
    noise: np.ndarray,
    last_day: np.ndarray,
    forced: pd.DataFrame,
) -> tuple[np.ndarray, dict]:
    """Sequential trigger rule over draw positions; returns the boost matrix and the transfusions."""
    n, t = m.day.shape
    threshold = draw.pick(rng, rule.trigger_below, n).astype(float)
    increment = draw.uniform(rng, rule.increment_per_unit, (n, t))
    units = draw.pick(rng, rule.units, (n, t)).astype(np.int64)
    delay = draw.integers(rng, rule.delay_minutes, (n, t))
    boost = np.zeros((n, t))
    same_day = np.zeros((n, t), bool)

    mine = forced[forced["product"] == rule.product]
    f_subject = mine["subject"].to_numpy(np.int64)
    f_day = mine["day"].to_numpy(np.int64)
    f_units = draw.pick(rng, rule.units, len(mine)).astype(np.int64)
    if len(mine):
        f_amount = draw.uniform(rng, rule.increment_per_unit, len(mine)) * f_units
        np.add.at(boost, f_subject, _boost(m.day[f_subject], f_day, f_amount, rule.decay_days))
        np.logical_or.at(same_day, f_subject, m.day[f_subject] == f_day[:, None])

    window = m.valid & (m.day >= rule.days[0]) & (m.day <= rule.days[1]) & (m.day <= last_day[:, None])
    got_s, got_j = [], []
    for j in range(t):
        observed = (value[:, j] + boost[:, j]) * noise[:, j]
        trig = window[:, j] & (observed < threshold) & ~same_day[:, j]
        if not trig.any():
            continue
        idx = np.flatnonzero(trig)
        got_s.append(idx)
        got_j.append(np.full(len(idx), j))
        if j + 1 < t:
            amount = increment[idx, j] * units[idx, j]
            boost[idx, j + 1 :] += _boost(m.day[idx, j + 1 :], m.day[idx, j], amount, rule.decay_days)
    s = np.concatenate(got_s) if got_s else np.zeros(0, np.int64)
    j = np.concatenate(got_j) if got_j else np.zeros(0, np.int64)
    log = {
        "subject": np.concatenate([s, f_subject]),
        "day": np.concatenate([m.day[s, j], f_day]),
        "time": np.concatenate([m.time[s, j] + delay[s, j], mine["time"].to_numpy(np.int64)]),
        "units": np.concatenate([units[s, j], f_units]),
        "ae_row": np.concatenate([np.full(len(s), -1), mine["ae_row"].to_numpy(np.int64)]),
    }
    log["product"] = np.full(len(log["subject"]), rule.product, dtype=object)
    return boost, log


@dataclass
class LabResult:
    hem: pd.DataFrame
    transfusions: TransfusionLog


def simulate_labs(
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    sched: Schedule,
    curves: dict[str, Curve],
    last_day: np.ndarray,
    forced: pd.DataFrame,
) -> LabResult:
    bc = params.blood_counts
    m = draw_matrix(params, rng, sched, last_day)
    n, t = m.day.shape
    truth = true_values(bc, curves, m.day.astype(float))
    noise = {test.name: np.exp(rng.normal(0.0, test.noise_sd, (n, t))) for test in bc.tests}
    boosts = {test.name: np.zeros((n, t)) for test in bc.tests}
    logs = []
    for rule in params.transfusions:
        boost, log = _transfuse(rule, rng, m, truth[rule.test] + boosts[rule.test], noise[rule.test], last_day, forced)
        boosts[rule.test] += boost
        logs.append(log)
    observed = {name: (truth[name] + boosts[name]) * noise[name] for name in truth}

    # long format: one row per valid draw and test, in (subject, day, test) order
    s_idx, j_idx = np.nonzero(m.valid)
    k = len(s_idx)
    n_tests = len(bc.tests)
    rows = np.repeat(np.arange(k), n_tests)
    test_no = np.tile(np.arange(n_tests), k)
    s_rows, j_rows = s_idx[rows], j_idx[rows]
    not_done = rng.random(len(rows)) < bc.not_done.probability
    reason = draw.pick(rng, bc.not_done.reasons, len(rows))

    result = np.full(len(rows), "", dtype=object)
    unit = np.full(len(rows), "", dtype=object)
    low = np.full(len(rows), "", dtype=object)
    high = np.full(len(rows), "", dtype=object)
    sex = subjects.sex[s_rows]
    for i, test in enumerate(bc.tests):
        here = test_no == i
        values = observed[test.name][s_rows[here], j_rows[here]]
        u_choice = draw.pick_index(rng, {u.unit: u.weight for u in test.units}, (n, t))[s_rows[here], j_rows[here]]
        text = np.full(here.sum(), "", dtype=object)
        units = np.full(here.sum(), "", dtype=object)
        lo = np.full(here.sum(), "", dtype=object)
        hi = np.full(here.sum(), "", dtype=object)
        for ui, u in enumerate(test.units):
            sel = u_choice == ui
            text[sel] = format_fixed(values[sel] * u.factor, u.decimals)
            if test.below_limit is not None:
                below = sel & (values < test.below_limit)
                text[below] = "<" + format_number(round(test.below_limit * u.factor, 6))
            units[sel] = u.unit
            ranges = dict(u.normal_range_by_sex)
            for sex_value in np.unique(sex[here][sel]):
                rng_pair = ranges.get(sex_value, u.normal_range)
                if rng_pair is None:
                    continue
                this = sel & (sex[here] == sex_value)
                lo[this] = f"{rng_pair[0]:.{u.decimals}f}"
                hi[this] = f"{rng_pair[1]:.{u.decimals}f}"
        result[here], unit[here], low[here], high[here] = text, units, lo, hi

    result[not_done] = ""
    unit[not_done] = ""
    low[not_done] = ""
    high[not_done] = ""
    day = m.day[s_rows, j_rows]
    date = subjects.day1[s_rows] + chemo_day_offset(day)
    hem = pd.DataFrame(
        {
            "SUBJECT": subjects.ids[s_rows],
            "SITENUMBER": params.study.site_number,
            "VISIT": np.array(sched.names, dtype=object)[m.visit[s_rows, j_rows]],
            "LBDAT": format_dates(date),
            "LBTIM": format_times(m.time[s_rows, j_rows]),
            "LBTEST": np.array([tt.name for tt in bc.tests], dtype=object)[test_no],
            "LBORRES": result,
            "LBORRESU": unit,
            "LBORNRLO": low,
            "LBORNRHI": high,
            "LBSTAT": np.where(not_done, "Not Done", ""),
            "LBREASND": np.where(not_done, reason, ""),
        },
        copy=False,
    )
    combined = {key: np.concatenate([log[key] for log in logs]) for key in logs[0]} if logs else None
    trans = TransfusionLog(**combined) if combined else TransfusionLog(*(np.zeros(0),) * 6)
    return LabResult(hem=hem, transfusions=trans)
