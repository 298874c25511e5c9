"""The second example study: a real REDCap longitudinal export mapped by its own spec, no code.

examples/redcap-longitudinal/ holds the REDCapR project export (raw/) and its spec (specs/). The
build is run as a user runs it (``sdtmgen build --spec ... --out ...``), and what it wrote is
checked against the export read independently here with the csv module: record counts per domain,
DM and VS values, units as the data dictionary's field labels give them, and every non-empty cell
either traced to a submitted record or listed, with a reason, in not-submitted.csv.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

import sdtmgen
from sdtmgen.acrf import annotations

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "redcap-longitudinal"
SPECS = EXAMPLE / "specs"
RAW = EXAMPLE / "raw"
STUDYID = "REDCAP-LONG"
DEFINE_SCHEMA = Path("define-xml-2.1") / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"

# which export fields give the records of each domain (one record per non-empty cell), as the
# example's README describes the mapping
FIELDS = {
    "VS": ["height", "weight", "bmi", "height2", "weight2", "bmi2", "cpq4"],
    "LB": ["prealb_b", "creat_b", "npcr_b", "chol_b", "transferrin_b", *[f"vld{i}" for i in range(1, 6)],
           *[f"vbw{i}" for i in range(1, 6)], "alb_4", "prealb_4", "npcr_4", "chol_4", "cpq2", "cpq3"],
    "QS": [*[f"pmq{i}" for i in range(1, 5)], *[f"cpq{i}" for i in range(10, 14)],
           *[f"vob{i}" for i in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13)]],
    "CM": [f"meds___{i}" for i in range(1, 6)],
    "SUPPDM": ["given_birth", "num_children", "specify_mood",
               *[f"{a}___{i}" for a in ("gym", "aerobics", "eat", "drink") for i in range(5)]],
    "HO": ["cpq7"],
    "SUPPHO": ["cpq8"],
}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def export() -> dict:
    """The export as REDCap wrote it: records with their CSV line, dictionary, events and arms."""
    with (RAW / "data.csv").open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        records, start = [], reader.line_num + 1
        for row in reader:
            records.append({"_line": start, **dict(zip(header, row))})
            start = reader.line_num + 1
    dictionary = {f["Variable / Field Name"]: f for f in _csv(RAW / "dictionary.csv")}
    arms = {a["arm_num"]: a["name"] for a in _csv(RAW / "arm.csv")}
    events = {e["unique_event_name"]: e for e in _csv(RAW / "event.csv")}
    return {"header": header, "records": records, "dictionary": dictionary, "arms": arms, "events": events}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("redcap") / "out"
    script = Path(sys.executable).with_name("sdtmgen")  # the installed command, as the README runs it
    program = [str(script)] if script.is_file() else [sys.executable, "-c", "from sdtmgen.cli import main; main()"]
    command = [*program, "build", "--spec", str(SPECS), "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ", 0 errors" in done.stdout + done.stderr
    return out


def _xpt(out: Path, name: str) -> pd.DataFrame:
    return pyreadstat.read_xport(str(out / "sdtm" / f"{name.lower()}.xpt"))[0]


def _filled(records: list[dict], field: str) -> list[dict]:
    return [r for r in records if r.get(field, "").strip()]


def _choice(dictionary: dict, field: str, code: str) -> str:
    """The label of a coded answer, from the data dictionary's "code, label | ..." text."""
    pairs = dict(p.split(",", 1) for p in dictionary[field]["Choices, Calculations, OR Slider Labels"].split("|"))
    return {k.strip(): v.strip() for k, v in pairs.items()}[code]


def test_records_per_domain_equal_the_export(built, export):
    records = export["records"]
    datasets = {p.stem.upper(): p for p in (built / "sdtm").glob("*.xpt")}
    assert set(datasets) == {"DM", "SUPPDM", "VS", "LB", "SUPPLB", "DS", "CM", "QS", "HO", "SUPPHO"}
    for domain, fields in FIELDS.items():
        expected = sum(len(_filled(records, f)) for f in fields)
        assert len(_xpt(built, domain)) == expected, domain
    assert len(_xpt(built, "DM")) == len(_filled(records, "date_enrolled")) == 3
    # SUPPLB: blood-draw shift and staff on each lab record of the blood work-up instrument
    workup = [(sum(bool(r[f"vbw{i}"]) for i in range(1, 6)), bool(r["vbw6"]) + bool(r["vbw7"])) for r in records]
    assert len(_xpt(built, "SUPPLB")) == sum(a * b for a, b in workup) == 40
    # DS: a consent milestone per consent date, an end-of-study record per completion instrument
    assert len(_xpt(built, "DS")) == len(_filled(records, "date_enrolled")) + len(_filled(records, "complete_study"))


def test_dm_values_from_the_export(built, export):
    dm = _xpt(built, "DM").set_index("USUBJID")
    dictionary = export["dictionary"]
    sex = {"Female": "F", "Male": "M"}
    ethnic = {"Hispanic or Latino": "HISPANIC OR LATINO", "NOT Hispanic or Latino": "NOT HISPANIC OR LATINO",
              "Unknown / Not Reported": "NOT REPORTED"}
    completion = {r["study_id"]: r["cpq1"] for r in _filled(export["records"], "cpq1")}
    for row in _filled(export["records"], "date_enrolled"):
        got = dm.loc[f"{STUDYID}-{row['study_id']}"]
        arm = export["arms"][export["events"][row["redcap_event_name"]]["arm_num"]]
        assert got["SUBJID"] == row["study_id"]
        assert got["AGE"] == float(row["age"]) and got["AGEU"] == "YEARS"
        assert got["SEX"] == sex[_choice(dictionary, "sex", row["sex"])]
        assert got["RACE"] == _choice(dictionary, "race", row["race"]).upper()
        assert got["ETHNIC"] == ethnic[_choice(dictionary, "ethnicity", row["ethnicity"])]
        assert got["RFICDTC"] == got["RFSTDTC"] == row["date_enrolled"]
        assert got["RFENDTC"] == completion[row["study_id"]]
        assert got["ARM"] == got["ACTARM"] == arm and got["ARMCD"] == arm[-1]
    # one subject spelled out: record 304 is in arm 2 ("Drug B"), a 9-year-old white girl
    assert dm.loc[f"{STUDYID}-304", ["ARM", "ARMCD", "SEX", "AGE", "RACE"]].tolist() == ["Drug B", "B", "F", 9.0, "WHITE"]
    supp = _xpt(built, "SUPPDM")
    mood = supp[(supp["USUBJID"] == f"{STUDYID}-304") & (supp["QNAM"] == "MOOD")]["QVAL"].tolist()
    assert mood == [next(r["specify_mood"] for r in export["records"] if r["study_id"] == "304" and r["specify_mood"])]
    gym = supp[(supp["USUBJID"] == f"{STUDYID}-100") & supp["QNAM"].str.startswith("GYM")]
    assert dict(zip(gym["QNAM"], gym["QVAL"])) == {"GYMMON": "Y", "GYMTUE": "N", "GYMWED": "N", "GYMTHU": "N",
                                                     "GYMFRI": "N"}


def test_adsl_from_the_spec_alone(built, export):
    adsl = pyreadstat.read_xport(str(built / "adam" / "adsl.xpt"))[0].set_index("USUBJID")
    dm = _xpt(built, "DM").set_index("USUBJID")
    assert list(adsl.index) == list(dm.index)
    assert (adsl["TRT01P"] == dm["ARM"]).all() and adsl["TRT01PN"].tolist() == [1.0, 1.0, 2.0]
    assert (adsl["ENRLFL"] == "Y").all()
    ended = {f"{STUDYID}-{r['study_id']}": r for r in _filled(export["records"], "complete_study")}
    for subject, row in adsl.iterrows():
        if subject not in ended:
            assert row["EOSSTT"] == "ONGOING" and pd.isna(row["EOSDT"])
        elif _choice(export["dictionary"], "complete_study", ended[subject]["complete_study"]) == "No":
            assert row["EOSSTT"] == "DISCONTINUED" and row["DCSREAS"] == "WITHDRAWAL BY SUBJECT"
            assert str(row["EOSDT"]) == ended[subject]["withdraw_date"]


def _label_unit(label: str) -> str:
    """The unit a data dictionary field label names in parentheses: 'Height (cm)' -> 'cm'."""
    found = re.search(r"\(([^)]*)\)\s*$", label)
    return {"kilograms": "kg", "g/kg/d": "g/kg/day"}.get(found.group(1), found.group(1)) if found else ""


def test_vs_and_lb_values_and_units_from_the_data_dictionary(built, export):
    dictionary = export["dictionary"]
    vs = _xpt(built, "VS")
    tests = {"height": "HEIGHT", "height2": "HEIGHT", "weight": "WEIGHT", "weight2": "WEIGHT", "cpq4": "WEIGHT",
             "bmi": "BMI", "bmi2": "BMI"}
    category = {"demographics": "DEMOGRAPHICS", "baseline_data": "BASELINE DATA",
                "completion_project_questionnaire": "DRY WEIGHT"}
    for field, testcd in tests.items():
        form = dictionary[field]["Form Name"]
        for row in _filled(export["records"], field):
            got = vs[(vs["USUBJID"] == f"{STUDYID}-{row['study_id']}") & (vs["VSTESTCD"] == testcd)
                     & (vs["VSCAT"] == category[form])]
            assert len(got) == 1, (field, row["study_id"])
            rec = got.iloc[0]
            unit = "kg/m2" if testcd == "BMI" else _label_unit(dictionary[field]["Field Label"])
            assert (rec["VSORRES"], rec["VSORRESU"], rec["VSSTRESN"], rec["VSSTRESU"]) == \
                   (row[field], unit, float(row[field]), unit)
            assert rec["VISIT"] == export["events"][row["redcap_event_name"]]["event_name"].upper()
    lb = _xpt(built, "LB")
    scat = {"baseline_data": "BASELINE DATA", "visit_lab_data": "VISIT LAB DATA",
            "visit_blood_workup": "VISIT BLOOD WORKUP", "completion_data": "COMPLETION DATA",
            "completion_project_questionnaire": "COMPLETION PROJECT QUESTIONNAIRE"}
    # the test named by each field label, as NCI's LBTESTCD codelist codes it
    testcd = {"Serum Prealbumin": "PREALB", "Creatinine": "CREAT", "Normalized Protein Catabolic Rate": "NPCRATE",
              "Cholesterol": "CHOL", "Transferrin": "TFERRIN", "Serum Albumin": "ALB", "Kt/V": "UREAKTV"}
    for field in FIELDS["LB"]:
        form, label = dictionary[field]["Form Name"], dictionary[field]["Field Label"]
        code = testcd[re.sub(r"\s*\([^)]*\)\s*$", "", label)]
        for row in _filled(export["records"], field):
            visit = export["events"][row["redcap_event_name"]]["event_name"].upper()
            got = lb[(lb["USUBJID"] == f"{STUDYID}-{row['study_id']}") & (lb["LBSCAT"] == scat[form])
                     & (lb["VISIT"] == visit) & (lb["LBTESTCD"] == code)]
            assert len(got) == 1, (field, row["study_id"])
            assert got.iloc[0]["LBORRESU"] == _label_unit(label), field  # Kt/V: no unit in label or record
            assert got.iloc[0]["LBORRES"] == row[field] and got.iloc[0]["LBSTRESN"] == float(row[field])
    assert set(lb["LBTESTCD"]) == {"PREALB", "CREAT", "NPCRATE", "CHOL", "TFERRIN", "ALB", "UREAKTV"}
    assert set(lb.loc[lb["LBSCAT"] == "COMPLETION DATA", "LBDTC"]) == {r["date_visit_4"] for r in
                                                                       _filled(export["records"], "date_visit_4")}


def test_every_cell_is_submitted_or_listed_as_not_submitted(built, export):
    """Each non-empty cell (record id, redcap_* and <form>_complete aside) is either read by the spec
    and found in a record of the annotated domain (by raw line, or by its value in the subject's
    records for a field joined from another instrument), or listed in not-submitted.csv with a reason;
    and nothing the data dictionary flags as an identifier is submitted."""
    spec = sdtmgen.load_spec(SPECS)
    read = annotations(spec)
    for domain in spec.domains:
        for source in domain.sources:
            for column in (source.where.columns() if source.where else ()):
                read.setdefault((source.form, column), []).append((domain.domain, "", "where"))
    listed = {r["field"]: r for r in _csv(EXAMPLE / "not-submitted.csv")}
    dictionary = export["dictionary"]
    assert all(r["reason"].strip() and dictionary[f]["Form Name"] == r["form"] for f, r in listed.items())
    identifiers = {f for f, d in dictionary.items() if d["Identifier?"].strip().lower() == "y"}
    assert identifiers and identifiers <= set(listed)
    lineage = {p.stem.upper(): set(pd.read_csv(p)["raw_row"]) for p in (built / "reports" / "lineage").glob("*.csv")}
    datasets = {name: _xpt(built, name) for name in lineage}
    record_id = export["header"][0]
    counted: Counter = Counter()
    for row in export["records"]:
        for column, value in row.items():
            if (column.startswith(("_", "redcap_")) or column == record_id or column.endswith("_complete")
                    or not value.strip()):
                continue
            field = column.split("___")[0]
            form = dictionary[field]["Form Name"]
            if field in listed:
                assert not read.get((form, column)), f"{column} is listed as not submitted but the spec maps it"
                counted["not submitted"] += 1
                continue
            targets = read.get((form, column))
            assert targets, f"{column} (line {row['_line']}) is neither mapped nor listed in not-submitted.csv"
            domains = {t[0] for t in targets}
            if any(row["_line"] in lineage.get(d, ()) for d in domains):
                counted["by line"] += 1
                continue
            subject = f"{STUDYID}-{row[record_id]}"
            found = [d for d, var, _ in targets if var and d in datasets
                     and value.strip() in set(datasets[d].loc[datasets[d]["USUBJID"] == subject, var].astype(str))]
            assert found, f"{column}={value!r} (line {row['_line']}) is in no record of {sorted(domains)}"
            counted["by value"] += 1
    assert counted["by line"] > 300 and counted["not submitted"] > 0, counted
    # identifiers: no name, phone number or e-mail address of the export is in any dataset
    texts = {str(v) for frame in datasets.values() for c in frame.columns if frame[c].dtype == object
             for v in frame[c]}
    # (the date of birth is checked by its variable: the export's dates repeat, e.g. 304's birth date
    # 2005-04-02 is also 100's hospital admission date)
    assert "BRTHDTC" not in datasets["DM"].columns
    for field in identifiers - {"dob"}:
        for row in _filled(export["records"], field):
            assert not any(row[field] in text for text in texts if text), field


def test_reconciliation_names_each_instrument(built, export):
    recon = pd.read_csv(built / "reports" / "reconciliation.csv")
    assert (recon["rows_read"] == recon["rows_mapped"] + recon["rows_excluded"]).all()
    assert set(recon["form"]) == {f"data.csv:{s.form}" for d in sdtmgen.load_spec(SPECS).domains for s in d.sources}
    # rows read from an instrument = record rows holding a value of one of its fields
    dictionary = export["dictionary"]
    for form in ("demographics", "baseline_data", "visit_lab_data", "completion_project_questionnaire"):
        columns = [c for c in export["header"][1:] if c.split("___")[0] in dictionary
                   and dictionary[c.split("___")[0]]["Form Name"] == form]
        rows = sum(any(r[c].strip() for c in columns) for r in export["records"])
        assert set(recon.loc[recon["form"] == f"data.csv:{form}", "rows_read"]) == {rows}, form
    guide = (built / "reports" / "reviewers-guide.html").read_text(encoding="utf-8")
    assert "data.csv:visit_blood_workup" in guide


def test_xpt_files_read_back_and_define_xml_is_valid(built, reference):
    result = sdtmgen.build(SPECS)
    assert set(result.adam) == {"ADSL"}
    for name, frame in [*result.sdtm.items(), *result.adam.items()]:
        package = "adam" if name in result.adam else "sdtm"
        written = pyreadstat.read_xport(str(built / package / f"{name.lower()}.xpt"))[0]
        assert list(written.columns) == list(frame.columns) and len(written) == len(frame), name
    schema_path = reference / DEFINE_SCHEMA
    if not schema_path.is_file():
        pytest.skip(f"{schema_path} is not available")
    schema = etree.XMLSchema(etree.parse(str(schema_path)))
    for package in ("sdtm", "adam"):
        define = etree.parse(str(built / package / "define.xml"))
        assert schema.validate(define), (package, schema.error_log)
        groups = {g.get("Name") for g in define.iter("{http://www.cdisc.org/ns/odm/v1.3}ItemGroupDef")}
        assert groups == {p.stem.upper() for p in (built / package).glob("*.xpt")}, package


def test_cdisc_core_findings_are_each_justified_in_the_spec(built, core_findings_outside_justifications):
    """CDISC CORE on the package: every rule with findings has its reason in study.yaml
    `justifications:` (shown in the reviewer's guide), and enough rules ran to mean something."""
    found, unexplained = core_findings_outside_justifications(built / "sdtm", SPECS)
    assert not unexplained, unexplained
    assert {rule for rule, _ in found} >= {"CORE-000701", "CORE-000739"}  # no elements, no EX: reported
