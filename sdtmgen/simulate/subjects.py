"""Subjects: numbering, dose-level assignment, enrolment dates, demographics and consent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdtmgen.simulate import draw
from sdtmgen.spec.simulation import SimulationParams
from sdtmgen.simulate.text import epoch_day


@dataclass
class Subjects:
    ids: np.ndarray  # object, "01-001"
    level: np.ndarray  # index into params.dose_levels
    cycle: np.ndarray  # cycle of dose-level cohorts (3+3 escalation round)
    day1: np.ndarray  # epoch day of chemotherapy day 1
    age: np.ndarray
    sex: np.ndarray  # object
    race: np.ndarray
    ethnic: np.ndarray
    ethnic_group: np.ndarray
    weight: np.ndarray  # baseline kg

    @property
    def n(self) -> int:
        return len(self.ids)


def subject_ids(site: str, width: int, n: int) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.array([f"{site}-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def assign_levels(n: int, cohort_size: int, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Subjects in enrolment order fill cohorts of `cohort_size`; cohorts cycle through the levels."""
    cohort = np.arange(n) // cohort_size
    return cohort % n_levels, cohort // n_levels


def enrolment_days(params: SimulationParams, rng: np.random.Generator, n: int) -> np.ndarray:
    """Epoch day of chemotherapy day 1 per subject, in enrolment order."""
    e = params.enrolment
    within = draw.integers(rng, e.within_cohort_gap_days, n)
    between = draw.integers(rng, e.between_cohort_gap_days, n)
    new_cohort = (np.arange(n) % e.cohort_size) == 0
    gaps = np.where(new_cohort, between, within)
    gaps[0] = 0
    offsets = np.cumsum(gaps)
    if offsets[-1] > e.max_span_days:
        offsets = np.floor(offsets * (e.max_span_days / offsets[-1])).astype(np.int64)
    return epoch_day(params.study.first_chemo_date) + offsets


def simulate_subjects(params: SimulationParams, rng: np.random.Generator, n: int) -> Subjects:
    demo = params.demographics
    level, cycle = assign_levels(n, params.enrolment.cohort_size, len(params.dose_levels))
    day1 = enrolment_days(params, rng, n)
    age = draw.integers(rng, demo.age, n)
    sex = draw.pick(rng, demo.sex, n)
    race = draw.pick(rng, demo.race, n)
    ethnic = draw.pick(rng, demo.ethnic, n)
    group = draw.pick(rng, demo.ethnic_group, n)
    u = rng.random(n)
    weight = np.empty(n)
    for value, (lo, hi) in demo.weight_kg.items():
        mask = sex == value
        weight[mask] = lo + u[mask] * (hi - lo)
    unknown = ~np.isin(sex, list(demo.weight_kg))
    if unknown.any():
        lo = min(s[0] for s in demo.weight_kg.values())
        hi = max(s[1] for s in demo.weight_kg.values())
        weight[unknown] = lo + u[unknown] * (hi - lo)
    return Subjects(
        ids=subject_ids(params.study.site_number, params.study.subject_number_width, n),
        level=level,
        cycle=cycle,
        day1=day1,
        age=age,
        sex=sex,
        race=race,
        ethnic=ethnic,
        ethnic_group=group,
        weight=np.round(weight, 1),
    )


def birth_dates(rng: np.random.Generator, consent: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Epoch days of birth such that the age at consent is exactly `age` (whole years)."""
    c = consent.astype("datetime64[D]")
    month = c.astype("datetime64[M]")
    dom = (c - month.astype("datetime64[D]")).astype(np.int64)  # 0-based day of month
    anniversary = (month - (age * 12).astype("timedelta64[M]")).astype("datetime64[D]")
    anniversary = anniversary + np.minimum(dom, 27).astype("timedelta64[D]")
    back = draw.integers(rng, (2, 360), len(age)).astype("timedelta64[D]")
    return (anniversary - back).astype(np.int64)


def consent_versions(params: SimulationParams, consent: np.ndarray) -> np.ndarray:
    """Version of the consent form in force on each consent date."""
    versions = sorted(params.study.consent_versions, key=lambda v: v.effective)
    out = np.full(consent.shape, versions[0].version, dtype=object)
    for v in versions:
        out[consent >= epoch_day(v.effective)] = v.version
    return out
