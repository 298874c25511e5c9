"""Generated Pandera schemas (sdtmgen/validate/schema.py) on small AE frames."""

from __future__ import annotations

import pandas as pd
import pytest

from sdtmgen.spec.loader import load_model, load_terminology
from sdtmgen.spec.models import DomainSpec
from sdtmgen.validate.schema import SCHEMA_RULES, build_schema, validate_dataset

@pytest.fixture(scope="module")
def ae(spec_folder):
    """The example study's AE spec, read as the loader reads each domain file."""
    return load_model(spec_folder / "sdtm" / "ae.yaml", DomainSpec)


@pytest.fixture(scope="module")
def terminology(spec_folder):
    return load_terminology(spec_folder)


GOOD = dict(STUDYID="STUDY-1", DOMAIN="AE", USUBJID="STUDY-1-001", AESEQ=1.0, AESPID="1", AETERM="NAUSEA",
            AEDECOD="NAUSEA", AESER="N", AESTDTC="2025-03-01T08:00", AEENDTC="2025---12", EPOCH="TREATMENT",
            AESTDY=1.0)
SECOND = dict(GOOD, AESEQ=2.0, AESPID="2", AETERM="FEVER", AEDECOD="PYREXIA", AESTDTC="2025-03", AEENDTC=None)


def frame_of(domain, rows: list[dict]) -> pd.DataFrame:
    """Records as finalise() shapes them: every spec variable in order, Char as 'string', Num as float64."""
    given = pd.DataFrame(rows)
    out = pd.DataFrame(index=given.index)
    for var in domain.variables:
        values = given[var.name] if var.name in given else pd.Series([None] * len(given), index=given.index)
        out[var.name] = values.astype("float64") if var.type == "Num" else values.astype("string[pyarrow]")
    return out


def lineage(n: int) -> pd.DataFrame:
    return pd.DataFrame({"_FILE": ["ae.csv"] * n, "_ROW": list(range(2, n + 2))})


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_good_records_have_no_findings(ae, terminology):
    assert validate_dataset(ae, frame_of(ae, [GOOD, SECOND]), terminology) == []


def test_required_missing_names_variable_and_record(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [GOOD, dict(SECOND, USUBJID=None)]), terminology, lineage(2))
    [finding] = by_rule(findings, "SCH-REQUIRED")
    assert finding.severity == "error"
    assert finding.dataset == "AE" and finding.variable == "USUBJID"
    assert finding.rows == (2,)
    assert finding.sources == ("ae.csv:3",)
    assert "USUBJID" in finding.describe() and "records: 2" in finding.describe()


def test_required_numeric_missing(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [dict(GOOD, AESEQ=None), SECOND]), terminology)
    [finding] = by_rule(findings, "SCH-REQUIRED")
    assert finding.variable == "AESEQ" and finding.rows == (1,)


def test_non_extensible_codelist_value_is_an_error(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [GOOD, dict(SECOND, AESER="Yes")]), terminology)
    [finding] = by_rule(findings, "SCH-CT")
    assert finding.severity == "error" and finding.variable == "AESER"
    assert finding.rows == (2,) and finding.values == ("Yes",)


def test_extensible_codelist_value_is_a_warning(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [dict(GOOD, EPOCH="RUN-IN"), SECOND]), terminology)
    assert [f.rule for f in findings] == ["SCH-CT-EXT"]
    assert findings[0].severity == "warning"
    assert findings[0].variable == "EPOCH" and findings[0].rows == (1,) and findings[0].values == ("RUN-IN",)


def test_non_iso_dates_are_errors(ae, terminology):
    bad = ["01MAR2025", "2025-3-1", "2025-03-01 08:00", "2025/03/01", "25-03-01", "2025-03-01T8:00"]
    rows = [GOOD] + [dict(SECOND, AESTDTC=v, AESEQ=float(i), AESPID=str(i)) for i, v in enumerate(bad, start=2)]
    findings = validate_dataset(ae, frame_of(ae, rows), terminology)
    assert [f.rule for f in findings] == ["SCH-ISO8601"]
    assert findings[0].variable == "AESTDTC"
    assert findings[0].rows == (2, 3, 4, 5, 6, 7) and set(findings[0].values) == set(bad)


def test_partial_and_timed_iso_dates_pass(ae, terminology):
    rows = [dict(GOOD, AESTDTC=v, AESEQ=float(i), AESPID=str(i))
            for i, v in enumerate(["2025", "2025-03", "2025---12", "2025-03-01T08", "2025-03-01T08:00:59"], start=1)]
    assert by_rule(validate_dataset(ae, frame_of(ae, rows), terminology), "SCH-ISO8601") == []


def test_non_ascii_text_is_an_error(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [dict(GOOD, AETERM="NAUSÉE"), SECOND]), terminology)
    [finding] = by_rule(findings, "SCH-ASCII")
    assert finding.variable == "AETERM" and finding.rows == (1,)


def test_text_longer_than_200_bytes_is_an_error(ae, terminology):
    rows = [dict(GOOD, AETERM="A" * 200), dict(SECOND, AETERM="A" * 201)]
    findings = validate_dataset(ae, frame_of(ae, rows), terminology)
    assert [f.rule for f in findings] == ["SCH-LENGTH"]
    assert findings[0].variable == "AETERM" and findings[0].rows == (2,)


def test_length_counts_bytes_not_characters(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [dict(GOOD, AETERM="A" * 199 + "É"), SECOND]), terminology)
    assert {f.rule for f in findings} == {"SCH-LENGTH", "SCH-ASCII"}  # 200 characters, 201 bytes


def test_duplicate_keys(ae, terminology):
    rows = [GOOD, SECOND, dict(GOOD, AESEQ=3.0, AETERM="NAUSEA AGAIN")]
    findings = validate_dataset(ae, frame_of(ae, rows), terminology, lineage(3))
    keys = by_rule(findings, "SCH-KEYS")
    assert keys, "duplicate keys must be reported"
    assert all(f.severity == "error" and f.rows == (1, 3) for f in keys)
    assert all(f.sources == ("ae.csv:2", "ae.csv:4") for f in keys)
    assert len(keys) == 1 and keys[0].variable == ", ".join(ae.keys)
    assert by_rule(findings, "SCH-REQUIRED") == []


def test_wrong_type(ae, terminology):
    frame = frame_of(ae, [GOOD])
    frame["AESEQ"] = frame["AESEQ"].astype("string[pyarrow]")
    findings = validate_dataset(ae, frame, terminology)
    assert ("SCH-TYPE", "AESEQ", "error") in [(f.rule, f.variable, f.severity) for f in findings]
    assert {f.variable for f in findings} == {"AESEQ"}


def test_missing_column_is_an_error(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [GOOD]).drop(columns=["AETERM"]), terminology)
    assert findings and all(f.severity == "error" for f in findings)
    assert all("AETERM" in f.values for f in findings)


def test_missing_column_is_reported_once_in_words(ae, terminology):
    findings = validate_dataset(ae, frame_of(ae, [GOOD]).drop(columns=["AETERM"]), terminology)
    assert len(findings) == 1
    assert findings[0].rule == "SCH-COLUMNS"
    assert findings[0].message == SCHEMA_RULES["SCH-COLUMNS"][1]


def test_schemas_split_errors_and_warnings(ae, terminology):
    errors = build_schema(ae, terminology, "error")
    warnings = build_schema(ae, terminology, "warning")
    assert list(errors.columns) == [v.name for v in ae.variables]
    assert not errors.columns["USUBJID"].nullable and errors.columns["AESPID"].nullable
    assert errors.unique == ae.keys and not warnings.unique
    names = lambda schema, col: {c.name for c in schema.columns[col].checks}  # noqa: E731
    assert names(errors, "AESER") == {"SCH-ASCII", "SCH-LENGTH", "SCH-CT"}
    assert names(errors, "AESTDTC") == {"SCH-ASCII", "SCH-LENGTH", "SCH-ISO8601"}
    assert names(warnings, "EPOCH") == {"SCH-CT-EXT"}
    assert names(warnings, "AESER") == set()
    assert all(name in SCHEMA_RULES for name in names(errors, "AESTDTC") | {"SCH-REQUIRED", "SCH-KEYS"})


def broken_records(ae) -> list[pd.DataFrame]:
    """AE frames breaking every value check, with nulls and duplicate keys, sorted by key and not."""
    rows = [GOOD, SECOND,
            dict(GOOD, AESEQ=3.0, AESPID="3", AETERM="NAUSÉE", AESER="Yes", EPOCH="RUN-IN"),
            dict(GOOD, AESEQ=9e75, AESPID="4", AETERM="A" * 199 + "É", AESTDTC="2025-3-1"),
            dict(GOOD, AESEQ=None, AESPID=None, AETERM="A" * 201, AESTDY=float("inf")),
            dict(GOOD, USUBJID=None, AESEQ=6.0, AESPID="6", AEENDTC=""),
            dict(GOOD, AESEQ=7.0, AETERM="AGAIN")]  # same keys as GOOD
    frame = frame_of(ae, rows)
    by_key = frame.sort_values(ae.keys, kind="mergesort", na_position="last").reset_index(drop=True)
    return [frame, by_key, by_key.iloc[::-1].reset_index(drop=True)]


@pytest.mark.parametrize("severity", ["error", "warning"])
def test_direct_checks_report_what_pandera_reports(ae, terminology, severity):
    from sdtmgen.validate.schema import _failures_as_built, _failures_by_pandera

    for frame in broken_records(ae):
        direct = _failures_as_built(ae, frame, terminology, severity)
        assert direct == _failures_by_pandera(ae, frame, terminology, severity)
        assert direct, "the broken records must fail"
