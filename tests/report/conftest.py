"""Hand-made ADaM frames following the ADaM contract, small enough to check every number by hand.

Nine safety subjects in three dose groups (S01-S03 DL1, S04-S06 DL2, S07-S09 DL3) plus S10, who
never received UCMSC-Exo (SAFFL = "N") and whose records must be ignored everywhere.
Day d of chemotherapy = CHEMSDT + d - 1; the infusion is on chemotherapy day 7.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {1: "UCMSC-Exo 50 ug/kg", 2: "UCMSC-Exo 100 ug/kg", 3: "UCMSC-Exo 200 ug/kg"}
CHEMSDT = {f"S{i:02d}": 23000.0 + 10 * i for i in range(1, 11)}
LEVEL = {f"S{i:02d}": (i - 1) // 3 + 1 for i in range(1, 10)} | {"S10": 1}


def adsl() -> pd.DataFrame:
    rows = []
    for usubjid, chem in CHEMSDT.items():
        level = LEVEL[usubjid]
        rows.append({
            "USUBJID": usubjid, "TRT01P": GROUPS[level], "TRT01PN": level, "TRT01A": GROUPS[level], "TRT01AN": level,
            "SAFFL": "N" if usubjid == "S10" else "Y",
            "DLTEVLFL": "N" if usubjid in ("S06", "S10") else "Y",
            "TRTSDT": chem + 6, "CHEMSDT": chem, "LSTALVDT": chem + 365,
            "TRANSFL": "Y" if usubjid in ("S01", "S02", "S04", "S10") else "N",
            "RBCTRFL": "Y" if usubjid in ("S01",) else "N",
            "PLTTRFL": "Y" if usubjid in ("S01", "S02", "S04", "S10") else "N",
            "ANTIINFL": "Y" if usubjid in ("S02", "S05", "S07", "S08") else "N",
        })
    return pd.DataFrame(rows)


def _ae(usubjid, term, soc, start, end, grade, ser="N", **flags):
    """One ADAE record; start/end are chemotherapy days (end None = ongoing)."""
    chem = CHEMSDT[usubjid]
    trtsdt = chem + 6
    astdt = chem + start - 1
    aendt = np.nan if end is None else chem + end - 1
    astdy = astdt - trtsdt + 1 if astdt >= trtsdt else astdt - trtsdt
    row = {
        "USUBJID": usubjid, "TRT01P": GROUPS[LEVEL[usubjid]], "TRT01PN": LEVEL[usubjid], "AEDECOD": term,
        "AESOC": soc, "AESER": ser, "ATOXGR": str(grade), "TRTEMFL": "Y" if astdt >= trtsdt else np.nan,
        "AREL": "NOT RELATED", "ASTDT": astdt, "AENDT": aendt, "ASTDY": astdy, "CADY": float(start),
        "AWIN28FL": "Y" if 1 <= astdy <= 28 else np.nan, "AWIN1YFL": "Y" if 1 <= astdy <= 365 else np.nan,
        "DLTFL": np.nan, "FNFL": np.nan, "INFFL": np.nan, "BLEEDFL": np.nan,
        "ADURN": np.nan if end is None else aendt - astdt + 1,
    }
    row.update({k: "Y" for k, v in flags.items() if v})
    return row


BLOOD = "Blood and lymphatic system disorders"
INF = "Infections and infestations"
GI = "Gastrointestinal disorders"
RESP = "Respiratory, thoracic and mediastinal disorders"


def adae() -> pd.DataFrame:
    rows = [
        # S01: two touching FN records (days 8-10, 11-12) -> one episode of 5 days
        _ae("S01", "Febrile neutropenia", BLOOD, 8, 10, 3, FNFL=True),
        _ae("S01", "Febrile neutropenia", BLOOD, 11, 12, 3, FNFL=True),
        _ae("S01", "Nausea", GI, 2, 3, 1),  # before the infusion: not treatment-emergent
        # S02: overlapping FN (10-15, 13-20) -> one 11-day episode; infection from day 40, ongoing -> cut at 42
        _ae("S02", "Febrile neutropenia", BLOOD, 10, 15, 3, ser="Y", FNFL=True),
        _ae("S02", "Febrile neutropenia", BLOOD, 13, 20, 4, ser="Y", FNFL=True),
        _ae("S02", "Pneumonia", INF, 40, None, 3, ser="Y", INFFL=True),
        # S04: FN 9-11 and 14-15 (two free days between) -> two episodes, 3 and 2 days
        _ae("S04", "Febrile neutropenia", BLOOD, 9, 11, 3, FNFL=True),
        _ae("S04", "Febrile neutropenia", BLOOD, 14, 15, 3, FNFL=True),
        _ae("S04", "Nausea", GI, 8, 9, 2),
        # S05: epistaxis 41-45 -> cut at day 42 (2 days); another on day 50 is outside the window
        _ae("S05", "Epistaxis", RESP, 41, 45, 1, BLEEDFL=True),
        _ae("S05", "Epistaxis", RESP, 50, 51, 1, BLEEDFL=True),
        # S07: the DLT, grade 4, serious, on day 9 (infusion day 3)
        _ae("S07", "Hepatic failure", "Hepatobiliary disorders", 9, 20, 4, ser="Y", DLTFL=True),
        # S08: a late AE, day 200 (after day 28 of the infusion, within a year)
        _ae("S08", "Fatigue", "General disorders and administration site conditions", 200, 210, 2),
        # S10: not in the safety population
        _ae("S10", "Febrile neutropenia", BLOOD, 9, 12, 3, FNFL=True, DLTFL=True),
    ]
    return pd.DataFrame(rows)


def adlb() -> pd.DataFrame:
    rows = []
    for usubjid, chem in CHEMSDT.items():
        i = int(usubjid[1:])
        for day in range(1, 46, 3):
            nadir = abs(day - 16) / 16
            values = {"NEUT": 0.1 + 3 * nadir, "PLAT": 10 + 150 * nadir + i, "HGB": 70 + 40 * nadir,
                      "WBC": 0.5 + 5 * nadir, "LYM": 1.0}
            for paramcd, aval in values.items():
                rows.append({"USUBJID": usubjid, "TRT01P": GROUPS[LEVEL[usubjid]], "PARAMCD": paramcd,
                             "AVAL": round(aval, 2), "ADT": chem + day - 1, "ADY": float(day), "CRIT1FL": None})
    frame = pd.DataFrame(rows)

    def flag(usubjid, paramcd, day):
        hit = (frame["USUBJID"] == usubjid) & (frame["PARAMCD"] == paramcd) & (frame["ADY"] == day)
        assert hit.sum() == 1
        frame.loc[hit, "CRIT1FL"] = "Y"

    # severe thrombocytopenia: S01, S02 (twice), S05; S06 only on day 43 (outside the window); S10 not safety
    for who, day in [("S01", 13), ("S02", 13), ("S02", 16), ("S05", 16), ("S06", 43), ("S10", 16)]:
        flag(who, "PLAT", day)
    # severe anemia: S04 only
    flag("S04", "HGB", 16)
    frame["CRIT1"] = np.where(frame["PARAMCD"] == "PLAT", "AVAL < 50", np.where(frame["PARAMCD"] == "HGB", "AVAL < 80", ""))
    # the alternative cut-off: defined for PLAT only (S02 on day 16), so HGB has no CRIT2FL analysis
    plat = frame["PARAMCD"] == "PLAT"
    frame["CRIT2"] = np.where(plat, "AVAL < 20", None)
    frame["CRIT2FL"] = np.where(plat, "N", None)
    frame.loc[plat & (frame["USUBJID"] == "S02") & (frame["ADY"] == 16), "CRIT2FL"] = "Y"
    return frame


# the hand-computed Kaplan-Meier case (ANCREC05): six subjects at risk, ties and censoring
KM_CASE = {"S01": (15, 0), "S02": (18, 0), "S03": (18, 1), "S04": (21, 0), "S05": (25, 0), "S06": (42, 1)}


def adtte() -> pd.DataFrame:
    rows = []
    for usubjid, (aval, cnsr) in KM_CASE.items():
        chem = CHEMSDT[usubjid]
        for paramcd, param in (("ANCREC05", "Time to ANC recovery >= 0.5 x10^9/L (days)"),
                               ("ANCREC10", "Time to ANC recovery >= 1.0 x10^9/L (days)")):
            rows.append({"USUBJID": usubjid, "TRT01P": GROUPS[LEVEL[usubjid]], "TRT01PN": LEVEL[usubjid],
                         "PARAMCD": paramcd, "PARAM": param, "AVAL": float(aval + (paramcd == "ANCREC10")),
                         "CNSR": cnsr, "STARTDT": chem, "ADT": chem + aval - 1})
    # platelet and hemoglobin recovery: all recovered on day 20 in DL1 only
    for usubjid in ("S01", "S02"):
        for paramcd in ("PLTREC50", "PLTREC20", "HGBREC80", "HGBREC60"):
            rows.append({"USUBJID": usubjid, "TRT01P": GROUPS[1], "TRT01PN": 1, "PARAMCD": paramcd,
                         "PARAM": f"{paramcd} <b>", "AVAL": 20.0, "CNSR": 0, "STARTDT": CHEMSDT[usubjid],
                         "ADT": CHEMSDT[usubjid] + 19})
    return pd.DataFrame(rows)


def cm() -> pd.DataFrame:
    def iso(usubjid, day):
        return (pd.Timestamp("1960-01-01") + pd.Timedelta(days=CHEMSDT[usubjid] + day - 1)).strftime("%Y-%m-%dT10:00")

    frame = pd.DataFrame([
        {"USUBJID": "S01", "CMTRT": "PLATELETS", "CMCAT": "BLOOD TRANSFUSION", "CMCLASCD": "B05AX02",
         "CMSTDTC": iso("S01", 12), "CMINDC": "THROMBOCYTOPENIA"},
        {"USUBJID": "S01", "CMTRT": "RED BLOOD CELLS", "CMCAT": "BLOOD TRANSFUSION", "CMCLASCD": "B05AX01",
         "CMSTDTC": iso("S01", 15), "CMINDC": "ANAEMIA"},
        {"USUBJID": "S02", "CMTRT": "PLATELETS", "CMCAT": "BLOOD TRANSFUSION", "CMCLASCD": "B05AX02",
         "CMSTDTC": iso("S02", 14), "CMINDC": "THROMBOCYTOPENIA"},
        {"USUBJID": "S02", "CMTRT": "CEFEPIME", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J01DE",
         "CMSTDTC": iso("S02", 10), "CMINDC": "FEBRILE NEUTROPENIA"},
        # anti-infectives: S05 antifungal prophylaxis and a J04 treatment; S07 an antiviral with no
        # indication; S08 one on day 43 (outside the window) and one with a partial date
        {"USUBJID": "S05", "CMTRT": "POSACONAZOLE", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J02AC04",
         "CMSTDTC": iso("S05", 3), "CMINDC": "ANTIFUNGAL PROPHYLAXIS"},
        {"USUBJID": "S05", "CMTRT": "RIFAMPICIN", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J04AB02",
         "CMSTDTC": iso("S05", 20), "CMINDC": "TUBERCULOSIS"},
        {"USUBJID": "S07", "CMTRT": "ACICLOVIR", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J05AB01",
         "CMSTDTC": iso("S07", 1), "CMINDC": None},
        {"USUBJID": "S08", "CMTRT": "MEROPENEM", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J01DH02",
         "CMSTDTC": iso("S08", 43), "CMINDC": "SEPSIS"},
        {"USUBJID": "S08", "CMTRT": "LEVOFLOXACIN", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J01MA12",
         "CMSTDTC": iso("S08", 20)[:7], "CMINDC": "ANTIBACTERIAL PROPHYLAXIS"},
        {"USUBJID": "S10", "CMTRT": "CEFEPIME", "CMCAT": "CONCOMITANT MEDICATION", "CMCLASCD": "J01DE",
         "CMSTDTC": iso("S10", 10), "CMINDC": "FEBRILE NEUTROPENIA"},
        # a second platelet bag for S02 the same day: one episode, 450 mL
        {"USUBJID": "S02", "CMTRT": "PLATELETS", "CMCAT": "BLOOD TRANSFUSION", "CMCLASCD": "B05AX02",
         "CMSTDTC": iso("S02", 14), "CMINDC": "THROMBOCYTOPENIA"},
    ])
    transfusion = frame["CMCAT"] == "BLOOD TRANSFUSION"
    frame["CMDOSE"] = np.where(transfusion, [250.0, 300.0, 250.0] + [np.nan] * (len(frame) - 4) + [200.0], np.nan)
    frame["CMDOSU"] = np.where(transfusion, "mL", None)
    return frame


# body temperatures (SDTM VS) for the derived febrile-neutropenia check; ANC < 0.5 only on day 16 (ADLB above)
TEMPERATURES = [
    ("S01", 15, "14:00", 39.0),  # low ANC the next day, FN reported: derived and reported
    ("S02", 25, "10:00", 38.4),  # ANC 9 days before: too far; S02's FN is reported only
    ("S03", 17, "10:00", 38.5),  # low ANC the day before, nothing reported: derived only
    ("S05", 16, "08:00", 38.1),  # 38.1 then 38.2 70 minutes later: held over an hour, derived only
    ("S05", 16, "09:10", 38.2),
    ("S05", 16, "12:00", 37.2),
    ("S06", 16, "08:00", 38.1),  # held only 30 minutes, then one reading below 38.3: no fever
    ("S06", 16, "08:30", 38.1),
    ("S06", 16, "10:00", 37.5),
    ("S07", 20, "10:00", 38.5),  # ANC 4 days before: too far
    ("S10", 16, "10:00", 39.5),  # not in the safety population
    ("S08", 16, "", 38.1),  # no time: cannot be held over an hour
    ("S08", 16, "", 38.2),
]


def vs() -> pd.DataFrame:
    rows = []
    for usubjid, day, time, temp in TEMPERATURES:
        date = (pd.Timestamp("1960-01-01") + pd.Timedelta(days=CHEMSDT[usubjid] + day - 1)).strftime("%Y-%m-%d")
        rows.append({"USUBJID": usubjid, "VSTESTCD": "TEMP", "VSSTRESN": temp, "VSSTRESU": "C",
                     "VSDTC": f"{date}T{time}" if time else date})
    rows.append({"USUBJID": "S09", "VSTESTCD": "PULSE", "VSSTRESN": 120.0, "VSSTRESU": "beats/min",
                 "VSDTC": "2023-01-01T10:00"})
    return pd.DataFrame(rows)


def datasets() -> dict[str, pd.DataFrame]:
    return {"ADSL": adsl(), "ADAE": adae(), "ADLB": adlb(), "ADTTE": adtte(), "CM": cm(), "VS": vs()}


@pytest.fixture(scope="session")
def report_config():
    from sdtmgen.spec.loader import load_report_config

    cfg = load_report_config(ROOT / "specs")
    assert cfg is not None
    return cfg


@pytest.fixture(scope="session")
def frames() -> dict[str, pd.DataFrame]:
    return datasets()


@pytest.fixture(scope="session")
def report(frames, report_config):
    from sdtmgen.report import make_report

    return make_report(frames, report_config, subtitle="hand-made test data")


@pytest.fixture(scope="session")
def ard(report) -> pd.DataFrame:
    return report.ard


def _stat(ard: pd.DataFrame, *, outcome: int, analysis: str, level: str, stat_name: str, variable: str | None = None,
         variable_level: str | None = None) -> str:
    """The single ``stat`` of the ARD matching the keys."""
    hit = ard[(ard["outcome"] == outcome) & (ard["analysis"] == analysis) & (ard["group1_level"] == level)
              & (ard["stat_name"] == stat_name)]
    if variable is not None:
        hit = hit[hit["variable"] == variable]
    if variable_level is not None:
        hit = hit[hit["variable_level"] == variable_level]
    assert len(hit) == 1, (outcome, analysis, level, stat_name, variable, variable_level, len(hit))
    return hit["stat"].iloc[0]


@pytest.fixture(scope="session")
def stat():
    """``stat(ard, outcome=, analysis=, level=, stat_name=, variable=, variable_level=)`` -> the one stat."""
    return _stat


class Study:
    """The constants of the hand-made study, for the tests (conftest is not importable as a module)."""

    GROUPS = GROUPS
    CHEMSDT = CHEMSDT
    KM_CASE = KM_CASE
    datasets = staticmethod(datasets)


@pytest.fixture(scope="session")
def study() -> type[Study]:
    return Study
