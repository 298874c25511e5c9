"""The REDCap reader: every non-empty cell of real REDCap exports lands in one instrument's row."""

import csv
from pathlib import Path

import pytest

from sdtmgen.errors import RawDataError
from sdtmgen.raw_export import RawExport
from sdtmgen.readers import detect
from sdtmgen.readers.redcap import RedcapReader

PROJECTS = ["repeating-instruments", "arm-single-longitudinal", "longitudinal"]


def _cells(path: Path):
    """(line, column, value) of every non-empty data cell, read independently with the csv module."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        start = reader.line_num + 1
        for row in reader:
            for name, value in zip(header[1:], row[1:]):
                if value.strip() and not name.startswith("redcap_") and not name.endswith("_complete"):
                    yield start, name, value.strip()
            start = reader.line_num + 1


@pytest.mark.parametrize("project", PROJECTS)
def test_every_non_empty_cell_is_read_once(reference, project):
    folder = reference / "edc-exports" / "redcap" / project
    assert detect(folder) == "redcap"
    raw = RawExport(folder)
    reader = RedcapReader(folder, decode=False)
    forms = {f: reader.read(f) for f in reader.forms()}
    read = {}
    for got in forms.values():
        frame = got.frame
        for column in frame.columns:
            if column in ("SUBJECT", "VISIT", "RECORDPOSITION", "ARM"):
                continue
            for line, value in zip(got.lines, frame[column]):
                if value:
                    assert (line, column) not in read, f"{column} line {line} read by two forms"
                    read[(line, column)] = value
    expected = {(line, column): value for line, column, value in _cells(folder / "data.csv")}
    assert len(expected) > 20
    assert read == expected
    assert sorted(raw.unread()) == sorted(forms)


def test_longitudinal_events_repeats_and_decoding(reference):
    folder = reference / "edc-exports" / "redcap" / "longitudinal"
    demographics = RawExport(folder).read("demographics")
    assert set(demographics["VISIT"]) == {"Enrollment"}  # event.csv's label of enrollment_arm_1
    assert set(demographics["sex"]) <= {"Female", "Male", ""} and "Male" in set(demographics["sex"])
    assert set(demographics["gym___0"]) <= {"0", "1"}  # checkboxes stay 0/1
    assert not any(c.endswith("_complete") or c.startswith("redcap_") for c in demographics.columns)
    # the arm of each record's event: arm.csv's name through event.csv's arm_num
    assert dict(zip(demographics["SUBJECT"], demographics["ARM"])) == {"100": "Drug A", "220": "Drug A", "304": "Drug B"}
    repeating = RawExport(reference / "edc-exports" / "redcap" / "repeating-instruments").read("bp")
    assert (repeating["RECORDPOSITION"] != "").all() and len(repeating) == 4
    assert set(repeating["ARM"]) == {""}  # a classic project has no events, so no arms


def test_arm_without_arm_csv_is_the_event_suffix(tmp_path):
    (tmp_path / "dictionary.csv").write_text(
        '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
        '"Choices, Calculations, OR Slider Labels"\nrecord_id,dm,,text,ID,\nage,dm,,text,Age,\n')
    (tmp_path / "data.csv").write_text("record_id,redcap_event_name,age\n1,screening_arm_1,30\n"
                                       "2,screening_arm_12,40\n3,baseline,50\n")
    frame = RawExport(tmp_path).read("dm")
    assert frame["ARM"].tolist() == ["1", "12", ""]


def test_unknown_code_is_named(tmp_path):
    (tmp_path / "dictionary.csv").write_text(
        '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
        '"Choices, Calculations, OR Slider Labels"\n'
        'record_id,demographics,,text,ID,\nsex,demographics,,radio,Sex,"0, Female | 1, Male"\n')
    (tmp_path / "data.csv").write_text("record_id,sex,demographics_complete\n1,1,2\n2,7,2\n")
    assert detect(tmp_path) == "redcap"
    with pytest.raises(RawDataError, match=r"data.csv line 3, field sex: code '7' is not among the choices"):
        RawExport(tmp_path).read("demographics")
    frame = RedcapReader(tmp_path, decode=False).read("demographics").frame
    assert frame["sex"].tolist() == ["1", "7"] and frame["SUBJECT"].tolist() == ["1", "2"]


def _project(folder: Path, labels: list[str]) -> Path:
    folder.mkdir()
    rows = ["Variable / Field Name,Form Name,Field Type,Field Label,\"Choices, Calculations, OR Slider Labels\"",
            "record_id,dm,text,Record ID,"] + [f"dm_f{i},dm,text,{label}," for i, label in enumerate(labels)]
    (folder / "dictionary.csv").write_text("\n".join(rows) + "\n")
    (folder / "data.csv").write_text("record_id," + ",".join(f"dm_f{i}" for i in range(len(labels)))
                                     + "\n1," + ",".join("x" for _ in labels) + "\n")
    return folder


def test_columns_named_by_labels_only_when_the_labels_are_column_names(tmp_path):
    built = _project(tmp_path / "built", ["AGE", "SEX"])  # a project made to carry CSV forms
    assert [c for c in RedcapReader(built).read("dm").frame.columns] == ["SUBJECT", "VISIT", "RECORDPOSITION",
                                                                         "ARM", "AGE", "SEX"]
    assert "dm_f0" in RedcapReader(built, columns="field").read("dm").frame
    questions = _project(tmp_path / "questions", ["AGE", "Sex at birth"])  # one question: field names
    assert "dm_f1" in RedcapReader(questions).read("dm").frame
    repeated = _project(tmp_path / "repeated", ["AGE", "AGE"])  # a label twice: field names
    assert "dm_f1" in RedcapReader(repeated).read("dm").frame
