"""Raw date formats of the ``iso8601`` rule: a token vocabulary, tried in order, unknown parts, times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sdtmgen.arrowtext import Distinct
from sdtmgen.dates import ISO8601_PATTERN, DateFormats, ParsedDates, parse_distinct_dates
from sdtmgen.findings_text import format_findings
from sdtmgen.sdtm.rules.base import MapContext
from sdtmgen.sdtm.rules.datetime import Iso8601


def parse_collected_dates(values: pd.Series, formats: DateFormats) -> ParsedDates:
    """Per row, as the iso8601 mapping rule reads a column: each distinct value parsed once, then spread."""
    distinct = Distinct.of(values)
    parsed = parse_distinct_dates(distinct, formats)
    return ParsedDates(iso=distinct.spread_text(parsed.iso, values.index), invalid=distinct.spread_mask(parsed.invalid),
                       partial=distinct.spread_mask(parsed.partial))


def parse(values, *formats, **options):
    return parse_collected_dates(pd.Series(values, dtype="string[pyarrow]"), DateFormats(tuple(formats), **options))


def rule(**params) -> Iso8601:
    return Iso8601(rule="iso8601", **params)


def context(frame: pd.DataFrame) -> MapContext:
    frame = frame.copy()
    frame["_ROW"] = range(2, len(frame) + 2)
    return MapContext(frame=frame, form_file="cm.csv", domain="CM", target="CMSTDTC", study=None,
                      terminology=None, variable=None)


def test_mixed_formats_in_one_column_each_value_takes_the_first_that_reads_it():
    parsed = parse(["15-Sep-20", "2020-09-15", "09/15/2020", "15 SEP 2020", "2020-09-15T08:30", "2020-09-15T08:30:05"],
                   "DD-MON-YY", "YYYY-MM-DD[THH:MM[:SS]]", "MM/DD/YYYY", "DD MON YYYY")
    assert parsed.iso.tolist() == ["2020-09-15"] * 4 + ["2020-09-15T08:30", "2020-09-15T08:30:05"]
    assert not parsed.invalid.any() and not parsed.partial.any()


def test_ambiguous_numeric_dates_follow_the_order_and_fall_through_when_impossible():
    parsed = parse(["03/04/2021", "13/04/2021"], "MM/DD/YYYY", "DD/MM/YYYY")
    assert parsed.iso.tolist() == ["2021-03-04", "2021-04-13"]  # 13 is no month: the second format reads it


def test_two_digit_years_fall_in_the_pivot_window():
    values = ["01-JAN-39", "01-JAN-40", "01-JAN-99", "01-JAN-00"]
    assert parse(values, "DD-MON-YY").iso.tolist() == ["2039-01-01", "1940-01-01", "1999-01-01", "2000-01-01"]
    assert parse(values, "DD-MON-YY", year_pivot=2000).iso.tolist() == [
        "2039-01-01", "2040-01-01", "2099-01-01", "2000-01-01"]


def test_unknown_tokens_give_partial_dates_per_sdtmig():
    parsed = parse(["UN-UNK-2019", "UN-SEP-2019", "15-UNK-2019", "---SEP-2019", "UNK-UNK-UNK", "15-SEP-2019"],
                   "DD-MON-YYYY", unknown=("UN", "UNK", "--"))
    assert parsed.iso.tolist()[:4] == ["2019", "2019-09", "2019---15", "2019-09"]
    assert pd.isna(parsed.iso.iloc[4]) and parsed.iso.iloc[5] == "2019-09-15"
    assert parsed.partial.tolist() == [True, True, True, True, False, False]
    assert not parsed.invalid.any()


def test_a_known_month_or_day_needs_a_known_year():
    parsed = parse(["15-SEP-UNK", "UN-UNK-UNK"], "DD-MON-YYYY", unknown=("UN", "UNK"))
    assert parsed.invalid.tolist() == [True, False]


def test_a_time_in_the_date_column_is_kept_with_a_partial_date():
    parsed = parse(["2019-UN-20T10:00", "2019-09-UNT10:00", "2019-UN-UNT07:15", "UNKN-UN-UNT07:15"],
                   "YYYY-MM-DDTHH:MM", unknown=("UN", "UNKN"))
    assert parsed.iso.tolist()[:3] == ["2019---20T10:00", "2019-09--T10:00", "2019----T07:15"]
    assert parsed.invalid.tolist() == [False, False, False, True]  # a time needs at least the year
    assert pd.Series(parsed.iso.iloc[:3]).str.fullmatch(ISO8601_PATTERN).all()


def test_impossible_values_are_flagged_whatever_the_format():
    parsed = parse(["2021-02-29", "2020-02-29", "2020-13-01", "2020-01-01T24:00", "2020-01-01T10:61", "20200101"],
                   "YYYY-MM-DD[THH:MM]")
    assert parsed.invalid.tolist() == [True, False, True, True, True, True]


def test_formats_are_a_token_vocabulary_not_code():
    for bad in ["%d/%m/%Y", "DD/MM", "YYYY-MM-DD(.*)", "YYYY YYYY", "HH:MM YYYY-MM-DD:SS[", ""]:
        with pytest.raises(ValidationError):
            rule(date="D", formats=[bad])
    with pytest.raises(ValidationError):
        rule(date="D", unknown=["1"])


def test_default_is_the_collected_dd_mon_yyyy_form():
    assert rule(date="D").formats == ["DD MON YYYY"]
    parsed = parse(["12 MAR 2025", "2025-03-12"], "DD MON YYYY")
    assert parsed.iso.iloc[0] == "2025-03-12" and parsed.invalid.tolist() == [False, True]


def test_rule_with_separate_time_column_keeps_time_with_partial_date():
    frame = pd.DataFrame({"D": ["20-UNK-2019", "2019-09-20", None, "UNK-UNK-UNK"],
                          "T": ["10:00", "11:30", "12:00", "13:00"]}, dtype="string[pyarrow]")
    ctx = context(frame)
    out = rule(date="D", time="T", formats=["DD-MON-YYYY", "YYYY-MM-DD"], unknown=["UNK"]).apply(ctx)
    assert out.tolist()[:2] == ["2019---20T10:00", "2019-09-20T11:30"]
    assert out.iloc[2:].isna().all()
    assert [f.rule for f in ctx.findings] == ["TIME-WITHOUT-DATE"]
    assert ctx.findings[0].sources == ("cm.csv:4", "cm.csv:5")


def test_failure_names_row_column_value_and_the_formats_tried():
    frame = pd.DataFrame({"D": ["2019-09-20", "20.09.2019"]}, dtype="string[pyarrow]")
    ctx = context(frame)
    out = rule(date="D", formats=["YYYY-MM-DD", "MM/DD/YYYY"]).apply(ctx)
    assert out.iloc[0] == "2019-09-20" and pd.isna(out.iloc[1])  # mapping goes on; the build stops at the end
    assert [f.severity for f in ctx.findings] == ["error"]
    text = format_findings(ctx.findings)
    assert "cm.csv row 3, column D: '20.09.2019'" in text and "row 2," not in text
    assert "expected YYYY-MM-DD or MM/DD/YYYY" in text and "[iso8601] CM.CMSTDTC: not a valid date" in text


def test_parsing_is_once_per_distinct_value():
    values = pd.Series(["15-Sep-20", "2020-09-16"] * 50_000, dtype="string[pyarrow]")
    parsed = parse_collected_dates(values, DateFormats(("DD-MON-YY", "YYYY-MM-DD")))
    assert parsed.iso.iloc[:2].tolist() == ["2020-09-15", "2020-09-16"]
    assert len(parsed.iso) == 100_000 and not np.any(parsed.invalid)


def test_a_date_with_its_own_time_keeps_it_and_the_time_column_is_reported():
    frame = pd.DataFrame({"D": ["2019-09-20T08:15", "2019-09-21"], "T": ["10:00", "11:00"]}, dtype="string[pyarrow]")
    ctx = context(frame)
    out = rule(date="D", time="T", formats=["YYYY-MM-DD[THH:MM]"]).apply(ctx)
    assert out.tolist() == ["2019-09-20T08:15", "2019-09-21T11:00"]
    assert [(f.rule, f.sources) for f in ctx.findings] == [("TIME-IN-DATE", ("cm.csv:2",))]
