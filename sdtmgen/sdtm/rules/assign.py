"""Direct rules: copy a raw column, hardcode a value, read a number, study-level values."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, StrictFloat, StrictInt, StrictStr

from sdtmgen.arrowtext import constant_text, spread_flags, spread_text_by_codes
from sdtmgen.sdtm.rules.base import MapContext, MappingRule, as_text, register_rule


@register_rule("assign", "copy a raw column as collected (trimmed; optionally upper-cased)",
               example="{rule: assign, column: AETERM}")
class Assign(MappingRule):
    rule: Literal["assign"]
    column: str = Field(description="raw column (FORM.COLUMN for a lookup's column)")
    upper: bool = Field(False, description="upper-case the value")

    def columns(self) -> set[str]:
        return {self.column}

    def apply(self, ctx: MapContext) -> pd.Series:
        text = as_text(ctx.frame[self.column], ctx.frame.index)
        return text.str.upper() if self.upper else text


@register_rule("hardcode", "the same value on every record",
               example="{rule: hardcode, value: AE}")
class Hardcode(MappingRule):
    rule: Literal["hardcode"]
    value: StrictStr | StrictInt | StrictFloat = Field(  # quote text: YAML reads a bare No as false
        description="the value; quote text that YAML would read otherwise (\"No\", \"1.0\")")

    def apply(self, ctx: MapContext) -> pd.Series:
        if isinstance(self.value, str):
            return constant_text(self.value, ctx.frame.index)
        return pd.Series(float(self.value), index=ctx.frame.index, dtype="float64")


@register_rule("number", "a numeric raw column; non-numeric or non-finite text stops the build "
                         "(decimal: ',' reads decimal commas)",
               example="{rule: number, column: AGE}")
class Number(MappingRule):
    rule: Literal["number"]
    column: str = Field(description="raw column holding the number")
    decimal: Literal[".", ","] = Field(".", description="decimal mark the export writes; a value with the other mark "
                                                        "stops the build")

    def columns(self) -> set[str]:
        return {self.column}

    def apply(self, ctx: MapContext) -> pd.Series:
        distinct = ctx.distinct(self.column)  # each distinct text converted once
        text = as_text(distinct.values, distinct.values.index)
        if self.decimal == ",":  # 1,5 -> 1.5; a decimal point is then not read (a thousands separator?)
            has_point = text.str.contains(".", regex=False).fillna(False)
            text = text.where(~has_point, "?").str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
        bad = spread_flags(distinct, text.notna().to_numpy(dtype=bool) & ~np.isfinite(numbers))
        if bad.any():
            ctx.fail("number", self.column, "value is not a finite number"
                     + (" (a decimal comma? see the rule's decimal option)" if self.decimal == "." else ""), bad,
                     hint="correct the value in the EDC, or map the column with 'assign' if it is text")
            numbers = np.where(np.isfinite(numbers), numbers, np.nan)  # reported; derivations see no number
        per_row = np.append(numbers, np.nan)[np.where(distinct.codes < 0, len(numbers), distinct.codes)]
        return pd.Series(per_row, index=ctx.frame.index, dtype="float64")


@register_rule("study", "a value from the study metadata (e.g. studyid)",
               example="{rule: study, field: studyid}")
class StudyValue(MappingRule):
    rule: Literal["study"]
    field: Literal["studyid"] = Field(description="the study.yaml field")

    def apply(self, ctx: MapContext) -> pd.Series:
        return constant_text(getattr(ctx.study, self.field), ctx.frame.index)


MAX_KEY_LENGTH = 200  # XPT v5 text, in characters (ASCII)


@register_rule("usubjid", "STUDYID, a separator and the subject number: unique across studies",
               example="{rule: usubjid, column: SUBJECT}")
class Usubjid(MappingRule):
    rule: Literal["usubjid"]
    column: str = Field("SUBJECT", description="raw column with the subject number")
    separator: str = Field("-", description="between STUDYID and the subject number")

    def columns(self) -> set[str]:
        return {self.column}

    def apply(self, ctx: MapContext) -> pd.Series:
        # built once per distinct subject number (a subject has many records), then spread to the rows
        distinct = ctx.distinct(self.column)
        subject = as_text(distinct.values, distinct.values.index)
        missing = spread_flags(distinct, subject.isna().to_numpy(dtype=bool), missing=True)
        if missing.any():
            ctx.fail("usubjid", self.column, "subject number is empty", missing,
                     hint="every raw record needs its subject number")
        usubjid = (ctx.study.studyid + self.separator + subject).astype("string[pyarrow]")
        too_long = (usubjid.str.len().fillna(0) > MAX_KEY_LENGTH).to_numpy(dtype=bool)
        if too_long.any():  # a key cannot be split into SUPP-- like long text: it identifies records
            ctx.fail("usubjid", self.column, f"subject number makes a USUBJID longer than {MAX_KEY_LENGTH} characters",
                     spread_flags(distinct, too_long), hint="correct the subject number in the EDC")
            usubjid = usubjid.mask(too_long)  # the cell is reported; left missing, it reaches no dataset key
        return spread_text_by_codes(distinct, usubjid, ctx.frame.index)


@register_rule("record_position", "the raw line number of a log form, as text (for --SPID/--REFID)",
               example="{rule: record_position}")
class RecordPosition(MappingRule):
    rule: Literal["record_position"]
    column: str = Field("RECORDPOSITION", description="reader column with the record's position in its form")
    prefix: Optional[str] = Field(None, description="text put before the position")

    def columns(self) -> set[str]:
        return {self.column}

    def apply(self, ctx: MapContext) -> pd.Series:
        text = as_text(ctx.frame[self.column], ctx.frame.index)
        return (self.prefix + text) if self.prefix else text


@register_rule("not_collected", "present in the dataset (Expected by the IG) but not collected: always missing",
               example="{rule: not_collected}")
class NotCollected(MappingRule):
    rule: Literal["not_collected"]

    def apply(self, ctx: MapContext) -> pd.Series:
        return constant_text(None, ctx.frame.index)
