"""VISITNUM/VISIT from the EDC folder name through the study's planned-visit table.

Planned visits come from the study spec (the same table that gives TV). Unplanned folders get
VISIT "UNSCHEDULED <n>" and VISITNUM = the last planned visit the subject attended before the
record's date + 0.01 x the rank of the unscheduled visit after it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.sdtm.derivations.timing import iso_to_timestamp


@register_derivation("visits", "VISITNUM and VISIT from the collected folder name and the study's visit table")
class Visits(Derivation):
    derive: Literal["visits"]
    column: str
    date: str
    visitnum: str = "VISITNUM"
    visit: str = "VISIT"

    def produces(self) -> set[str]:
        return {self.visitnum, self.visit}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        collected = frame[self.column].astype("string").str.strip().str.upper()
        table_num, table_name = {}, {}
        for v in ctx.study.visits:
            for name in [v.visit, *v.collected]:
                table_num[name.upper()] = float(v.visitnum)
                table_name[name.upper()] = v.visit
        unplanned_names = {n.upper() for n in ctx.study.unplanned_visits.collected}
        visitnum = collected.map(table_num).astype("float64")
        visit = collected.map(table_name).astype("string")
        unplanned = collected.isin(unplanned_names).fillna(False).to_numpy(dtype=bool)
        unknown = collected.notna().to_numpy(dtype=bool) & visitnum.isna().to_numpy(dtype=bool) & ~unplanned
        if unknown.any():
            ctx.fail(unknown, self.column, "visits", "folder name is neither a planned visit nor an unplanned-visit name",
                     "add the folder to the study's visits (collected names) or to unplanned_visits")
        if unplanned.any():
            # unscheduled visits are counted per day: records of one day are one visit
            when = iso_to_timestamp(frame[self.date]).dt.normalize()
            planned = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(str), "_T": when, "_N": visitnum})
            planned = planned[~unplanned].dropna().sort_values("_T", kind="mergesort")
            planned = planned.groupby(["USUBJID", "_T"], as_index=False)["_N"].max().sort_values("_T", kind="mergesort")
            extra = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(str), "_T": when, "_POS": np.arange(len(frame))})[unplanned]
            extra_dated = extra.dropna(subset=["_T"]).sort_values("_T", kind="mergesort")
            found = pd.merge_asof(extra_dated, planned, on="_T", by="USUBJID", direction="backward")
            found["_N"] = found["_N"].fillna(0.0)
            # one unscheduled visit per subject and date; rank them after their planned visit
            visits = found.drop_duplicates(["USUBJID", "_T"]).copy()
            visits["_K"] = visits.groupby(["USUBJID", "_N"]).cumcount() + 1
            found = found.merge(visits[["USUBJID", "_T", "_K"]], on=["USUBJID", "_T"], how="left")
            nums = (found["_N"] + 0.01 * found["_K"]).round(2)
            label = ctx.study.unplanned_visits.visit
            if len(found):
                visitnum.iloc[found["_POS"].to_numpy()] = nums.to_numpy()
                visit.iloc[found["_POS"].to_numpy()] = (label + " " + nums.map("{:.2f}".format).astype(str)).to_numpy()
            undated = unplanned & ~np.isin(np.arange(len(frame)), found["_POS"].to_numpy())
            if undated.any():
                visit[undated] = label
                ctx.warn(undated, self.column, "VISIT-UNDATED",
                         "unscheduled visit without a complete date: VISITNUM left missing")
        frame[self.visitnum] = visitnum.to_numpy()
        frame[self.visit] = visit.to_numpy()
