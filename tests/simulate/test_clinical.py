"""The simulated data behave like consolidation chemotherapy: assertions on the generated files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _counts(forms, chemo_day, numeric_result, test):
    hem = forms["hem"]
    rows = hem[(hem["LBTEST"] == test) & (hem["LBSTAT"] != "Not Done")].copy()
    rows["day"] = chemo_day(forms, rows, "LBDAT")
    rows["value"] = numeric_result(rows["LBORRES"])
    rows.loc[rows["LBORRESU"] == "g/dL", "value"] *= 10
    return rows[(rows["day"] >= 1) & (rows["day"] <= 42)].sort_values(["SUBJECT", "day"])


def _recovery_day(group: pd.DataFrame, threshold: float) -> float:
    """First of 3 consecutive values >= threshold after the first value below it."""
    values, days = group["value"].to_numpy(), group["day"].to_numpy()
    below = np.flatnonzero(values < threshold)
    if not len(below):
        return np.nan
    for i in range(below[0], len(values) - 2):
        if (values[i : i + 3] >= threshold).all():
            return float(days[i])
    return np.inf


def test_three_subjects_per_dose_level(study9, params):
    forms = study9[2]
    levels = [d.name for d in params.dose_levels]
    assert forms["dm"]["COHORT"].value_counts().to_dict() == {name: 3 for name in levels}
    assert forms["dm"]["COHORT"].tolist() == [name for name in levels for _ in range(3)]
    exo = forms["exo"].merge(forms["dm"], on="SUBJECT")
    assert (exo["DOSELVL"] == exo["COHORT"]).all()
    doses = {d.name: f"{d.dose:g}" for d in params.dose_levels}
    assert (exo["EXDOSE"] == exo["DOSELVL"].map(doses)).all()


def test_larger_studies_cycle_through_the_levels(study60, params):
    counts = study60[2]["dm"]["COHORT"].value_counts()
    assert set(counts.index) == {d.name for d in params.dose_levels}
    assert counts.max() - counts.min() <= params.enrolment.cohort_size


def test_demographics(study60, params):
    dm = study60[2]["dm"]
    age = dm["AGE"].astype(int)
    assert age.between(*params.demographics.age).all()
    assert set(dm["SEX"]) == {"Male", "Female"}
    assert (dm["RACE"] == "Asian").all() and (dm["COUNTRY"] == "China").all()
    assert (dm["ETHGRP"] == "Han").mean() > 0.7
    consent = pd.to_datetime(study60[2]["ic"]["ICDAT"], format="%d %b %Y")
    birth = pd.to_datetime(dm["BRTHDAT"], format="%d %b %Y")
    years = consent.dt.year - birth.dt.year - ((consent.dt.month * 100 + consent.dt.day) < (birth.dt.month * 100 + birth.dt.day))
    assert (years == age).all()


def test_anc_nadir_and_recovery(study9, study60, chemo_day, numeric_result):
    for _, _, forms in (study9, study60):
        anc = _counts(forms, chemo_day, numeric_result, "Neutrophils")
        nadir = anc.groupby("SUBJECT")["value"].min()
        assert (nadir < 0.5).all()
        assert (anc["value"] < 0.1).any() and (forms["hem"]["LBORRES"] == "<0.1").any()
        nadir_day = anc.loc[anc.groupby("SUBJECT")["value"].idxmin(), "day"]
        assert nadir_day.between(8, 20).mean() >= 0.8
        recovery = anc.groupby("SUBJECT")[["day", "value"]].apply(lambda g: _recovery_day(g, 0.5))
        assert recovery.between(15, 35).mean() >= 0.75
        recovery_1 = anc.groupby("SUBJECT")[["day", "value"]].apply(lambda g: _recovery_day(g, 1.0))
        assert (recovery_1[np.isfinite(recovery_1)] >= recovery[np.isfinite(recovery_1)]).all()


def test_platelets_and_hemoglobin(study60, chemo_day, numeric_result):
    forms = study60[2]
    plt = _counts(forms, chemo_day, numeric_result, "Platelets")
    nadir = plt.groupby("SUBJECT")["value"].min()
    assert (nadir < 50).mean() >= 0.9 and (nadir < 20).mean() >= 0.5
    recovery = plt.groupby("SUBJECT")[["day", "value"]].apply(lambda g: _recovery_day(g, 50))
    assert recovery.between(18, 36).mean() >= 0.75
    hgb = _counts(forms, chemo_day, numeric_result, "Hemoglobin")
    low = hgb.groupby("SUBJECT")["value"].min()
    assert low.between(55, 95).mean() >= 0.9
    units = forms["hem"].loc[forms["hem"]["LBTEST"] == "Hemoglobin", "LBORRESU"]
    assert {"g/L", "g/dL"} <= set(units)


def test_blood_count_schedule(study9, params):
    hem = study9[2]["hem"]
    per_subject = hem[hem["VISIT"].str.startswith("Day ")].groupby("SUBJECT")["LBDAT"].nunique()
    assert per_subject.between(15, 43).all() and per_subject.mean() >= 18
    assert set(hem["LBTEST"]) == {t.name for t in params.blood_counts.tests}
    draws = hem.groupby(["SUBJECT", "LBDAT", "LBTIM"]).size()
    assert (draws == len(params.blood_counts.tests)).all()


def test_not_done_results_are_empty(study60):
    hem = study60[2]["hem"]
    nd = hem[hem["LBSTAT"] == "Not Done"]
    assert len(nd) > 0
    assert (nd["LBORRES"] == "").all() and (nd["LBREASND"] != "").all()
    assert (hem.loc[hem["LBSTAT"] == "", "LBORRES"] != "").all()


def _ae_lines(forms):
    ae = forms["ae"]
    return set(zip(ae["SUBJECT"], ae["RECORDPOSITION"]))


def test_transfusion_links_point_at_existing_ae_lines(study9, study60):
    for _, _, forms in (study9, study60):
        tr = forms["transfusion"]
        linked = tr[tr["TRAENO"] != ""]
        assert set(zip(linked["SUBJECT"], linked["TRAENO"])) <= _ae_lines(forms)
    tr = study60[2]["transfusion"]
    ae = study60[2]["ae"].set_index(["SUBJECT", "RECORDPOSITION"])
    linked = tr[tr["TRAENO"] != ""]
    pts = ae.loc[list(zip(linked["SUBJECT"], linked["TRAENO"])), "AEDECOD"]
    assert set(pts) & {"Epistaxis", "Gingival bleeding", "Petechiae", "Haematuria"}
    assert (linked["TRINDC"].to_numpy() == pts.to_numpy()).all()
    assert set(tr["TRPROD"]) == {"Platelets", "Red blood cells"}


def test_transfusions_follow_low_counts(study60, chemo_day, numeric_result):
    forms = study60[2]
    tr = forms["transfusion"]
    tr = tr.assign(day=chemo_day(forms, tr, "TRDAT"))
    plt = _counts(forms, chemo_day, numeric_result, "Platelets")
    lowest = plt.groupby("SUBJECT")["value"].min()
    transfused = set(tr.loc[tr["TRPROD"] == "Platelets", "SUBJECT"])
    assert all(lowest[s] < 50 for s in transfused)  # bleeding: transfused below 50
    assert tr["day"].between(1, 42).all()


def test_cm_links_point_at_existing_ae_lines(study9, study60):
    for _, _, forms in (study9, study60):
        cm = forms["cm"]
        linked = cm[cm["CMAENO"] != ""]
        assert len(linked)
        assert set(zip(linked["SUBJECT"], linked["CMAENO"])) <= _ae_lines(forms)


def test_infections_are_treated_with_anti_infectives(study60):
    forms = study60[2]
    ae, cm = forms["ae"], forms["cm"]
    infections = ae[ae["AESOC"] == "Infections and infestations"]
    assert len(infections) and {"Pneumonia", "Oral candidiasis"} & set(infections["AEDECOD"])
    treated = cm[cm["ATCCD"].str.startswith("J") & (cm["CMAENO"] != "")]
    assert set(zip(treated["SUBJECT"], treated["CMAENO"])) & set(zip(infections["SUBJECT"], infections["RECORDPOSITION"]))
    assert (cm["ATCCD"] == "J02AC04").any() and (cm["CMINDC"] == "Antifungal prophylaxis").any()
    assert (~cm["ATCCD"].str.startswith("J")).any()


def test_febrile_neutropenia_and_fever(study9, study60):
    for _, _, forms in (study9, study60):
        ae, vs, dm = forms["ae"], forms["vs"], forms["dm"]
        fn = ae[ae["AEDECOD"] == "Febrile neutropenia"]
        assert fn["SUBJECT"].nunique() >= 0.5 * len(dm)
        assert (fn["AESOC"] == "Blood and lymphatic system disorders").all()
        assert set(fn["AETOXGR"]) <= {"Grade 3", "Grade 4"}
        assert (fn["AEREL"].isin(["Not related", "Unlikely related"])).all()
        assert (fn["AECHREL"].isin(["Probably related", "Definitely related"])).all()
        temp = pd.to_numeric(vs["TEMP"])
        febrile = set(vs.loc[temp >= 38.3, "SUBJECT"])
        assert set(fn["SUBJECT"]) <= febrile
        timed = fn[(fn["AESTTIM"] != "") & ~fn["AESTDAT"].str.startswith("UN")]
        spikes = vs.assign(t=temp).set_index(["SUBJECT", "VSDAT", "VSTIM"])["t"]
        matched = [spikes.get((r.SUBJECT, r.AESTDAT, r.AESTTIM), 0) >= 38.3 for r in timed.itertuples()]
        assert np.mean(matched) >= 0.8


def test_vital_signs_daily_with_times(study9, params):
    vs = study9[2]["vs"]
    full = vs[vs["SYSBP"] != ""]
    days = full[full["VISIT"].str.startswith("Day ")].groupby("SUBJECT")["VSDAT"].nunique()
    assert (days == params.vital_signs.days[1] - params.vital_signs.days[0] + 1).all()
    assert (vs["VSTIM"] != "").all() and (vs["TEMPU"] == "C").all()
    assert (vs.loc[vs["WEIGHT"] == "", "WEIGHTU"] == "").all()


def test_dlt_and_relatedness(study9, study60, params):
    for _, _, forms in (study9, study60):
        ae, dm = forms["ae"], forms["dm"]
        dlt = ae[ae["AEDLT"] == "Yes"]
        cycle = 3 * len(params.dose_levels)
        assert len(dlt) <= -(-len(dm) // cycle)
        assert dlt["AEREL"].isin(["Possibly related", "Probably related", "Definitely related"]).all()
    ae = study60[2]["ae"]
    infusion = ae[ae["AEDECOD"].isin(["Pyrexia", "Chills", "Rash"])]
    assert len(infusion) and set(infusion["AETOXGR"]) <= {"Grade 1", "Grade 2"}
    assert infusion["AEREL"].isin(["Possibly related", "Probably related", "Unlikely related"]).all()


def test_ae_dates_and_ongoing(study60):
    ae = study60[2]["ae"]
    ongoing = ae[ae["AEONGO"] == "Yes"]
    assert len(ongoing) and (ongoing["AEENDAT"] == "").all()
    ended = ae[(ae["AEONGO"] == "No")]
    assert (ended["AEENDAT"] != "").all()
    full = ended[~ended["AESTDAT"].str.startswith("UN") & ~ended["AEENDAT"].str.startswith("UN")]
    start = pd.to_datetime(full["AESTDAT"], format="%d %b %Y")
    end = pd.to_datetime(full["AEENDAT"], format="%d %b %Y")
    assert (end >= start).all()
    assert {"Neutropenia", "Thrombocytopenia", "Anaemia"} <= set(ae["AEDECOD"])
    assert ae["AEPTCD"].str.fullmatch(r"\d{8}").all() and ae["AESOCCD"].str.fullmatch(r"\d{8}").all()


def test_history_and_disposition(study9, study60):
    forms = study9[2]
    mh = forms["amlhx"]
    dx = mh[mh["MHCAT"] == "PRIMARY DIAGNOSIS"]
    assert dx["SUBJECT"].is_unique and len(dx) == 9
    assert (dx["RECORDPOSITION"] == "1").all() and (dx["ELNRISK"] != "").all() and (dx["CRDAT"] != "").all()
    assert (mh.loc[mh["MHCAT"] != "PRIMARY DIAGNOSIS", ["ELNRISK", "CRDAT"]] == "").all().all()
    assert (mh["MHCAT"] == "PRIOR INDUCTION THERAPY").sum() == 9
    assert (forms["ds"]["DSDECOD"] == "Completed").all()
    ds = study60[2]["ds"]
    assert ds["DSDECOD"].isin(["Completed", "Withdrawal by subject", "Lost to follow-up", "Death"]).all()
    dead = ds[ds["DSDECOD"] == "Death"]
    assert (dead["DTHDAT"] != "").all() and (ds.loc[ds["DSDECOD"] != "Death", "DTHDAT"] == "").all()


@pytest.mark.parametrize("name", ["hem", "vs"])
def test_no_data_after_last_contact(study60, name):
    forms = study60[2]
    frame = forms[name]
    date = pd.to_datetime(frame["LBDAT" if name == "hem" else "VSDAT"], format="%d %b %Y")
    last = pd.to_datetime(forms["ds"].set_index("SUBJECT")["LSTCNDAT"], format="%d %b %Y")
    assert (date <= frame["SUBJECT"].map(last)).all()
