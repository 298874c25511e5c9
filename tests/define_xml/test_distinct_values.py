"""The distinct-value shortcuts give what the record-by-record definitions give.

DistinctValues (rows = drop_duplicates, values = pd.unique), the vectorised significant-digit
count (= decimals of format(v, ".15g") per value), the Arrow paths of present_text and the ISO
8601 typing (= the Python paths), and a where clause over several columns checked on the
distinct combinations.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from sdtmgen.define_xml.checks import check_define
from sdtmgen.define_xml.datatypes import char_type, decimals, number_decimals, present_text
from sdtmgen.define_xml.distinct import DistinctValues
from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.xpt import XptVariable, read_xpt_columns, write_xpt

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"


def _frame(n: int, seed: int, wide: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    text = np.array(["A", "B", " c", "", None, "é", "x" * 30], dtype=object)
    return pd.DataFrame({
        "T": pd.array(text[rng.integers(0, len(text), n)], dtype="string[pyarrow]"),
        "N": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 7, n).astype(float)),
        "O": text[rng.integers(0, len(text), n)],
        "K": pd.Series(rng.choice(["p", "q", "r"], n)).astype("category"),
        "W": pd.array(rng.integers(0, wide, n).astype(str), dtype="string[pyarrow]"),
    })


@pytest.mark.parametrize("wide", [5, 3000])  # 3000 x 3000 combinations: the hashed path, not the array
def test_rows_are_drop_duplicates_and_values_are_unique(wide):
    frame = _frame(4000, seed=wide, wide=wide)
    distinct = DistinctValues(frame)
    for columns in (["T"], ["T", "N"], ["N", "O", "K"], ["W", "T"], ["W", "O", "N", "K"], ["T", "T"]):
        got = distinct.rows(columns)
        expected = frame[list(dict.fromkeys(columns))].drop_duplicates()
        assert got.index.tolist() == expected.index.tolist(), columns
    if wide == 3000:
        assert DistinctValues(frame).rows(["W", "N"]).shape[0] > 2000
    for column in frame.columns:
        expected = pd.unique(frame[column].dropna())
        assert distinct.values(column).tolist() == list(np.asarray(expected)), column
    assert distinct.values("missing") is None


def test_categoricals_read_from_xpt_are_used_as_factorised(tmp_path):
    frame = _frame(3000, seed=1)[["T", "N", "W"]]
    frame["T"] = frame["T"].replace("é", "e")  # XPT text is ASCII
    variables = [XptVariable("T", "T", "Char"), XptVariable("N", "N", "Num"), XptVariable("W", "W", "Char")]
    frame.loc[len(frame) - 1, "T"] = "end"  # last record not all blank
    write_xpt(tmp_path / "d.xpt", frame, dataset_name="D", dataset_label="D", variables=variables)
    plain, _ = read_xpt_columns(tmp_path / "d.xpt")
    categorical, _ = read_xpt_columns(tmp_path / "d.xpt", categorical=True)
    trusted, checked = DistinctValues(categorical, factorised_categoricals=True), DistinctValues(plain)
    for columns in (["T"], ["T", "N"], ["W", "T", "N"]):
        assert trusted.first_rows(columns).tolist() == checked.first_rows(columns).tolist()
        assert trusted.rows(columns).equals(checked.rows(columns).astype(object).astype(
            {c: float for c in columns if c == "N"}))
    for column in ("T", "N", "W"):
        assert trusted.values(column).tolist() == checked.values(column).astype(object).tolist()


def test_number_decimals_equal_the_fifteen_digit_text_of_each_value():
    rng = np.random.default_rng(3)
    samples = [
        rng.random(20000) * 10.0 ** rng.integers(-12, 16, 20000),         # every magnitude
        np.round(rng.random(20000) * 100, rng.integers(0, 6)),            # data with a few decimals
        np.round(rng.random(5000) * 10, 1) - np.round(rng.random(5000) * 10, 1),   # differences
        (np.round(rng.random(5000) * 100, 1) - 50) / np.round(rng.random(5000) * 100 + 1, 1) * 100,
        np.abs(rng.integers(1, 2**62, 5000).view(np.float64)),              # any bit pattern
        np.array([0.1, 0.1 + 0.2, 5.1 - 4.9, 2.0**-15, 1e15 + 0.5, 4.5e15 + 0.5, 99999999999999.95,
                  9.999999999999995, 0.9999999999999999, 1.0000000000000002, 1e14 + 0.5, 1e-8 + 1e-20,
                  -3.25, np.nan, np.inf, -np.inf, 7.0]),
    ]
    for values in samples:
        finite = values[np.isfinite(values)]
        fractional = finite[finite != np.floor(finite)]
        expected = max([0] + [decimals(format(float(v), ".15g")) for v in fractional])
        assert number_decimals(values) == expected
        for v in fractional[:300]:  # and value by value
            assert number_decimals(np.array([v])) == decimals(format(float(v), ".15g")), v


@pytest.mark.parametrize("seed", range(3))
def test_arrow_text_paths_equal_the_python_paths(seed):
    rng = np.random.default_rng(seed)
    pieces = np.array(["2024", "-", "01", "12", "T", "10", ":", "30", ".5", "P", "1", "Y", "M", "D", "W", "H",
                       "S", " ", "\t", "\x1c", "x", "--", "\u0663", "\xa0", "\u3000", "\n", "2024-01-01",
                       "2024-01-01T10:00:00", "2024-01", "2024---01", "P2DT3H", "-P1D", "PT5M"], dtype=object)
    for _ in range(400):
        values = ["".join(rng.choice(pieces, rng.integers(0, 4))) if rng.random() > 0.1 else None
                  for _ in range(rng.integers(1, 8))]
        values = values * (300 // len(values))  # enough values for the Arrow path
        arrow, python = pd.Series(values, dtype="string[pyarrow]"), pd.Series(values, dtype=object)
        assert present_text(arrow) == present_text(python), values
        for name in ("LBDTC", "AEDUR", "LBTEST"):
            assert char_type(name, arrow) == char_type(name, python), (name, values)


def test_a_where_clause_over_several_columns_is_checked_on_their_combinations(sdtm_define, package, spec):
    """LBORRES where LBTESTCD EQ HGB and LBORRESU IN / NOTIN the units of HGB: Length 1 is too short
    only when the clause selects records."""
    from sdtmgen.define_xml.checks import observe_folder

    observed = observe_folder(package / "sdtm", "xpt")
    lb = observed["LB"].frame
    units = sorted({str(u) for u in lb.loc[lb["LBTESTCD"] == "HGB", "LBORRESU"]})
    found = {}
    for comparator in ("IN", "NOTIN"):
        tree = copy.deepcopy(sdtm_define)
        tree.xpath("//odm:ItemDef[@OID='IT.LB.LBORRES.HGB']", namespaces=XPATH_NS)[0].set("Length", "1")
        clause = tree.xpath("//def:WhereClauseDef[@OID='WC.LB.LBTESTCD.HGB']", namespaces=XPATH_NS)[0]
        check = copy.deepcopy(clause.find(f"{ODM}RangeCheck"))
        check.set("Comparator", comparator)
        check.set(f"{DEF}ItemOID", "IT.LB.LBORRESU")
        check.find(f"{ODM}CheckValue").text = units[0]
        for unit in units[1:]:
            value = copy.deepcopy(check.find(f"{ODM}CheckValue"))
            value.text = unit
            check.append(value)
        clause.append(check)
        found[comparator] = [f for f in check_define(tree, observed, spec.terminology, package / "sdtm")
                             if f.rule == "DEFINE-LENGTH"]
    assert [f.variable for f in found["IN"]] == ["LBORRES"] and "WC.LB.LBTESTCD.HGB" in found["IN"][0].message
    assert found["NOTIN"] == []


@pytest.mark.parametrize("size", [0, 5, 65_536, 200_001])
def test_num_type_is_integer_only_when_every_value_is_whole(size):
    """Whole numbers are judged a block of numbers at a time: a fraction in the last block counts too."""
    from sdtmgen.define_xml.datatypes import num_type

    numbers = np.arange(size, dtype=float)
    if size:
        numbers[size // 3] = np.nan
        numbers[-1] = np.inf
    assert num_type(pd.Series(numbers)) == ("integer", None)
    if size:
        numbers[-2] = 7.25
        assert num_type(pd.Series(numbers)) == ("float", 2)


def test_the_xpt_writers_encoding_is_taken_over_and_gives_what_factorising_gives(tmp_path, monkeypatch):
    """In a run, writing the XPT file hands each Arrow text column's dictionary encoding to define.xml's
    DistinctValues, which then makes none itself and still gives what factorising the columns gives."""
    from sdtmgen.columns import memo

    frame = _frame(5000, 3, wide=120)  # T, W: Arrow text (W: 120 distinct values: one-byte codes)
    for column in ("T", "O"):  # XPT text is ASCII
        frame[column] = frame[column].replace("é", "e")
    frame.loc[7, "W"] = None
    variables = [XptVariable("T", "t", "Char"), XptVariable("N", "n", "Num"), XptVariable("O", "o", "Char"),
                 XptVariable("K", "k", "Char"), XptVariable("W", "w", "Char")]
    expected = DistinctValues(frame)
    wanted = {c: expected.values(c).tolist() for c in ("T", "W")}
    first = expected.first_rows(["T", "W"])
    with memo.scope():
        write_xpt(tmp_path / "x.xpt", frame[["T", "N", "O", "K", "W"]].copy(deep=False), dataset_name="X",
                  dataset_label="x", variables=variables)
        calls = []
        real = pd.Series.factorize
        monkeypatch.setattr(pd.Series, "factorize", lambda self, *a, **k: calls.append(self.name) or real(self, *a, **k))
        distinct = DistinctValues(frame)
        assert {c: distinct.values(c).tolist() for c in ("T", "W")} == wanted
        assert distinct.values("T").dtype == expected.values("T").dtype
        np.testing.assert_array_equal(distinct.first_rows(["T", "W"]), first)
        assert calls == []  # both text columns came from the writer
        assert DistinctValues(frame).first_rows(["T", "W"]).tolist() == first.tolist()  # taken once, then made
        assert calls == ["T", "W"]
    with memo.scope():  # outside the run that wrote it nothing is handed over
        assert memo.take(frame["T"], "dictionary codes") is None
