"""The raw forms of docs/raw-forms.md: their columns, the builders of the smaller forms and the writer.

FORM_COLUMNS is the contract (file stem -> columns in order); the writer refuses a frame whose columns
differ, so the simulator cannot drift from the documented layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdtmgen.simulate import draw
from sdtmgen.simulate.events import serious_flags
from sdtmgen.simulate.labs import NEVER, TransfusionLog
from sdtmgen.spec.simulation import SERIOUS_CRITERIA, SimulationParams, minutes
from sdtmgen.simulate.schedule import Schedule
from sdtmgen.simulate.subjects import Subjects, birth_dates, consent_versions
from sdtmgen.simulate.text import chemo_day_offset, format_dates, format_number, format_times

FORM_COLUMNS: dict[str, list[str]] = {
    "dm": ["SUBJECT", "SITENUMBER", "BRTHDAT", "AGE", "AGEU", "SEX", "RACE", "ETHNIC", "ETHGRP", "COUNTRY", "COHORT"],
    "ic": ["SUBJECT", "SITENUMBER", "VISIT", "ICDAT", "ICTIM", "ICVERS"],
    "amlhx": ["SUBJECT", "SITENUMBER", "RECORDPOSITION", "MHTERM", "MHCAT", "MHSTDAT", "MHENDAT", "MHONGO", "ELNRISK", "CRDAT"],
    "chemo": ["SUBJECT", "SITENUMBER", "RECORDPOSITION", "CMTRT", "CMDECOD", "ATCCD", "ATCCLAS", "ATCCLASCD", "CMDOSE",
              "CMDOSU", "CMROUTE", "CMFREQ", "CMSTDAT", "CMSTTIM", "CMENDAT", "CYCLE"],
    "exo": ["SUBJECT", "SITENUMBER", "VISIT", "EXSTDAT", "EXSTTIM", "EXENTIM", "EXDOSE", "EXDOSU", "EXROUTE", "DOSELVL", "EXADJ"],
    "hem": ["SUBJECT", "SITENUMBER", "VISIT", "LBDAT", "LBTIM", "LBTEST", "LBORRES", "LBORRESU", "LBORNRLO", "LBORNRHI",
            "LBSTAT", "LBREASND"],
    "vs": ["SUBJECT", "SITENUMBER", "VISIT", "VSDAT", "VSTIM", "TEMP", "TEMPU", "SYSBP", "DIABP", "BPU", "PULSE", "PULSEU",
           "RESP", "RESPU", "WEIGHT", "WEIGHTU"],
    "ae": ["SUBJECT", "SITENUMBER", "RECORDPOSITION", "AETERM", "AELLT", "AELLTCD", "AEDECOD", "AEPTCD", "AEHLT", "AEHLTCD",
           "AEHLGT", "AEHLGTCD", "AESOC", "AESOCCD", "AESTDAT", "AESTTIM", "AEENDAT", "AEENTIM", "AEONGO", "AETOXGR",
           "AEREL", "AECHREL", "AESER", *SERIOUS_CRITERIA, "AEACN", "AEOUT", "AEDLT"],
    "cm": ["SUBJECT", "SITENUMBER", "RECORDPOSITION", "CMTRT", "CMDECOD", "ATCCD", "ATCCLAS", "ATCCLASCD", "CMINDC", "CMAENO",
           "CMDOSE", "CMDOSU", "CMROUTE", "CMFREQ", "CMSTDAT", "CMENDAT", "CMONGO"],
    "transfusion": ["SUBJECT", "SITENUMBER", "RECORDPOSITION", "TRPROD", "CMDECOD", "ATCCD", "ATCCLASCD", "TRDAT", "TRTIM", "TRVOL",
                    "TRVOLU", "TRUNITS", "TRAENO", "TRINDC"],
    "ds": ["SUBJECT", "SITENUMBER", "DSSCAT", "DSTERM", "DSDECOD", "DSSTDAT", "LSTCNDAT", "DTHDAT", "DTHCAUS"],
}


def atc_level2(codes):
    """The ATC level-2 (therapeutic subgroup) code of ATC codes: their first three characters."""
    if isinstance(codes, str):
        return codes[:3]
    return pd.Series(codes, dtype=object).str.slice(0, 3).to_numpy(dtype=object)


def _dates(subjects: Subjects, subject: np.ndarray, day: np.ndarray, **kw) -> np.ndarray:
    return format_dates(subjects.day1[subject] + chemo_day_offset(day), **kw)


# --------------------------------------------------------------------------- dm, ic


def dm_ic_forms(params: SimulationParams, rng: np.random.Generator, subjects: Subjects, sched: Schedule):
    site = params.study.site_number
    consent = subjects.day1 + chemo_day_offset(sched.screening_day)
    dm = pd.DataFrame(
        {
            "SUBJECT": subjects.ids,
            "SITENUMBER": site,
            "BRTHDAT": format_dates(birth_dates(rng, consent, subjects.age)),
            "AGE": subjects.age.astype(str),
            "AGEU": params.demographics.age_unit,
            "SEX": subjects.sex,
            "RACE": subjects.race,
            "ETHNIC": subjects.ethnic,
            "ETHGRP": subjects.ethnic_group,
            "COUNTRY": params.study.country,
            "COHORT": np.array([d.name for d in params.dose_levels], dtype=object)[subjects.level],
        }
    )
    ic = pd.DataFrame(
        {
            "SUBJECT": subjects.ids,
            "SITENUMBER": site,
            "VISIT": sched.names[sched.screening_code],
            "ICDAT": format_dates(consent),
            "ICTIM": format_times(draw.times(rng, params.study.consent_time, subjects.n)),
            "ICVERS": consent_versions(params, consent),
        }
    )
    return dm, ic


# --------------------------------------------------------------------------- chemo, exo


@dataclass
class Infusion:
    start: np.ndarray  # minutes
    end: np.ndarray


def simulate_infusion(params: SimulationParams, rng: np.random.Generator, n: int) -> Infusion:
    start = draw.times(rng, params.infusion.start_time, n)
    return Infusion(start=start, end=start + draw.integers(rng, params.infusion.duration_minutes, n))


def chemo_form(params: SimulationParams, rng: np.random.Generator, subjects: Subjects) -> pd.DataFrame:
    c = params.chemotherapy
    n = subjects.n
    days = np.array(c.days)
    planned = np.array([minutes(t) for t in c.administration_times])
    per = len(days) * len(planned)
    subject = np.repeat(np.arange(n), per)
    day = np.tile(np.repeat(days, len(planned)), n)
    start = np.tile(np.tile(planned, len(days)), n) + rng.integers(-c.time_jitter_minutes, c.time_jitter_minutes + 1, n * per)
    start = np.clip(start, 0, 24 * 60 - 1)
    end_day = day + (start + int(round(c.duration_hours * 60))) // (24 * 60)
    dose = np.full(n, format_number(c.dose), dtype=object)
    if c.reduced_dose is not None and c.reduced_dose_above_age is not None:
        dose[subjects.age > c.reduced_dose_above_age] = format_number(c.reduced_dose)
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids[subject],
            "SITENUMBER": params.study.site_number,
            "RECORDPOSITION": np.tile(np.arange(1, per + 1), n),
            "CMTRT": c.treatment,
            "CMDECOD": c.decod,
            "ATCCD": c.atc_code,
            "ATCCLAS": c.atc_class,
            "ATCCLASCD": atc_level2(c.atc_code),
            "CMDOSE": dose[subject],
            "CMDOSU": c.dose_unit,
            "CMROUTE": c.route,
            "CMFREQ": c.frequency,
            "CMSTDAT": _dates(subjects, subject, day),
            "CMSTTIM": format_times(start),
            "CMENDAT": _dates(subjects, subject, end_day),
            "CYCLE": c.cycle,
        }
    )


def exo_form(params: SimulationParams, subjects: Subjects, sched: Schedule, infusion: Infusion, adjustment: np.ndarray):
    levels = params.dose_levels
    day = np.full(subjects.n, params.infusion.chemo_day)
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids,
            "SITENUMBER": params.study.site_number,
            "VISIT": sched.names[sched.day_code[params.infusion.chemo_day]],
            "EXSTDAT": _dates(subjects, np.arange(subjects.n), day),
            "EXSTTIM": format_times(infusion.start),
            "EXENTIM": format_times(infusion.end),
            "EXDOSE": np.array([format_number(d.dose) for d in levels], dtype=object)[subjects.level],
            "EXDOSU": np.array([d.unit for d in levels], dtype=object)[subjects.level],
            "EXROUTE": params.infusion.route,
            "DOSELVL": np.array([d.name for d in levels], dtype=object)[subjects.level],
            "EXADJ": adjustment,
        }
    )


# --------------------------------------------------------------------------- ae


def ae_form(params: SimulationParams, subjects: Subjects, ae: pd.DataFrame) -> pd.DataFrame:
    s = ae["subject"].to_numpy(np.int64)
    keys = ae["term"].to_numpy()
    terms = params.ae_terms

    def coded(level: str, part: str) -> np.ndarray:
        table = {k: getattr(getattr(v, level), part) for k, v in terms.items()}
        return np.array([table[k] for k in keys], dtype=object)

    verbatim = np.array([terms[k].verbatim[i] for k, i in zip(keys, ae["verbatim"].to_numpy(np.int64))], dtype=object)
    ongoing = ae["ongoing"].to_numpy(bool)
    start_time = ae["start_time"].to_numpy(np.int64)
    end_time = ae["end_time"].to_numpy(np.int64)
    frame = {
        "SUBJECT": subjects.ids[s],
        "SITENUMBER": params.study.site_number,
        "RECORDPOSITION": ae["RECORDPOSITION"].to_numpy(),
        "AETERM": verbatim,
    }
    for level, name, code in [("llt", "AELLT", "AELLTCD"), ("pt", "AEDECOD", "AEPTCD"), ("hlt", "AEHLT", "AEHLTCD"),
                              ("hlgt", "AEHLGT", "AEHLGTCD"), ("soc", "AESOC", "AESOCCD")]:
        frame[name] = coded(level, "name")
        frame[code] = coded(level, "code")
    frame.update(
        {
            "AESTDAT": _dates(subjects, s, ae["start"].to_numpy(np.int64), unknown_day=ae["partial_start"].to_numpy(bool)),
            "AESTTIM": format_times(start_time, present=start_time >= 0),
            "AEENDAT": _dates(
                subjects, s, ae["end"].to_numpy(np.int64), present=~ongoing, unknown_day=ae["partial_end"].to_numpy(bool)
            ),
            "AEENTIM": format_times(end_time, present=end_time >= 0),
            "AEONGO": np.where(ongoing, "Yes", "No"),
            "AETOXGR": ae["grade"].to_numpy(),
            "AEREL": ae["rel_exo"].to_numpy(),
            "AECHREL": ae["rel_chemo"].to_numpy(),
            **serious_flags(ae),
            "AEACN": ae["action"].to_numpy(),
            "AEOUT": ae["outcome"].to_numpy(),
            "AEDLT": ae["AEDLT"].to_numpy(),
        }
    )
    return pd.DataFrame(frame)


# --------------------------------------------------------------------------- cm


def cm_form(
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    ae: pd.DataFrame,
    study_meds: pd.DataFrame,
    prior_meds: pd.DataFrame | None,
) -> pd.DataFrame:
    """Medications: prior (dates already epoch days, possibly partial) and study-period ones (chemo days)."""
    s = study_meds["subject"].to_numpy(np.int64)
    during = pd.DataFrame(
        {
            "subject": s,
            "med": study_meds["med"].to_numpy(),
            "start_date": subjects.day1[s] + chemo_day_offset(study_meds["start"].to_numpy(np.int64)),
            "end_date": subjects.day1[s] + chemo_day_offset(study_meds["end"].to_numpy(np.int64)),
            "ongoing": study_meds["ongoing"].to_numpy(bool),
            "indication": study_meds["indication"].to_numpy(),
            "ae_row": study_meds["ae_row"].to_numpy(np.int64),
            "unknown_day": False,
            "unknown_month": False,
        }
    )
    cm = pd.concat([prior_meds, during], ignore_index=True) if prior_meds is not None else during
    cm = cm.sort_values(["subject", "start_date", "med", "ae_row"], kind="stable").reset_index(drop=True)
    meds = params.medications
    keys = cm["med"].to_numpy()
    verbatim_pick = rng.random(len(cm))
    verbatim = np.array(
        [meds[k].verbatim[int(u * len(meds[k].verbatim))] for k, u in zip(keys, verbatim_pick)], dtype=object
    )

    def attr(name: str) -> np.ndarray:
        table = {k: getattr(v, name) for k, v in meds.items()}
        return np.array([table[k] for k in keys], dtype=object)

    ae_row = cm["ae_row"].to_numpy(np.int64)
    position = ae["RECORDPOSITION"].to_numpy()
    linked = ae_row >= 0
    aeno = np.full(len(cm), "", dtype=object)
    aeno[linked] = position[ae_row[linked]].astype(str)
    ongoing = cm["ongoing"].to_numpy(bool)
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids[cm["subject"].to_numpy(np.int64)],
            "SITENUMBER": params.study.site_number,
            "RECORDPOSITION": cm.groupby("subject").cumcount().to_numpy() + 1,
            "CMTRT": verbatim,
            "CMDECOD": attr("decod"),
            "ATCCD": attr("atc_code"),
            "ATCCLAS": attr("atc_class"),
            "ATCCLASCD": atc_level2(attr("atc_code")),
            "CMINDC": cm["indication"].to_numpy(),
            "CMAENO": aeno,
            "CMDOSE": attr("dose"),
            "CMDOSU": attr("dose_unit"),
            "CMROUTE": attr("route"),
            "CMFREQ": attr("frequency"),
            "CMSTDAT": format_dates(
                cm["start_date"].to_numpy(np.int64),
                unknown_day=cm["unknown_day"].to_numpy(bool),
                unknown_month=cm["unknown_month"].to_numpy(bool),
            ),
            "CMENDAT": format_dates(cm["end_date"].to_numpy(np.int64), present=~ongoing),
            "CMONGO": np.where(ongoing, "Yes", "No"),
        }
    )


# --------------------------------------------------------------------------- transfusion


def transfusion_form(
    params: SimulationParams,
    rng: np.random.Generator,
    subjects: Subjects,
    log: TransfusionLog,
    ae: pd.DataFrame,
    covers: pd.DataFrame,
) -> pd.DataFrame:
    rules = {t.product: t for t in params.transfusions}
    tr = pd.DataFrame(
        {
            "subject": log.subject.astype(np.int64),
            "day": log.day.astype(np.int64),
            "time": np.clip(log.time.astype(np.int64), 0, 24 * 60 - 1),
            "product": log.product,
            "units": log.units.astype(np.int64),
            "ae_row": log.ae_row.astype(np.int64),
        }
    )
    tr = tr.sort_values(["subject", "day", "time", "product"], kind="stable").reset_index(drop=True)
    tr["id"] = np.arange(len(tr))

    # a transfusion given during an AE that is its indication (bleeding, cytopenia) points at that AE
    if len(covers) and len(tr):
        spans = ae[["row", "subject", "start", "end", "ongoing", "order"]].rename(columns={"row": "ae_row"})
        spans = covers.astype({"ae_row": np.int64}).merge(spans, on="ae_row")
        spans["until"] = np.where(spans["ongoing"], NEVER, spans["end"])
        free = tr[tr["ae_row"] < 0][["id", "subject", "day", "product"]]
        cand = free.merge(spans, on=["subject", "product"])
        cand = cand[(cand["day"] >= cand["start"]) & (cand["day"] <= cand["until"])]
        cand = cand.sort_values(["id", "order", "start"], kind="stable").drop_duplicates("id")
        tr.loc[cand["id"].to_numpy(), "ae_row"] = cand["ae_row"].to_numpy()

    ae_row = tr["ae_row"].to_numpy(np.int64)
    linked = ae_row >= 0
    aeno = np.full(len(tr), "", dtype=object)
    aeno[linked] = ae["RECORDPOSITION"].to_numpy()[ae_row[linked]].astype(str)
    pt = np.array([params.ae_terms[k].pt.name for k in ae["term"].to_numpy()], dtype=object)
    product = tr["product"].to_numpy()
    indication = np.array([rules[p].indication for p in product], dtype=object)
    indication[linked] = pt[ae_row[linked]]
    per_unit = np.zeros(len(tr))
    for p, rule in rules.items():
        sel = product == p
        per_unit[sel] = draw.integers(rng, rule.volume_per_unit_ml, sel.sum())
    volume = np.rint(per_unit * tr["units"].to_numpy() / 10) * 10
    s = tr["subject"].to_numpy(np.int64)
    return pd.DataFrame(
        {
            "SUBJECT": subjects.ids[s],
            "SITENUMBER": params.study.site_number,
            "RECORDPOSITION": tr.groupby("subject").cumcount().to_numpy() + 1,
            "TRPROD": product,
            "CMDECOD": np.array([rules[p].decod for p in product], dtype=object),
            "ATCCD": np.array([rules[p].atc_code for p in product], dtype=object),
            "ATCCLASCD": atc_level2(np.array([rules[p].atc_code for p in product], dtype=object)),
            "TRDAT": _dates(subjects, s, tr["day"].to_numpy(np.int64)),
            "TRTIM": format_times(tr["time"].to_numpy(np.int64)),
            "TRVOL": volume.astype(np.int64).astype(str),
            "TRVOLU": "mL",
            "TRUNITS": tr["units"].astype(str).to_numpy(),
            "TRAENO": aeno,
            "TRINDC": indication,
        }
    )


# --------------------------------------------------------------------------- writer


def write_forms(frames: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, int]:
    """Write each form as <name>.csv (UTF-8, '\\n' line ends); returns rows written per form."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, columns in FORM_COLUMNS.items():
        frame = frames[name]
        if list(frame.columns) != columns:
            raise ValueError(f"{name}.csv: columns {list(frame.columns)} differ from the contract {columns}")
        frame.to_csv(out_dir / f"{name}.csv", index=False, lineterminator="\n", encoding="utf-8")
        counts[name] = len(frame)
    return counts
