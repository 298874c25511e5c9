"""VISITNUM/VISIT from the EDC folder name through the study's planned-visit table.

Planned visits come from the study spec (the same table that gives TV). Unplanned folders get
VISIT "UNSCHEDULED <n>" and VISITNUM = the last planned visit the subject attended before the
record's date + 0.01 x the rank of the unscheduled visit after it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.columns.text import take_text
from sdtmgen.sdtm.derivations.isodates import MISSING
from sdtmgen.columns.ordering import cumcount
from sdtmgen.sdtm.derivations.timing import iso_to_minutes


def unscheduled_numbers(subject: np.ndarray, day: np.ndarray, planned: np.ndarray, visitnum: np.ndarray,
                        unplanned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VISITNUM of dated unplanned records: last planned visit on or before the day + 0.01 x rank.

    The planned visit of a day is the highest VISITNUM the subject had that day; unplanned records
    of one subject and day are one visit, ranked by day among the subject's unplanned visits after
    the same planned visit. Returns (rows, their VISITNUM).
    """
    dated = day != MISSING
    low = day[dated].min() if dated.any() else 0
    span = (day[dated].max() - low + 1) if dated.any() else 1
    key = subject.astype(np.int64) * span + (day - low)
    # highest planned VISITNUM per subject and day, in key order
    p_rows = np.flatnonzero(planned & dated & ~np.isnan(visitnum))
    p_rows = p_rows[np.argsort(key[p_rows], kind="stable")]
    p_key = key[p_rows]
    p_first = np.ones(len(p_rows), dtype=bool)
    p_first[1:] = p_key[1:] != p_key[:-1]
    starts = np.flatnonzero(p_first)
    p_key = p_key[starts]
    p_num = np.maximum.reduceat(visitnum[p_rows], starts) if len(starts) else np.zeros(0)
    # each unplanned subject-day: the last planned day of the subject on or before it
    rows = np.flatnonzero(unplanned & dated)
    days, where = np.unique(key[rows], return_inverse=True)
    at = np.searchsorted(p_key, days, side="right") - 1
    hit = at >= 0
    hit[hit] = p_key[at[hit]] // span == days[hit] // span
    after = np.where(hit, p_num[np.maximum(at, 0)] if len(p_num) else 0.0, 0.0)
    # rank of the day among the subject's unplanned days after the same planned visit
    group = pd.factorize(pd.MultiIndex.from_arrays([days // span, after]))[0] if len(days) else np.zeros(0, int)
    rank = cumcount(group) + 1
    numbers = np.round(after + 0.01 * rank, 2)
    return rows, numbers[where.reshape(-1)]


@register_derivation("visits", "VISITNUM and VISIT from the collected folder name and the study's visit table",
                     example="{derive: visits, column: _VISIT, date: LBDTC}")
class Visits(Derivation):
    derive: Literal["visits"]
    column: str = Field(description="raw column (or _TEMPORARY) with the collected folder name")
    date: str = Field(description="the record's --DTC (numbers unscheduled visits by day)")
    visitnum: str = Field("VISITNUM", description="the VISITNUM variable written")
    visit: str = Field("VISIT", description="the VISIT variable written")

    def produces(self) -> set[str]:
        return {self.visitnum, self.visit}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        # few distinct folder names: look each up once
        codes, names = pd.factorize(frame[self.column].astype("string[pyarrow]"), use_na_sentinel=True)
        collected = pd.Series(names, dtype="string[pyarrow]").str.strip().str.upper()
        table_num, table_name = {}, {}
        for v in ctx.study.visits:
            for name in [v.visit, *v.collected]:
                table_num[name.upper()] = float(v.visitnum)
                table_name[name.upper()] = v.visit
        unplanned_names = {n.upper() for n in ctx.study.unplanned_visits.collected}
        seen = codes >= 0
        take = np.maximum(codes, 0)
        name_num = collected.map(table_num).astype("float64").to_numpy()
        visitnum = np.where(seen, name_num[take] if len(names) else np.nan, np.nan)
        # VISIT: a position in a table of texts -- the visit of each folder name, then unscheduled labels
        texts = [collected.map(table_name).astype("string[pyarrow]")]
        text_at = codes.astype(np.int64)
        unplanned = seen & (collected.isin(unplanned_names).to_numpy(dtype=bool)[take] if len(names) else False)
        unknown = seen & np.isnan(visitnum) & ~unplanned
        if unknown.any():
            ctx.fail("visits", self.column, "folder name is neither a planned visit nor an unplanned-visit name", unknown,
                     hint="add the folder to the study's visits (collected names) or to unplanned_visits")
        if unplanned.any():
            # unscheduled visits are counted per day: records of one day are one visit
            minutes = iso_to_minutes(frame[self.date])
            day = np.where(minutes == MISSING, MISSING, minutes // 1440)  # the day the time falls in
            subject, _ = pd.factorize(frame["USUBJID"].astype("string[pyarrow]"), use_na_sentinel=False)
            rows, numbers = unscheduled_numbers(subject, day, ~unplanned, visitnum, unplanned)
            label = ctx.study.unplanned_visits.visit
            visitnum[rows] = numbers
            distinct, which = np.unique(numbers, return_inverse=True)
            text_at[rows] = len(names) + which.reshape(-1)
            undated = unplanned & (day == MISSING)
            text_at[undated] = len(names) + len(distinct)
            texts.append(pd.Series([f"{label} {n:.2f}" for n in distinct] + [label], dtype="string[pyarrow]"))
            if undated.any():
                ctx.warn("VISIT-UNDATED", self.column, "unscheduled visit without a complete date: VISITNUM left missing", undated)
        frame[self.visitnum] = visitnum
        frame[self.visit] = take_text(pd.concat(texts, ignore_index=True), text_at)
