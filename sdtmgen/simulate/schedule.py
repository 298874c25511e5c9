"""Visit schedule: which chemotherapy day each subject is seen, and the EDC folder (VISIT) name.

Screening and follow-up visits fall inside their windows; treatment visits are named by their
planned day (`Day N`); blood counts follow a random 1-3 day rhythm through the inpatient period,
and some subjects get one `Unscheduled` count on a day without a scheduled draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import SimulationParams, Visit


@dataclass
class Schedule:
    names: list[str]  # every VISIT name the simulation can write; index = visit code
    screening_code: int
    screening_day: np.ndarray  # (S,)
    followup_codes: np.ndarray  # (F,)
    followup_days: np.ndarray  # (S, F)
    unscheduled_code: int
    unscheduled_day: np.ndarray  # (S,), 0 = none
    day_code: dict[int, int]  # treatment day -> visit code
    draw_days: np.ndarray  # (S, G) scheduled blood-count days, padded with 0
    draw_valid: np.ndarray  # (S, G)

    def treatment_codes(self, days: np.ndarray) -> np.ndarray:
        """Visit codes of treatment days (vectorised)."""
        lo = min(self.day_code)
        table = np.full(max(self.day_code) - lo + 1, -1, dtype=np.int64)
        for day, code in self.day_code.items():
            table[day - lo] = code
        codes = table[np.clip(days - lo, 0, len(table) - 1)]
        if (codes < 0).any():
            raise ValueError("a treatment day without a planned visit")
        return codes


def _window_days(visit: Visit, rng: np.random.Generator, n: int) -> np.ndarray:
    lo = visit.day if visit.earliest is None else visit.earliest
    hi = visit.day if visit.latest is None else visit.latest
    return draw.integers(rng, (lo, hi), n)


def simulate_schedule(params: SimulationParams, rng: np.random.Generator, n: int) -> Schedule:
    visits = params.visits
    names = [v.name for v in visits] + [params.unscheduled.name]
    screening = next(i for i, v in enumerate(visits) if v.kind == "screening")
    follow = [i for i, v in enumerate(visits) if v.kind == "follow_up"]
    follow.sort(key=lambda i: visits[i].day)
    screening_day = _window_days(visits[screening], rng, n)
    followup_days = np.stack([_window_days(visits[i], rng, n) for i in follow], axis=1) if follow else np.zeros((n, 0), np.int64)
    day_code = {v.day: i for i, v in enumerate(visits) if v.kind == "treatment"}

    # blood counts: day `first`, then gaps of 1-3 days while <= `last`
    bc = params.blood_counts
    first, last = bc.days
    gap_values = np.array(list(bc.gap_days.keys()), dtype=np.int64)
    n_draws = (last - first) // max(1, int(gap_values.min())) + 1
    gaps = gap_values[draw.pick_index(rng, bc.gap_days, (n, n_draws - 1))]
    draw_days = first + np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(gaps, axis=1)], axis=1)
    draw_valid = draw_days <= last
    draw_days = np.where(draw_valid, draw_days, 0)

    # unscheduled: a day in the window that has no scheduled draw
    un = params.unscheduled
    has_un = rng.random(n) < un.probability
    candidates = np.arange(un.days[0], un.days[1] + 1)
    taken = ((draw_days[:, :, None] == candidates[None, None, :]) & draw_valid[:, :, None]).any(axis=1)
    taken |= (followup_days[:, :, None] == candidates[None, None, :]).any(axis=1)
    taken |= screening_day[:, None] == candidates[None, :]
    keys = rng.random((n, len(candidates)))
    keys[taken] = -1.0
    choice = candidates[np.argmax(keys, axis=1)]
    has_un &= keys.max(axis=1) >= 0
    unscheduled_day = np.where(has_un, choice, 0)

    return Schedule(
        names=names,
        screening_code=screening,
        screening_day=screening_day,
        followup_codes=np.array(follow, dtype=np.int64),
        followup_days=followup_days,
        unscheduled_code=len(visits),
        unscheduled_day=unscheduled_day,
        day_code=day_code,
        draw_days=draw_days,
        draw_valid=draw_valid,
    )
