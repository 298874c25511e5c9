"""Deterministic simulator of the example study's raw EDC export (docs/raw-forms.md).

    params = load_simulation_params("specs/simulation.yaml")
    counts = simulate_study(params, n_subjects=9, seed=20240304, out_dir=Path("raw"))

The same parameters, number of subjects and seed give byte-identical CSV files: every draw comes
from numpy's default_rng(seed) (one independent child stream per part of the simulation), output is
sorted, and nothing reads the clock. All study-specific content lives in the parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from sdtmgen.simulate import disposition, events, forms, history, kinetics, labs, schedule, subjects, vitals
from sdtmgen.simulate.forms import FORM_COLUMNS
from sdtmgen.spec.simulation import SimulationParams, load_simulation_params

__all__ = ["FORM_COLUMNS", "SimulationParams", "load_simulation_params", "simulate_study"]

# independent random streams, one per concern (adding draws to one does not shift the others)
_STREAMS = ("subjects", "schedule", "disposition", "kinetics", "events", "medications", "history",
            "labs", "vitals", "forms")


def simulate_study(
    params: Union[SimulationParams, dict], n_subjects: int, seed: int, out_dir: Union[str, Path], fmt: str = "csv"
) -> dict[str, int]:
    """Simulate `n_subjects` subjects and write one CSV per raw form into `out_dir`.

    Returns the number of rows written per form (file stem -> rows).
    """
    if not isinstance(params, SimulationParams):
        params = SimulationParams.model_validate(params)
    if n_subjects < 1:
        raise ValueError("n_subjects must be at least 1")
    rng = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS))))
    n = int(n_subjects)

    subj = subjects.simulate_subjects(params, rng["subjects"], n)
    sched = schedule.simulate_schedule(params, rng["schedule"], n)
    last_visit = sched.followup_days.max(axis=1) if sched.followup_days.shape[1] else np.full(n, params.blood_counts.days[1])
    disp = disposition.simulate_disposition(params, rng["disposition"], n, last_visit)

    bc = params.blood_counts
    delay = kinetics.recovery_delay(bc, rng["kinetics"], n)
    curves = kinetics.draw_curves(bc, rng["kinetics"], n, delay)
    windows = kinetics.lab_windows(bc, curves, params.lab_windows, n)
    anchors = events.build_anchors(params, windows, n)

    infusion = forms.simulate_infusion(params, rng["forms"], n)
    ev = events.simulate_events(params, rng["events"], subj, anchors, disp, infusion.end)
    study_meds = events.simulate_medications(params, rng["medications"], anchors, disp.last_day)
    mh, prior_meds = history.simulate_history(params, rng["history"], subj)
    lab = labs.simulate_labs(params, rng["labs"], subj, sched, curves, disp.last_day, ev.forced_transfusions)
    vs = vitals.simulate_vitals(params, rng["vitals"], subj, sched, disp.last_day, ev.fever)

    dm, ic = forms.dm_ic_forms(params, rng["forms"], subj, sched)
    frames = {
        "dm": dm,
        "ic": ic,
        "amlhx": history.amlhx_form(params, subj, mh),
        "chemo": forms.chemo_form(params, rng["forms"], subj),
        "exo": forms.exo_form(params, subj, sched, infusion, ev.infusion_adjustment),
        "hem": lab.hem,
        "vs": vs,
        "ae": forms.ae_form(params, subj, ev.ae),
        "cm": forms.cm_form(params, rng["forms"], subj, ev.ae, pd.concat([ev.cm, study_meds], ignore_index=True), prior_meds),
        "transfusion": forms.transfusion_form(params, rng["forms"], subj, lab.transfusions, ev.ae, ev.covers),
        "ds": disposition.ds_form(params, subj, disp),
    }
    if fmt in ("odm", "redcap"):  # the same forms as one CDISC ODM file or a REDCap project (simulate.export)
        from sdtmgen.simulate.export import write_odm, write_redcap
        for name, columns in FORM_COLUMNS.items():
            if list(frames[name].columns) != columns:
                raise ValueError(f"{name}: columns {list(frames[name].columns)} differ from the contract {columns}")
        ordered = {name: frames[name] for name in FORM_COLUMNS}
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        if fmt == "odm":
            write_odm(ordered, Path(out_dir) / "export.xml")
        else:
            write_redcap(ordered, Path(out_dir))
        return {name: len(frames[name]) for name in FORM_COLUMNS}
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (csv, odm or redcap)")
    return forms.write_forms(frames, Path(out_dir))
