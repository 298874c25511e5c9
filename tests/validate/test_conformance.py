"""Cross-dataset conformance rules (sdtmgen/validate/conformance.py) on small packages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sdtmgen.validate.conformance import RULES, Package, run_rules

CHECKED = ["XD-SUBJ-DM", "XD-SEQ-UNIQUE", "XD-START-END", "XD-DY-ZERO", "XD-SUPP-PARENT"]


def text(values) -> pd.Series:
    return pd.Series(values, dtype="string[pyarrow]")


def good_datasets() -> dict[str, pd.DataFrame]:
    return {
        "DM": pd.DataFrame({"USUBJID": text(["S1", "S2"]), "RFSTDTC": text(["2025-03-10", "2025-03-12"])}),
        "AE": pd.DataFrame({
            "USUBJID": text(["S1", "S1", "S2"]),
            "AESEQ": [1.0, 2.0, 1.0],
            "AESTDTC": text(["2025-03-11", "2025-03", "2025-03-12T10:00"]),
            "AEENDTC": text(["2025-03-15", "2025-03-15", "2025-03-12"]),
            "AESTDY": [2.0, np.nan, 1.0],
        }),
        "SUPPAE": pd.DataFrame({"USUBJID": text(["S1", "S2"]), "IDVAR": text(["AESEQ", "AESEQ"]),
                                "IDVARVAL": text(["2", "1"]), "QNAM": text(["AEDLT", "AEDLT"])}),
        "SUPPDM": pd.DataFrame({"USUBJID": text(["S2"]), "IDVAR": text([None]), "IDVARVAL": text([None]),
                                "QNAM": text(["ETHGRP"])}),
    }


def lineage(frame: pd.DataFrame, form: str) -> pd.DataFrame:
    return pd.DataFrame({"_FILE": [form] * len(frame), "_ROW": list(range(2, len(frame) + 2))})


def check(datasets: dict[str, pd.DataFrame], rule: str | None = None):
    package = Package(datasets=datasets, specs={}, lineage={"AE": lineage(datasets["AE"], "ae.csv")})
    return run_rules(package, [rule] if rule else CHECKED)


def test_the_rules_are_registered():
    assert set(CHECKED) <= set(RULES)
    assert all(RULES[r].severity == "error" for r in CHECKED)


def test_a_good_package_is_quiet():
    assert check(good_datasets()) == []


def test_subject_not_in_dm():
    datasets = good_datasets()
    datasets["AE"].loc[2, "USUBJID"] = "S9"
    datasets["SUPPAE"].loc[1, "USUBJID"] = "S9"
    findings = check(datasets, "XD-SUBJ-DM")
    by_dataset = {f.dataset: f for f in findings}
    assert set(by_dataset) == {"AE", "SUPPAE"}
    assert by_dataset["AE"].rows == (3,) and by_dataset["AE"].values == ("S9",)
    assert by_dataset["AE"].sources == ("ae.csv:4",)
    assert by_dataset["AE"].variable == "USUBJID"


def test_seq_duplicated_within_subject_or_missing():
    datasets = good_datasets()
    datasets["AE"]["AESEQ"] = [1.0, 1.0, 1.0]  # S1 twice; S2's 1 is fine
    [finding] = check(datasets, "XD-SEQ-UNIQUE")
    assert finding.variable == "AESEQ" and finding.rows == (1, 2)
    datasets["AE"]["AESEQ"] = [1.0, 2.0, np.nan]
    [finding] = check(datasets, "XD-SEQ-UNIQUE")
    assert finding.rows == (3,)


def start_end(pairs: list[tuple[str | None, str | None]]) -> dict[str, pd.DataFrame]:
    datasets = good_datasets()
    n = len(pairs)
    datasets["AE"] = pd.DataFrame({"USUBJID": text(["S1"] * n), "AESEQ": np.arange(1.0, n + 1),
                                   "AESTDTC": text([p[0] for p in pairs]), "AEENDTC": text([p[1] for p in pairs]),
                                   "AESTDY": [np.nan] * n})
    return datasets


def test_end_before_start():
    findings = check(start_end([("2025-03-10", "2025-03-09"), ("2025-03-10", "2025-03-10"),
                                ("2025-03-10T10:00", "2025-03-10T09:59")]), "XD-START-END")
    [finding] = findings
    assert finding.variable == "AEENDTC" and finding.rows == (1, 3)
    assert finding.values == ("2025-03-10 > 2025-03-09", "2025-03-10T10:00 > 2025-03-10T09:59")


def test_partial_dates_compare_at_the_precision_both_have():
    pairs = [
        ("2025-03-15", "2025-03"),           # same month: not before
        ("2025-03", "2025-03-01"),           # same month
        ("2025-03-10T10:00", "2025-03-10"),  # same day, end time unknown
        ("2025", "2025-01-01"),              # same year
        ("2025-03-15", "2025-02"),           # end month before start month
        ("2025-03", "2024"),                 # end year before
        ("2025-03-10", None),                # no end
    ]
    [finding] = check(start_end(pairs), "XD-START-END")
    assert finding.rows == (5, 6)


def test_dates_with_unknown_month_compare_by_year():
    pairs = [("2025-03-01", "2025---12"), ("2025---12", "2025-03-01"), ("2025-03-01", "2024---12")]
    [finding] = check(start_end(pairs), "XD-START-END")
    assert finding.rows == (3,)


def test_study_day_zero():
    datasets = good_datasets()
    datasets["AE"]["AESTDY"] = [0.0, np.nan, -1.0]
    [finding] = check(datasets, "XD-DY-ZERO")
    assert finding.variable == "AESTDY" and finding.rows == (1,)


def test_supp_record_without_parent():
    datasets = good_datasets()
    datasets["SUPPAE"].loc[0, "IDVARVAL"] = "5"    # S1 has AESEQ 1 and 2 only
    datasets["SUPPAE"].loc[1, "IDVARVAL"] = "2"    # S2 has AESEQ 1 only (S1 has a 2)
    findings = check(datasets, "XD-SUPP-PARENT")
    [finding] = findings
    assert finding.dataset == "SUPPAE" and finding.variable == "IDVARVAL" and finding.rows == (1, 2)


def test_subject_level_supp_without_parent():
    datasets = good_datasets()
    datasets["SUPPDM"].loc[0, "USUBJID"] = "S9"
    findings = check(datasets, "XD-SUPP-PARENT")
    assert [(f.dataset, f.rows) for f in findings] == [("SUPPDM", (1,))]


def epoch_package(records_epoch: list[str]) -> dict[str, pd.DataFrame]:
    """S1 has two elements starting at the same time: the later SE record is the one in force."""
    return {
        "SE": pd.DataFrame({"USUBJID": text(["S1", "S1", "S1", "S2"]),
                            "SESTDTC": text(["2025-03-01", "2025-03-10", "2025-03-10T00:00", "2025-03-01"]),
                            "EPOCH": text(["SCREENING", "TREATMENT", "FOLLOW-UP", "SCREENING"])}),
        "VS": pd.DataFrame({"USUBJID": text(["S1", "S1", "S1", "S2", "S3"]),
                            "VSDTC": text(["2025-03-05", "2025-03-11", "2025-03", "2025-02-01", "2025-03-05"]),
                            "EPOCH": pd.Series(records_epoch, dtype="string[pyarrow]")}),
    }


def epoch_findings(records_epoch):
    return run_rules(Package(datasets=epoch_package(records_epoch), specs={}), ["XD-EPOCH-SE"])


def test_epoch_of_the_element_in_force():
    # partial dates, dates before the first element and subjects without elements have no EPOCH
    assert epoch_findings(["SCREENING", "FOLLOW-UP", None, None, None]) == []


def test_epoch_differing_from_se():
    [finding] = epoch_findings(["SCREENING", "TREATMENT", "SCREENING", None, "SCREENING"])
    assert finding.variable == "EPOCH" and finding.rows == (2, 3, 5)
    assert finding.values == ("SCREENING", "TREATMENT")
    [finding] = epoch_findings([None, "FOLLOW-UP", None, None, None])
    assert finding.rows == (1,) and finding.values == ("<missing>",)


def test_record_without_subject_is_not_in_dm():
    datasets = good_datasets()
    datasets["AE"]["USUBJID"] = text(["S1", None, "S7"])
    [finding] = check(datasets, "XD-SUBJ-DM")
    assert finding.rows == (2, 3) and finding.values == ("<NA>", "S7")


def visits(pairs) -> dict[str, pd.DataFrame]:
    return {"TV": pd.DataFrame({"VISITNUM": [1.0, 2.0, np.nan], "VISIT": text(["SCREENING", "DAY 1", "DAY 8"])}),
            "VS": pd.DataFrame({"USUBJID": text(["S1"] * len(pairs)), "VISITNUM": [p[0] for p in pairs],
                                "VISIT": text([p[1] for p in pairs])})}


def test_visit_pairs_against_tv():
    pairs = [(1.0, "SCREENING"), (2.0, "DAY 1"), (2.0, "SCREENING"), (3.5, "UNSCHEDULED 2.1"), (8.0, "DAY 8"),
             (np.nan, "DAY 99"), (1.0, None), (3.0, "DAY 99")]
    [finding] = run_rules(Package(datasets=visits(pairs), specs={}), ["XD-VISIT-TV"])
    assert finding.rows == (3, 5, 7, 8)
    assert finding.values == ("1/<NA>", "2/SCREENING", "3/DAY 99", "8/DAY 8")


def test_rules_see_a_replaced_dataset():
    datasets = good_datasets()
    package = Package(datasets=datasets, specs={})
    assert run_rules(package, ["XD-SUBJ-DM"]) == []
    datasets["AE"] = datasets["AE"].assign(USUBJID=text(["S1", "S1", "S9"]))
    [finding] = run_rules(package, ["XD-SUBJ-DM"])
    assert finding.rows == (3,)
