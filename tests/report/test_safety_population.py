"""Safety population = received any UCMSC-Exo: an EX record with a start date and a dose above 0
(the ADSL spec's SAFFL step), so a subject infused with a zero dose is outside it and outside every
denominator of the results."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def zero_dose_build(spec, example_raw, tmp_path_factory):
    from sdtmgen.adam.build import build_adam
    from sdtmgen.report.build import make_report, report_datasets
    from sdtmgen.spec.loader import load_report_config
    from sdtmgen.sdtm.build import build_sdtm

    raw = tmp_path_factory.mktemp("zero_dose") / "raw"
    shutil.copytree(example_raw, raw)
    exo = pd.read_csv(raw / "exo.csv", dtype=str, keep_default_na=False)
    assert (exo["SUBJECT"] == "01-002").sum() == 1 and exo["EXSTDAT"].ne("").all()
    exo.loc[exo["SUBJECT"] == "01-002", "EXDOSE"] = "0"
    exo.to_csv(raw / "exo.csv", index=False)
    sdtm = build_sdtm(spec, raw)
    adam = build_adam(spec, sdtm.datasets)
    report = make_report(report_datasets(sdtm.datasets, adam.datasets), load_report_config(spec.folder), draw=False)
    return sdtm.datasets, adam.datasets, report.ard


def test_zero_dose_subject_is_outside_the_safety_population(zero_dose_build):
    sdtm, adam, _ = zero_dose_build
    ex = sdtm["EX"]
    zero = ex.loc[pd.to_numeric(ex["EXDOSE"]) == 0, "USUBJID"].astype(str).tolist()
    assert len(zero) == 1 and zero[0].endswith("01-002")
    saffl = adam["ADSL"].set_index(adam["ADSL"]["USUBJID"].astype(str))["SAFFL"].astype(str)
    assert saffl[zero[0]] == "N"
    assert (saffl.drop(zero[0]) == "Y").all() and len(saffl) == 9


def test_zero_dose_subject_leaves_the_denominators(zero_dose_build):
    _, _, ard = zero_dose_build
    n = ard[(ard["analysis"] == "AE.AWIN28FL") & (ard["variable"] == "ANY") & (ard["stat_name"] == "N")]
    assert n.set_index("group1_level")["stat"].to_dict() == {
        "UCMSC-Exo 50 ug/kg": "2", "UCMSC-Exo 100 ug/kg": "3", "UCMSC-Exo 200 ug/kg": "3", "Overall": "8"}
