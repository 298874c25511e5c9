"""csv_text.write_csv writes the bytes pandas' to_csv writes, for the column types it formats, with
text cells that would start a spreadsheet formula neutralised."""

import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sdtmgen.csv_text import write_csv


def pandas_bytes(frame: pd.DataFrame, path) -> bytes:
    frame.to_csv(path, index=False, lineterminator="\n")
    return path.read_bytes()


def test_quoting_missing_values_and_non_ascii_match_pandas(tmp_path):
    frame = pd.DataFrame({
        "record": range(1, 7),
        "raw_file": ["a.csv", "b,c.csv", 'q"x', None, "new\nline", "cr\rx"],
        "raw_row": pd.array([1, 2, None, 4, 5, -6], dtype="Int64"),
        "text": pd.array(["x", "", "y", None, "é", " lead"], dtype="string[pyarrow]"),
        "a,b": pd.Categorical(["u", "v", "u", "v", "u", "v"]),
    })
    ours = tmp_path / "ours.csv"
    write_csv(ours, frame)
    assert ours.read_bytes() == pandas_bytes(frame, tmp_path / "pandas.csv")
    assert ours.read_bytes().startswith(b'record,raw_file,raw_row,text,"a,b"\n1,a.csv,1,x,u\n')
    assert b'"b,c.csv"' in ours.read_bytes() and b'"q""x"' in ours.read_bytes()


def test_other_dtypes_fall_back_to_pandas(tmp_path):
    frame = pd.DataFrame({"x": [0.1, 2.0, None], "flag": [True, False, True], "n": [1, 2, 3]})
    ours = tmp_path / "ours.csv"
    write_csv(ours, frame)
    assert ours.read_bytes() == pandas_bytes(frame, tmp_path / "pandas.csv")


def test_empty_frame_writes_the_header_only(tmp_path):
    frame = pd.DataFrame({"record": pd.Series([], dtype="int64"), "raw_file": pd.Series([], dtype="string[pyarrow]")})
    ours = tmp_path / "ours.csv"
    write_csv(ours, frame)
    assert ours.read_bytes() == b"record,raw_file\n" == pandas_bytes(frame, tmp_path / "pandas.csv")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**12, 10**12), st.one_of(st.none(), st.text(max_size=12))), max_size=30))
def test_any_integers_and_text_match_pandas(tmp_path_factory, rows):
    frame = pd.DataFrame({"n": pd.Series([r[0] for r in rows], dtype="int64"),
                          "t": pd.Series([r[1] for r in rows], dtype="string[pyarrow]")})
    folder = tmp_path_factory.mktemp("csv")
    write_csv(folder / "ours.csv", frame)
    expected = frame.assign(t=pd.Series([reference_cell(r[1]) for r in rows], dtype="string[pyarrow]"))
    assert (folder / "ours.csv").read_bytes() == pandas_bytes(expected, folder / "pandas.csv")


# --- formula injection (OWASP CSV Injection) ------------------------------------------------------

FORMULA = re.compile(r"[=+\-@\t\r]")
NUMBER = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|Infinity)")


def reference_cell(value):
    """The rule as documented, written independently of the Arrow version."""
    if isinstance(value, str) and FORMULA.match(value) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def test_formula_cells_are_neutralised_numbers_are_not(tmp_path):
    frame = pd.DataFrame({
        "record": [1, 2, 3, 4, 5, 6, 7, 8],
        "AEDECOD": ['=HYPERLINK("http://x.example/?a=1","click")', "@SUM(A1:A9)", "+cmd|' /C calc'!A0",
                    "-2+3", "\tTAB", "\rCR", "Headache", None],
        "stat": ["-1.5", "+3", "-2e-3", "-Inf", "-.5", "1-2", "=1", "-"],
    })
    path = tmp_path / "out.csv"
    write_csv(path, frame)
    lines = path.read_bytes().decode("utf-8").split("\n")
    assert lines[1] == """1,"'=HYPERLINK(""http://x.example/?a=1"",""click"")",-1.5"""
    assert lines[2:9] == ["2,'@SUM(A1:A9),+3", "3,'+cmd|' /C calc'!A0,-2e-3", "4,'-2+3,-Inf", "5,'\tTAB,-.5",
                          "6,'\rCR,1-2", "7,Headache,'=1", "8,,'-"]


def test_the_pandas_path_neutralises_text_too(tmp_path):
    frame = pd.DataFrame({"x": [0.1, -2.5, None], "form": ["=cmd()", "ae.csv", "@x"],
                          "cat": pd.Categorical(["-x", "y", "-1"])})
    path = tmp_path / "out.csv"
    write_csv(path, frame)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["x"].tolist() == ["0.1", "-2.5", ""]
    assert back["form"].tolist() == ["'=cmd()", "ae.csv", "'@x"]
    assert back["cat"].tolist() == ["'-x", "y", "-1"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="=+-@\t\r0123456789.eE,\"a ", max_size=8), min_size=1, max_size=20))
def test_any_text_is_written_as_pandas_writes_the_neutralised_text(tmp_path_factory, cells):
    frame = pd.DataFrame({"n": range(len(cells)), "t": pd.Series(cells, dtype="string[pyarrow]")})
    folder = tmp_path_factory.mktemp("csv")
    write_csv(folder / "ours.csv", frame)
    expected = frame.assign(t=[reference_cell(c) for c in cells])
    assert (folder / "ours.csv").read_bytes() == pandas_bytes(expected, folder / "pandas.csv")


def test_ard_csv_neutralises_formula_terms(tmp_path):
    from sdtmgen.report.ard import Ard, write_ard

    ard = Ard(groups=["DL1"], overall="Total")
    ard.add(1, "ae", "AEs", "DL1", "AEDECOD", "n", 3, variable_level='=HYPERLINK("http://x")', group2="AESOC",
            group2_level="@SUM(1,2)")
    ard.add(1, "ae", "AEs", "DL1", "AEDECOD", "mean", -1.5)
    path = tmp_path / "ard.csv"
    write_ard(ard.frame(), path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back.loc[0, "variable_level"] == "'=HYPERLINK(\"http://x\")"
    assert back.loc[0, "group2_level"] == "'@SUM(1,2)"
    assert back.loc[1, "stat"] == "-1.500000" and back.loc[1, "stat_fmt"] == "-1.5"


def test_object_columns_of_strings_and_of_mixed_values_match_pandas(tmp_path):
    # strings only (the lineage's raw file names): coded once per distinct value; mixed values: 1 == 1.0 == True
    # would share a code, so such a column is converted value by value
    frames = [pd.DataFrame({"n": range(4), "file": ["=cmd()", None, "ae.csv", "=cmd()"]}, dtype=object),
              pd.DataFrame({"n": range(4), "mixed": [1, "1", 1.0, True]})]
    for i, frame in enumerate(frames):
        ours = tmp_path / f"ours{i}.csv"
        write_csv(ours, frame)
        expected = pandas_bytes(frame, tmp_path / f"pandas{i}.csv")
        assert ours.read_bytes() == (expected.replace(b"=cmd()", b"'=cmd()") if i == 0 else expected)
