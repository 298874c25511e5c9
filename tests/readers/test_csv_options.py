"""CSV forms written otherwise than RFC 4180 UTF-8: study.yaml's raw options (encoding, delimiter,
quotechar, na_values), each read as declared, and a bad option value is a spec error naming the key."""

from __future__ import annotations

import re

import pytest

from sdtmgen.errors import RawDataError, SpecError
from sdtmgen.raw_export import RawExport
from sdtmgen.spec.loader import load_spec
from sdtmgen.spec.models import RawSource


def _export(folder, **options):
    return RawExport(folder, RawSource(format="csv", path=".", options=options))


def test_encoding(tmp_path):
    (tmp_path / "dm.csv").write_bytes("SUBJECT,ETHGRP\n01-001,Tujia é\n".encode("cp1252"))
    with pytest.raises(RawDataError, match="not UTF-8"):
        RawExport(tmp_path).read("dm")
    assert _export(tmp_path, encoding="cp1252").read("dm")["ETHGRP"].tolist() == ["Tujia é"]
    (tmp_path / "ae.csv").write_bytes(b"SUBJECT,AETERM\n01-001,ok\n01-002,bad \x81 byte\n")
    with pytest.raises(RawDataError, match=r"ae\.csv: byte \d+ \(line 3, b'\\x81'\) cannot be decoded as cp1252"):
        _export(tmp_path, encoding="cp1252").read("ae")


def test_delimiter(tmp_path):
    (tmp_path / "dm.csv").write_text("SUBJECT;AGE;NOTE\n01-001;40;\"a; b\"\n01-002;41;x\n")
    with pytest.raises(RawDataError, match=r"(?s)semicolon-separated.*options: \{delimiter"):
        RawExport(tmp_path).read("dm")
    read = _export(tmp_path, delimiter=";").read("dm")
    assert read["NOTE"].tolist() == ["a; b", "x"] and read["AGE"].tolist() == ["40", "41"]
    assert read["_ROW"].tolist() == [2, 3]
    (tmp_path / "vs.csv").write_text("SUBJECT;TEMP\n01-001;37\n01-002;37;1\n")  # a row with one field more
    with pytest.raises(RawDataError, match="vs.csv line 3: 3 field"):
        _export(tmp_path, delimiter=";").read("vs")


def test_quotechar(tmp_path):
    (tmp_path / "cm.csv").write_text("SUBJECT,CMTRT\n01-001,'PARACETAMOL, ORAL'\n01-002,'IT''S'\n")
    with pytest.raises(RawDataError, match="cm.csv line 2: 3 field"):  # by default the quote is "
        RawExport(tmp_path).read("cm")
    read = _export(tmp_path, quotechar="'").read("cm")
    assert read["CMTRT"].tolist() == ["PARACETAMOL, ORAL", "IT'S"]
    (tmp_path / "ae.csv").write_text("SUBJECT,AETERM\n01-001,'Fever' high\n")
    with pytest.raises(RawDataError, match="text next to a quote"):
        _export(tmp_path, quotechar="'").read("ae")


def test_na_values_only_when_the_study_says_so(tmp_path):
    (tmp_path / "lb.csv").write_text("SUBJECT,LBORRES,LBCOMM\n01-001,NA,NAT\n01-002, NA ,n/a\n01-003,1.2,\n")
    assert RawExport(tmp_path).read("lb")["LBORRES"].tolist() == ["NA", "NA", "1.2"]  # text by default
    read = _export(tmp_path, na_values=["NA", "n/a"]).read("lb")
    assert read["LBORRES"].tolist() == ["", "", "1.2"]  # the token alone, once trimmed
    assert read["LBCOMM"].tolist() == ["NAT", "", ""]  # not inside a longer value
    assert _export(tmp_path, na_values="NA").read("lb")["LBCOMM"].tolist() == ["NAT", "n/a", ""]


@pytest.mark.parametrize("options, key", [
    ("{delimiter: ';;'}", "options.delimiter"),
    ("{quotechar: ''}", "options.quotechar"),
    ("{encoding: klingon-8}", "options.encoding"),
    ("{na_values: [NA, '']}", "options.na_values"),
    ("{delimiter: ',', quotechar: ','}", "options.quotechar"),
    ("{sep: ';'}", "options.sep"),
])
def test_bad_option_values_name_the_key(spec_copy, options, key):
    study = spec_copy / "study.yaml"
    text, n = re.subn(r"(?m)^  raw: .*$", f"  raw: {{format: csv, path: ../examples/raw, options: {options}}}",
                      study.read_text())
    assert n == 1
    study.write_text(text)
    with pytest.raises(SpecError, match=re.escape(key)) as bad:
        load_spec(spec_copy)
    assert "study.yaml" in str(bad.value)


def test_options_that_do_not_fit_the_detected_format(tmp_path):
    (tmp_path / "dm.csv").write_text("SUBJECT\n01-001\n")
    with pytest.raises(RawDataError, match="detected as a csv export.*option\\(s\\) columns"):
        RawExport(tmp_path, RawSource(path=".", options={"columns": "label"}))
    assert RawExport(tmp_path, RawSource(path=".", options={"delimiter": ","})).read("dm")["SUBJECT"].tolist() \
        == ["01-001"]


def test_acrf_reads_the_header_with_the_options(tmp_path):
    from sdtmgen.acrf import form_fields

    (tmp_path / "dm.csv").write_text("SUBJECT;AGE\n01-001;40\n")
    assert form_fields(tmp_path, RawSource(format="csv", path=".", options={"delimiter": ";"})) == \
        {"dm": ["SUBJECT", "AGE"]}
