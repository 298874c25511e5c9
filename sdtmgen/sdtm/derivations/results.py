"""Findings results: standard character/numeric results and units, reference ranges, --NRIND."""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.sdtm.derivations.base import DeriveContext, Derivation, register_derivation
from sdtmgen.columns.text import take_text
from sdtmgen.columns.ordering import dense_codes, with_missing


class UnitConversion(BaseModel):
    """original unit -> standard unit by a factor; ``tests`` limits it to some test codes."""

    model_config = ConfigDict(extra="forbid")

    from_unit: str = Field(description="the original unit (--ORRESU)")
    to_unit: str = Field(description="the standard unit (--STRESU) it converts to")
    factor: float = Field(description="standard value = original value x factor")
    tests: Optional[list[str]] = Field(None, description="test codes it applies to (default: every test)")


#: a plain or qualified number (``<0.1``) by decimal mark; the number part is group 2
NUMBER = {mark: rf"^(<=|>=|<|>)?\s*([-+]?(?:\d+(?:\{mark}\d*)?|\{mark}\d+)(?:[eE][-+]?\d+)?)$" for mark in ".,"}
#: a number written with the other decimal mark than the spec's (``1,5`` where ``.`` is expected)
OTHER_MARK = {".": r"^(?:<=|>=|<|>)?\s*[-+]?\d*,\d+$", ",": r"^(?:<=|>=|<|>)?\s*[-+]?\d*\.\d+$"}


def scaled(values: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """values * factor rounded to 8 decimals, without numpy warnings: an overflow gives inf, which the
    callers stop on; numbers too large to have decimals are not rounded (np.round would overflow them)."""
    with np.errstate(over="ignore", invalid="ignore"):
        product = values * factor
        return np.where(np.abs(product) < 1e15, np.round(product, 8), product)


def format_number(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip text for numbers (no trailing zeros), vectorised."""
    out = np.char.mod("%.10g", np.where(np.isnan(values), 0.0, values)).astype(object)
    out[np.isnan(values)] = None
    return out


@register_derivation("standard_results", "--STRESC/--STRESN/--STRESU and standard ranges from the original result and unit",
                     example="{derive: standard_results, test: LBTESTCD, orres: LBORRES, orresu: LBORRESU, stresc: LBSTRESC, stresn: LBSTRESN, stresu: LBSTRESU, standard_units: {HGB: g/L}, conversions: [{from_unit: g/dL, to_unit: g/L, factor: 10}]}")
class StandardResults(Derivation):
    derive: Literal["standard_results"]
    test: str = Field(description="the --TESTCD variable")
    orres: str = Field(description="the original result")
    orresu: str = Field(description="its unit")
    stresc: str = Field(description="standard result as text")
    stresn: str = Field(description="standard result as a number")
    stresu: str = Field(description="standard unit")
    standard_units: dict[str, str] = Field(description="test code -> its standard unit; \"\" for a test without unit (a ratio such as Kt/V)")
    conversions: list[UnitConversion] = Field([], description="unit conversions by factor")
    ornrlo: Optional[str] = Field(None, description="original reference range lower limit")
    ornrhi: Optional[str] = Field(None, description="original reference range upper limit")
    stnrlo: Optional[str] = Field(None, description="standard lower limit written from ornrlo")
    stnrhi: Optional[str] = Field(None, description="standard upper limit written from ornrhi")
    decimal: Literal[".", ","] = Field(".", description="decimal mark the export writes; ',' reads 1,5 as 1.5 (the original result keeps its text)")  # "," reads "1,5" as 1.5 (the original result keeps its text)

    def produces(self) -> set[str]:
        return {v for v in (self.stresc, self.stresn, self.stresu, self.stnrlo, self.stnrhi) if v}

    def _pairs(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """Code of each record's (test, original unit) pair, and the distinct pairs (few)."""
        test_codes, tests = with_missing(frame[self.test])
        unit_codes, units = with_missing(frame[self.orresu])
        codes, pairs = dense_codes(test_codes * len(units) + unit_codes, len(tests) * len(units))
        return codes, pd.DataFrame({"test": tests.take(pairs // len(units)).to_numpy(),
                                    "unit": units.take(pairs % len(units)).to_numpy()})

    def _factors(self, pairs: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
        """Conversion factor to the standard unit (NaN: none) and the standard unit of each pair."""
        test = pairs["test"].astype("string[pyarrow]")
        unit = pairs["unit"].astype("string[pyarrow]").str.strip()
        target = test.map(self.standard_units).astype("string[pyarrow]")
        factor = pd.Series(np.nan, index=pairs.index)
        factor[(unit == target).fillna(False)] = 1.0
        # a test without unit (ratios such as Kt/V or INR: standard unit "") is standard as collected
        unitless = (target == "").fillna(False) & (unit.isna() | (unit == "").fillna(False))
        factor[unitless.to_numpy(dtype=bool)] = 1.0
        for conv in self.conversions:
            hit = (unit == conv.from_unit) & (target == conv.to_unit)
            if conv.tests is not None:
                hit &= test.isin(conv.tests)
            factor[hit.fillna(False)] = conv.factor
        return factor.to_numpy(dtype=float), target

    def _check(self, ctx: DeriveContext, has_result: np.ndarray, no_target: np.ndarray, no_factor: np.ndarray) -> None:
        no_standard = has_result & no_target
        if no_standard.any():
            ctx.fail("standard_results", self.test, "test has no standard unit in the spec", no_standard,
                     hint="add the test code to standard_units")
        unknown = has_result & ~no_target & no_factor
        if unknown.any():
            ctx.fail("standard_results", self.orresu, "no conversion from this unit to the test's standard unit", unknown,
                     hint="add the unit conversion to the spec, or correct the unit in the EDC")

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        # results, tests and units repeat (a 10,000-subject LB has ~1,300 distinct results): work on
        # distinct results, distinct (test, unit) pairs and distinct combinations of the two
        pair, pairs = self._pairs(frame)
        pair_factor, pair_target = self._factors(pairs)
        result, distinct = with_missing(frame[self.orres])
        text = distinct.str.strip().fillna("")
        result_missing = (text == "").to_numpy(dtype=bool)
        missing = result_missing[result]
        self._check(ctx, ~missing, pair_target.isna().to_numpy(dtype=bool)[pair], np.isnan(pair_factor)[pair])
        factor = pair_factor[pair]
        parts = text.str.extract(NUMBER[self.decimal])
        self._check_decimal_comma(ctx, self.orres, text, parts[1].isna().to_numpy(dtype=bool), result)
        if self.decimal == ",":
            parts[1] = parts[1].str.replace(",", ".", regex=False)
        result_number = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
        unreadable = parts[1].notna().to_numpy(dtype=bool) & ~np.isfinite(result_number)  # e.g. 1e400
        self._check_finite(ctx, self.orres, unreadable[result], "result is not a finite number")
        result_qualified = parts[0].notna().to_numpy(dtype=bool)
        # the standard result of each distinct (result, test and unit) combination, spread by its code
        combo, combos = dense_codes(result * len(pairs) + pair, len(text) * len(pairs))
        of_result = combos // len(pairs)
        number, combo_factor = result_number[of_result], pair_factor[combos % len(pairs)]
        standard = scaled(number, combo_factor)
        converted = np.isfinite(number) & np.isfinite(combo_factor)  # else reported above, or by _check
        self._check_finite(ctx, self.orres, (converted & ~np.isfinite(standard))[combo],
                           "the result in the standard unit is not a finite number (overflow)")
        # a plain number gets STRESN; a qualified one ("<0.1") keeps its text in STRESC only
        frame[self.stresn] = np.where(result_qualified[of_result], np.nan, standard)[combo]
        stresc = self._standard_text(text.take(of_result), parts[0].take(of_result).to_numpy(dtype=object),
                                     result_number[of_result], pair_factor[combos % len(pairs)])
        frame[self.stresc] = take_text(stresc, combo)
        frame[self.stresu] = take_text(pair_target, np.where(missing, -1, pair))
        for original, target in ((self.ornrlo, self.stnrlo), (self.ornrhi, self.stnrhi)):
            if original and target:
                codes, limits = with_missing(frame[original])
                text = limits.astype("string[pyarrow]").str.strip().fillna("")
                if self.decimal == ",":
                    text = text.str.replace(r"^([-+]?\d*),(\d+)$", r"\1.\2", regex=True)
                limit = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
                unreadable = ((text != "").to_numpy(dtype=bool) & ~np.isfinite(limit))[codes] & (codes >= 0)
                comma = text.str.contains(",", regex=False).to_numpy(dtype=bool)[codes] & (self.decimal == ".")
                for bad, why, hint in ((unreadable & comma, " (a decimal comma?)",
                                        "; if the export writes decimal commas, set decimal: ',' on this derivation"),
                                       (unreadable & ~comma, "", "")):
                    if bad.any():
                        ctx.fail("standard_results", original, "reference range limit is not a finite number"
                                 + why, bad,
                                 hint="correct the limit in the EDC" + hint)
                standard_limit = scaled(limit[codes], factor)
                # a limit already reported as unreadable (inf, 1e400), or of a unit with no conversion
                # (reported by _check), is not reported again as an overflow
                converted = np.isfinite(limit[codes]) & np.isfinite(factor)
                self._check_finite(ctx, original, converted & ~np.isfinite(standard_limit),
                                   "the limit in the standard unit is not a finite number (overflow)")
                frame[target] = standard_limit

    def _check_decimal_comma(self, ctx: DeriveContext, variable: str, text: pd.Series, not_number: np.ndarray,
                             codes: np.ndarray) -> None:
        """Stop on a result written with the other decimal mark than the spec's (it would lose --STRESN)."""
        other = (text.str.match(OTHER_MARK[self.decimal]).to_numpy(dtype=bool) & not_number)[codes]
        if other.any():
            mark = "comma" if self.decimal == "." else "point"
            ctx.fail("standard_results", variable, f"result written with a decimal {mark}, which the spec's decimal: {self.decimal!r} does not "
                     f"read: as text it would have no --STRESN", other,
                     hint="correct the result in the EDC, or set decimal on the standard_results derivation to the "
                     "mark the export writes")

    @staticmethod
    def _check_finite(ctx: DeriveContext, variable: str, bad: np.ndarray, message: str) -> None:
        if bad.any():
            ctx.fail("standard_results", variable, message, bad,
                     hint="correct the value in the EDC")

    @staticmethod
    def _standard_text(text: pd.Series, qualifier: np.ndarray, number: np.ndarray, factor: np.ndarray) -> pd.Series:
        """--STRESC of distinct (result, factor) combinations."""
        missing = (text == "").to_numpy(dtype=bool)
        qualified = pd.notna(qualifier)
        standard = scaled(number, factor)
        stresc = format_number(standard)
        stresc = np.where(qualified, np.where(qualified, qualifier, "").astype(object) + stresc.astype(str), stresc)
        non_numeric = ~missing & np.isnan(number)
        stresc = np.where(non_numeric, text.str.upper().to_numpy(dtype=object), stresc)
        stresc = np.where(missing, None, stresc)
        return pd.Series(pd.array(stresc, dtype="string[pyarrow]"))


@register_derivation("reference_range_indicator", "--NRIND: LOW/HIGH/NORMAL from the standard result and range",
                     example="{derive: reference_range_indicator, target: LBNRIND, result: LBSTRESN, low: LBSTNRLO, high: LBSTNRHI}")
class ReferenceRangeIndicator(Derivation):
    derive: Literal["reference_range_indicator"]
    target: str = Field(description="the --NRIND variable")
    result: str = Field(description="the standard numeric result")
    low: str = Field(description="the lower limit variable")
    high: str = Field(description="the upper limit variable")
    low_value: str = Field("LOW", description="text below the range")
    high_value: str = Field("HIGH", description="text above the range")
    normal_value: str = Field("NORMAL", description="text within the range")

    def apply(self, ctx: DeriveContext) -> None:
        frame = ctx.frame
        value = frame[self.result].to_numpy(dtype=float)
        low = frame[self.low].to_numpy(dtype=float)
        high = frame[self.high].to_numpy(dtype=float)
        # the position of each record's text in (normal, low, high), -1: none; no Python string per record
        out = np.full(len(frame), -1, dtype=np.intp)
        known = ~np.isnan(value) & (~np.isnan(low) | ~np.isnan(high))
        out[known] = 0
        out[known & ~np.isnan(low) & (value < low)] = 1
        out[known & ~np.isnan(high) & (value > high)] = 2
        frame[self.target] = take_text(pd.Series([self.normal_value, self.low_value, self.high_value],
                                                 dtype="string[pyarrow]"), out)
