"""Findings results: standard character/numeric results and units, reference ranges, --NRIND."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation


class UnitConversion(BaseModel):
    """original unit -> standard unit by a factor; ``tests`` limits it to some test codes."""

    model_config = ConfigDict(extra="forbid")

    from_unit: str
    to_unit: str
    factor: float
    tests: Optional[list[str]] = None


def format_number(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text for numbers (no trailing zeros), vectorised."""
    out = np.char.mod("%.10g", np.where(np.isnan(values), 0.0, values)).astype(object)
    out[np.isnan(values)] = None
    return out


@register_derivation("standard_results", "--STRESC/--STRESN/--STRESU and standard ranges from the original result and unit")
class StandardResults(Derivation):
    derive: Literal["standard_results"]
    test: str
    orres: str
    orresu: str
    stresc: str
    stresn: str
    stresu: str
    standard_units: dict[str, str]
    conversions: list[UnitConversion] = []
    ornrlo: Optional[str] = None
    ornrhi: Optional[str] = None
    stnrlo: Optional[str] = None
    stnrhi: Optional[str] = None

    def produces(self) -> set[str]:
        return {v for v in (self.stresc, self.stresn, self.stresu, self.stnrlo, self.stnrhi) if v}

    def _factors(self, ctx: DeriveContext) -> np.ndarray:
        frame = ctx.frame
        test = frame[self.test].astype("string")
        unit = frame[self.orresu].astype("string").str.strip()
        target = test.map(self.standard_units).astype("string")
        factor = pd.Series(np.nan, index=frame.index)
        factor[(unit == target).fillna(False)] = 1.0
        for conv in self.conversions:
            hit = (unit == conv.from_unit) & (target == conv.to_unit)
            if conv.tests is not None:
                hit &= test.isin(conv.tests)
            factor[hit.fillna(False)] = conv.factor
        has_result = frame[self.orres].astype("string").fillna("").str.strip() != ""
        no_standard = (has_result & target.isna()).to_numpy(dtype=bool)
        if no_standard.any():
            ctx.fail(no_standard, self.test, "standard_results", "test has no standard unit in the spec",
                     "add the test code to standard_units")
        unknown = (has_result & target.notna() & factor.isna()).to_numpy(dtype=bool)
        if unknown.any():
            ctx.fail(unknown, self.orresu, "standard_results",
                     "no conversion from this unit to the test's standard unit",
                     "add the unit conversion to the spec, or correct the unit in the EDC")
        return factor.to_numpy(dtype=float)

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        factor = self._factors(ctx)
        text = frame[self.orres].astype("string").str.strip().fillna("")
        missing = (text == "").to_numpy(dtype=bool)
        # results repeat (a 10,000-subject LB has ~1,300 distinct ones): parse each once
        codes, distinct = pd.factorize(text)
        parts = pd.Series(distinct, dtype="string").str.extract(
            r"^(<=|>=|<|>)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$").iloc[codes].set_axis(frame.index)
        number = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
        qualified = parts[0].notna().to_numpy(dtype=bool)
        standard = np.round(number * factor, 8)
        # a plain number gets STRESN; a qualified one ("<0.1") keeps its text in STRESC only
        stresn = np.where(qualified, np.nan, standard)
        stresc = format_number(standard)
        stresc = np.where(qualified, parts[0].fillna("").to_numpy(dtype=object) + stresc.astype(str), stresc)
        non_numeric = ~missing & np.isnan(number)
        upper = pd.Series(distinct, dtype="string").str.upper().to_numpy(dtype=object)[codes]
        stresc = np.where(non_numeric, upper, stresc)
        stresc = np.where(missing, None, stresc)
        frame[self.stresc] = pd.array(stresc, dtype="string")
        frame[self.stresn] = stresn
        unit_std = frame[self.test].astype("string").map(self.standard_units).astype("string")
        frame[self.stresu] = unit_std.where(~missing).to_numpy()
        for original, target in ((self.ornrlo, self.stnrlo), (self.ornrhi, self.stnrhi)):
            if original and target:
                limit = pd.to_numeric(frame[original], errors="coerce").to_numpy(dtype=float)
                frame[target] = np.round(limit * factor, 8)


@register_derivation("reference_range_indicator", "--NRIND: LOW/HIGH/NORMAL from the standard result and range")
class ReferenceRangeIndicator(Derivation):
    derive: Literal["reference_range_indicator"]
    target: str
    result: str
    low: str
    high: str
    low_value: str = "LOW"
    high_value: str = "HIGH"
    normal_value: str = "NORMAL"

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        value = frame[self.result].to_numpy(dtype=float)
        low = frame[self.low].to_numpy(dtype=float)
        high = frame[self.high].to_numpy(dtype=float)
        out = np.full(len(frame), None, dtype=object)
        known = ~np.isnan(value) & (~np.isnan(low) | ~np.isnan(high))
        out[known] = self.normal_value
        out[known & ~np.isnan(low) & (value < low)] = self.low_value
        out[known & ~np.isnan(high) & (value > high)] = self.high_value
        frame[self.target] = pd.array(out, dtype="string")
