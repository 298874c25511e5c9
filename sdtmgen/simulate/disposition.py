"""End of study per subject: completion, discontinuation or death, and the last day of contact."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import SimulationParams
from sdtmgen.simulate.subjects import Subjects
from sdtmgen.simulate.text import chemo_day_offset, format_dates

COMPLETED, DISCONTINUED, DIED = 0, 1, 2


@dataclass
class Disposition:
    status: np.ndarray  # COMPLETED / DISCONTINUED / DIED
    reason: np.ndarray  # index into params.disposition.discontinuation (DISCONTINUED)
    cause: np.ndarray  # index into params.disposition.death.causes (DIED)
    day: np.ndarray  # chemo day of the end-of-study event
    last_day: np.ndarray  # last chemo day with data (visits after it are not done)


def simulate_disposition(
    params: SimulationParams, rng: np.random.Generator, n: int, last_visit_day: np.ndarray
) -> Disposition:
    ds = params.disposition
    u_death, u_disc = rng.random(n), rng.random(n)
    causes = ds.death.causes
    cause = draw.pick_index(rng, {i: c.weight for i, c in enumerate(causes)}, n)
    death_day = np.array([0] * n, dtype=np.int64)
    for i, c in enumerate(causes):
        days = draw.integers(rng, c.days, n)
        death_day = np.where(cause == i, days, death_day)
    reason = np.zeros(n, dtype=np.int64)
    disc_day = np.zeros(n, dtype=np.int64)
    cumulative = 0.0
    disc = np.zeros(n, bool)
    for i, r in enumerate(ds.discontinuation):
        days = draw.integers(rng, r.days, n)
        hit = ~disc & (u_disc < cumulative + r.probability)
        reason[hit], disc_day[hit] = i, days[hit]
        disc |= hit
        cumulative += r.probability

    status = np.full(n, COMPLETED)
    if n >= ds.min_subjects:
        died = u_death < ds.death.probability
        status[disc] = DISCONTINUED
        status[died] = DIED
    day = np.select([status == DIED, status == DISCONTINUED], [death_day, disc_day], last_visit_day)
    day = np.minimum(day, last_visit_day)
    return Disposition(status=status, reason=reason, cause=cause, day=day, last_day=day)


def ds_form(params: SimulationParams, subjects: Subjects, disp: Disposition) -> pd.DataFrame:
    ds = params.disposition
    decod = np.full(subjects.n, ds.completed_decod, dtype=object)
    term = np.full(subjects.n, ds.completed_term, dtype=object)
    for i, r in enumerate(ds.discontinuation):
        hit = (disp.status == DISCONTINUED) & (disp.reason == i)
        decod[hit], term[hit] = r.decod, r.term
    died = disp.status == DIED
    decod[died], term[died] = ds.death.decod, ds.death.term
    date = subjects.day1 + chemo_day_offset(disp.day)
    cause = np.array([c.cause for c in ds.death.causes], dtype=object)[disp.cause]
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids,
            "SITENUMBER": params.study.site_number,
            "DSSCAT": ds.category,
            "DSTERM": term,
            "DSDECOD": decod,
            "DSSTDAT": format_dates(date),
            "LSTCNDAT": format_dates(date),
            "DTHDAT": format_dates(date, present=died),
            "DTHCAUS": np.where(died, cause, ""),
        }
    )
