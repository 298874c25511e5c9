"""--LOBXFL: the last non-missing result on or before the reference date, per subject and test."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation
from sdtmgen.sdtm.derivations.timing import iso_to_timestamp


@register_derivation("baseline_flag", "'Y' on the last non-missing result at or before the reference date/time, per subject and test")
class BaselineFlag(Derivation):
    derive: Literal["baseline_flag"]
    target: str
    by: list[str]
    date: str
    result: str
    reference: VariableRef = VariableRef(domain="DM", variable="RFXSTDTC")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.reference.domain, self.reference.variable)}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        when = iso_to_timestamp(frame[self.date])
        ref_iso = ctx.subject_values(self.reference).astype("string")
        ref = iso_to_timestamp(ref_iso)
        # compare at date level when either side has no time: a record of the reference day without
        # a time counts as pre-dose, and so does any record of that day when the reference has no time
        date_only = ~frame[self.date].astype("string").str.contains("T", regex=False).fillna(False)
        ref_date_only = ~ref_iso.str.contains("T", regex=False).fillna(False)
        by_date = (date_only | ref_date_only).to_numpy()
        when = when.where(~by_date, when.dt.normalize())
        ref_cmp = ref.where(~by_date, ref.dt.normalize())
        result = frame[self.result].astype("string")
        eligible = (when.notna() & ref.notna() & (when <= ref_cmp) & result.notna() & (result != "")).to_numpy()
        candidates = pd.DataFrame({"_T": when, "_POS": np.arange(len(frame))})
        for col in ["USUBJID", *self.by]:
            candidates[col] = frame[col].to_numpy()
        candidates = candidates[eligible].sort_values("_T", kind="mergesort")
        last = candidates.groupby(["USUBJID", *self.by], sort=False)["_POS"].last().to_numpy()
        flag = pd.Series(pd.NA, index=frame.index, dtype="string")
        flag.iloc[last] = "Y"
        frame[self.target] = flag.to_numpy()
