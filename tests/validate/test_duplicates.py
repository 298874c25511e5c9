"""Repeated keys found by neighbour comparison in key-sorted frames (sdtmgen/validate/duplicates.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdtmgen.validate.duplicates import duplicated_rows

nan = float("nan")


def frame(keys, numbers, codes=None) -> pd.DataFrame:
    out = pd.DataFrame({"K": pd.Series(keys, dtype="string[pyarrow]"), "N": numbers})
    if codes is not None:
        out["C"] = np.asarray(codes, dtype=np.int64)
    return out


@pytest.mark.parametrize("order", ["sorted", "reversed", "shuffled"])
def test_same_as_pandas_in_any_order(order):
    data = frame(["a", "a", "b", "b", "b", None, None, "c"], [1.0, 2.0, 1.0, 1.0, nan, nan, nan, 1.0],
                 [0, 0, 1, 1, 1, 2, 2, 3])
    data = {"sorted": data, "reversed": data.iloc[::-1],
            "shuffled": data.iloc[[3, 0, 7, 5, 1, 2, 6, 4]]}[order].reset_index(drop=True)
    for keys in (["K"], ["K", "N"], ["C", "N"], ["N", "K"]):
        expected = data.duplicated(keys, keep=False).to_numpy()
        assert (duplicated_rows(data, keys) == expected).all(), keys


def test_missing_keys_equal_each_other_and_sort_last():
    data = frame(["a", "b", "b", None, None], [1.0, 1.0, nan, nan, nan])
    assert duplicated_rows(data, ["K", "N"]).tolist() == [False, False, False, True, True]


def test_short_frames():
    assert duplicated_rows(frame([], []), ["K"]).tolist() == []
    assert duplicated_rows(frame(["a"], [1.0]), ["K"]).tolist() == [False]
