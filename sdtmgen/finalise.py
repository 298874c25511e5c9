"""Record order of a dataset, SDTM and ADaM alike: --SEQ numbering and the finalise step.

A dataset's records are in the order of its declared ``keys`` (missing values first), ties kept in
raw file order (``_FILE``, ``_ROW``) and then in their current order: one stable, deterministic sort
(:func:`record_order`), done on integer codes (``sdtmgen.columns.ordering``), and skipped
when the records are already in that order.

- :func:`number_records` is the ``seq`` derivation of both families (``--SEQ``, ``ASEQ``): the records
  sorted, then numbered 1..n within each subject (or other ``by`` variable), in that order.
- :func:`finalise` turns a working frame into the dataset written: sorted by the keys, the spec's
  variables only and in the spec's order, ``Num`` as float64 and ``Char`` as Arrow text with blanks
  missing; helper columns (``_FILE``, ``_ROW``, ``_ARMCD``, ...) dropped, the raw file and row of each
  record returned beside it as the lineage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

from sdtmgen.columns.text import blank_to_missing, missing_text
from sdtmgen.columns.ordering import cumcount, factorize, key_order, move_records, take_records

if TYPE_CHECKING:
    from sdtmgen.spec.models import AdamDatasetSpec, DomainSpec

    DatasetSpec = Union[DomainSpec, AdamDatasetSpec]

LINEAGE_COLUMNS = ["_FILE", "_ROW"]
"""The raw file and row of each record: its last tie-breakers, and the lineage written beside the dataset."""


def sort_columns(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """The key variables present, then the raw file order (``_FILE``, ``_ROW``) to break ties."""
    return [k for k in keys if k in frame.columns] + [c for c in LINEAGE_COLUMNS if c in frame.columns]


def record_order(frame: pd.DataFrame, keys: list[str], likely_sorted: bool = True) -> np.ndarray | None:
    """The stable permutation putting ``frame`` in the order of ``keys`` (see the module); None when the
    records are in that order already.

    ``likely_sorted`` is only a hint for speed: True compares neighbouring rows first (cheap when they
    are in order), False sorts at once (records in raw order, e.g. mapped ones).
    """
    return key_order(frame, sort_columns(frame, keys), likely_sorted)


def number_records(frame: pd.DataFrame, keys: list[str], target: str, by: str = "USUBJID", *,
                   likely_sorted: bool = True, shared: bool = False) -> pd.DataFrame:
    """The records in key order (``keys`` without ``target``) with ``target`` = 1, 2, ... within each
    value of ``by`` (float64; missing where ``by`` is missing); returns the frame to use from now on.

    ``shared``: ``frame`` also belongs to someone else (another dataset), so it is copied, never changed;
    otherwise its columns are moved into the reordered frame one at a time (``frame`` is left empty),
    so that the records never exist twice in memory.
    """
    order = record_order(frame, [k for k in keys if k != target], likely_sorted)
    # the groups read before the move, where ``by`` (a key, usually) is encoded already, and moved
    # with the records: the moved column would be encoded again (a groupby on the text would make a
    # Python string per record)
    codes, _ = factorize(frame[by])
    if order is not None:
        codes = codes[order]
    if shared:
        taken = take_records(frame, order)
        frame = taken.copy(deep=False) if taken is frame else taken  # a column added here stays here
    else:
        frame = move_records(frame, order)
    frame[target] = np.where(codes >= 0, cumcount(codes) + 1.0, np.nan)
    return frame


def finalise(spec: "DatasetSpec", frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dataset as written and its lineage (``_FILE``, ``_ROW`` of each record, when the frame has them).

    Only the spec's columns are converted and, when the records are not yet in key order, moved; the
    working frame is left as it was (its caller drops it).
    """
    order = record_order(frame, spec.keys)
    n = len(frame)
    columns = {}
    for var in spec.variables:
        if var.type == "Num":
            values = (pd.to_numeric(frame[var.name], errors="coerce").to_numpy(dtype="float64")
                      if var.name in frame.columns else np.full(n, np.nan))
            columns[var.name] = values if order is None else values[order]
        else:
            text = blank_to_missing(frame[var.name]) if var.name in frame.columns else missing_text(n)
            columns[var.name] = text if order is None else text.take(order)
    # copy=False: the columns are not copied again into one 2-D block (the input frame is a
    # working frame its caller drops; a dataset's numbers would otherwise exist twice at this point)
    out = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    lineage = take_records(frame[[c for c in LINEAGE_COLUMNS if c in frame.columns]], order)
    return out, lineage
