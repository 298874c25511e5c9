"""The simulator's parameters: a pydantic model of ``specs/simulation.yaml``.

Everything study-specific (dose levels, regimen, visit plan, lab kinetics and ranges, the AE and
medication catalogues with their coding, event probabilities) is data in that file; the modules of
``sdtmgen.simulate`` only know generic concepts (a curve through control points, an event anchored
to a window, a transfusion triggered by a lab value).

Days are *chemotherapy days*: day 1 is the first dose of the regimen, the day before it is day -1
(there is no day 0). Ranges written ``[lo, hi]`` are inclusive and drawn uniformly; mappings of
``value: weight`` are drawn with probabilities proportional to the weights.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from sdtmgen.errors import SpecError

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _ordered(span: tuple[float, float]) -> tuple[float, float]:
    if span[0] > span[1]:
        raise ValueError(f"range {list(span)} has low > high")
    return span


def _time(text: str) -> str:
    if not _TIME.match(text):
        raise ValueError(f"'{text}' is not a time HH:MM")
    return text


def _weights(weights: dict[Any, float]) -> dict[Any, float]:
    if not weights:
        raise ValueError("needs at least one value")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weights must be >= 0 and not all 0")
    return weights


Span = Annotated[tuple[float, float], AfterValidator(_ordered)]
IntSpan = Annotated[tuple[int, int], AfterValidator(_ordered)]
Time = Annotated[str, AfterValidator(_time)]
TimeSpan = tuple[Time, Time]
Weights = Annotated[dict[str, float], AfterValidator(_weights)]
IntWeights = Annotated[dict[int, float], AfterValidator(_weights)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

SERIOUS_CRITERIA = ("AESDTH", "AESLIFE", "AESHOSP", "AESDISAB", "AESCONG", "AESMIE")  # ae.csv columns


def minutes(text: str) -> int:
    """'HH:MM' -> minutes after midnight."""
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- study and subjects


class ConsentVersion(Strict):
    version: str = Field(description="ICVERS written for subjects consenting on or after effective")
    effective: dt.date = Field(description="subjects consenting on or after this date sign this version")


class Study(Strict):
    site_number: str = Field(description="SITENUMBER of every form, and the prefix of SUBJECT (<site>-<number>)")
    country: str = Field(description="COUNTRY of dm.csv")
    subject_number_width: int = Field(3, ge=1, description="digits of the subject part of SUBJECT; widened when needed")
    first_chemo_date: dt.date = Field(description="chemotherapy day 1 of the first subject")
    consent_versions: list[ConsentVersion] = Field(min_length=1, description="informed consent versions by effective date (ICVERS of ic.csv)")
    consent_time: TimeSpan = Field(description="[earliest, latest] HH:MM of consent (ICTIM); the date is the screening visit's")


class Enrolment(Strict):
    cohort_size: int = Field(ge=1, description="subjects per cohort; in enrolment order cohorts fill one by one and cycle through the dose levels")
    within_cohort_gap_days: IntSpan = Field(description="days between chemo day 1 of consecutive subjects of a cohort")
    between_cohort_gap_days: IntSpan = Field(description="days from the last subject of a cohort to the first of the next")
    max_span_days: int = Field(ge=1, description="enrolment longer than this is compressed (large simulations)")


class DoseLevel(Strict):
    name: str = Field(description="dose level name: DOSELVL of exo.csv and COHORT of dm.csv; adverse_events name levels by it")
    dose: float = Field(gt=0, description="EXDOSE of the infusion at this level")
    unit: str = Field(description="EXDOSU")


class Demographics(Strict):
    age: IntSpan = Field(description="[lo, hi] AGE at consent, in age_unit; the birth date (BRTHDAT) follows from it")
    age_unit: str = Field(description="AGEU")
    sex: Weights = Field(description="SEX value: weight")
    race: Weights = Field(description="RACE value: weight")
    ethnic: Weights = Field(description="ETHNIC value: weight")
    ethnic_group: Weights = Field(description="ETHGRP value: weight")
    weight_kg: dict[str, Span] = Field(description="baseline body weight by SEX value")


# --------------------------------------------------------------------------- treatments


class Chemotherapy(Strict):
    cycle: str = Field(description="CYCLE of chemo.csv")
    treatment: str = Field(description="CMTRT of chemo.csv")
    decod: str = Field(description="CMDECOD")
    atc_code: str = Field(description="ATCCD; its first three characters are ATCCLASCD")
    atc_class: str = Field(description="ATC level-2 text")
    dose: float = Field(description="CMDOSE")
    reduced_dose: Optional[float] = Field(None, description="dose for subjects older than reduced_dose_above_age")
    reduced_dose_above_age: Optional[int] = Field(None, description="age above which reduced_dose is given (both or neither)")
    dose_unit: str = Field(description="CMDOSU")
    route: str = Field(description="CMROUTE")
    frequency: str = Field(description="CMFREQ")
    days: list[int] = Field(min_length=1, description="chemotherapy days with administrations")
    administration_times: list[Time] = Field(min_length=1, description="planned start times on each day")
    time_jitter_minutes: int = Field(ge=0, description="start times vary by up to this many minutes either way")
    duration_hours: float = Field(gt=0, description="length of one administration; sets the end date (CMENDAT)")


class Infusion(Strict):
    chemo_day: int = Field(description="chemotherapy day of the single UCMSC-Exo infusion")
    route: str = Field(description="EXROUTE")
    start_time: TimeSpan = Field(description="[earliest, latest] HH:MM of the infusion start (EXSTTIM)")
    duration_minutes: IntSpan = Field(description="[lo, hi] length of the infusion; its end is EXENTIM")


# --------------------------------------------------------------------------- visits


class Visit(Strict):
    name: str = Field(description="VISIT folder name written in the forms")
    day: int = Field(description="planned chemotherapy day")
    kind: Literal["screening", "treatment", "follow_up"] = Field(description="screening: exactly one, the consent day; treatment: the inpatient days (every blood-count, vital-sign and infusion day needs one); follow_up: after the treatment period")
    earliest: Optional[int] = Field(None, description="screening and follow-up: first day of the window the visit day is drawn from (default: the planned day)")
    latest: Optional[int] = Field(None, description="screening and follow-up: last day of that window (default: the planned day); no window contains day 0")

    @model_validator(mode="after")
    def _window(self) -> "Visit":
        lo = self.day if self.earliest is None else self.earliest
        hi = self.day if self.latest is None else self.latest
        if not lo <= self.day <= hi:
            raise ValueError(f"visit '{self.name}': planned day outside its window")
        if self.day == 0 or lo <= 0 <= hi:
            raise ValueError(f"visit '{self.name}': there is no chemotherapy day 0")
        return self


class Unscheduled(Strict):
    name: str = Field(description="VISIT folder name of an unscheduled blood count")
    probability: Probability = Field(description="chance that a subject has one unscheduled blood count")
    days: IntSpan = Field(description="[first, last] chemotherapy days it may fall on (a day without another draw or visit)")


# --------------------------------------------------------------------------- labs


class CurvePoint(Strict):
    """One control point of a latent lab curve; values move log-linearly between points."""

    day: Optional[Span] = Field(None, description="absolute chemotherapy day range")
    after: Optional[Span] = Field(None, description="days after the previous point")
    value: Optional[Span] = Field(None, description="absolute value range")
    factor: Optional[Span] = Field(None, description="multiple of the value of point `of`")
    of: int = Field(0, ge=0, description="index of the reference point for `factor`")
    recovery: bool = Field(False, description="shifted by the subject's marrow-recovery delay")

    @model_validator(mode="after")
    def _one_each(self) -> "CurvePoint":
        if (self.day is None) == (self.after is None):
            raise ValueError("a curve point needs exactly one of day, after")
        if (self.value is None) == (self.factor is None):
            raise ValueError("a curve point needs exactly one of value, factor")
        return self


class LatentCurve(Strict):
    name: str = Field(description="curve name that lab tests' sum_of refers to")
    points: list[CurvePoint] = Field(min_length=1, description="control points in order; the first has an absolute day and value; flat before the first and after the last")

    @model_validator(mode="after")
    def _refs(self) -> "LatentCurve":
        if self.points[0].after is not None or self.points[0].factor is not None:
            raise ValueError(f"curve '{self.name}': the first point needs an absolute day and value")
        for i, p in enumerate(self.points):
            if p.factor is not None and p.of >= i:
                raise ValueError(f"curve '{self.name}': point {i} refers to a later point")
        return self


class RecoveryDelay(Strict):
    sd_days: float = Field(ge=0, description="subject-level normal shift of recovery points")
    slow_probability: Probability = Field(description="chance that a subject is a slow recoverer")
    slow_days: Span = Field(description="extra delay of slow recoverers")


class LabUnit(Strict):
    unit: str = Field(description="LBORRESU")
    factor: float = Field(gt=0, description="reported = canonical value x factor")
    decimals: int = Field(ge=0, description="decimals of LBORRES and of the normal range in this unit")
    weight: float = Field(1.0, ge=0, description="share of samples reported in this unit")
    normal_range: Optional[tuple[float, float]] = Field(None, description="[low, high] LBORNRLO/LBORNRHI in this unit (empty when null)")
    normal_range_by_sex: dict[str, tuple[float, float]] = Field(default_factory=dict,
                                                                 description="SEX value -> [low, high], instead of normal_range")


class LabTest(Strict):
    name: str = Field(description="LBTEST as collected")
    sum_of: list[str] = Field(min_length=1, description="latent curves whose sum is the true value (canonical unit)")
    noise_sd: float = Field(ge=0, description="log-scale measurement noise")
    minimum: float = Field(gt=0, description="smallest true value")
    units: list[LabUnit] = Field(min_length=1, description="units it is reported in, each sample in one chosen by weight")
    below_limit: Optional[float] = Field(None, description="values below are reported as '<limit'")


class NotDone(Strict):
    probability: Probability = Field(description="chance that a test of a draw is not done (LBSTAT Not Done, no result)")
    reasons: Weights = Field(description="LBREASND value: weight")


class BloodCounts(Strict):
    days: IntSpan = Field(description="first and last chemotherapy day of the inpatient schedule")
    gap_days: IntWeights = Field(description="days between consecutive draws")
    time: TimeSpan = Field(description="draw time on schedule days")
    clinic_time: TimeSpan = Field(description="draw time at screening, follow-up and unscheduled visits")
    recovery: RecoveryDelay = Field(description="subject-level delay of the curve points marked recovery")
    curves: list[LatentCurve] = Field(min_length=1, description="latent curves over chemotherapy days")
    tests: list[LabTest] = Field(min_length=1, description="the tests of hem.csv (LBTEST), in order within a draw")
    not_done: NotDone = Field(description="tests not done")


class LabWindow(Strict):
    test: str = Field(description="lab test (name in blood_counts.tests) whose noiseless value is watched")
    below: float = Field(description="the window is the first run of days with the value below this (canonical unit); events can be anchored to it by its name")


class Transfusion(Strict):
    product: str = Field(description="TRPROD")
    decod: str = Field(description="CMDECOD of transfusion.csv")
    atc_code: str = Field(description="ATCCD; its first three characters are ATCCLASCD")
    test: str = Field(description="lab test that triggers it and that it raises")
    trigger_below: dict[float, float] = Field(description="subject-level trigger threshold: weight")
    days: IntSpan = Field(description="chemotherapy days in which transfusions are given")
    increment_per_unit: Span = Field(description="rise of the trigger test per unit (canonical unit)")
    decay_days: float = Field(gt=0, description="e-folding time of the rise")
    units: IntWeights = Field(description="units given per transfusion (TRUNITS): weight")
    volume_per_unit_ml: IntSpan = Field(description="[lo, hi] mL per unit; TRVOL = units x volume, rounded to 10 mL")
    delay_minutes: IntSpan = Field(description="from the triggering blood draw to the transfusion")
    time: TimeSpan = Field(description="time of transfusions not triggered by a draw (bleeding)")
    indication: str = Field(description="TRINDC when no AE line is linked")


# --------------------------------------------------------------------------- events


class Coded(Strict):
    name: str = Field(description="the MedDRA level's text")
    code: str = Field(pattern=r"^\d{8}$", description="the MedDRA level's 8-digit code")


class AETerm(Strict):
    verbatim: list[str] = Field(min_length=1, description="AETERM texts, one drawn per event")
    llt: Coded = Field(description="AELLT, AELLTCD")
    pt: Coded = Field(description="AEDECOD, AEPTCD; also the indication of the medications and transfusions given for it")
    hlt: Coded = Field(description="AEHLT, AEHLTCD")
    hlgt: Coded = Field(description="AEHLGT, AEHLGTCD")
    soc: Coded = Field(description="AESOC, AESOCCD")


class Medication(Strict):
    verbatim: list[str] = Field(min_length=1, description="CMTRT texts, one drawn per record")
    decod: str = Field(description="CMDECOD")
    atc_code: str = Field(description="ATCCD; its first three characters are ATCCLASCD")
    atc_class: str = Field(description="ATC level-2 text")
    dose: str = Field(description="CMDOSE")
    dose_unit: str = Field(description="CMDOSU")
    route: str = Field(description="CMROUTE")
    frequency: str = Field(description="CMFREQ")


class Fever(Strict):
    peak: Span = Field(description="highest temperature of a febrile day (C)")
    days: IntSpan = Field(description="febrile days from the event start")


class TransfusionTreatment(Strict):
    product: str = Field(description="the transfusion product (a transfusions entry)")
    probability: Probability = Field(description="chance that an event gets the transfusion")


Anchor = str  # "chemotherapy", "infusion", "period" or a lab window name


class EventTiming(Strict):
    anchor: Anchor = Field(description="chemotherapy (first to last chemotherapy day), infusion (its day), period (the blood-count schedule) or a lab_windows name")
    start: IntSpan = Field(description="start, in days after the anchor window starts")
    start_margin: Optional[int] = Field(None, description="start at least this many days before the anchor window ends")
    duration: Optional[IntSpan] = Field(None, description="[lo, hi] days the event lasts (1 = ends on its start day); give this or end_after_anchor")
    end_after_anchor: Optional[IntSpan] = Field(None, description="end, in days after the anchor window ends")

    @model_validator(mode="after")
    def _one_end(self) -> "EventTiming":
        if (self.duration is None) == (self.end_after_anchor is None):
            raise ValueError("timing needs exactly one of duration, end_after_anchor")
        return self


class AEScenario(Strict):
    name: str = Field(description="the scenario's name, used in error messages")
    term: str = Field(description="key in ae_terms")
    probability: Probability = Field(0.0, description="per-subject chance (ignored when per_cohort_cycle is set)")
    per_cohort_cycle: Optional[Probability] = Field(
        None, description="chance that one subject of each cycle of dose-level cohorts has it (at most one)"
    )
    dose_levels: Optional[list[str]] = Field(None, description="only subjects at these dose levels")
    timing: EventTiming = Field(description="when the event starts and ends")
    record_time: bool = Field(False, description="AESTTIM/AEENTIM collected")
    grade: Weights = Field(description="AETOXGR value: weight")
    rel_exo: Weights = Field(description="AEREL (relation to the study infusion) value: weight")
    rel_chemo: Weights = Field(description="AECHREL (relation to chemotherapy) value: weight")
    serious: Probability = Field(0.0, description="chance that the event is serious (AESER Yes)")
    serious_criteria: Weights = Field(default_factory=lambda: {"AESHOSP": 1.0}, description="which criterion is Yes")
    action: Weights = Field(default_factory=lambda: {"Not applicable": 1.0}, description="AEACN value: weight")
    ongoing: Probability = Field(0.0, description="chance the event is still ongoing at the end")
    dlt: bool = Field(False, description="investigator assesses it as a DLT")
    infusion_adjustment: Optional[str] = Field(None, description="EXADJ for subjects with this event")
    fever: Optional[Fever] = Field(None, description="febrile days of the event (VS temperatures)")
    treatments: list[list[str]] = Field(default_factory=list, description="alternative sets of medications")
    treatment_probability: Probability = Field(1.0, description="chance that an event gets one of the treatments")
    treatment_start: IntSpan = Field((0, 1), description="[lo, hi] days from the event start to the treatment start")
    treatment_end: IntSpan = Field((0, 2), description="[lo, hi] days from the event end to the treatment end")
    transfusion: Optional[TransfusionTreatment] = Field(None, description="transfusion given on the start day")
    covers_transfusions: list[str] = Field(default_factory=list, description="products it is the indication for")


class AEDefaults(Strict):
    time: TimeSpan = Field(description="AESTTIM/AEENTIM window for events not timed by the infusion or a fever")
    after_infusion_minutes: IntSpan = Field(description="onset of timed events on the infusion day, after its end")
    same_day_minutes: IntSpan = Field(description="duration of timed events that end on their start day")
    partial_start: Probability = Field(description="chance that AESTDAT lacks the day")
    partial_end: Probability = Field(description="chance that AEENDAT lacks the day")
    outcome_resolved: Weights = Field(description="AEOUT of ended events: weight")
    outcome_ongoing: Weights = Field(description="AEOUT of ongoing events: weight")


class MedicationScenario(Strict):
    name: str = Field(description="the scenario's name, used in error messages")
    medication: str = Field(description="key in medications")
    probability: Probability = Field(description="per-subject chance")
    timing: EventTiming = Field(description="when it starts and ends")
    indication: str = Field(description="CMINDC")
    ongoing: Probability = Field(0.0, description="chance it is still ongoing at the end (CMONGO Yes)")


class HistoryItem(Strict):
    terms: Weights = Field(description="MHTERM: weight")
    probability: Probability = Field(1.0, description="per-subject chance")
    years_before: Span = Field(description="start, in years before chemotherapy day 1")
    duration_days: Optional[IntSpan] = Field(None, description="ended history items; empty = ongoing")
    partial_day: Probability = Field(0.0, description="chance the day is unknown")
    partial_month: Probability = Field(0.0, description="chance month (and day) unknown")
    medication: Optional[str] = Field(None, description="ongoing prior medication for it")


class Diagnosis(Strict):
    category: str = Field(description="MHCAT of the diagnosis record")
    terms: Weights = Field(description="MHTERM: weight")
    before_cr_days: IntSpan = Field(description="[lo, hi] days from diagnosis to complete remission")
    partial_day: Probability = Field(description="chance the diagnosis day is unknown")
    risk: Weights = Field(description="ELNRISK")


class Induction(Strict):
    category: str = Field(description="MHCAT of the induction record")
    terms: Weights = Field(description="MHTERM: weight")
    after_diagnosis_days: IntSpan = Field(description="[lo, hi] days from diagnosis to the induction start")
    duration_days: IntSpan = Field(description="[lo, hi] days it lasts (ending before the remission)")
    partial_day: Probability = Field(description="chance the day of its start and end dates is unknown")


class MedicalHistory(Strict):
    cr_before_chemo_days: IntSpan = Field(description="complete remission, days before chemo day 1")
    diagnosis: Diagnosis = Field(description="the disease diagnosis record (with ELNRISK and CRDAT)")
    induction: Induction = Field(description="the induction therapy record")
    other_category: str = Field(description="MHCAT of the other history items")
    other: list[HistoryItem] = Field(default_factory=list, description="other medical history items")


class DiscontinuationReason(Strict):
    decod: str = Field(description="DSDECOD")
    term: str = Field(description="DSTERM")
    probability: Probability = Field(description="per-subject chance (the reasons are exclusive)")
    days: IntSpan = Field(description="[lo, hi] chemotherapy day of the discontinuation; data stop there")


class DeathCause(Strict):
    cause: str = Field(description="DTHCAUS")
    term: str = Field(description="key in ae_terms of the fatal AE")
    weight: float = Field(gt=0, description="relative weight among the causes")
    days: IntSpan = Field(description="[lo, hi] chemotherapy day of death (DTHDAT, DSSTDAT)")
    onset_days_before: IntSpan = Field(description="[lo, hi] days from the fatal AE's start to the death")
    rel_exo: Weights = Field(description="AEREL of the fatal AE: weight")
    rel_chemo: Weights = Field(description="AECHREL of the fatal AE: weight")


class Death(Strict):
    probability: Probability = Field(description="per-subject chance of death")
    causes: list[DeathCause] = Field(min_length=1, description="causes of death")
    decod: str = Field(description="DSDECOD of a death")
    term: str = Field(description="DSTERM of a death")
    action: str = Field(description="AEACN of the fatal AE")


class Disposition(Strict):
    category: str = Field(description="DSSCAT")
    completed_decod: str = Field(description="DSDECOD of subjects who complete")
    completed_term: str = Field(description="DSTERM of subjects who complete")
    min_subjects: int = Field(description="discontinuations and deaths only in simulations at least this large")
    discontinuation: list[DiscontinuationReason] = Field(default_factory=list, description="reasons for discontinuing")
    death: Death = Field(description="deaths, each with a fatal AE")


# --------------------------------------------------------------------------- vital signs


class VitalMeasure(Strict):
    mean: Span = Field(description="subject-level mean")
    sd: float = Field(ge=0, description="day-to-day variation")
    decimals: int = Field(0, ge=0, description="decimals written")
    clip: Span = Field(description="values kept inside this range (afebrile temperatures stay below 38)")


class VitalSigns(Strict):
    days: IntSpan = Field(description="daily assessments on these chemotherapy days")
    time: TimeSpan = Field(description="[earliest, latest] HH:MM of the daily ward round")
    clinic_time: TimeSpan = Field(description="[earliest, latest] HH:MM at screening and follow-up")
    weight_days: list[int] = Field(description="treatment days with a weight; screening and follow-up always")
    units: dict[str, str] = Field(description="TEMPU, BPU, PULSEU, RESPU, WEIGHTU")
    temperature: VitalMeasure = Field(description="TEMP")
    systolic: VitalMeasure = Field(description="SYSBP")
    diastolic: VitalMeasure = Field(description="DIABP (kept at least 20 below SYSBP)")
    pulse: VitalMeasure = Field(description="PULSE")
    respiration: VitalMeasure = Field(description="RESP")
    weight_sd: float = Field(ge=0, description="measurement noise of WEIGHT, kg")
    weight_change_by_day_42: Span = Field(description="relative change over days 1-42")
    weight_regained: float = Field(ge=0, le=1, description="share of that change regained by the follow-up visits")
    pulse_per_degree: float = Field(description="beats/min added per degree of fever")
    fever_time: TimeSpan = Field(description="time of a febrile spike")
    fever_recheck_minutes: IntSpan = Field(description="[lo, hi] minutes from a febrile spike to its recheck")
    fever_recheck_drop: Span = Field(description="[lo, hi] degrees the recheck is below the spike")
    fever_morning: Span = Field(description="morning temperature on febrile days")


# --------------------------------------------------------------------------- the whole file


class SimulationParams(Strict):
    study: Study = Field(description="site, country, dates and consent")
    enrolment: Enrolment = Field(description="cohorts and the days between subjects")
    dose_levels: list[DoseLevel] = Field(min_length=1, description="the infusion's dose levels, in escalation order")
    demographics: Demographics = Field(description="dm.csv")
    chemotherapy: Chemotherapy = Field(description="the background regimen (chemo.csv)")
    infusion: Infusion = Field(description="the study infusion (exo.csv)")
    visits: list[Visit] = Field(min_length=1, description="the visit plan")
    unscheduled: Unscheduled = Field(description="unscheduled blood counts")
    blood_counts: BloodCounts = Field(description="hem.csv: schedule, latent curves and tests")
    lab_windows: dict[str, LabWindow] = Field(description="named windows of low counts that events are anchored to")
    transfusions: list[Transfusion] = Field(description="transfusion products and their triggers (transfusion.csv)")
    ae_terms: dict[str, AETerm] = Field(description="the AE catalogue with its MedDRA coding, by key")
    medications: dict[str, Medication] = Field(description="the medication catalogue, by key")
    ae_defaults: AEDefaults = Field(description="times, partial dates and outcomes of every AE")
    adverse_events: list[AEScenario] = Field(description="the AE scenarios (ae.csv)")
    dlt_window_days: int = Field(ge=1, description="investigator DLT assessment collected for AEs starting this many days from the infusion")
    medication_scenarios: list[MedicationScenario] = Field(description="medications not given for an AE (cm.csv)")
    medical_history: MedicalHistory = Field(description="amlhx.csv and prior medications")
    disposition: Disposition = Field(description="ds.csv: completion, discontinuation, death")
    vital_signs: VitalSigns = Field(description="vs.csv")

    @model_validator(mode="after")
    def _references(self) -> "SimulationParams":
        problems: list[str] = []
        criteria = set(SERIOUS_CRITERIA)
        curves = {c.name for c in self.blood_counts.curves}
        tests = {t.name for t in self.blood_counts.tests}
        for t in self.blood_counts.tests:
            problems += [f"lab test '{t.name}': unknown curve '{c}'" for c in t.sum_of if c not in curves]
        for name, w in self.lab_windows.items():
            if w.test not in tests:
                problems.append(f"lab window '{name}': unknown test '{w.test}'")
        products = set()
        for tr in self.transfusions:
            products.add(tr.product)
            if tr.test not in tests:
                problems.append(f"transfusion '{tr.product}': unknown test '{tr.test}'")
        anchors = {"chemotherapy", "infusion", "period", *self.lab_windows}
        levels = {d.name for d in self.dose_levels}
        for sc in self.adverse_events:
            where = f"adverse event '{sc.name}'"
            if sc.term not in self.ae_terms:
                problems.append(f"{where}: unknown term '{sc.term}'")
            if sc.timing.anchor not in anchors:
                problems.append(f"{where}: unknown anchor '{sc.timing.anchor}'")
            for option in sc.treatments:
                problems += [f"{where}: unknown medication '{m}'" for m in option if m not in self.medications]
            for p in sc.covers_transfusions + ([sc.transfusion.product] if sc.transfusion else []):
                if p not in products:
                    problems.append(f"{where}: unknown transfusion product '{p}'")
            problems += [f"{where}: unknown dose level '{d}'" for d in sc.dose_levels or [] if d not in levels]
            problems += [f"{where}: unknown serious criterion '{c}'" for c in sc.serious_criteria if c not in criteria]
        for ms in self.medication_scenarios:
            if ms.medication not in self.medications:
                problems.append(f"medication '{ms.name}': unknown medication '{ms.medication}'")
            if ms.timing.anchor not in anchors:
                problems.append(f"medication '{ms.name}': unknown anchor '{ms.timing.anchor}'")
        for item in self.medical_history.other:
            if item.medication and item.medication not in self.medications:
                problems.append(f"medical history {list(item.terms)}: unknown medication '{item.medication}'")
        # the export's class text and level-2 code must name one class each (CMCLAS/CMCLASCD one-to-one)
        classes: dict[str, set[str]] = {}
        meds: list[Chemotherapy | Medication] = [self.chemotherapy, *self.medications.values()]
        for med in meds:
            classes.setdefault(med.atc_code[:3], set()).add(med.atc_class)
        problems += [f"ATC level-2 code {code}: more than one class text {sorted(texts)}"
                     for code, texts in sorted(classes.items()) if len(texts) > 1]
        for cause in self.disposition.death.causes:
            if cause.term not in self.ae_terms:
                problems.append(f"death cause '{cause.cause}': unknown term '{cause.term}'")
        kinds = [v.kind for v in self.visits]
        if kinds.count("screening") != 1:
            problems.append("visits: exactly one screening visit needed")
        days = [v.day for v in self.visits if v.kind == "treatment"]
        if len(days) != len(set(days)):
            problems.append("visits: two treatment visits share a planned day")
        planned = set(days)
        needed = set(range(self.blood_counts.days[0], self.blood_counts.days[1] + 1))
        needed |= set(range(self.vital_signs.days[0], self.vital_signs.days[1] + 1))
        needed |= {self.infusion.chemo_day}
        missing = sorted(needed - planned)
        if missing:
            problems.append(f"visits: no treatment visit planned on days {missing}")
        for unit in ("TEMPU", "BPU", "PULSEU", "RESPU", "WEIGHTU"):
            if unit not in self.vital_signs.units:
                problems.append(f"vital_signs.units: missing {unit}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_simulation_params(path: Union[str, Path]) -> SimulationParams:
    """Read and validate a simulation spec (``specs/simulation.yaml``)."""
    from sdtmgen.spec.loader import read_yaml  # the spec loader's limits: size of aliases, duplicate keys

    path = Path(path)
    try:
        data = read_yaml(path)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from exc
    try:
        return SimulationParams.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: invalid simulation parameters"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {where}: {err['msg']}")
        raise SpecError("\n".join(lines)) from exc
