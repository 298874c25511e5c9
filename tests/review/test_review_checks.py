"""Data-review checks (sdtmgen/review): silent on the example export, each fires on a broken copy,
naming the raw file, row, column and value."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdtmgen.review import COLUMNS, REVIEW_CHECKS, ReviewContext, catalogue, run_review
from sdtmgen.sdtm.build import build_sdtm
from sdtmgen.spec.loader import load_spec

# (form, file line, column, new value): each breaks one thing a data manager would query
EDITS = [
    ("hem", 2, "LBORRES", "-2.5"),                 # 01-001 screening neutrophils
    ("dm", 3, "BRTHDAT", "24 MAY 1801"),           # 01-002, AGE 34
    ("exo", 2, "EXDOSE", "200"),                   # 01-001 is on dose level 1 (50 ug/kg)
    ("exo", 3, "EXDOSE", "0"),                     # 01-002
    ("hem", 452, "LBDAT", "15 FEB 2023"),          # 01-004 screening neutrophils, consent 15 APR 2024
    ("ds", 7, "DTHDAT", "01 NOV 2024"),            # 01-006 dies before the month-12 visit
    ("ae", 2, "AEONGO", "Yes"),                    # 01-001 AE 1 has an end date
    ("ae", 3, "AEOUT", "Fatal"),                   # 01-001 AE 2, AESDTH No
    ("hem", 7, "LBSTAT", "Not Done"),              # 01-001 day-1 neutrophils, result 3.55
]


def broken_raw(example_raw: Path, folder: Path) -> Path:
    raw = folder / "raw"
    shutil.copytree(example_raw, raw)
    for form, line, column, value in EDITS:
        frame = pd.read_csv(raw / f"{form}.csv", dtype=str, keep_default_na=False)
        frame.loc[line - 2, column] = value
        frame.to_csv(raw / f"{form}.csv", index=False, lineterminator="\n")
    # a second infusion for 01-003 (dose level 1) at dose level 2, a week later
    exo = pd.read_csv(raw / "exo.csv", dtype=str, keep_default_na=False)
    second = exo.iloc[[2]].assign(EXSTDAT="03 APR 2024", EXDOSE="100", DOSELVL="Dose Level 2")
    pd.concat([exo, second]).to_csv(raw / "exo.csv", index=False, lineterminator="\n")
    # 01-005 has no consent row
    ic = pd.read_csv(raw / "ic.csv", dtype=str, keep_default_na=False)
    ic[ic["SUBJECT"] != "01-005"].to_csv(raw / "ic.csv", index=False, lineterminator="\n")
    # the first AE of 01-001 entered again under a new record position, term typed differently
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    again = ae.iloc[[0]].assign(RECORDPOSITION="99", AETERM="shivering ")
    pd.concat([ae, again]).to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    return raw


@pytest.fixture(scope="module")
def broken(tmp_path_factory, example_raw):
    spec = load_spec(Path(__file__).resolve().parents[2] / "specs")
    raw = broken_raw(example_raw, tmp_path_factory.mktemp("review"))
    sdtm = build_sdtm(spec, raw)
    return spec, sdtm, run_review(spec, sdtm.datasets, sdtm.lineage)


@pytest.fixture(scope="module")
def example_review(spec, sdtm):
    return run_review(spec, sdtm.datasets, sdtm.lineage)


def rows(result, check: str) -> pd.DataFrame:
    return result.table[result.table["check"] == check].reset_index(drop=True)


def test_the_example_export_passes_every_check(example_review):
    assert example_review.findings == []
    assert list(example_review.table.columns) == COLUMNS and example_review.table.empty


def test_every_check_fires_on_the_broken_copy(broken):
    _, _, result = broken
    fired = set(result.table["check"])
    expected = set(REVIEW_CHECKS) - {"DR-LB-NONFINITE", "DR-TEXT-CONTROL"}  # their own tests below
    assert fired == expected, f"silent: {sorted(expected - fired)}"
    assert {f.rule for f in result.findings} == fired
    assert all(f.severity == "warning" for f in result.findings)


S = "UCMSC-EXO-AML-01-01-"


@pytest.mark.parametrize("check,subject,file,row,column,value,message", [
    ("DR-LB-NEGATIVE", "001", "hem.csv", 2, "LBORRES", "-2.5", "negative lab result: NEUT -2.5"),
    ("DR-DM-BRTHDTC", "002", "dm.csv", 3, "BRTHDAT", "1801-05-24", "year before 1900"),
    ("DR-DM-AGE", "002", "dm.csv", 3, "AGE", "34", "AGE 34 but BRTHDTC 1801-05-24 gives 222 at RFICDTC"),
    ("DR-EX-DOSE-PLANNED", "001", "exo.csv", 2, "EXDOSE", "200", "EXDOSE 200 over the planned dose 50 of DL1"),
    ("DR-EX-DOSE-MISSING", "002", "exo.csv", 3, "EXDOSE", "0", "dose missing, zero or negative"),
    ("DR-LB-BEFORE-CONSENT", "004", "hem.csv", 452, "LBDAT + LBTIM", "2023-02-15T10:25", "14.0 months before"),
    ("DR-AE-ONGOING-END", "001", "ae.csv", 2, "AEENDAT + AEENTIM", "2024-03-10T17:40", "ongoing"),
    ("DR-AE-FATAL", "001", "ae.csv", 3, "AESDTH", "N", "AEOUT FATAL"),
    ("DR-DM-NO-CONSENT", "005", "dm.csv", 6, "ICDAT (ic.csv) + ICTIM (ic.csv)", "", "informed consent"),
    ("DR-NOTDONE-RESULT", "001", "hem.csv", 7, "LBORRES", "3.55", "NOT DONE"),
    ("DR-AE-NEAR-DUP", "001", "ae.csv", 2, "AETERM", "SHIVERING", "entered at ae.csv:2, ae.csv:"),
])
def test_each_check_names_subject_raw_file_row_column_and_value(broken, check, subject, file, row, column, value,
                                                                message):
    _, _, result = broken
    found = rows(result, check)
    hit = found[(found["raw_file"] == file) & (found["raw_row"] == row)]
    assert len(hit) == 1, found.to_string()
    hit = hit.iloc[0]
    assert (hit["subject"], hit["column"], hit["value"]) == (S + subject, column, value)
    assert message in hit["message"]


def test_control_characters_in_copied_text_are_flagged(broken):
    """The CSV reader already stops on ESC/BEL (docs/data-problems.md); the check guards datasets that
    reach the review by any other way, so it is tested on the SDTM frames directly."""
    spec, sdtm, clean = broken
    assert rows(clean, "DR-TEXT-CONTROL").empty
    datasets = dict(sdtm.datasets)
    ae = datasets["AE"].copy()
    ae.loc[ae.index[3], "AETERM"] = "PETECHIAL\x1b[1M RASH\x07"
    datasets["AE"] = ae
    found = rows(run_review(spec, datasets, sdtm.lineage), "DR-TEXT-CONTROL")
    assert len(found) == 1, found.to_string()
    hit = found.iloc[0]
    assert (hit["raw_file"], hit["column"], hit["value"]) == ("ae.csv", "AETERM", "PETECHIAL\x1b[1M RASH\x07")
    assert "as PETECHIAL\\x1b[1M RASH\\x07" in hit["message"]


def test_visits_and_labs_after_death_are_flagged(broken):
    _, sdtm, result = broken
    found = rows(result, "DR-AFTER-DEATH")
    assert set(found["subject"]) == {S + "006"}
    # the month-12 labs (hem.csv lines 822-826) and the later visits, named by their raw rows
    labs = found[found["raw_file"] == "hem.csv"]
    assert set(range(822, 827)) <= set(labs["raw_row"])
    assert (found["message"].str.contains("DTHDTC 2024-11-01")).all()
    lb = sdtm.datasets["LB"]
    after = (lb["USUBJID"] == S + "006") & (lb["LBDTC"].str.slice(0, 10) > "2024-11-01")
    assert len(labs) == int(after.sum())


def test_a_second_infusion_at_another_dose_is_flagged(broken):
    _, _, result = broken
    found = rows(result, "DR-EX-DOSE-PLANNED")
    assert set(zip(found["subject"], found["value"])) == {(S + "001", "200"), (S + "003", "100")}
    levels = rows(result, "DR-EX-LEVELS")
    assert levels[["subject", "raw_file", "raw_row", "value"]].values.tolist() == [[S + "003", "exo.csv", 11, "100"]]
    assert levels["message"][0].endswith("first infusion was 50")


def test_records_without_raw_rows_leave_file_and_row_empty(broken):
    _, _, result = broken
    sv = rows(result, "DR-AFTER-DEATH")
    sv = sv[sv["column"] == "SVSTDTC"]
    assert len(sv) and (sv["raw_file"] == "").all() and sv["raw_row"].isna().all()


def test_near_duplicates_name_both_raw_rows(broken):
    _, _, result = broken
    found = rows(result, "DR-AE-NEAR-DUP")
    assert len(found) == 2
    assert found["message"].nunique() == 1 and found["message"][0].count("ae.csv:") == 2


def test_severity_can_be_raised_switched_off_and_reasoned(broken):
    spec, sdtm, _ = broken
    study = type(spec.study).model_validate({**spec.study.model_dump(), "review": {
        "DR-LB-NEGATIVE": {"severity": "error", "reason": "central lab never reports negatives"},
        "DR-AE-NEAR-DUP": {"severity": "off"}}})
    changed = spec.model_copy(update={"study": study})
    result = run_review(changed, sdtm.datasets, sdtm.lineage)
    severities = {f.rule: f.severity for f in result.findings}
    assert severities["DR-LB-NEGATIVE"] == "error"
    negative = next(f for f in result.findings if f.rule == "DR-LB-NEGATIVE")
    assert negative.message == "negative lab result (data review; central lab never reports negatives)"
    assert set(result.table.loc[result.table["check"] == "DR-LB-NEGATIVE", "severity"]) == {"error"}
    assert "DR-AE-NEAR-DUP" not in severities
    assert severities["DR-AE-FATAL"] == "warning"


def test_lab_text_nan_and_infinity_are_flagged():
    lb = pd.DataFrame({"USUBJID": ["A", "A", "A", "A"], "LBTESTCD": ["NEUT", "PLAT", "HGB", "WBC"],
                       "LBORRES": ["NaN", " inf", "-Infinity", "4.1"], "LBSTRESN": [np.nan, np.inf, np.nan, 4.1]})
    ctx = ReviewContext({"LB": lb}, {}, None, "DR-LB-NONFINITE")
    hits = list(REVIEW_CHECKS["DR-LB-NONFINITE"].check(ctx))
    assert hits[0].mask.tolist() == [True, True, True, False]


def test_the_limit_of_a_check_comes_from_the_study(broken):
    spec, sdtm, _ = broken
    study = type(spec.study).model_validate({**spec.study.model_dump(),
                                             "review": {"DR-LB-BEFORE-CONSENT": {"limit": 15}}})
    result = run_review(spec.model_copy(update={"study": study}), sdtm.datasets, sdtm.lineage)
    assert rows(result, "DR-LB-BEFORE-CONSENT").empty  # 14 months is within 15


def test_the_catalogue_lists_every_check_with_a_default_severity():
    ids = [c["id"] for c in catalogue()]
    assert ids == sorted(REVIEW_CHECKS) and all(i.startswith("DR-") for i in ids)
    assert {c["severity"] for c in catalogue()} == {"warning"}


def test_nan_lab_text_in_a_broken_copy_is_flagged_or_stops_the_build(tmp_path, example_raw, spec):
    from sdtmgen.errors import SdtmgenError

    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    hem = pd.read_csv(raw / "hem.csv", dtype=str, keep_default_na=False)
    hem.loc[10, "LBORRES"] = "NaN"  # line 12: 01-001 day-3 neutrophils
    hem.to_csv(raw / "hem.csv", index=False, lineterminator="\n")
    try:
        sdtm = build_sdtm(spec, raw)
    except SdtmgenError as err:  # a stricter reading of numbers may stop the build: it must name the cell
        assert "hem.csv" in str(err) and "12" in str(err)
        return
    result = run_review(spec, sdtm.datasets, sdtm.lineage, ["DR-LB-NONFINITE"])
    assert result.table[["raw_file", "raw_row", "value"]].values.tolist() == [["hem.csv", 12, "NaN"]]
