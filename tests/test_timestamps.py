"""The creation instant of the headers: --timestamp, SOURCE_DATE_EPOCH, else the fixed 1970 instant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from sdtmgen.pipeline import build
from sdtmgen.timestamps import TimestampError, build_timestamp


def test_option_then_environment_then_fixed_default():
    env = {"SOURCE_DATE_EPOCH": "1764790200"}  # 2025-12-03T19:30:00Z
    assert build_timestamp(None, env) == datetime(2025, 12, 3, 19, 30, 0)
    assert build_timestamp("2026-01-02T03:04:05+02:00", env) == datetime(2026, 1, 2, 1, 4, 5)  # option wins, in UTC
    assert build_timestamp("2026-01-02", {}) == datetime(2026, 1, 2)
    assert build_timestamp(None, {}) is None
    assert build_timestamp(None, {"SOURCE_DATE_EPOCH": " "}) is None


@pytest.mark.parametrize("option, env, message", [
    ("yesterday", {}, "not an ISO 8601"),
    (None, {"SOURCE_DATE_EPOCH": "-5"}, "whole number of seconds"),
    (None, {"SOURCE_DATE_EPOCH": "1.5e9"}, "whole number of seconds"),
    (None, {"SOURCE_DATE_EPOCH": "99999999999999999999"}, "out of range"),
    ("2100-01-01", {}, "outside 1960-2059"),
])
def test_bad_timestamps_are_named(option, env, message):
    with pytest.raises(TimestampError, match=message):
        build_timestamp(option, env)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_with_the_same_source_date_epoch_are_identical_and_carry_it(tmp_path, monkeypatch, spec_folder,
                                                                               example_raw):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764790200")  # 2025-12-03T19:30:00Z
    build(spec_folder, example_raw, tmp_path / "a", formats="all")
    build(spec_folder, example_raw, tmp_path / "b", formats="all")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []
    for kind in ("sdtm", "adam"):
        root = etree.fromstring(a[Path(kind, "define.xml")])
        assert root.get("CreationDateTime") == "2025-12-03T19:30:00"
    dm = a[Path("sdtm", "dm.xpt")]
    assert dm[80 + 64:80 + 80] == b"03DEC25:19:30:00"  # the library header's created stamp
    assert b'"datasetJSONCreationDateTime":"2025-12-03T19:30:00"' in a[Path("sdtm", "dm.json")]
    # and without it, the fixed instant of every earlier build
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    build(spec_folder, example_raw, tmp_path / "c")
    root = etree.parse(str(tmp_path / "c" / "sdtm" / "define.xml")).getroot()
    assert root.get("CreationDateTime") == "1970-01-01T00:00:00"
    assert (tmp_path / "c" / "sdtm" / "dm.xpt").read_bytes()[80 + 64:80 + 80] == b"01JAN70:00:00:00"
