"""Incidences n/N/pct by dose group and overall, denominators = safety population."""

from __future__ import annotations

import pytest


def npct(ard, stat, outcome, analysis, level, **keys):
    return tuple(stat(ard, outcome=outcome, analysis=analysis, level=level, stat_name=s, **keys) for s in ("n", "N", "p"))


def test_febrile_neutropenia_incidence(ard, stat, study):
    G = study.GROUPS
    assert npct(ard, stat, 5, "FNFL", G[1]) == ("2", "3", "0.666667")
    assert npct(ard, stat, 5, "FNFL", G[2]) == ("1", "3", "0.333333")
    assert npct(ard, stat, 5, "FNFL", G[3]) == ("0", "3", "0.000000")
    # S10 (SAFFL = N) had FN but is neither counted nor in the denominator
    assert npct(ard, stat, 5, "FNFL", "Overall") == ("3", "9", "0.333333")
    assert stat(ard, outcome=5, analysis="FNFL", level="Overall", stat_name="n_events") == "6"


def test_infection_and_bleeding_incidence_respect_the_window(ard, stat, study):
    G = study.GROUPS
    assert npct(ard, stat, 11, "INFFL", G[1]) == ("1", "3", "0.333333")
    assert npct(ard, stat, 11, "INFFL", "Overall") == ("1", "9", "0.111111")
    # S05: epistaxis on day 41 (in) and day 50 (out): one subject, one record
    assert npct(ard, stat, 13, "BLEEDFL", G[2]) == ("1", "3", "0.333333")
    assert stat(ard, outcome=13, analysis="BLEEDFL", level=G[2], stat_name="n_events") == "1"


def test_severe_cytopenia_incidence_from_the_adlb_flag(ard, stat, study):
    G = study.GROUPS
    # PLAT CRIT1FL: S01, S02 (twice), S05; S06 only on day 43; S10 not in the safety population
    assert npct(ard, stat, 7, "PLAT.CRIT1FL", G[1]) == ("2", "3", "0.666667")
    assert npct(ard, stat, 7, "PLAT.CRIT1FL", G[2]) == ("1", "3", "0.333333")
    assert npct(ard, stat, 7, "PLAT.CRIT1FL", "Overall") == ("3", "9", "0.333333")
    assert npct(ard, stat, 9, "HGB.CRIT1FL", G[2]) == ("1", "3", "0.333333")
    assert npct(ard, stat, 9, "HGB.CRIT1FL", "Overall") == ("1", "9", "0.111111")
    label = ard.loc[ard["analysis"] == "PLAT.CRIT1FL", "analysis_label"].iloc[0]
    assert "AVAL < 50" in label  # the ADaM criterion text, not a number of the report's own


def test_the_alternative_cut_off_is_an_extra_analysis(ard, stat, study):
    assert npct(ard, stat, 7, "PLAT.CRIT2FL", study.GROUPS[1]) == ("1", "3", "0.333333")
    assert npct(ard, stat, 7, "PLAT.CRIT2FL", "Overall") == ("1", "9", "0.111111")
    assert "AVAL < 20" in ard.loc[ard["analysis"] == "PLAT.CRIT2FL", "analysis_label"].iloc[0]
    # ADLB leaves CRIT2FL empty for HGB: no analysis rather than a row of zeros
    assert "HGB.CRIT2FL" not in set(ard["analysis"])


@pytest.mark.parametrize("flag, expected", [
    ("TRANSFL", {1: "2", 2: "1", 3: "0", "Overall": "3"}),
    ("RBCTRFL", {1: "1", 2: "0", 3: "0", "Overall": "1"}),
    ("PLTTRFL", {1: "2", 2: "1", 3: "0", "Overall": "3"}),
])
def test_transfusion_rates(ard, stat, study, flag, expected):
    for key, n in expected.items():
        level = "Overall" if key == "Overall" else study.GROUPS[key]
        assert stat(ard, outcome=15, analysis=flag, level=level, stat_name="n") == n, (flag, key)


def test_anti_infective_rate(ard, stat):
    assert npct(ard, stat, 16, "ANTIINFL", "Overall") == ("4", "9", "0.444444")


def test_adverse_events_to_day_28(ard, stat, study):
    G = study.GROUPS
    a = "AE.AWIN28FL"
    # S01's nausea on chemo day 2 precedes the infusion (not treatment-emergent); S08's fatigue is on day 200
    assert npct(ard, stat, 1, a, G[1], variable="ANY") == ("2", "3", "0.666667")
    assert npct(ard, stat, 1, a, G[3], variable="ANY") == ("1", "3", "0.333333")
    assert stat(ard, outcome=1, analysis=a, level="Overall", stat_name="n_events", variable="ANY") == "8"
    # worst grade: S01 3, S02 4, S04 3, S07 4
    worst = {g: stat(ard, outcome=1, analysis=a, level="Overall", stat_name="n", variable="ATOXGR", variable_level=g)
             for g in ("1", "2", "3", "4", "5")}
    assert worst == {"1": "0", "2": "0", "3": "2", "4": "2", "5": "0"}
    assert stat(ard, outcome=1, analysis=a, level="Overall", stat_name="n", variable="ATOXGR", variable_level=">=3") == "4"
    assert stat(ard, outcome=1, analysis=a, level=G[2], stat_name="n", variable="AEDECOD", variable_level="Nausea") == "1"
    pt = ard[(ard["analysis"] == a) & (ard["variable"] == "AEDECOD") & (ard["variable_level"] == "Nausea")]
    assert set(pt["group2_level"]) == {"Gastrointestinal disorders"}


def test_serious_adverse_events_and_the_one_year_window(ard, stat, study):
    assert npct(ard, stat, 1, "SAE.AWIN28FL", "Overall", variable="ANY") == ("2", "9", "0.222222")
    assert npct(ard, stat, 1, "SAE.AWIN28FL", study.GROUPS[1], variable="ANY") == ("1", "3", "0.333333")
    # within one year S05's epistaxis (infusion day 35) and S08's fatigue (day 194) count too
    assert npct(ard, stat, 1, "AE.AWIN1YFL", "Overall", variable="ANY") == ("6", "9", "0.666667")
    assert stat(ard, outcome=1, analysis="AE.AWIN1YFL", level=study.GROUPS[3], stat_name="n", variable="AEDECOD",
                variable_level="Fatigue") == "1"


def test_anti_infectives_by_class_and_purpose(ard, stat, study):
    G = study.GROUPS
    cls = lambda level, code, name="n": stat(ard, outcome=16, analysis="CLASS", level=level,  # noqa: E731
                                             stat_name=name, variable="CMCLASCD", variable_level=code)
    # J01: S02 (day 10); S08's day-43 record is outside the window, its partial date is not placed
    assert [cls("Overall", c) for c in ("J01", "J02", "J04", "J05")] == ["1", "1", "1", "1"]
    assert cls(G[2], "J04") == "1" and cls(G[1], "J04") == "0" and cls("Overall", "J04", "N") == "9"
    label = ard.loc[(ard["outcome"] == 16) & (ard["analysis"] == "CLASS"), "analysis_label"].iloc[0]
    assert "1 record(s) without a complete start date" in label
    purpose = lambda level, value: stat(ard, outcome=16, analysis="PURPOSE", level=level, stat_name="n",  # noqa: E731
                                        variable="CMINDC", variable_level=value)
    assert purpose("Overall", "Prophylaxis") == "1"  # S05 posaconazole
    assert purpose("Overall", "Treatment") == "2"  # S02 cefepime, S05 rifampicin
    assert purpose("Overall", "Indication not recorded") == "1"  # S07 aciclovir
    assert stat(ard, outcome=16, analysis="PURPOSE", level=G[2], stat_name="n", variable="CMCLASCD",
                variable_level="J02") == "1"
    # S10 (not in the safety population) counts nowhere
    assert cls(G[1], "J01") == "1"


def test_related_adverse_events(study, report_config, stat):
    from sdtmgen.report import make_report

    frames = study.datasets()
    adae = frames["ADAE"]
    adae.loc[adae["USUBJID"].isin(["S07", "S10"]), "AREL"] = "RELATED"  # S10 is outside the safety population
    ard = make_report(frames, report_config, draw=False).ard
    G = study.GROUPS
    get = lambda level, name, **keys: stat(ard, outcome=1, analysis="RELAE.AWIN28FL", level=level,  # noqa: E731
                                           stat_name=name, **keys)
    assert get(G[3], "n", variable="ANY") == "1" and get("Overall", "n", variable="ANY") == "1"
    assert get("Overall", "N", variable="ANY") == "9" and get(G[1], "n", variable="ANY") == "0"
    assert get(G[3], "n", variable="ATOXGR", variable_level="4") == "1"
    assert get(G[3], "n", variable="AEDECOD", variable_level="Hepatic failure") == "1"
