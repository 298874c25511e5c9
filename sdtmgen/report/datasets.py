"""Which datasets the results read (kept in memory by the build until the results are written)."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

DATASETS = ("ADSL", "ADAE", "ADLB", "ADTTE", "CM", "VS")


def report_datasets(sdtm: Mapping[str, pd.DataFrame], adam: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """What the report reads: the ADaM datasets, SDTM CM (transfusion markers, anti-infective classes) and
    SDTM VS (temperatures of the derived febrile-neutropenia check), SDTM TS (the data cut-off date)."""
    found = {name: adam[name] for name in DATASETS if name in adam}
    for name in ("CM", "VS", "TS"):  # TS: the data cut-off date (DCUTDTC) shown on the page
        if name in sdtm:
            found[name] = sdtm[name]
    return found
