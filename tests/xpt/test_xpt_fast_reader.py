"""read_xpt_columns (the vectorised reader) gives what pyreadstat gives.

On the SAS-written CDISC pilot files (when ../shared/reference is present) and on round trips
of awkward values through our writer: same names, labels, lengths, types, row count and
values (Char without trailing blanks, "" for blank; Num float64 with SAS missing as NaN).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptVariable, write_xpt
from sdtmgen.xpt.reader import ibm_to_ieee, read_xpt_columns

pyreadstat = pytest.importorskip("pyreadstat")
pytest.importorskip("pyarrow")

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
PILOT_FILES = sorted(p.relative_to(REFERENCE_DIR) for p in REFERENCE_DIR.glob("cdisc-pilot/*/*.xpt"))


def assert_same_as_pyreadstat(path: Path, encoding: str | None = None) -> pd.DataFrame:
    expected, meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True, encoding=encoding)
    got, ours = read_xpt_columns(path, encoding=encoding)
    assert list(got.columns) == list(expected.columns) == ours.column_names
    assert ours.table_name == meta.table_name
    assert ours.file_label == (meta.file_label or "")
    assert ours.column_names_to_labels == {k: v or "" for k, v in meta.column_names_to_labels.items()}
    assert ours.lengths == {k: int(v) for k, v in meta.variable_storage_width.items()}
    assert ours.types == {k: "Num" if v == "double" else "Char" for k, v in meta.readstat_variable_types.items()}
    assert len(got) == len(expected) == ours.number_rows
    for name in expected.columns:
        if ours.types[name] == "Num":
            np.testing.assert_array_equal(got[name].to_numpy(), expected[name].to_numpy(dtype=float), err_msg=name)
        else:
            assert str(got[name].dtype) == "string"
            assert got[name].astype(object).tolist() == expected[name].tolist(), name
    return got


@pytest.mark.skipif(not PILOT_FILES, reason=f"{REFERENCE_DIR} is not available")
@pytest.mark.parametrize("relative", PILOT_FILES, ids=[str(p) for p in PILOT_FILES])
def test_sas_written_pilot_files_read_like_pyreadstat(relative):
    path = REFERENCE_DIR / relative
    assert_same_as_pyreadstat(path, encoding="cp1252" if path.name == "ts.xpt" else None)


def _write(path: Path, frame: pd.DataFrame, variables=None) -> Path:
    variables = variables or [XptVariable(c, f"Label {c}", "Num" if frame[c].dtype.kind == "f" else "Char")
                              for c in frame.columns]
    write_xpt(path, frame, dataset_name="TEST", dataset_label="A test", variables=variables)
    return path


def test_awkward_values_round_trip(tmp_path):
    n = 1000
    rng = np.random.default_rng(5)
    text = np.array(["", None, " lead", "trail  ", "x" * 200, "a b", "Z"], dtype=object)
    numbers = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, 5e75, -3.25, 1.0, 2.0**-260, 1 / 3])
    frame = pd.DataFrame({
        "C": text[rng.integers(0, len(text), n)],
        "N": numbers[rng.integers(0, len(numbers), n)],
        "ONE": np.full(n, "y", dtype=object),
        "S": pd.Series(text[rng.integers(0, len(text), n)]).astype("string[pyarrow]"),
    })
    frame.loc[n - 1, ["C", "ONE", "S"]] = ["end", "y", "end"]  # last record not all blank (padding ambiguity)
    got = assert_same_as_pyreadstat(_write(tmp_path / "t.xpt", frame))
    # and against the frame itself: inf -> missing, tiny -> 0, text without trailing blanks
    expected = np.where(np.isinf(frame["N"]), np.nan, np.where(np.abs(frame["N"]) < 2.0**-260, 0.0, frame["N"]))
    np.testing.assert_array_equal(got["N"].to_numpy(), expected)
    assert got["C"].tolist() == [("" if v is None else v.rstrip()) for v in frame["C"]]


def test_columns_subset_metadata_only_and_empty(tmp_path):
    frame = pd.DataFrame({"A": ["1", "2"], "B": [1.0, 2.0], "C": ["x", "y"]})
    path = _write(tmp_path / "s.xpt", frame)
    got, meta = read_xpt_columns(path, columns=["C", "A"])
    assert list(got.columns) == ["A", "C"]  # file order
    assert got["C"].tolist() == ["x", "y"] and meta.column_names == ["A", "B", "C"]
    got, meta = read_xpt_columns(path, metadata_only=True)
    assert got.empty and meta.number_rows == 2 and meta.lengths == {"A": 1, "B": 8, "C": 1}
    with pytest.raises(KeyError, match="D"):
        read_xpt_columns(path, columns=["D"])
    empty = _write(tmp_path / "e.xpt", frame.iloc[:0])
    assert_same_as_pyreadstat(empty)


def test_ibm_missing_values_and_truncated_numbers():
    words = np.array([0x2E00_0000_0000_0000, 0x4100_0000_0000_0000, 0x5F00_0000_0000_0000,
                      0x4110_0000_0000_0000, 0xC110_0000_0000_0000, 0], dtype=">u8")
    out = ibm_to_ieee(words)
    assert np.isnan(out[:3]).all()
    assert out[3:].tolist() == [1.0, -1.0, 0.0]


@pytest.mark.parametrize("segment", [None, (700, 97)], ids=["one-segment", "many-segments"])
def test_categorical_read_equals_the_plain_read(tmp_path, monkeypatch, segment):
    """Every Char width (integer keys up to 8 bytes, Arrow beyond), NUL padding and missing numbers; read
    in one segment, and in segments of a few blocks (values first seen in a later segment, codes renumbered)."""
    if segment is not None:
        import sdtmgen.xpt.reader as reader

        monkeypatch.setattr(reader, "_BLOCK_BYTES", segment[0])  # 9 records (77 bytes each) a block
        monkeypatch.setattr(reader, "_SEGMENT_ROWS", segment[1])  # 11 blocks a segment, the last one short
    n = 2000
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({f"C{w}": pd.Series(["", "a", "b" * w, "ab"[: min(w, 2)] + " " * (w > 3)])
                          .iloc[rng.integers(0, 4, n)].reset_index(drop=True) for w in (1, 2, 3, 4, 5, 7, 8, 9, 30)})
    frame["N"] = np.array([np.nan, 1.0, -2.5, 0.0, 1e-300])[rng.integers(0, 5, n)]
    frame.loc[n - 1, "C1"] = "z"  # last record not all blank
    frame.loc[n - 300, ["C4", "C9", "C30", "N"]] = ["zz", "late", "a late value", 7.25]  # first seen late
    variables = [XptVariable(c, c, "Num" if c == "N" else "Char", None if c == "N" else int(c[1:]))
                 for c in frame.columns]
    path = tmp_path / "w.xpt"
    write_xpt(path, frame, dataset_name="W", dataset_label="W", variables=variables)
    plain, meta = read_xpt_columns(path)
    # another writer's padding: the value "a" of C5 padded with NULs instead of blanks in some records
    data = bytearray(path.read_bytes())
    from sdtmgen.xpt.reader import _read_header

    layout = _read_header(str(path))
    position = next(ns.npos for ns in layout.namestrs if ns.nname == "C5")
    for row in np.flatnonzero(plain["C5"].to_numpy(dtype=object) == "a")[::2]:
        start = layout.data_offset + int(row) * layout.record_length + position
        data[start + 1:start + 5] = b"\0" * 4
    path.write_bytes(bytes(data))
    plain, _ = read_xpt_columns(path)
    categorical, _ = read_xpt_columns(path, categorical=True)
    assert list(categorical.columns) == list(plain.columns)
    for column in plain.columns:
        assert isinstance(categorical[column].dtype, pd.CategoricalDtype), column
        got = np.asarray(categorical[column], dtype=float if column == "N" else object)
        if column == "N":
            np.testing.assert_array_equal(got, plain[column].to_numpy())
        else:
            assert got.tolist() == plain[column].astype(object).tolist(), column
        categories = list(categorical[column].cat.categories)
        assert categories == list(pd.unique(pd.Series(got).dropna())), column  # used, in order of appearance
    assert set(categorical["C5"].cat.categories) >= {"a"} and len(set(categorical["C5"].cat.categories)) == len(
        categorical["C5"].cat.categories)
