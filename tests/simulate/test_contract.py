"""The export follows docs/raw-forms.md: every documented form, exactly its columns, its formats."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sdtmgen.simulate import FORM_COLUMNS

ROOT = Path(__file__).resolve().parents[2]

DATE = re.compile(r"^(\d{2}|UN) (JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|UNK) (\d{4}|UNKN)$")
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return parts + [current]


def documented_forms() -> dict[str, list[str]]:
    """file stem -> columns, from the forms table of docs/raw-forms.md."""
    forms = {}
    for line in (ROOT / "docs" / "raw-forms.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z_]+)\.csv` \|[^|]*\| (.*) \|$", line)
        if m:
            forms[m.group(1)] = [re.match(r"\s*([A-Z0-9]+)", p).group(1) for p in _split_top_level(m.group(2))]
    return forms


def test_doc_table_parses():
    forms = documented_forms()
    assert {"dm", "hem", "ae", "cm", "transfusion", "ds"} <= set(forms)
    assert forms["dm"][:2] == ["SUBJECT", "SITENUMBER"]


def test_code_columns_are_the_documented_ones():
    assert FORM_COLUMNS == documented_forms()


def test_every_documented_form_is_written_with_exactly_its_columns(study9):
    folder, _, forms = study9
    documented = documented_forms()
    assert sorted(p.stem for p in folder.glob("*.csv")) == sorted(documented)
    for name, columns in documented.items():
        assert list(forms[name].columns) == columns, name


def _date_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("DAT")]


def test_dates_and_times_have_the_documented_format(study9, study60):
    for _, _, forms in (study9, study60):
        for name, frame in forms.items():
            for col in _date_columns(frame):
                values = frame[col][frame[col] != ""]
                bad = values[~values.str.match(DATE)]
                assert bad.empty, f"{name}.{col}: {bad.head().tolist()}"
                full = values[~values.str.contains("UN")]
                for v in full.unique():
                    datetime.strptime(v, "%d %b %Y")
            for col in [c for c in frame.columns if c.endswith("TIM")]:
                values = frame[col][frame[col] != ""]
                assert values.str.match(TIME).all(), f"{name}.{col}"


def test_partial_dates_occur(study60):
    _, _, forms = study60
    assert forms["amlhx"]["MHSTDAT"].str.startswith("UN").any()
    assert forms["ae"]["AESTDAT"].str.startswith("UN").any() or forms["ae"]["AEENDAT"].str.startswith("UN").any()


def test_visit_names(study9, study60, params):
    allowed = {v.name for v in params.visits} | {params.unscheduled.name}
    for _, _, forms in (study9, study60):
        for name in ("hem", "vs", "exo", "ic"):
            assert set(forms[name]["VISIT"]) <= allowed, name
    hem = study60[2]["hem"]
    assert {"Screening", "Day 1", "Follow-up Month 3", "Follow-up Month 6", "Follow-up Month 12"} <= set(hem["VISIT"])
    assert (hem["VISIT"] == "Unscheduled").any()
    assert set(study9[2]["ic"]["VISIT"]) == {"Screening"}


def test_visit_day_matches_date(study60, chemo_day):
    _, _, forms = study60
    for name, col in (("hem", "LBDAT"), ("vs", "VSDAT")):
        frame = forms[name]
        days = chemo_day(forms, frame, col)
        named = frame["VISIT"].str.match(r"^Day \d+$")
        assert (frame.loc[named, "VISIT"].str[4:].astype(int) == days[named]).all(), name


@pytest.mark.parametrize("name", ["dm", "ic", "exo", "ds"])
def test_one_row_per_subject(study60, name):
    frame = study60[2][name]
    assert frame["SUBJECT"].is_unique and len(frame) == 60


def test_record_positions_count_from_one(study60):
    for name in ("amlhx", "chemo", "ae", "cm", "transfusion"):
        frame = study60[2][name]
        pos = frame["RECORDPOSITION"].astype(int)
        expected = frame.groupby("SUBJECT").cumcount() + 1
        assert (pos.to_numpy() == expected.to_numpy()).all(), name


def test_sites_and_subject_numbers(study9, params):
    dm = study9[2]["dm"]
    site = params.study.site_number
    assert (dm["SITENUMBER"] == site).all()
    assert dm["SUBJECT"].tolist() == [f"{site}-{i:03d}" for i in range(1, 10)]
