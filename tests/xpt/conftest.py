"""Shared fixtures for the XPT writer tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import pytest

from sdtmgen.xpt import XptVariable, write_xpt
from sdtmgen.xpt.layout import XptLayout, parse_layout


def variables_for(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> list[XptVariable]:
    """Char for object/string columns, Num for everything else; label defaults to the name."""
    labels = labels or {}
    out = []
    for name in frame.columns:
        kind = "Char" if frame[name].dtype == object or frame[name].dtype == "string" else "Num"
        out.append(XptVariable(name, labels.get(name, f"Label of {name}"), kind))
    return out


@pytest.fixture
def write_ours(tmp_path: Path) -> Callable[..., XptLayout]:
    counter = iter(range(10_000))

    def _write(
        frame: pd.DataFrame,
        variables: Sequence[XptVariable] | None = None,
        *,
        dataset_name: str = "TEST",
        dataset_label: str = "Test data set",
        **kwargs,
    ) -> XptLayout:
        path = tmp_path / f"ours_{next(counter)}.xpt"
        write_xpt(
            path,
            frame,
            dataset_name=dataset_name,
            dataset_label=dataset_label,
            variables=variables if variables is not None else variables_for(frame),
            **kwargs,
        )
        return parse_layout(path)

    _write.tmp_path = tmp_path  # type: ignore[attr-defined]
    return _write


@pytest.fixture
def write_pyreadstat(tmp_path: Path) -> Callable[..., XptLayout]:
    pyreadstat = pytest.importorskip("pyreadstat")
    counter = iter(range(10_000))

    def _write(
        frame: pd.DataFrame,
        variables: Sequence[XptVariable] | None = None,
        *,
        dataset_name: str = "TEST",
        dataset_label: str = "Test data set",
    ) -> XptLayout:
        variables = variables if variables is not None else variables_for(frame)
        path = tmp_path / f"pyreadstat_{next(counter)}.xpt"
        pyreadstat.write_xport(
            frame,
            str(path),
            file_label=dataset_label,
            column_labels=[v.label for v in variables],
            table_name=dataset_name,
            file_format_version=5,
            variable_format={v.name: v.format for v in variables if v.format},
        )
        return parse_layout(path)

    return _write
