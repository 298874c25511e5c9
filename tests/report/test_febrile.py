"""The derived febrile-neutropenia check: fevers (one reading >= 38.3 C, or >= 38.0 C held over an
hour) with an ANC < 0.5 in reach, against the investigator-reported AE, for data review."""

from __future__ import annotations

import pandas as pd
import pytest


def review(ard, stat, level, value):
    return stat(ard, outcome=5, analysis="FN.DERIVED", level=level, stat_name="n", variable_level=value)


def test_hand_made_cases(ard, stat, study):
    # derived: S01 (39.0 C, ANC the next day), S03 (38.5 C, ANC the day before), S05 (38.1-38.2 for 70 min)
    assert review(ard, stat, "Overall", "Y") == "3"
    assert review(ard, stat, "Overall", "derived and reported") == "1"  # S01
    assert review(ard, stat, "Overall", "derived only") == "2"  # S03, S05
    assert review(ard, stat, "Overall", "reported only") == "2"  # S02 (ANC too far), S04 (no fever)
    assert review(ard, stat, study.GROUPS[2], "derived only") == "1"  # S05
    assert stat(ard, outcome=5, analysis="FN.DERIVED", level="Overall", stat_name="N", variable_level="Y") == "9"


def test_listing_rows(report):
    (listing,) = [item for item in report.listings if item.name == "fn_check"]
    frame = listing.frame.set_index("USUBJID")
    assert sorted(frame.index.unique()) == ["S01", "S02", "S03", "S04", "S05"]
    assert frame.loc["S03", "REVIEW"].startswith("derived only") and frame.loc["S03", "FEVER_DAY"] == 17
    assert frame.loc["S03", "ANC_DAY"] == 16 and frame.loc["S03", "ANC"] == pytest.approx(0.1)
    assert frame.loc["S05", "FEVER_RULE"] == ">= 38 C held 60 min" and frame.loc["S05", "FEVER_DTC"].endswith("09:10")
    assert frame.loc["S01", "REPORTED_FN"] == "Y" and frame.loc["S01", "REVIEW"] == "derived and reported"
    assert frame.loc["S04", "REVIEW"].startswith("reported only") and pd.isna(frame.loc["S04", "FEVER_DAY"])
    assert "S10" not in frame.index and "S06" not in frame.index and "S08" not in frame.index


def test_the_thresholds_come_from_the_spec(study, report_config, stat):
    from sdtmgen.report import make_report

    check = report_config.febrile_neutropenia_check.model_copy(update={"anc_days_before": 10, "single": 38.0})
    cfg = report_config.model_copy(update={"febrile_neutropenia_check": check})
    ard = make_report(study.datasets(), cfg, draw=False).ard
    # S02 (ANC 9 days before), S07 (4 days before) and S06, S08 (38.1 C, now a single-reading fever) join
    assert review(ard, stat, "Overall", "Y") == "7"
    assert review(ard, stat, "Overall", "reported only") == "1"  # S04


def test_example_flags_the_subject_reported_only_as_pneumonia(spec, example_raw, tmp_path):
    from sdtmgen.adam.build import build_adam
    from sdtmgen.report.build import make_report, report_datasets, write_report
    from sdtmgen.spec.loader import load_report_config
    from sdtmgen.sdtm.build import build_sdtm

    sdtm = build_sdtm(spec, example_raw)
    adam = build_adam(spec, sdtm.datasets)
    report = make_report(report_datasets(sdtm.datasets, adam.datasets), load_report_config(spec.folder), draw=False)
    write_report(tmp_path, report)
    listing = pd.read_csv(tmp_path / "fn_check.csv", dtype=str, keep_default_na=False)
    flagged = listing[listing["REVIEW"].str.startswith("derived only")]
    assert sorted(flagged["USUBJID"].unique()) == ["UCMSC-EXO-AML-01-01-003"]
    first = flagged.iloc[0]
    assert first["FEVER_DAY"] == "18" and float(first["TEMP"]) == 39.3 and first["REPORTED_FN"] == "N"
    assert float(first["ANC"]) < 0.5 and "PNEUMONIA" in first["AES_THAT_DAY"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "UCMSC-EXO-AML-01-01-003" in page and "fn_check.csv" in page


def test_fevers_do_not_depend_on_the_order_of_the_readings():
    # S1: 38.1-38.2 C for 70 min (sustained), then 38.1 C after a cool reading (a new run: too short);
    # S2: one 38.4 C reading, a date without a time and a missing date; readings given in any order
    from sdtmgen.spec.loader import load_report_config
    from sdtmgen.report.febrile import fevers

    check = load_report_config("specs").febrile_neutropenia_check
    rows = [("S1", "2025-01-02T08:00", 38.1), ("S1", "2025-01-02T08:40", 38.2), ("S1", "2025-01-02T09:10", 38.1),
            ("S1", "2025-01-02T09:30", 37.0), ("S1", "2025-01-02T09:50", 38.1), ("S2", "2025-01-03", 38.4),
            ("S2", "2025-01-03T07:00", 37.2), ("S2", None, 39.0), ("S10", "2025-01-01T00:00", 36.9)]
    vs = pd.DataFrame(rows, columns=["USUBJID", "VSDTC", "VSSTRESN"]).assign(VSTESTCD="TEMP")
    vs = vs.astype({"USUBJID": "string[pyarrow]", "VSDTC": "string[pyarrow]", "VSTESTCD": "string[pyarrow]"})
    expected = fevers(vs, check)
    assert expected["TEXT"].tolist() == ["2025-01-02T08:00", "2025-01-02T08:40", "2025-01-02T09:10", "2025-01-03"]
    assert expected["USUBJID"].tolist() == ["S1", "S1", "S1", "S2"]
    for seed in range(5):
        shuffled = vs.sample(frac=1, random_state=seed).reset_index(drop=True)
        pd.testing.assert_frame_equal(fevers(shuffled, check), expected)
