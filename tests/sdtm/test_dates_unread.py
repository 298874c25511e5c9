"""A date no format of the ``iso8601`` rule reads is reported apart from an impossible date.

A valid date in a layout the spec does not list (``15-Sep-20`` under ``DD MON YYYY``) is the spec's to
fix (add the format); ``30 FEB 2024`` in a listed layout is the data's. The two get their own message
and advice, each naming the cells.
"""

from __future__ import annotations

import pandas as pd

from sdtmgen.arrowtext import Distinct
from sdtmgen.dates import DateFormats, parse_distinct_dates
from sdtmgen.findings_text import format_findings
from sdtmgen.sdtm.rules.base import MapContext
from sdtmgen.sdtm.rules.datetime import Iso8601


def _context(frame: pd.DataFrame) -> MapContext:
    frame = frame.copy()
    frame["_ROW"] = range(2, len(frame) + 2)
    return MapContext(frame=frame, form_file="cm.csv", domain="CM", target="CMENDTC", study=None,
                      terminology=None, variable=None)


def test_parsed_dates_tell_unread_layouts_from_impossible_dates():
    values = pd.Series(["15 SEP 2020", "15-Sep-20", "30 FEB 2024", "UN UNK 2019", "", "20 ZZZ 2019"] * 2,
                       dtype="string[pyarrow]")
    # as the iso8601 rule reads a column: each distinct value parsed once, then spread to the rows
    distinct = Distinct.of(values)
    parsed = parse_distinct_dates(distinct, DateFormats(("DD MON YYYY",), unknown=("UN", "UNK")))
    assert distinct.spread_mask(parsed.invalid).tolist() == [False, True, True, False, False, True] * 2
    # "20 ZZZ 2019": ZZZ is neither a month nor an unknown word, so the layout does not match either
    assert distinct.spread_mask(parsed.unread).tolist() == [False, True, False, False, False, True] * 2
    assert distinct.spread_text(parsed.iso, values.index).iloc[3] == "2019"


def _messages(values: list[str], **params) -> tuple[pd.Series, str, int]:
    ctx = _context(pd.DataFrame({"D": values}, dtype="string[pyarrow]"))
    out = Iso8601(rule="iso8601", date="D", unknown=["UN", "UNK"], **params).apply(ctx)
    assert all(f.severity == "error" for f in ctx.findings)
    return out, format_findings(ctx.findings), len(ctx.findings)


def test_rule_says_whether_the_spec_or_the_data_is_to_fix():
    out, text, n = _messages(["15-Sep-20", "15 SEP 2020", "UN UNK 2019"])
    assert n == 1 and out.iloc[1:].tolist() == ["2020-09-15", "2019"] and pd.isna(out.iloc[0])
    assert "not a valid date: no format of the rule reads it (expected DD MON YYYY" in text
    assert "cm.csv row 2, column D: '15-Sep-20'" in text and "add the value's layout to the rule's formats" in text
    assert "impossible" not in text

    out, text, n = _messages(["30 FEB 2024", "15 SEP 2020"])
    assert n == 1 and "not a valid date (expected DD MON YYYY" in text
    assert "impossible dates cannot be submitted" in text and "add the value's layout" not in text


def test_both_kinds_in_one_column_are_one_finding_that_counts_each():
    out, text, n = _messages(["15-Sep-20", "30 FEB 2024", "2024-02-01", "15 SEP 2020"])
    assert n == 1 and out.isna().tolist() == [True, True, True, False]
    assert "not a valid date: 2 row(s) in a layout none of the rule's formats has, 1 impossible" in text
    for row, value in ((2, "15-Sep-20"), (3, "30 FEB 2024"), (4, "2024-02-01")):
        assert f"cm.csv row {row}, column D: '{value}'" in text
    assert "add the value's layout" in text and "correct impossible dates in the EDC" in text
    # with the layouts added, only the impossible date remains, as the data's to fix
    out, text, n = _messages(["15-Sep-20", "30 FEB 2024", "2024-02-01"], formats=["DD MON YYYY", "DD-MON-YY", "YYYY-MM-DD"])
    assert n == 1 and out.tolist()[::2] == ["2020-09-15", "2024-02-01"]
    assert "'30 FEB 2024'" in text and "'15-Sep-20'" not in text and "impossible dates cannot be submitted" in text
