"""Medical history (AML diagnosis, prior induction, other conditions) and ongoing prior medications."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import SimulationParams
from sdtmgen.simulate.subjects import Subjects
from sdtmgen.simulate.text import format_dates


def simulate_history(params: SimulationParams, rng: np.random.Generator, subjects: Subjects):
    """MH rows and prior-medication rows (dates as epoch days, with unknown-part flags)."""
    mh = params.medical_history
    n = subjects.n
    day1 = subjects.day1
    no = np.zeros(n, bool)
    # chemo day 1 is epoch day `day1`; history days are negative offsets from it
    cr = day1 - draw.integers(rng, mh.cr_before_chemo_days, n)
    dx = cr - draw.integers(rng, mh.diagnosis.before_cr_days, n)
    rows = [
        dict(
            subject=np.arange(n), seq=0, term=draw.pick(rng, mh.diagnosis.terms, n), cat=mh.diagnosis.category,
            start=dx, unknown_day=rng.random(n) < mh.diagnosis.partial_day, unknown_month=no,
            end=np.full(n, -1), ongoing="Yes", risk=draw.pick(rng, mh.diagnosis.risk, n), cr=cr,
        )
    ]
    ind = mh.induction
    ind_start = dx + draw.integers(rng, ind.after_diagnosis_days, n)
    ind_end = np.minimum(ind_start + draw.integers(rng, ind.duration_days, n) - 1, cr - 1)
    ind_partial = rng.random(n) < ind.partial_day
    rows.append(
        dict(
            subject=np.arange(n), seq=1, term=draw.pick(rng, ind.terms, n), cat=ind.category,
            start=ind_start, unknown_day=ind_partial, unknown_month=no, end=ind_end, ongoing="No", risk="", cr=-1,
        )
    )
    meds = []
    for i, item in enumerate(mh.other):
        occurs = rng.random(n) < item.probability
        start = day1 - np.rint(draw.uniform(rng, item.years_before, n) * 365.25).astype(np.int64)
        unknown_month = rng.random(n) < item.partial_month
        unknown_day = unknown_month | (rng.random(n) < item.partial_day)
        if item.duration_days is not None:
            end = np.minimum(start + draw.integers(rng, item.duration_days, n) - 1, day1 - 1)
            ongoing = "No"
        else:
            end, ongoing = np.full(n, -1), "Yes"
        term = draw.pick(rng, item.terms, n)
        med_start = np.minimum(start + rng.integers(0, 181, n), day1 - 1)
        rows.append(
            dict(
                subject=np.flatnonzero(occurs), seq=2 + i, term=term[occurs], cat=mh.other_category,
                start=start[occurs], unknown_day=unknown_day[occurs], unknown_month=unknown_month[occurs],
                end=end[occurs], ongoing=ongoing, risk="", cr=-1,
            )
        )
        if item.medication:
            meds.append(
                pd.DataFrame(
                    {
                        "subject": np.flatnonzero(occurs),
                        "med": item.medication,
                        "start_date": med_start[occurs],
                        "end_date": -1,
                        "ongoing": True,
                        "indication": term[occurs],
                        "ae_row": -1,
                        "unknown_day": unknown_day[occurs],
                        "unknown_month": unknown_month[occurs],
                    }
                )
            )
    history = pd.concat([pd.DataFrame(r) for r in rows], ignore_index=True)
    history = history.sort_values(["subject", "seq"], kind="stable").reset_index(drop=True)
    prior = pd.concat(meds, ignore_index=True) if meds else None
    return history, prior


def amlhx_form(params: SimulationParams, subjects: Subjects, history: pd.DataFrame) -> pd.DataFrame:
    ended = history["end"].to_numpy() >= 0
    has_cr = history["cr"].to_numpy() >= 0
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids[history["subject"].to_numpy()],
            "SITENUMBER": params.study.site_number,
            "RECORDPOSITION": history.groupby("subject").cumcount().to_numpy() + 1,
            "MHTERM": history["term"].to_numpy(),
            "MHCAT": history["cat"].to_numpy(),
            "MHSTDAT": format_dates(history["start"], unknown_day=history["unknown_day"], unknown_month=history["unknown_month"]),
            "MHENDAT": format_dates(
                history["end"], present=ended, unknown_day=history["unknown_day"], unknown_month=history["unknown_month"]
            ),
            "MHONGO": history["ongoing"].to_numpy(),
            "ELNRISK": history["risk"].to_numpy(),
            "CRDAT": format_dates(history["cr"], present=has_cr),
        }
    )
