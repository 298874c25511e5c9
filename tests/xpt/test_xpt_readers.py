"""Our files read back equal with pyreadstat.read_xport and pandas.read_sas(format="xport").

Reader behaviour we test around (all about reading; our bytes are checked elsewhere):

* pandas' IBM decoder (pandas.io.sas.sas_xport._parse_float_vec, pandas 2.x) has no case for
  an IBM zero: eight zero bytes come back as 2**-260 (~5.4e-79) instead of 0.0. We compare
  expected zeros with "abs(x) < 1e-70" for pandas only.
* Neither reader can tell the final blank padding from trailing observations that are all
  blank (an ambiguity of the v5 format): pyreadstat drops such trailing rows whatever the
  record length; pandas drops them only when the record length is <= 80 (it counts blank
  8-byte words in the last 80-byte record). Frames here end with a non-blank observation;
  test_trailing_blank_observation_is_written pins down that we still write every row.
* Both readers strip trailing blanks of character values (SAS semantics) and return "" for
  None/NaN; pandas returns bytes unless an encoding is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptVariable, read_xpt, write_xpt

pyreadstat = pytest.importorskip("pyreadstat")


def _expected(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(lambda v: "" if v is None or v != v else v.rstrip())
        else:
            out[name] = out[name].astype(float).replace([np.inf, -np.inf], np.nan)
    return out


def _frame(n: int = 37) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    nums = rng.standard_normal(n) * 10.0 ** rng.integers(-60, 60, n)
    nums[5::5] = np.nan
    nums[6::7] = 0.0
    # 1e75: ReadStat *writes* it wrong (clamps), both readers read ours right
    specials = [1e75, 0.0, 1 / 3, -1e-75, np.nan, -0.0, 0.1]
    nums[: min(n, len(specials))] = specials[:n]
    text = np.array(["", None, "a", "b c", "x" * 200, "  lead", "trail   "], dtype=object)
    return pd.DataFrame(
        {
            "STUDYID": ["CDISCPILOT01"] * n,
            "TXT": text[np.arange(n) % len(text)],
            "NUM": nums,
            "INT": np.arange(n, dtype=float),
            "SEQ": [f"{i:04d}" for i in range(n)],  # never blank: last row is not all blank
        }
    )


def _variables(frame: pd.DataFrame) -> list[XptVariable]:
    return [
        XptVariable(c, f"Label {c}", "Char" if frame[c].dtype == object else "Num")
        for c in frame.columns
    ]


@pytest.mark.parametrize("rows", [1, 2, 37, 1000])
def test_pyreadstat_reads_back_equal(tmp_path, rows):
    frame = _frame(rows)
    path = tmp_path / "t.xpt"
    write_xpt(path, frame, dataset_name="T", dataset_label="Test", variables=_variables(frame))
    back, meta = read_xpt(path)
    pd.testing.assert_frame_equal(back, _expected(frame), check_exact=True)
    assert meta.table_name == "T" and meta.file_label == "Test"
    assert meta.column_names_to_labels == {c: f"Label {c}" for c in frame.columns}
    longest = max(len(v) for v in frame["TXT"] if isinstance(v, str))
    assert meta.variable_storage_width["TXT"] == max(longest, 1)


@pytest.mark.parametrize("rows", [1, 2, 37, 1000])
def test_pandas_reads_back_equal(tmp_path, rows):
    frame = _frame(rows)
    path = tmp_path / "t.xpt"
    write_xpt(path, frame, dataset_name="T", dataset_label="Test", variables=_variables(frame))
    back = pd.read_sas(path, format="xport", encoding="ascii")
    expected = _expected(frame)
    for name in ("STUDYID", "TXT", "SEQ"):
        assert back[name].tolist() == expected[name].tolist()
    for name in ("NUM", "INT"):
        got, want = back[name].to_numpy(), expected[name].to_numpy()
        zero = want == 0
        # pandas bug: IBM zero decodes to 2**-260 instead of 0.0 (see module docstring)
        assert np.all(np.abs(got[zero]) < 1e-70)
        np.testing.assert_array_equal(got[~zero], want[~zero])


@pytest.mark.parametrize("rows", [1, 3, 7, 8, 16])
def test_short_records_read_back_by_both(tmp_path, rows):
    # record length 10 (<= 80): pandas counts observations from the blank 8-byte words of the
    # last 80-byte record, so the final observation ends in a non-blank numeric value here.
    frame = pd.DataFrame(
        {"C": [["ab", "", None][i % 3] for i in range(rows)], "N": np.arange(rows) + 0.5}
    )
    frame["C"] = frame["C"].astype(object)
    variables = [XptVariable("C", "Char", "Char"), XptVariable("N", "Num", "Num")]
    path = tmp_path / "s.xpt"
    write_xpt(path, frame, dataset_name="S", dataset_label="", variables=variables)
    expected = _expected(frame)
    pd.testing.assert_frame_equal(read_xpt(path)[0], expected)
    back = pd.read_sas(path, format="xport", encoding="ascii")
    assert back["C"].tolist() == expected["C"].tolist()
    assert back["N"].tolist() == expected["N"].tolist()


def test_trailing_blank_observation_is_written(tmp_path):
    frame = pd.DataFrame({"C": ["x" * 30, ""]})
    path = tmp_path / "b.xpt"
    write_xpt(path, frame, dataset_name="B", dataset_label="",
              variables=[XptVariable("C", "C", "Char")])  # fmt: skip
    raw = path.read_bytes()
    data = raw[raw.rindex(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!") + 80 :]
    # both observations (60 bytes) then 20 blanks of padding; a reader cannot tell them apart
    assert data == b"x" * 30 + b" " * 50
    assert len(read_xpt(path)[0]) in (1, 2)  # pyreadstat: 1 (drops the blank row)


def test_empty_frame(tmp_path):
    frame = pd.DataFrame({"C": pd.Series([], dtype=object), "N": pd.Series([], dtype=float)})
    path = tmp_path / "e.xpt"
    write_xpt(path, frame, dataset_name="E", dataset_label="",
              variables=[XptVariable("C", "C", "Char"), XptVariable("N", "N", "Num")])  # fmt: skip
    raw = path.read_bytes()
    assert raw.endswith(b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!" + b"0" * 30 + b"  ")
    back, meta = read_xpt(path)
    assert len(back) == 0 and list(back.columns) == ["C", "N"]
    assert meta.variable_storage_width == {"C": 1, "N": 8}
