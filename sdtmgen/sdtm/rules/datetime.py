"""ISO 8601 date/time from collected date and time columns, partial dates kept partial."""

from __future__ import annotations

from typing import Literal, Optional

import pandas as pd

from sdtmgen.dates import join_date_time, parse_distinct_dates, parse_distinct_times
from sdtmgen.sdtm.rules.base import MapContext, MappingRule, register_rule


@register_rule("iso8601", "collected date (DD MON YYYY, UN/UNK parts) and optional time (HH:MM) -> ISO 8601")
class Iso8601(MappingRule):
    rule: Literal["iso8601"]
    date: str
    time: Optional[str] = None

    def columns(self) -> set[str]:
        return {self.date} | ({self.time} if self.time else set())

    def apply(self, ctx: MapContext) -> pd.Series:
        index = ctx.frame.index
        dates = ctx.distinct(self.date)
        parsed = parse_distinct_dates(dates)
        invalid = dates.spread_mask(parsed.invalid)
        iso = parsed.iso
        if invalid.any():
            ctx.fail(invalid, self.date, "iso8601",
                     "not a valid date (expected DD MON YYYY with UN/UNK/UNKN for unknown parts)",
                     "correct the date in the EDC; impossible dates cannot be submitted")
            iso = iso.copy()
            iso[parsed.invalid] = pd.NA  # reported (the build stops): derivations see no date
        if not self.time:
            return dates.spread_text(iso, index)
        times = ctx.distinct(self.time)
        hhmm, bad = parse_distinct_times(times)
        bad_time = times.spread_mask(bad)
        if bad_time.any():
            ctx.fail(bad_time, self.time, "iso8601", "not a valid time (expected HH:MM, 24 hour)",
                     "correct the time in the EDC")
        has_time = times.spread_mask(hhmm.notna().to_numpy(dtype=bool))
        complete = dates.spread_mask(iso.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)
                                     .to_numpy(dtype=bool))
        orphan = has_time & ~complete & ~invalid  # an invalid date is reported already
        if orphan.any():
            ctx.warn(orphan, self.time, "TIME-WITHOUT-DATE",
                     "time collected without a complete date; the time is not submitted")
        return join_date_time(dates, iso, times, hhmm, index)
