"""Our bytes vs pyreadstat.write_xport(file_format_version=5) for the same frame.

pyreadstat (ReadStat) writes its own timestamps and "6.06"/"bsd4.2" in the headers, so we
compare the observation section (everything after the OBS header record, padding included)
and the namestr fields. Differences found and pinned down here:

* ReadStat writes nfj = 1 (right justified) for numeric variables; SAS writes 0 and so do we
  (see test_xpt_cdisc_pilot.py, where our namestrs equal SAS's byte for byte).
* ReadStat clamps finite values in [2**249, 2**252) to the largest IBM number 0x7FFF...FF,
  which it then reads back as inf. They are inside the IBM range (max ~7.24e75); we write the
  exact value, as SAS does. 1e75 is such a value.
* ReadStat writes +/-inf as +/-0x7FFF...FF; we write SAS missing (documented).
* ReadStat accepts character values over 200 bytes and non-ASCII (UTF-8) text in v5 files;
  both break FDA rules and we raise XptError.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptError, XptVariable

pytest.importorskip("pyreadstat")

NUMBERS = [
    1.0,
    np.nan,
    0.0,
    -0.0,
    -1.0,
    -123.456,
    0.1,
    1 / 3,
    -2 / 3,
    1e-75,
    -1e-75,
    5.4e-79,  # just above the smallest normalised IBM number 16**-65
    1e-80,  # underflows to zero
    1e74,
    -7.5e74,
    2.0**248,
    np.nextafter(2.0**249, 0),  # largest value ReadStat still writes correctly
    12345678901234567.0,
    3.141592653589793,
    86400.0 * 365 * 60,
]


def _char_values(n: int) -> list:
    base = ["a", "", None, "Bb", "x" * 200, np.nan, "  lead", "trail  ", "MIXED Case 09", "~!@#"]
    return [base[i % len(base)] for i in range(n)]


def test_mixed_frame_observations_identical(write_ours, write_pyreadstat):
    n = len(NUMBERS)
    frame = pd.DataFrame(
        {
            "STUDYID": ["STUDY-01"] * n,
            "NUM": NUMBERS,
            "TXT": _char_values(n),
            "INTS": np.arange(-5, n - 5, dtype=np.int64),
            "EMPTY": [""] * n,
            "ALLNONE": [None] * n,
            "LAST": [f"row {i}" for i in range(n)],
        }
    )
    ours = write_ours(frame)
    theirs = write_pyreadstat(frame)
    assert ours.record_length == 8 + 8 + 200 + 8 + 1 + 1 + 6
    assert ours.data == theirs.data
    assert len(ours.data) % 80 == 0


def test_namestrs_agree_except_numeric_justification(write_ours, write_pyreadstat):
    frame = pd.DataFrame(
        {
            "USUBJID": ["01-701-1015", "01-701-1023"],
            "AGE": [63.0, 64.0],
            "TRTSDT": [19725.0, np.nan],
            "AVAL": [1.25, 2.5],
            "SEX": ["F", None],
            "NOTE": ["", ""],
        }
    )
    variables = [
        XptVariable("USUBJID", "Unique Subject Identifier", "Char"),
        XptVariable("AGE", "Age", "Num"),
        XptVariable("TRTSDT", "Date of First Exposure to Treatment", "Num", format="DATE9."),
        XptVariable("AVAL", "Analysis Value", "Num", format="8.2"),
        XptVariable("SEX", "Sex", "Char", format="$CHAR1."),
        XptVariable("NOTE", "x" * 40, "Char"),
    ]
    ours = write_ours(frame, variables, dataset_name="ADSL", dataset_label="Subject-Level")
    theirs = write_pyreadstat(frame, variables, dataset_name="ADSL", dataset_label="Subject-Level")
    assert ours.data == theirs.data
    assert ours.namestr_header == theirs.namestr_header
    assert ours.dataset_name == theirs.dataset_name == "ADSL"
    assert ours.dataset_label == theirs.dataset_label == "Subject-Level"
    assert len(ours.namestrs) == len(theirs.namestrs) == 6
    for mine, other in zip(ours.namestrs, theirs.namestrs):
        fields = ["ntype", "nhfun", "nlng", "nvar0", "nname", "nlabel", "nform", "nfl", "nfd",
                  "nfill", "niform", "nifl", "nifd", "npos", "rest"]  # fmt: skip
        assert {f: getattr(mine, f) for f in fields} == {f: getattr(other, f) for f in fields}
        assert mine.nfj == 0  # SAS; ReadStat writes 1 for Num
        assert other.nfj == (1 if other.ntype == 1 else 0)
    assert [(n.nform, n.nfl, n.nfd) for n in ours.namestrs] == [
        ("", 0, 0), ("", 0, 0), ("DATE", 9, 0), ("", 8, 2), ("$CHAR", 1, 0), ("", 0, 0)
    ]
    # whole namestr records equal once the justification field is aligned
    fixed = [n.raw[:68] + b"\x00\x00" + n.raw[70:] for n in theirs.namestrs]
    assert [n.raw for n in ours.namestrs] == fixed


def test_one_row_frame(write_ours, write_pyreadstat):
    frame = pd.DataFrame({"A": ["only"], "N": [0.1]})
    ours, theirs = write_ours(frame), write_pyreadstat(frame)
    assert ours.data == theirs.data == b"only" + bytes.fromhex("401999999999999a") + b" " * 68


def test_short_records_up_to_80_bytes(write_ours, write_pyreadstat):
    # 11-byte records: several observations share one 80-byte record and the last is padded
    frame = pd.DataFrame({"C": ["abc", "", None, "z", "yy"] * 3, "N": [1.0, 2, np.nan, 0, -4] * 3})
    ours, theirs = write_ours(frame), write_pyreadstat(frame)
    assert ours.record_length == 11
    assert ours.data == theirs.data
    assert len(ours.data) == 240 and ours.data[165:] == b" " * 75

    exactly_80 = pd.DataFrame({"C": ["x" * 72, "y"], "N": [1.5, 2.5]})
    ours, theirs = write_ours(exactly_80), write_pyreadstat(exactly_80)
    assert ours.record_length == 80
    assert ours.data == theirs.data and len(ours.data) == 160


def test_integer_bool_and_nullable_columns(write_ours, write_pyreadstat):
    frame = pd.DataFrame(
        {
            "I": np.array([0, 1, -7, 2**40], dtype=np.int64),
            "B": [True, False, True, False],
            "F32": np.array([0.5, 1.25, -3.0, np.nan], dtype=np.float32),
        }
    )
    ours, theirs = write_ours(frame), write_pyreadstat(frame)
    assert ours.data == theirs.data
    # pandas nullable Int64: pd.NA is missing, like NaN
    nullable = pd.DataFrame({"I": pd.array([1, None, 3], dtype="Int64")})
    as_float = pd.DataFrame({"I": [1.0, np.nan, 3.0]})
    assert write_ours(nullable).data == write_pyreadstat(as_float).data


def test_many_random_numbers(write_ours, write_pyreadstat):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(5000) * 10.0 ** rng.integers(-80, 74, 5000)
    x[::13] = np.nan
    frame = pd.DataFrame({"X": x})
    assert write_ours(frame).data == write_pyreadstat(frame).data


def test_readstat_clamps_values_that_fit_ibm_we_do_not(write_ours, write_pyreadstat):
    frame = pd.DataFrame({"N": [1e75, -1e75, 2.0**249, 7.2e75]})
    ours, theirs = write_ours(frame), write_pyreadstat(frame)
    words = [theirs.data[i : i + 8].hex() for i in range(0, 32, 8)]
    assert words == ["7fffffffffffffff", "ffffffffffffffff", "7fffffffffffffff", "7fffffffffffffff"]
    # ours: exponent byte 0x7F (16**63), exact 56-bit fraction, e.g. 1e75 = 0x7F235FADD81C2822
    assert ours.data[:16].hex() == "7f235fadd81c2822" "ff235fadd81c2822"
    assert ours.data[16:24].hex() == "7f20000000000000"


def test_infinity_differs_readstat_clamps_we_write_missing(write_ours, write_pyreadstat):
    frame = pd.DataFrame({"N": [np.inf, -np.inf]})
    ours, theirs = write_ours(frame), write_pyreadstat(frame)
    assert ours.data[:16] == b"." + b"\x00" * 7 + b"." + b"\x00" * 7
    assert theirs.data[:16].hex() == "7fffffffffffffff" "ffffffffffffffff"


def test_readstat_accepts_what_we_reject(write_ours, write_pyreadstat):
    too_long = pd.DataFrame({"C": ["x" * 201]})
    assert write_pyreadstat(too_long).namestrs[0].nlng == 201
    with pytest.raises(XptError, match=r"'C'.*row 0.*201 bytes"):
        write_ours(too_long)
    non_ascii = pd.DataFrame({"C": ["ok", "caf\u00e9"]})
    assert write_pyreadstat(non_ascii).data.startswith(b"ok   caf\xc3\xa9")
    with pytest.raises(XptError, match=r"'C'.*row 1.*non-ASCII"):
        write_ours(non_ascii)


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "direct"])
def test_both_char_encodings_match_pyreadstat(write_ours, write_pyreadstat, monkeypatch,
                                              dictionary):  # fmt: skip
    # The writer picks dictionary encoding (factorize + take) for repetitive columns and a
    # direct object -> S{n} cast for high-cardinality ones; force each path on the same data.
    import sdtmgen.xpt.writer as writer

    monkeypatch.setattr(writer, "_use_dictionary", lambda values: dictionary)
    n = 70_000  # more than one 65,536-row validation block
    rng = np.random.default_rng(2)
    unique = np.array([f"ID-{i:06d}" for i in rng.permutation(n)], dtype=object)
    unique[rng.integers(0, n, 500)] = None
    unique[rng.integers(0, n, 500)] = np.nan
    unique[rng.integers(0, n, 500)] = ""
    pool = np.array(["Y", "N", "", None, "A much longer value " * 5], dtype=object)
    frame = pd.DataFrame(
        {"UNIQ": unique, "FLAG": pool[rng.integers(0, len(pool), n)], "N": rng.random(n),
         "LAST": ["end"] * n}  # fmt: skip
    )
    assert write_ours(frame).data == write_pyreadstat(frame).data


def test_string_and_categorical_dtypes_write_like_object(write_ours, write_pyreadstat):
    values = ["b", None, "a", "", "ccc", "a", None]
    as_object = pd.DataFrame({"C": pd.Series(values, dtype=object), "N": np.arange(7.0)})
    expected = write_pyreadstat(as_object).data
    assert write_ours(as_object).data == expected
    as_string = as_object.assign(C=as_object["C"].astype("string[pyarrow]"))
    assert write_ours(as_string, [XptVariable("C", "c", "Char"), XptVariable("N", "n", "Num")]).data == expected
    as_category = as_object.assign(C=pd.Categorical(values, categories=["unused and long", "ccc", "b", "a", ""]))
    assert write_ours(as_category, [XptVariable("C", "c", "Char"), XptVariable("N", "n", "Num")]).data == expected


STRING_DTYPES = {
    "python": lambda: pd.StringDtype("python"),
    "pyarrow": lambda: pd.StringDtype("pyarrow"),
    "arrow-large-string": lambda: pd.ArrowDtype(__import__("pyarrow").large_string()),
}


@pytest.mark.parametrize("storage", list(STRING_DTYPES))
@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "direct"])
def test_string_dtypes_match_object_on_both_encodings(write_ours, monkeypatch, dictionary, storage):
    # StringDtype columns (what the SDTM build produces) are read through their own arrays:
    # python storage as its object array (missing = pd.NA), Arrow storage dictionary-encoded by
    # Arrow. The bytes must equal those of the same values as object, on both encodings.
    pytest.importorskip("pyarrow")
    import sdtmgen.xpt.writer as writer

    monkeypatch.setattr(writer, "_use_dictionary", lambda values: dictionary)
    monkeypatch.setattr(writer, "_DICTIONARY_MAX_RATIO", 1.0 if dictionary else 0.0)
    n = 70_000
    rng = np.random.default_rng(3)
    values = np.array([f"V-{i:06d}" for i in rng.permutation(n)], dtype=object)
    values[rng.integers(0, n, 700)] = None
    values[rng.integers(0, n, 700)] = ""
    as_object = pd.DataFrame({"C": values, "N": rng.random(n)})
    typed = as_object.assign(C=as_object["C"].astype(STRING_DTYPES[storage]()))
    before = typed["C"].copy()
    variables = [XptVariable("C", "c", "Char"), XptVariable("N", "n", "Num")]
    assert write_ours(typed, variables).data == write_ours(as_object, variables).data
    pd.testing.assert_series_equal(typed["C"], before)  # the write does not touch the frame


@pytest.mark.parametrize("storage", list(STRING_DTYPES))
def test_string_dtypes_report_bad_values_like_object(write_ours, storage):
    pytest.importorskip("pyarrow")
    variables = [XptVariable("C", "c", "Char")]
    non_ascii = pd.DataFrame({"C": pd.Series(["ok", None, "caf\u00e9", "caf\u00e9"]).astype(STRING_DTYPES[storage]())})
    with pytest.raises(XptError, match=r"'C'.*row 2.*non-ASCII"):
        write_ours(non_ascii, variables)
    too_long = pd.DataFrame({"C": pd.Series([None, "x", "y" * 201]).astype(STRING_DTYPES[storage]())})
    with pytest.raises(XptError, match=r"'C'.*row 2.*201 bytes"):
        write_ours(too_long, variables)
    declared = [XptVariable("C", "c", "Char", length=3)]
    assert write_ours(pd.DataFrame({"C": pd.Series(["ab", None]).astype(STRING_DTYPES[storage]())}),
                      declared).data.startswith(b"ab    ")
