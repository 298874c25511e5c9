"""XptError for everything XPT v5 / FDA rules reject, naming the variable, row and value."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptError, XptVariable, write_xpt

pytestmark = pytest.mark.filterwarnings("error")


def _write(tmp_path, frame, variables, **kwargs):
    kwargs.setdefault("dataset_name", "DM")
    kwargs.setdefault("dataset_label", "Demographics")
    write_xpt(tmp_path / "out.xpt", frame, variables=variables, **kwargs)


GOOD = pd.DataFrame({"USUBJID": ["01-001", "01-002"], "AGE": [34.0, 51.0]})
GOOD_VARS = [XptVariable("USUBJID", "Unique Subject Identifier", "Char"),
             XptVariable("AGE", "Age", "Num")]  # fmt: skip


def test_xpt_error_is_a_value_error():
    assert issubclass(XptError, ValueError)


@pytest.mark.parametrize(
    "bad_name", ["TOOLONGNM", "usubjid", "1ST", "A-B", "", "ÄGE", "A B", " AGE"]
)
def test_invalid_variable_names(tmp_path, bad_name):
    frame = GOOD.rename(columns={"AGE": bad_name})
    variables = [GOOD_VARS[0], XptVariable(bad_name, "Age", "Num")]
    with pytest.raises(XptError, match=rf"variable name {bad_name!r} is not a valid XPT v5 name"):
        _write(tmp_path, frame, variables)


def test_valid_edge_names(tmp_path):
    frame = pd.DataFrame({"_": ["x"], "A1234567": [1.0], "Z_9": ["y"]})
    variables = [XptVariable("_", "u", "Char"), XptVariable("A1234567", "a" * 40, "Num"),
                 XptVariable("Z_9", "", "Char")]  # fmt: skip
    _write(tmp_path, frame, variables, dataset_name="_ABCDEFG", dataset_label="x" * 40)
    assert (tmp_path / "out.xpt").stat().st_size % 80 == 0


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("x" * 41, r"label of variable 'AGE' 'x{41}' is 41 characters long \(max 40\)"),
        ("Âge", r"label of variable 'AGE' 'Âge' contains non-ASCII"),
    ],
)
def test_invalid_variable_labels(tmp_path, label, message):
    variables = [GOOD_VARS[0], XptVariable("AGE", label, "Num")]
    with pytest.raises(XptError, match=message):
        _write(tmp_path, GOOD, variables)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset_name": "DEMOGRAPH"}, r"dataset name 'DEMOGRAPH' is not a valid XPT v5 name"),
        ({"dataset_name": "dm"}, r"dataset name 'dm'"),
        ({"dataset_label": "L" * 41}, r"dataset label 'L{41}' is 41 characters long"),
        ({"dataset_label": "Démographie"}, r"dataset label .* non-ASCII"),
    ],
)
def test_invalid_dataset_name_and_label(tmp_path, kwargs, message):
    with pytest.raises(XptError, match=message):
        _write(tmp_path, GOOD, GOOD_VARS, **kwargs)


def _char_frame(values, index=None):
    return pd.DataFrame({"AETERM": pd.Series(values, dtype=object, index=index)})


@pytest.mark.parametrize("rows", [5, 100_000])  # dictionary and direct (high-cardinality) paths
def test_non_ascii_value_names_variable_row_and_value(tmp_path, rows):
    values = [f"TERM {i}" for i in range(rows)]
    values[3] = "CAFÉ"
    values[4] = "naïve"
    with pytest.raises(XptError) as err:
        _write(tmp_path, _char_frame(values), [XptVariable("AETERM", "Reported Term", "Char")])
    assert str(err.value) == (
        "variable 'AETERM': value at row 3 contains non-ASCII characters: 'CAFÉ'"
    )


@pytest.mark.parametrize("rows", [5, 100_000])
def test_value_over_200_bytes(tmp_path, rows):
    values = [f"TERM {i}" for i in range(rows)]
    values[2] = "x" * 200  # fine
    values[4] = "y" * 201
    with pytest.raises(XptError) as err:
        _write(tmp_path, _char_frame(values), [XptVariable("AETERM", "Reported Term", "Char")])
    message = str(err.value)
    assert message.startswith(
        "variable 'AETERM': value at row 4 is 201 bytes long, longer than the XPT v5 limit of "
        "200 bytes: 'yyyy"
    )


def test_value_longer_than_declared_length(tmp_path):
    frame = _char_frame(["abc", None, "abcdef", "abcdefgh"], index=[10, 11, 12, 13])
    with pytest.raises(XptError, match=r"'AETERM': value at row 2 \(index 12\) is 6 bytes long, "
                                       r"longer than the declared length 5: 'abcdef'"):  # fmt: skip
        _write(tmp_path, frame, [XptVariable("AETERM", "Term", "Char", length=5)])


def test_first_offending_row_wins_in_dictionary_path(tmp_path):
    # distinct bad values: the one appearing first in the frame is reported
    frame = _char_frame(["ok", "ok", "über", "ok", "x" * 300, "über"])
    with pytest.raises(XptError, match=r"row 2 contains non-ASCII characters: 'über'"):
        _write(tmp_path, frame, [XptVariable("AETERM", "Term", "Char")])
    frame = _char_frame(["ok", "x" * 300, "über"])
    with pytest.raises(XptError, match=r"row 1 is 300 bytes long"):
        _write(tmp_path, frame, [XptVariable("AETERM", "Term", "Char")])


def test_categorical_with_bad_value(tmp_path):
    frame = pd.DataFrame({"SEX": pd.Categorical(["M", "F", None, "Männlich"],
                                                categories=["Männlich", "F", "M", "Ünused"])})  # fmt: skip
    with pytest.raises(XptError, match=r"'SEX': value at row 3 contains non-ASCII.*'Männlich'"):
        _write(tmp_path, frame, [XptVariable("SEX", "Sex", "Char")])
    # unused categories are not written, so they need not be valid
    frame = pd.DataFrame({"SEX": pd.Categorical(["M", None], categories=["M", "Ünused"])})
    _write(tmp_path, frame, [XptVariable("SEX", "Sex", "Char")])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a", 5, "b"], r"'AETERM': value at row 1 is not a string: 5 \(int\)"),
        (["a", "b", b"bytes"], r"'AETERM': value at row 2 is not a string: b'bytes' \(bytes\)"),
    ],
)
def test_non_string_in_char_column(tmp_path, values, message):
    with pytest.raises(XptError, match=message):
        _write(tmp_path, _char_frame(values), [XptVariable("AETERM", "Term", "Char")])


def test_non_number_in_num_column(tmp_path):
    frame = pd.DataFrame({"AGE": pd.Series([1.0, None, "34", 5], dtype=object)})
    with pytest.raises(XptError, match=r"'AGE' is declared Num but the value at row 2 is not a "
                                       r"number: '34' \(str\)"):  # fmt: skip
        _write(tmp_path, frame, [XptVariable("AGE", "Age", "Num")])


@pytest.mark.parametrize("value", [1e76, -7.3e75, 2.0**252])
def test_numeric_overflow(tmp_path, value):
    frame = pd.DataFrame({"AVAL": [1.0, 2.0, value, value]})
    with pytest.raises(XptError, match=r"'AVAL': value at row 2 is .* outside the IBM floating"):
        _write(tmp_path, frame, [XptVariable("AVAL", "Value", "Num")])


def test_largest_ibm_value_is_fine(tmp_path):
    frame = pd.DataFrame({"AVAL": [np.nextafter(2.0**252, 0), -7.2e75, 1e-300]})
    _write(tmp_path, frame, [XptVariable("AVAL", "Value", "Num")])


@pytest.mark.parametrize(
    ("frame", "variables", "message"),
    [
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Num")], r"'A' is declared Num but"),
        (pd.DataFrame({"A": [1.5]}), [XptVariable("A", "a", "Char")], r"'A' is declared Char but the column has dtype float64"),
        (pd.DataFrame({"A": pd.to_datetime(["2024-01-01"])}), [XptVariable("A", "a", "Num")], r"convert dates/datetimes"),
        (pd.DataFrame({"A": [1.0]}), [XptVariable("A", "a", "Num", length=4)], r"'A': Num variables are always written with length 8"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Char", length=0)], r"'A': length 0 outside 1..200"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Char", length=201)], r"'A': length 201 outside"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Text")], r"'A': type must be 'Char' or 'Num'"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("B", "b", "Char")], r"no column for variable\(s\) \['B'\]"),
        (pd.DataFrame({"A": ["x"], "B": ["y"]}), [XptVariable("A", "a", "Char")], r"columns not described by variables: \['B'\]"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Char")] * 2, r"'A' is listed twice"),
        (pd.DataFrame({"A": ["x"]}), [], r"at least one variable"),
        (pd.DataFrame({"A": [1.0]}), [XptVariable("A", "a", "Num", format="$CHAR8.")], r"'A': character format"),
        (pd.DataFrame({"A": ["x"]}), [XptVariable("A", "a", "Char", format="DATE9.")], r"'A': numeric format"),
        (pd.DataFrame({"A": [1.0]}), [XptVariable("A", "a", "Num", format="TOOLONGFMT9.")], r"'A': format name 'TOOLONGFMT' is longer than 8"),
        (pd.DataFrame({"A": [1.0]}), [XptVariable("A", "a", "Num", format="9DATE.")], r"'A': cannot parse format"),
    ],
)  # fmt: skip
def test_metadata_errors(tmp_path, frame, variables, message):
    with pytest.raises(XptError, match=message):
        _write(tmp_path, frame, variables)


def test_all_missing_float_column_is_a_blank_char_column(tmp_path):
    # an empty CSV column comes back from pandas as float NaN
    frame = pd.DataFrame({"A": [np.nan, np.nan], "B": ["x", "y"]})
    _write(tmp_path, frame, [XptVariable("A", "a", "Char"), XptVariable("B", "b", "Char")])
    raw = (tmp_path / "out.xpt").read_bytes()
    assert raw.endswith(b" x y" + b" " * 76)


def test_error_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "out.xpt"
    target.write_bytes(b"previous")
    frame = pd.DataFrame({"AETERM": ["ok", "ñ"]})
    with pytest.raises(XptError):
        _write(tmp_path, frame, [XptVariable("AETERM", "Term", "Char")])
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xpt"]


def test_bad_arguments(tmp_path):
    with pytest.raises(XptError, match="chunk_rows must be a positive integer"):
        _write(tmp_path, GOOD, GOOD_VARS, chunk_rows=0)
    with pytest.raises(XptError, match="created must be a datetime"):
        _write(tmp_path, GOOD, GOOD_VARS, created="2024-01-01")
    with pytest.raises(XptError, match="frame must be a pandas DataFrame"):
        _write(tmp_path, {"USUBJID": ["x"]}, GOOD_VARS)
    _write(tmp_path, GOOD, GOOD_VARS, created=datetime(2001, 12, 31, 23, 59, 59))


def test_unhashable_value_in_char_column(tmp_path):
    frame = _char_frame(["a", ["not", "a", "string"], "b"])
    with pytest.raises(XptError, match=r"'AETERM': value at row 1 is not a string: \['not'"):
        _write(tmp_path, frame, [XptVariable("AETERM", "Term", "Char")])


def test_duplicate_frame_columns(tmp_path):
    frame = pd.DataFrame([["x", "y"]], columns=["A", "A"])
    with pytest.raises(XptError, match=r"duplicate columns \['A'\]"):
        _write(tmp_path, frame, [XptVariable("A", "a", "Char")])
