"""Same input, same bytes; ``created`` only moves the timestamp fields; chunking is invisible."""

from __future__ import annotations

import tracemalloc
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from sdtmgen.xpt import XptVariable, write_xpt

# Byte ranges of the four timestamps: library header records 2 and 3, DSCRPTR records 2 and 3.
TIMESTAMP_SPANS = [(144, 160), (160, 176), (320 + 144, 320 + 160), (320 + 160, 320 + 176)]


def _frame(n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "USUBJID": [f"01-{i % 17:03d}" for i in range(n)],
            "AVAL": np.where(rng.random(n) < 0.1, np.nan, rng.standard_normal(n)),
            "AVALC": [None if i % 9 == 0 else f"v{i}" for i in range(n)],  # high cardinality
            "PARAMCD": pd.Categorical([["ALB", "ALT", None][i % 3] for i in range(n)]),
        }
    )


VARS = [
    XptVariable("USUBJID", "Unique Subject Identifier", "Char"),
    XptVariable("AVAL", "Analysis Value", "Num", format="8.3"),
    XptVariable("AVALC", "Analysis Value (C)", "Char", length=20),
    XptVariable("PARAMCD", "Parameter Code", "Char"),
]


def _write(path, frame, **kwargs) -> bytes:
    write_xpt(path, frame, dataset_name="ADLB", dataset_label="Lab Analysis", variables=VARS,
              **kwargs)  # fmt: skip
    return path.read_bytes()


def test_same_input_same_bytes(tmp_path):
    frame = _frame()
    first = _write(tmp_path / "a.xpt", frame)
    second = _write(tmp_path / "b.xpt", frame.copy())
    assert first == second
    assert len(first) % 80 == 0
    for start, end in TIMESTAMP_SPANS:
        assert first[start:end] == b"01JAN70:00:00:00"


def test_created_changes_only_the_timestamps(tmp_path):
    frame = _frame()
    default = _write(tmp_path / "a.xpt", frame)
    stamped = _write(tmp_path / "b.xpt", frame, created=datetime(2024, 3, 9, 14, 5, 7))
    assert len(default) == len(stamped)
    differing = {i for i, (x, y) in enumerate(zip(default, stamped)) if x != y}
    in_spans = {i for s, e in TIMESTAMP_SPANS for i in range(s, e)}
    assert differing and differing <= in_spans
    for start, end in TIMESTAMP_SPANS:
        assert stamped[start:end] == b"09MAR24:14:05:07"


@pytest.mark.parametrize("chunk_rows", [1, 7, 80, 249, 250, 100_000])
def test_chunk_size_does_not_change_bytes(tmp_path, chunk_rows):
    frame = _frame()
    reference = _write(tmp_path / "ref.xpt", frame)
    assert _write(tmp_path / "c.xpt", frame, chunk_rows=chunk_rows) == reference


def test_memory_stays_bounded_by_the_chunk(tmp_path):
    # 300k rows x 46-byte records = 13.8 MB of observations; written 10k rows at a time the
    # writer should hold a few chunks (~0.5 MB each) plus small per-column code arrays,
    # never the whole output.
    n = 300_000
    rng = np.random.default_rng(5)
    pool = np.array([f"SUBJ-{i:05d}" for i in range(500)], dtype=object)
    frame = pd.DataFrame(
        {
            "USUBJID": pool[rng.integers(0, 500, n)],
            "LBTESTCD": pool[rng.integers(0, 20, n)],
            "LBSTRESC": pool[rng.integers(0, 400, n)],
            "LBSTRESN": rng.standard_normal(n),
            "LBDY": np.arange(n, dtype=float),
        }
    )
    variables = [
        XptVariable(c, c, "Num" if frame[c].dtype.kind == "f" else "Char") for c in frame.columns
    ]
    path = tmp_path / "big.xpt"
    tracemalloc.start()
    try:
        write_xpt(path, frame, dataset_name="LB", dataset_label="", variables=variables,
                  chunk_rows=10_000)  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = path.stat().st_size
    assert output > 13_000_000
    print(f"peak {peak / 1e6:.2f} MB")
    assert peak < 8_000_000, f"peak traced memory {peak / 1e6:.1f} MB for {output / 1e6:.0f} MB"
