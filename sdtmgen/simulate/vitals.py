"""Vital signs (vs.csv, one wide row per assessment), vectorised over subject x day.

A morning assessment every inpatient day plus screening and follow-up visits; weight on the
spec's weight days. On a febrile day (from the AE fevers) the morning temperature is raised and two
extra temperature-only rows record the spike and a recheck an hour or so later.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import SimulationParams, VitalMeasure
from sdtmgen.simulate.schedule import Schedule
from sdtmgen.simulate.subjects import Subjects
from sdtmgen.simulate.text import chemo_day_offset, format_dates, format_fixed, format_times


def _measure(spec: VitalMeasure, rng: np.random.Generator, n: int, shape) -> np.ndarray:
    mean = draw.uniform(rng, spec.mean, n)
    values = mean[:, None] + rng.normal(0.0, spec.sd, shape)
    return np.clip(values, spec.clip[0], spec.clip[1])


def simulate_vitals(
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    sched: Schedule,
    last_day: np.ndarray,
    fever: pd.DataFrame,
) -> pd.DataFrame:
    vs = params.vital_signs
    n = subjects.n
    daily = np.arange(vs.days[0], vs.days[1] + 1)
    f = sched.followup_days.shape[1]
    # columns: screening, daily days, follow-ups
    day = np.concatenate([sched.screening_day[:, None], np.broadcast_to(daily, (n, len(daily))), sched.followup_days], axis=1)
    t = day.shape[1]
    visit = np.concatenate(
        [
            np.full((n, 1), sched.screening_code),
            np.broadcast_to(sched.treatment_codes(daily), (n, len(daily))),
            np.broadcast_to(sched.followup_codes, (n, f)),
        ],
        axis=1,
    )
    clinic = draw.times(rng, vs.clinic_time, (n, 1 + f))
    ward = draw.times(rng, vs.time, (n, len(daily)))
    time = np.concatenate([clinic[:, :1], ward, clinic[:, 1:]], axis=1)
    valid = day <= last_day[:, None]

    temp = _measure(vs.temperature, rng, n, (n, t))
    sys = _measure(vs.systolic, rng, n, (n, t))
    dia = _measure(vs.diastolic, rng, n, (n, t))
    dia = np.minimum(dia, sys - 20)
    pulse = _measure(vs.pulse, rng, n, (n, t))
    resp = _measure(vs.respiration, rng, n, (n, t))

    # fevers on inpatient days: raised morning temperature, a spike row and a recheck row
    fever = fever[(fever["day"] >= vs.days[0]) & (fever["day"] <= vs.days[1])]
    fever = fever[fever["day"].to_numpy() <= last_day[fever["subject"].to_numpy(np.int64)]]
    fs = fever["subject"].to_numpy(np.int64)
    fcol = 1 + fever["day"].to_numpy(np.int64) - vs.days[0]
    # morning reading of a febrile day: raised from an episode's second day on
    days = fever.groupby(["subject", "day"], as_index=False).agg(peak=("peak", "max"), continuing=("continuing", "any"))
    ds = days["subject"].to_numpy(np.int64)
    dcol = 1 + days["day"].to_numpy(np.int64) - vs.days[0]
    morning = np.round(draw.uniform(rng, vs.fever_morning, len(days)), 1)
    raised = days["continuing"].to_numpy(bool)
    temp[ds[raised], dcol[raised]] = np.minimum(morning, days["peak"].to_numpy())[raised]
    pulse[ds, dcol] += vs.pulse_per_degree * np.maximum(temp[ds, dcol] - 37.0, 0)

    # weight: baseline with a drift over the inpatient period
    weight_cols = np.zeros(t, bool)
    weight_cols[0] = True
    weight_cols[1 + np.array([d - vs.days[0] for d in vs.weight_days if vs.days[0] <= d <= vs.days[1]], dtype=int)] = True
    weight_cols[1 + len(daily) :] = True
    change = draw.uniform(rng, vs.weight_change_by_day_42, n)
    progress = np.clip((day - 1) / max(vs.days[1] - 1, 1), 0, 1)
    progress[:, 1 + len(daily) :] = 1.0 - vs.weight_regained
    weight = subjects.weight[:, None] * (1 + change[:, None] * progress) + rng.normal(0, vs.weight_sd, (n, t))

    s_idx, j_idx = np.nonzero(valid)
    has_weight = weight_cols[j_idx]
    units = vs.units
    base = pd.DataFrame(
        {
            "subject": s_idx,
            "day": day[s_idx, j_idx],
            "time": time[s_idx, j_idx],
            "visit": visit[s_idx, j_idx],
            "TEMP": format_fixed(temp[s_idx, j_idx], vs.temperature.decimals),
            "SYSBP": format_fixed(sys[s_idx, j_idx], vs.systolic.decimals),
            "DIABP": format_fixed(dia[s_idx, j_idx], vs.diastolic.decimals),
            "PULSE": format_fixed(pulse[s_idx, j_idx], vs.pulse.decimals),
            "RESP": format_fixed(resp[s_idx, j_idx], vs.respiration.decimals),
            "WEIGHT": format_fixed(weight[s_idx, j_idx], 1, present=has_weight),
            "full": True,
        }
    )
    spike_time = fever["time"].to_numpy(np.int64)
    recheck_time = np.minimum(spike_time + draw.integers(rng, vs.fever_recheck_minutes, len(fever)), 24 * 60 - 1)
    peak = fever["peak"].to_numpy()
    recheck = np.round(peak - draw.uniform(rng, vs.fever_recheck_drop, len(fever)), 1)
    ward_time = time[fs, fcol]
    spike_time = np.maximum(spike_time, ward_time + 30)  # after the morning round
    extra = pd.DataFrame(
        {
            "subject": np.concatenate([fs, fs]),
            "day": np.concatenate([day[fs, fcol]] * 2),
            "time": np.concatenate([spike_time, np.maximum(recheck_time, spike_time + 30)]),
            "visit": np.concatenate([visit[fs, fcol]] * 2),
            "TEMP": format_fixed(np.concatenate([peak, recheck]), vs.temperature.decimals),
            "SYSBP": "",
            "DIABP": "",
            "PULSE": "",
            "RESP": "",
            "WEIGHT": "",
            "full": False,
        }
    )
    extra = extra[extra["time"] < 24 * 60]
    # two fevers of one day can land on the same minute (or on the ward round): one measurement per minute
    extra = extra.drop_duplicates(["subject", "day", "time"], keep="first")
    taken = base.set_index(["subject", "day", "time"]).index
    extra = extra[~extra.set_index(["subject", "day", "time"]).index.isin(taken)]
    rows = pd.concat([base, extra], ignore_index=True).sort_values(["subject", "day", "time"], kind="stable")
    s = rows["subject"].to_numpy(np.int64)
    full = rows["full"].to_numpy(bool)
    weighed = rows["WEIGHT"].to_numpy() != ""
    date = subjects.day1[s] + chemo_day_offset(rows["day"].to_numpy(np.int64))
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids[s],
            "SITENUMBER": params.study.site_number,
            "VISIT": np.array(sched.names, dtype=object)[rows["visit"].to_numpy(np.int64)],
            "VSDAT": format_dates(date),
            "VSTIM": format_times(rows["time"].to_numpy(np.int64)),
            "TEMP": rows["TEMP"].to_numpy(),
            "TEMPU": units["TEMPU"],
            "SYSBP": rows["SYSBP"].to_numpy(),
            "DIABP": rows["DIABP"].to_numpy(),
            "BPU": np.where(full, units["BPU"], ""),
            "PULSE": rows["PULSE"].to_numpy(),
            "PULSEU": np.where(full, units["PULSEU"], ""),
            "RESP": rows["RESP"].to_numpy(),
            "RESPU": np.where(full, units["RESPU"], ""),
            "WEIGHT": rows["WEIGHT"].to_numpy(),
            "WEIGHTU": np.where(weighed, units["WEIGHTU"], ""),
        },
        copy=False,
    )
