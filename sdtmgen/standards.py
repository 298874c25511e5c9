"""Implementation-guide metadata (SDTMIG variables: label, type, core) read from a CDISC export.

The metadata file is an input of the build named in study.yaml (``standards.sdtmig_variables``),
not shipped with the tool; without it the IG conformance rules are skipped and the report says so.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdtmgen.errors import SpecError

IG_COLUMNS = {"Dataset Name": "dataset", "Variable Name": "name", "Variable Label": "label",
              "Type": "type", "Core": "core"}


def load_ig_variables(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(f"{path}: SDTMIG metadata file not found") from None
    missing = [c for c in IG_COLUMNS if c not in frame.columns]
    if missing:
        raise SpecError(f"{path}: not an SDTMIG variable export (missing columns {missing})")
    return frame[list(IG_COLUMNS)].rename(columns=IG_COLUMNS)
