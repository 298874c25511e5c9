"""Laboratory BDS: parameters, analysis values (qualified results imputed), baseline and change, criteria."""

from __future__ import annotations

import operator
from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import (AdamContext, AdamDerivation, Codes, Distinct, Params, first_positions, flag_array,
                               group_codes, present, register_adam_derivation, text_from_codes)
from sdtmgen.columns.ordering import move_records


class Parameter(Params):
    test: str = Field(description="value of the source test code (e.g. LBTESTCD NEUT)")
    paramcd: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,7}$", description="PARAMCD of the test's records")
    param: str = Field(max_length=200, description="PARAM, with the unit, e.g. Neutrophils (10^9/L)")
    paramn: float = Field(description="PARAMN")


@register_adam_derivation("parameters", "PARAMCD/PARAM/PARAMN from the test code; records of unlisted tests are dropped",
                          example="{derive: parameters, test: _TESTCD, parameters: [{test: NEUT, paramcd: NEUT, param: Neutrophils (10^9/L), paramn: 1}]}")
class Parameters(AdamDerivation):
    derive: Literal["parameters"]
    test: str = Field(description="variable of this dataset holding the test code")
    target: str = Field("PARAMCD", description="the parameter code variable")
    text: str = Field("PARAM", description="the parameter text variable")
    number: str = Field("PARAMN", description="the parameter number variable")
    parameters: list[Parameter] = Field(min_length=1, description="one per test kept, each test once")

    @model_validator(mode="after")
    def _unique(self) -> "Parameters":
        for attr in ("test", "paramcd", "paramn"):
            seen = [getattr(p, attr) for p in self.parameters]
            if len(seen) != len(set(seen)):
                raise ValueError(f"parameters: {attr} listed twice")
        return self

    def produces(self) -> set[str]:
        return {self.target, self.text, self.number}

    def apply(self, ctx: AdamContext) -> None:
        test = ctx.column(self.test).astype("string[pyarrow]").str.strip()
        parameter = first_positions(test, pd.Series([p.test for p in self.parameters], dtype="string[pyarrow]"))
        listed = parameter >= 0
        frame = ctx.frame
        if any(frame is other for name, other in ctx.datasets.items() if name != ctx.name):
            frame = frame[listed].reset_index(drop=True)  # another dataset's frame: copy, never change it
        else:  # the dataset's own frame: nothing copied when every record is kept, else one column at a time
            frame = move_records(frame, None if listed.all() else np.flatnonzero(listed))
            # (a boolean row filter would first consolidate every numeric column into one 2-D block)
        parameter = parameter[listed]
        frame[self.target] = text_from_codes(parameter, [p.paramcd for p in self.parameters])
        frame[self.text] = text_from_codes(parameter, [p.param for p in self.parameters])
        frame[self.number] = np.array([p.paramn for p in self.parameters], dtype="float64")[parameter]
        ctx.frame = frame


QUALIFIED = r"^\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*$"


@register_adam_derivation("analysis_value", "AVAL from the numeric result; qualified results ('<0.1') imputed by rule "
                                            "and flagged; AVALC the character result",
                          example="{derive: analysis_value, numeric: _STRESN, text: _STRESC, below_limit: limit, above_limit: limit, flag: AVALIMFL}")
class AnalysisValue(AdamDerivation):
    derive: Literal["analysis_value"]
    target: str = Field("AVAL", description="the numeric analysis value")
    text_target: Optional[str] = Field("AVALC", description="the character analysis value (the result text)")
    numeric: str = Field(description="numeric result variable of this dataset (e.g. a copy of LBSTRESN)")
    text: str = Field(description="character result variable (e.g. a copy of LBSTRESC)")
    below_limit: Literal["limit", "half_limit", "missing"] = Field(
        description="'<x' / '<=x' results: x, x/2, or left missing")
    above_limit: Literal["limit", "missing"] = Field(description="'>x' / '>=x' results: x, or left missing")
    flag: Optional[str] = Field("AVALIMFL", description="Y where AVAL was imputed from a qualified result")

    def produces(self) -> set[str]:
        return {self.target} | {v for v in (self.text_target, self.flag) if v}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        value = pd.to_numeric(ctx.column(self.numeric), errors="coerce").to_numpy(dtype=float).copy()
        text = ctx.column(self.text).astype("string[pyarrow]").str.strip()
        # results repeat: read the qualifier and limit once per distinct text
        distinct = Distinct(text)
        parts = distinct.values.astype("string[pyarrow]").str.extract(QUALIFIED)
        limit = distinct.expand(pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float))
        sign = parts[0].astype("string[pyarrow]")
        below = distinct.expand(sign.str.startswith("<").fillna(False).to_numpy(dtype=bool)) & np.isnan(value)
        above = distinct.expand(sign.str.startswith(">").fillna(False).to_numpy(dtype=bool)) & np.isnan(value)
        imputed = np.zeros(len(frame), dtype=bool)
        if self.below_limit != "missing":
            factor = 0.5 if self.below_limit == "half_limit" else 1.0
            value = np.where(below, limit * factor, value)
            imputed |= below
        if self.above_limit != "missing":
            value = np.where(above, limit, value)
            imputed |= above
        frame[self.target] = value
        if self.text_target:
            frame[self.text_target] = text.where(present(text)).array
        if self.flag:
            frame[self.flag] = flag_array(imputed)


@register_adam_derivation("baseline", "baseline = last non-missing value on or before the anchor date, per subject and "
                                      "parameter: ABLFL, BASE, CHG (and PCHG) after it",
                          example="{derive: baseline, anchor: CHEMSDT, by: [PARAMCD], value: AVAL, date: ADT, order: ADTM}")
class Baseline(AdamDerivation):
    derive: Literal["baseline"]
    flag: str = Field("ABLFL", description="the baseline record flag (Y)")
    target: str = Field("BASE", description="the baseline value, on every record of the group")
    change: Optional[str] = Field("CHG", description="value - baseline")
    percent_change: Optional[str] = Field("PCHG", description="100 x (value - baseline) / baseline; missing when baseline is 0")
    by: list[str] = Field(default_factory=lambda: ["PARAMCD"], description="groups within a subject")
    value: str = Field("AVAL", description="the analysis value")
    date: str = Field("ADT", description="SAS date of the record")
    order: Optional[str] = Field("ADTM", description="SAS datetime ordering records of one day")
    anchor: str = Field(description="SAS date variable, e.g. CHEMSDT (on or before it = baseline candidate)")
    change_after_anchor_only: bool = Field(True, description="CHG/PCHG only on records after the anchor date")

    def produces(self) -> set[str]:
        return {self.flag, self.target} | {v for v in (self.change, self.percent_change) if v}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        value = pd.to_numeric(ctx.column(self.value), errors="coerce").to_numpy(dtype=float)
        date = pd.to_numeric(ctx.column(self.date), errors="coerce").to_numpy(dtype=float)
        anchor = pd.to_numeric(ctx.column(self.anchor), errors="coerce").to_numpy(dtype=float)
        order = (pd.to_numeric(ctx.column(self.order), errors="coerce").to_numpy(dtype=float)
                 if self.order else np.full(len(frame), np.nan))
        with np.errstate(invalid="ignore"):
            eligible = ~np.isnan(value) & (date <= anchor)
        group = group_codes(frame, ["USUBJID", *self.by])
        # per group, the last eligible record by date, time (missing first) and record order
        rows = np.flatnonzero(eligible & (group >= 0))
        rows = rows[np.lexsort((rows, np.nan_to_num(order[rows], nan=-np.inf), date[rows], group[rows]))]
        last = np.r_[group[rows][1:] != group[rows][:-1], True] if len(rows) else np.zeros(0, dtype=bool)
        chosen = rows[last]
        is_base = np.zeros(len(frame), dtype=bool)
        is_base[chosen] = True
        frame[self.flag] = flag_array(is_base)
        base_of = np.full(group.max() + 2 if len(group) else 1, np.nan)
        base_of[group[chosen]] = value[chosen]
        base = base_of[group]  # group -1 (a key missing) reads the last slot: NaN
        frame[self.target] = base
        with np.errstate(invalid="ignore", divide="ignore"):
            post = (date > anchor) if self.change_after_anchor_only else np.ones(len(frame), dtype=bool)
            if self.change:
                frame[self.change] = np.where(post, value - base, np.nan)
            if self.percent_change:
                frame[self.percent_change] = np.where(post & (base != 0), (value - base) / base * 100, np.nan)


class Criterion(Params):
    paramcd: str = Field(description="the parameter it applies to")
    operator: Literal["lt", "le", "gt", "ge"] = Field(description="value <, <=, >, >= the threshold")
    value: float = Field(description="the threshold")
    text: str = Field(max_length=200, description="CRITy text, e.g. 'ANC < 0.5 x10^9/L'")


OPERATORS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


@register_adam_derivation("criterion_flag", "CRITy text and CRITyFL (Y/N) per parameter from a threshold in the spec; "
                                            "parameters without a criterion get neither",
                          example="{derive: criterion_flag, target: CRIT1FL, text: CRIT1, criteria: [{paramcd: PLAT, operator: lt, value: 20, text: Platelets < 20 x10^9/L}]}")
class CriterionFlag(AdamDerivation):
    derive: Literal["criterion_flag"]
    target: str = Field(description="the flag, e.g. CRIT1FL")
    text: str = Field(description="the criterion text variable, e.g. CRIT1")
    value: str = Field("AVAL", description="the value compared")
    param: str = Field("PARAMCD", description="the parameter code variable")
    criteria: list[Criterion] = Field(min_length=1, description="one per parameter")

    @model_validator(mode="after")
    def _one_each(self) -> "CriterionFlag":
        codes = [c.paramcd for c in self.criteria]
        if len(codes) != len(set(codes)):
            raise ValueError("one criterion per parameter (use another CRITy for a second threshold)")
        return self

    def produces(self) -> set[str]:
        return {self.target, self.text}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        value = pd.to_numeric(ctx.column(self.value), errors="coerce").to_numpy(dtype=float)
        param = Codes.of(ctx.column(self.param).astype("string[pyarrow]"))
        flag = np.full(len(frame), -1, dtype=np.int8)  # codes into [Y, N]
        text = np.full(len(frame), -1, dtype=np.int32)  # codes into the criteria
        for i, crit in enumerate(self.criteria):
            rows = param.rows_with(crit.paramcd)
            text[rows] = i
            known = rows & ~np.isnan(value)
            with np.errstate(invalid="ignore"):
                met = OPERATORS[crit.operator](value, crit.value)
            flag[known & met] = 0
            flag[known & ~met] = 1
        frame[self.target] = text_from_codes(flag, ["Y", "N"])
        frame[self.text] = text_from_codes(text, [c.text for c in self.criteria])
