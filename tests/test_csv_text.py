"""csv_text.write_csv writes the bytes pandas' to_csv writes, for the column types it formats."""

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
    frame = pd.DataFrame({"record": pd.Series([], dtype="int64"), "raw_file": pd.Series([], dtype="string")})
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
    assert (folder / "ours.csv").read_bytes() == pandas_bytes(frame, folder / "pandas.csv")
