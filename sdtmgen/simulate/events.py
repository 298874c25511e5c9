"""Clinical events: adverse events, the medications given for them, fever days and transfusions
given for an AE; plus medications not given for an AE.

Each scenario of the spec is drawn for all subjects at once (no loop over subjects): it occurs with
its probability (or for at most one subject per cycle of dose-level cohorts), starts at an offset
from its anchor window (chemotherapy, infusion, period or a lab window such as ANC < 0.5) and lasts
a drawn duration or until the anchor window ends. Events are kept as day numbers; forms format them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.simulate.disposition import DIED, Disposition
from sdtmgen.simulate.kinetics import Window
from sdtmgen.spec.simulation import SERIOUS_CRITERIA, AEScenario, EventTiming, SimulationParams
from sdtmgen.simulate.subjects import Subjects

LAST_MINUTE = 24 * 60 - 1


def build_anchors(params: SimulationParams, windows: dict[str, Window], n: int) -> dict[str, Window]:
    """Anchor windows by name: the built-in ones and the spec's lab windows."""
    ones = np.ones(n, bool)

    def fixed(start: int, end: int) -> Window:
        return Window(start=np.full(n, start), end=np.full(n, end), has=ones)

    chemo_days = params.chemotherapy.days
    anchors = {
        "chemotherapy": fixed(min(chemo_days), max(chemo_days)),
        "infusion": fixed(params.infusion.chemo_day, params.infusion.chemo_day),
        "period": fixed(*params.blood_counts.days),
    }
    anchors.update(windows)
    return anchors


def _timing(timing: EventTiming, anchor: Window, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start day, end day and the start offset drawn, for every subject."""
    offset = draw.integers(rng, timing.start, n)
    start = anchor.start + offset
    if timing.start_margin is not None:
        start = np.maximum(np.minimum(start, anchor.end - timing.start_margin), anchor.start)
    if timing.duration is not None:
        end = start + draw.integers(rng, timing.duration, n) - 1
    else:
        end = anchor.end + draw.integers(rng, timing.end_after_anchor, n)
    return start, np.maximum(end, start), offset


def _cycle_choice(rng: np.random.Generator, eligible: np.ndarray, cycle: np.ndarray, p: float) -> np.ndarray:
    """At most one eligible subject per cycle, each cycle with probability p."""
    n = len(eligible)
    n_cycles = int(cycle.max()) + 1 if n else 0
    key = rng.random(n)
    u_cycle = rng.random(n_cycles)
    chosen = np.zeros(n, bool)
    idx = np.flatnonzero(eligible)
    if len(idx):
        order = idx[np.lexsort((key[idx], cycle[idx]))]
        last_of_cycle = np.r_[cycle[order][1:] != cycle[order][:-1], True]
        winners = order[last_of_cycle]
        chosen[winners[u_cycle[cycle[winners]] < p]] = True
    return chosen


@dataclass
class Events:
    ae: pd.DataFrame  # one row per AE, day numbers, with RECORDPOSITION
    cm: pd.DataFrame  # medications given during the study (AE treatments and scenarios)
    fever: pd.DataFrame  # subject, day, peak temperature, time of the spike
    forced_transfusions: pd.DataFrame  # subject, day, product, time, ae_row
    covers: pd.DataFrame  # ae_row, product: AEs that are the indication of transfusions given during them
    infusion_adjustment: np.ndarray  # (S,) EXADJ text


def _scenario(
    sc: AEScenario,
    order: int,
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    anchors: dict[str, Window],
    last_day: np.ndarray,
    infusion_end: np.ndarray,
) -> dict[str, np.ndarray]:
    n = subjects.n
    anchor = anchors[sc.timing.anchor]
    eligible = anchor.has.copy()
    if sc.dose_levels is not None:
        names = [d.name for d in params.dose_levels]
        eligible &= np.isin(subjects.level, [names.index(d) for d in sc.dose_levels])
    u = rng.random(n)
    if sc.per_cohort_cycle is not None:
        occurs = _cycle_choice(rng, eligible, subjects.cycle, sc.per_cohort_cycle)
    else:
        occurs = eligible & (u < sc.probability)
    start, end, offset = _timing(sc.timing, anchor, rng, n)
    defaults = params.ae_defaults
    draws = {
        "verbatim": rng.integers(0, len(params.ae_terms[sc.term].verbatim), n),
        "grade": draw.pick(rng, sc.grade, n),
        "rel_exo": draw.pick(rng, sc.rel_exo, n),
        "rel_chemo": draw.pick(rng, sc.rel_chemo, n),
        "serious": rng.random(n) < sc.serious,
        "criterion": draw.pick(rng, sc.serious_criteria, n),
        "action": draw.pick(rng, sc.action, n),
        "ongoing": rng.random(n) < sc.ongoing,
        "partial_start": rng.random(n) < defaults.partial_start,
        "partial_end": rng.random(n) < defaults.partial_end,
        "outcome_resolved": draw.pick(rng, defaults.outcome_resolved, n),
        "outcome_ongoing": draw.pick(rng, defaults.outcome_ongoing, n),
        "time": draw.times(rng, params.vital_signs.fever_time if sc.fever else defaults.time, n),
        "after_infusion": draw.integers(rng, defaults.after_infusion_minutes, n),
        "end_time": draw.times(rng, defaults.time, n),
        "end_gap": draw.integers(rng, defaults.same_day_minutes, n),
        "treated": rng.random(n) < sc.treatment_probability,
        "option": rng.integers(0, max(1, len(sc.treatments)), n),
        "transfused": rng.random(n) < (sc.transfusion.probability if sc.transfusion else 0.0),
    }
    keep = occurs & (start <= last_day)
    rows = {k: v[keep] for k, v in draws.items()}
    rows.update(subject=np.flatnonzero(keep), start=start[keep], end=end[keep], order=np.full(keep.sum(), order))
    if sc.record_time:
        on_infusion = (sc.timing.anchor == "infusion") & (offset[keep] == 0)
        rows["start_time"] = np.where(on_infusion, infusion_end[keep] + rows["after_infusion"], rows["time"])
    else:
        rows["start_time"] = np.full(keep.sum(), -1)
    rows["dlt"] = np.full(keep.sum(), sc.dlt)
    rows["term"] = np.full(keep.sum(), sc.term, dtype=object)
    return rows


def simulate_events(
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    anchors: dict[str, Window],
    disp: Disposition,
    infusion_end: np.ndarray,
) -> Events:
    n = subjects.n
    last_day = disp.last_day
    parts = []
    for order, sc in enumerate(params.adverse_events):
        parts.append(_scenario(sc, order, params, rng, subjects, anchors, last_day, infusion_end))
    ae = pd.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    ae["fatal"] = False

    # fatal AEs of subjects who died
    death = params.disposition.death
    died = np.flatnonzero(disp.status == DIED)
    if len(died):
        cause = disp.cause[died]
        onset = np.zeros(len(died), np.int64)
        rel_exo = np.empty(len(died), object)
        rel_chemo = np.empty(len(died), object)
        term = np.empty(len(died), object)
        for i, c in enumerate(death.causes):
            hit = cause == i
            onset[hit] = draw.integers(rng, c.onset_days_before, hit.sum())
            rel_exo[hit] = draw.pick(rng, c.rel_exo, hit.sum())
            rel_chemo[hit] = draw.pick(rng, c.rel_chemo, hit.sum())
            term[hit] = c.term
        k = len(died)
        fatal = pd.DataFrame(
            {
                "subject": died,
                "start": np.maximum(disp.day[died] - onset, 1),
                "end": disp.day[died],
                "order": len(params.adverse_events),
                "term": term,
                "verbatim": [rng.integers(0, len(params.ae_terms[t].verbatim)) for t in term],
                "grade": "Grade 5",
                "rel_exo": rel_exo,
                "rel_chemo": rel_chemo,
                "serious": True,
                "criterion": "AESDTH",
                "action": death.action,
                "ongoing": False,
                "partial_start": False,
                "partial_end": False,
                "outcome_resolved": "Fatal",
                "outcome_ongoing": "Fatal",
                "start_time": -1,
                "end_time": -1,
                "end_gap": 0,
                "treated": False,
                "option": 0,
                "transfused": False,
                "dlt": False,
                "fatal": True,
                "time": -1,
                "after_infusion": 0,
            },
            index=range(k),
        )
        ae = pd.concat([ae, fatal[ae.columns]], ignore_index=True)

    # ongoing at the end: drawn, or still going at the last day of data
    ae["ongoing"] = (ae["ongoing"] | (ae["end"] > last_day[ae["subject"]])) & ~ae["fatal"]
    ae.loc[ae["ongoing"], "partial_end"] = False
    same_day = ae["end"] == ae["start"]
    ae["end_time"] = np.where(
        ae["start_time"] < 0,
        -1,
        np.where(same_day, np.minimum(ae["start_time"] + ae["end_gap"], LAST_MINUTE), ae["end_time"]),
    )
    ae["start_time"] = np.minimum(ae["start_time"], LAST_MINUTE)
    ae.loc[ae["partial_start"], "start_time"] = -1
    ae.loc[ae["partial_end"] | ae["ongoing"], "end_time"] = -1
    ae["outcome"] = np.where(ae["ongoing"], ae["outcome_ongoing"], ae["outcome_resolved"])
    infusion_day = params.infusion.chemo_day
    in_window = (ae["start"] >= infusion_day) & (ae["start"] < infusion_day + params.dlt_window_days)
    ae["AEDLT"] = np.where(in_window, np.where(ae["dlt"], "Yes", "No"), "")
    ae = ae.sort_values(["subject", "start", "order", "start_time"], kind="stable").reset_index(drop=True)
    ae["RECORDPOSITION"] = ae.groupby("subject").cumcount() + 1
    ae["row"] = np.arange(len(ae))

    # infusion adjustments, medications, transfusions and fevers that follow from the AEs
    adjustment = np.full(n, "", dtype=object)
    scenario_of = {order: sc for order, sc in enumerate(params.adverse_events)}
    for order, sc in scenario_of.items():
        if sc.infusion_adjustment:
            subj = ae.loc[ae["order"] == order, "subject"].to_numpy()
            adjustment[subj] = sc.infusion_adjustment
    cm = _treatments(params, rng, ae, scenario_of, last_day)
    forced, covers = _transfusions_for_aes(params, rng, ae, scenario_of, last_day)
    fever = _fevers(params, rng, ae, scenario_of)
    return Events(ae=ae, cm=cm, fever=fever, forced_transfusions=forced, covers=covers, infusion_adjustment=adjustment)


def _treatments(params, rng, ae: pd.DataFrame, scenario_of: dict, last_day: np.ndarray) -> pd.DataFrame:
    frames = []
    for order, sc in scenario_of.items():
        if not sc.treatments:
            continue
        sel = ae[(ae["order"] == order) & ae["treated"]]
        pt = params.ae_terms[sc.term].pt.name
        for o, option in enumerate(sc.treatments):
            chosen = sel[sel["option"] == o]
            k = len(chosen)
            for med in option:
                start = chosen["start"].to_numpy() + draw.integers(rng, sc.treatment_start, k)
                end = chosen["end"].to_numpy() + draw.integers(rng, sc.treatment_end, k)
                frames.append(
                    pd.DataFrame(
                        {
                            "subject": chosen["subject"].to_numpy(),
                            "med": med,
                            "start": start,
                            "end": np.maximum(end, start),
                            "ongoing": chosen["ongoing"].to_numpy(),
                            "indication": pt,
                            "ae_row": chosen["row"].to_numpy(),
                        }
                    )
                )
    cm = pd.concat(frames, ignore_index=True) if frames else _empty_cm()
    cm = cm[cm["start"] <= last_day[cm["subject"]]]
    cm["ongoing"] = cm["ongoing"] | (cm["end"] > last_day[cm["subject"]])
    return cm.reset_index(drop=True)


def _empty_cm() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                         [("subject", int), ("med", object), ("start", int), ("end", int), ("ongoing", bool),
                          ("indication", object), ("ae_row", int)]})


def simulate_medications(
    params: SimulationParams, rng: np.random.Generator, anchors: dict[str, Window], last_day: np.ndarray
) -> pd.DataFrame:
    """Medications not given for an AE (prophylaxis, supportive care, premedication)."""
    n = len(last_day)
    frames = []
    for ms in params.medication_scenarios:
        anchor = anchors[ms.timing.anchor]
        occurs = anchor.has & (rng.random(n) < ms.probability)
        start, end, _ = _timing(ms.timing, anchor, rng, n)
        ongoing = rng.random(n) < ms.ongoing
        keep = occurs & (start <= last_day)
        frames.append(
            pd.DataFrame(
                {
                    "subject": np.flatnonzero(keep),
                    "med": ms.medication,
                    "start": start[keep],
                    "end": end[keep],
                    "ongoing": ongoing[keep] | (end[keep] > last_day[keep]),
                    "indication": ms.indication,
                    "ae_row": -1,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else _empty_cm()


def _transfusions_for_aes(params, rng, ae: pd.DataFrame, scenario_of: dict, last_day: np.ndarray):
    rules = {t.product: t for t in params.transfusions}
    forced, covers = [], []
    for order, sc in scenario_of.items():
        mine = ae[ae["order"] == order]
        for product in sc.covers_transfusions:
            covers.append(pd.DataFrame({"ae_row": mine["row"].to_numpy(), "product": product}))
        if sc.transfusion is None:
            continue
        rule = rules[sc.transfusion.product]
        sel = mine[mine["transfused"]]
        day = sel["start"].to_numpy()
        ok = (day >= rule.days[0]) & (day <= rule.days[1]) & (day <= last_day[sel["subject"].to_numpy()])
        forced.append(
            pd.DataFrame(
                {
                    "subject": sel["subject"].to_numpy()[ok],
                    "day": day[ok],
                    "product": rule.product,
                    "time": draw.times(rng, rule.time, len(sel))[ok],
                    "ae_row": sel["row"].to_numpy()[ok],
                }
            )
        )
    forced_df = (
        pd.concat(forced, ignore_index=True)
        if forced
        else pd.DataFrame({"subject": [], "day": [], "product": [], "time": [], "ae_row": []})
    )
    # one transfusion per product and day
    forced_df = forced_df.sort_values(["subject", "day", "ae_row"], kind="stable")
    forced_df = forced_df.drop_duplicates(["subject", "day", "product"]).reset_index(drop=True)
    covers_df = pd.concat(covers, ignore_index=True) if covers else pd.DataFrame({"ae_row": [], "product": []})
    return forced_df, covers_df


def _fevers(params, rng, ae: pd.DataFrame, scenario_of: dict) -> pd.DataFrame:
    vs = params.vital_signs
    frames = []
    for order, sc in scenario_of.items():
        if sc.fever is None:
            continue
        sel = ae[ae["order"] == order]
        k = len(sel)
        n_days = np.minimum(draw.integers(rng, sc.fever.days, k), (sel["end"] - sel["start"] + 1).to_numpy())
        rep = np.repeat(np.arange(k), n_days)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(n_days) - n_days, n_days)
        start_time = sel["start_time"].to_numpy()[rep]
        spike = draw.times(rng, vs.fever_time, len(rep))
        first_timed = (within == 0) & (start_time >= 0)
        frames.append(
            pd.DataFrame(
                {
                    "subject": sel["subject"].to_numpy()[rep],
                    "day": sel["start"].to_numpy()[rep] + within,
                    "peak": np.round(draw.uniform(rng, sc.fever.peak, len(rep)), 1),
                    "time": np.where(first_timed, start_time, spike),
                    "continuing": within > 0,
                }
            )
        )
    if not frames:
        return pd.DataFrame({"subject": [], "day": [], "peak": [], "time": [], "continuing": []})
    fever = pd.concat(frames, ignore_index=True)
    # one spike per time; two events febrile on one day give two spikes
    fever = fever.groupby(["subject", "day", "time"], as_index=False).agg(
        peak=("peak", "max"), continuing=("continuing", "any")
    )
    return fever


def serious_flags(ae: pd.DataFrame) -> dict[str, np.ndarray]:
    """AESER and the criterion columns as 'Yes'/'No'."""
    serious = ae["serious"].to_numpy(bool)
    out = {"AESER": np.where(serious, "Yes", "No")}
    for c in SERIOUS_CRITERIA:
        out[c] = np.where(serious & (ae["criterion"].to_numpy() == c), "Yes", "No")
    return out
