"""ISO 8601 date/time from collected date and time columns, partial dates kept partial."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from sdtmgen.dates import (DEFAULT_YEAR_PIVOT, DateFormatError, DateFormats, join_date_time, parse_distinct_dates,
                           parse_distinct_times)
from sdtmgen.arrowtext import spread_flags, spread_text_by_codes
from sdtmgen.sdtm.rules.base import MapContext, MappingRule, register_rule


@register_rule("iso8601", "collected date (formats tried in order; default DD MON YYYY, UN/UNK parts) and optional "
                          "time (HH:MM) -> ISO 8601, partial dates kept partial",
               example='{rule: iso8601, date: AESTDAT, time: AESTTIM, formats: ["DD MON YYYY", "YYYY-MM-DD"]}')
class Iso8601(MappingRule):
    rule: Literal["iso8601"]
    date: str = Field(description="raw column with the date (or date and time)")
    time: Optional[str] = Field(None, description="raw column with the time, HH:MM[:SS]; kept with partial dates too")
    formats: list[str] = Field(
        default_factory=lambda: ["DD MON YYYY"], min_length=1, max_length=20,
        description="raw formats tried in order (a value takes the first that reads it as a valid date); tokens YYYY, "
                    "YY, MON, MM (month; minutes after HH), DD, HH, SS; literals - / . : , T and space; [...] optional. "
                    "A value no format reads stops the build, told apart from an impossible date (30 FEB) in the message")
    year_pivot: int = Field(DEFAULT_YEAR_PIVOT, ge=1000, le=9000,
                            description="first year a two-digit YY can mean (1940: YY is 1940-2039)")
    unknown: Optional[list[str]] = Field(
        None, max_length=20, description="words for an unknown day, month or year (one list for every part); default "
                                         "UN/UK/XX day, UNK/UN/XXX month, UNKN/UNK/XXXX year; unknown parts give "
                                         "partial dates")

    @field_validator("unknown")
    @classmethod
    def _unknown_words(cls, words: Optional[list[str]]) -> Optional[list[str]]:
        for word in words or []:
            if not word.strip() or len(word) > 8 or any(c.isdigit() or c.isspace() for c in word):
                raise ValueError(f"unknown token {word!r}: 1-8 characters, no digits or spaces")
        return words

    @model_validator(mode="after")
    def _formats_compile(self) -> "Iso8601":
        try:
            self.date_formats().compiled()
        except DateFormatError as exc:
            raise ValueError(str(exc)) from None
        return self

    def date_formats(self) -> DateFormats:
        return DateFormats(tuple(self.formats), self.year_pivot,
                           None if self.unknown is None else tuple(w.strip().upper() for w in self.unknown))

    def columns(self) -> set[str]:
        return {self.date} | ({self.time} if self.time else set())

    def apply(self, ctx: MapContext) -> pd.Series:
        index = ctx.frame.index
        dates = ctx.distinct(self.date)
        formats = self.date_formats()
        parsed = parse_distinct_dates(dates, formats)
        invalid = spread_flags(dates, parsed.invalid)
        iso = parsed.iso
        if invalid.any():
            # a value no format reads (its layout is not listed: the spec's to fix) is told apart from an
            # impossible date in a listed layout (the data's); one finding names every cell of either kind
            unread = spread_flags(dates, parsed.unread) if parsed.unread is not None else np.zeros_like(invalid)
            n_unread, n_impossible = int(unread.sum()), int((invalid & ~unread).sum())
            add = ("add the value's layout to the rule's formats (tokens YYYY, YY, MON, MM, DD, HH, SS; literals "
                   "- / . : , T and space; [...] optional) and its words for an unknown part to unknown")
            if not n_impossible:
                message, hint = "not a valid date: no format of the rule reads it", add + ", or correct the date in the EDC"
            elif not n_unread:
                message, hint = "not a valid date", ("correct the date in the EDC; impossible dates cannot be submitted "
                                                     "(30 FEB; a year before 1800 or after 2200)")
            else:
                message = (f"not a valid date: {n_unread} row(s) in a layout none of the rule's formats has, "
                           f"{n_impossible} impossible")
                hint = f"{add}; correct impossible dates in the EDC"
            ctx.fail("iso8601", self.date, f"{message} ({formats.describe()})", invalid, hint=hint)
            iso = iso.copy()
            iso[parsed.invalid] = pd.NA  # reported (the build stops): derivations see no date
        if not self.time:
            return spread_text_by_codes(dates, iso, index)
        times = ctx.distinct(self.time)
        hhmm, bad = parse_distinct_times(times)
        bad_time = spread_flags(times, bad)
        if bad_time.any():
            ctx.fail("iso8601", self.time, "not a valid time (expected HH:MM, 24 hour)", bad_time,
                     hint="correct the time in the EDC")
        # a time is kept with any date whose year is known (partial dates too); without one it has nothing
        # to attach to. A date value with its own time keeps that one. (Rows are looked at only when some
        # date has no year or its own time.)
        no_year = spread_flags(dates, ~iso.str.match(r"\d{4}").fillna(False).to_numpy(dtype=bool), missing=True)
        own_time = spread_flags(dates, iso.str.contains("T", regex=False).fillna(False).to_numpy(dtype=bool))
        if no_year.any() or own_time.any():
            has_time = spread_flags(times, hhmm.notna().to_numpy(dtype=bool))
            orphan = has_time & no_year & ~invalid  # an invalid date is reported already
            if orphan.any():
                ctx.warn("TIME-WITHOUT-DATE", self.time, "time collected without a date (or with an unknown year); "
                         "the time is not submitted", orphan)
            overridden = has_time & own_time
            if overridden.any():
                ctx.warn("TIME-IN-DATE", self.time, f"the date column {self.date} carries its own time; the time "
                         f"column is not used", overridden)
        return join_date_time(dates, iso, times, hhmm, index)
