"""--LOBXFL: the last non-missing result on or before the reference date, per subject and test."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow.compute as pc
from pydantic import Field

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, VariableRef, register_derivation
from sdtmgen.columns.text import arrow_text, flag
from sdtmgen.sdtm.derivations.isodates import MISSING
from sdtmgen.columns.ordering import group_codes, pack, stable_order
from sdtmgen.sdtm.derivations.timing import iso_to_minutes, subject_positions


def _has_time(text) -> np.ndarray:
    """Whether each value carries a time ("T"); missing values count as date-only."""
    return np.asarray(pc.match_substring(arrow_text(text), "T").fill_null(False))


def _day_start(minutes: np.ndarray) -> np.ndarray:
    return np.where(minutes == MISSING, MISSING, minutes // 1440 * 1440)


@register_derivation("baseline_flag", "'Y' on the last non-missing result at or before the reference date/time, per subject and test",
                     example="{derive: baseline_flag, target: LBLOBXFL, by: [LBTESTCD], date: LBDTC, result: LBORRES}")
class BaselineFlag(Derivation):
    derive: Literal["baseline_flag"]
    target: str = Field(description="the flag variable (--LOBXFL or --BLFL)")
    by: list[str] = Field(description="variables besides USUBJID naming a test (e.g. [LBTESTCD])")
    date: str = Field(description="the record's --DTC")
    result: str = Field(description="a result that must not be missing (e.g. --ORRES)")
    reference: VariableRef = Field(VariableRef(domain="DM", variable="RFXSTDTC"), description="the subject's reference date/time: records at or before it qualify")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.reference.domain, self.reference.variable)}

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        subjects, rows = subject_positions(ctx, self.reference.domain)
        found = rows >= 0
        take = np.maximum(rows, 0)
        ref_text = subjects[self.reference.variable]
        ref = np.where(found, iso_to_minutes(ref_text)[take] if len(subjects) else MISSING, MISSING)
        ref_timed = found & (_has_time(ref_text)[take] if len(subjects) else False)
        when = iso_to_minutes(frame[self.date])
        # compare at date level when either side has no time: a record of the reference day without
        # a time counts as pre-dose, and so does any record of that day when the reference has no time
        by_date = ~(_has_time(frame[self.date]) & ref_timed)
        when = np.where(by_date, _day_start(when), when)
        ref_cmp = np.where(by_date, _day_start(ref), ref)
        result = arrow_text(frame[self.result])
        has_result = np.asarray(pc.greater(pc.binary_length(result), 0).fill_null(False))
        groups = group_codes(frame, ["USUBJID", *self.by])
        eligible = np.flatnonzero((when != MISSING) & (ref != MISSING) & (when <= ref_cmp) & has_result
                                  & (groups >= 0))
        # the latest eligible record of each group; of records at the same time the last one
        times = when[eligible]
        low = times.min() if len(times) else 0
        span = (times.max() - low + 1) if len(times) else 1
        order = eligible[stable_order(pack([(groups[eligible], int(groups.max(initial=-1)) + 1), (times - low, int(span))]))]
        ranked = groups[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = ranked[1:] != ranked[:-1]
        mask = np.zeros(len(frame), dtype=bool)
        mask[order[last]] = True
        frame[self.target] = flag(mask, "Y")
