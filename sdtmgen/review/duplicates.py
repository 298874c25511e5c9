"""Near-duplicates: the same event entered twice under different record keys."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from sdtmgen.review.registry import ReviewContext, ReviewHit, register_check


def _normalised(values: pd.Series) -> pd.Series:
    """Upper case, punctuation and repeated blanks folded: 'Fever ' and 'FEVER.' are the same term."""
    text = values.astype("string[pyarrow]").str.upper().str.replace(r"[^A-Z0-9]+", " ", regex=True).str.strip()
    return text.fillna("")


@register_check("DR-AE-NEAR-DUP", "warning", "AE entered more than once (same subject, term and start date)")
def repeated_adverse_events(ctx: ReviewContext) -> Iterable[ReviewHit]:
    ae = ctx.datasets.get("AE")
    if ae is None or not {"USUBJID", "AETERM", "AESTDTC"} <= set(ae.columns):
        return
    keys = pd.DataFrame({"s": ae["USUBJID"].astype("string[pyarrow]").fillna("").to_numpy(),
                         "t": _normalised(ae["AETERM"]).to_numpy(),
                         "d": ae["AESTDTC"].astype("string[pyarrow]").str.slice(0, 10).fillna("").to_numpy()})
    mask = keys.duplicated(keep=False).to_numpy() & (keys["t"] != "").to_numpy() & (keys["d"] != "").to_numpy()
    if not mask.any():
        return
    lineage = ctx.lineage.get("AE")
    where = (lineage["_FILE"].astype(str) + ":" + lineage["_ROW"].astype(str)).to_numpy() \
        if lineage is not None and "_FILE" in lineage and len(lineage) == len(ae) else \
        np.array([f"record {i + 1}" for i in range(len(ae))])
    dup = keys[mask].assign(where=where[mask])
    together = dup.groupby(["s", "t", "d"], sort=False)["where"].transform(lambda w: ", ".join(w))
    yield ReviewHit("AE", "AETERM", mask, "entered at " + together.reset_index(drop=True))
