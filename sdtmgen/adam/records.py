"""Assembling records: take SDTM records, add subject-level variables, SUPP-- qualifiers, constants, --SEQ."""

from __future__ import annotations

from typing import Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import AdamContext, AdamDerivation, register_adam_derivation, take_rows, text_from_codes
from sdtmgen.conditions import Condition
from sdtmgen.errors import SpecError
from sdtmgen.columns.ordering import cumcount, factorize, move_records, take_records
from sdtmgen.finalise import record_order


@register_adam_derivation("source_records", "the dataset's records: one per record of an SDTM (or ADaM) dataset, "
                                            "optionally filtered, with variables copied or renamed",
                          example="{derive: source_records, dataset: DM, variables: [STUDYID, SUBJID, AGE, SEX], rename: {_ARMCD: ARMCD}}")
class SourceRecords(AdamDerivation):
    derive: Literal["source_records"]
    dataset: str = Field(description="SDTM domain (or ADaM dataset) the records come from")
    where: Optional[Condition] = Field(None, description="only the source records where this holds")
    variables: list[str] = Field(default_factory=list, description="copied with the same name")
    rename: dict[str, str] = Field(default_factory=dict, description="new name -> variable of the source")

    @model_validator(mode="after")
    def _distinct(self) -> "SourceRecords":
        twice = sorted(set(self.variables) & set(self.rename))
        if twice:
            raise ValueError(f"both copied and renamed: {twice}")
        return self

    def produces(self) -> set[str]:
        return set(self.variables) | set(self.rename)

    def needs(self) -> set[tuple[str, str]]:
        read = set(self.variables) | set(self.rename.values()) | {"USUBJID"}
        if self.where is not None:
            read |= self.where.columns()
        return {(self.dataset, v) for v in read}

    def creates_records(self) -> bool:
        return True

    def apply(self, ctx: AdamContext) -> None:
        source = ctx.source(self.dataset)
        keep = self.where.evaluate(source) if self.where is not None else None
        columns = {name: name for name in ["USUBJID", *self.variables]} | self.rename

        def records(name: str):
            # text stays Arrow-backed; only the kept records of the read columns are copied
            values = source[name].array if isinstance(source[name].dtype, pd.StringDtype) else source[name].to_numpy()
            return values if keep is None else values[keep]

        ctx.frame = pd.DataFrame({target: records(name) for target, name in columns.items()})


@register_adam_derivation("merge_subject", "subject-level variables of another dataset (usually ADSL) on every record",
                          example="{derive: merge_subject, dataset: ADSL, variables: [TRT01P, TRT01PN, SAFFL]}")
class MergeSubject(AdamDerivation):
    derive: Literal["merge_subject"]
    dataset: str = Field("ADSL", description="the subject-level dataset (one record per USUBJID)")
    variables: list[str] = Field(min_length=1, description="its variables copied onto every record of the subject")

    def produces(self) -> set[str]:
        return set(self.variables)

    def needs(self) -> set[tuple[str, str]]:
        return {(self.dataset, v) for v in self.variables} | {(self.dataset, "USUBJID")}

    def apply(self, ctx: AdamContext) -> None:
        frame, other = ctx.frame, ctx.source(self.dataset)
        rows = ctx.subject_rows(self.dataset)
        for name in self.variables:
            frame[name] = take_rows(other[name], rows)


def _id_text(values: pd.Series) -> pd.Series:
    """Values as SUPP-- IDVARVAL text: integral numbers without '.0'."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        whole = numbers.notna() & (numbers == numbers.round())
        text = numbers.astype("string[pyarrow]")
        text[whole] = numbers[whole].astype("int64").astype("string[pyarrow]")
        return text
    return values.astype("string[pyarrow]").str.strip()


@register_adam_derivation("supp_qualifier", "a supplemental qualifier (SUPP-- QNAM) as a variable, "
                                            "matched on USUBJID and IDVAR/IDVARVAL",
                          example="{derive: supp_qualifier, target: AEDLT, dataset: SUPPAE, qnam: AEDLT}")
class SuppQualifier(AdamDerivation):
    derive: Literal["supp_qualifier"]
    target: str = Field(description="the variable written, e.g. AEDLT")
    dataset: str = Field(description="the SUPP-- dataset, e.g. SUPPAE")
    qnam: str = Field(description="the QNAM whose QVAL is taken")

    def needs(self) -> set[tuple[str, str]]:
        return {(self.dataset, v) for v in ("USUBJID", "QNAM", "QVAL", "IDVAR", "IDVARVAL")}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        supp = ctx.source(self.dataset)
        supp = supp[supp["QNAM"].astype("string[pyarrow]") == self.qnam]
        value = pd.Series(pd.NA, index=frame.index, dtype="string[pyarrow]")
        for idvar, rows in supp.groupby(supp["IDVAR"].astype("string[pyarrow]"), sort=True):
            if idvar not in frame.columns:
                raise SpecError(f"ADaM {ctx.name}: {self.dataset} QNAM {self.qnam} is linked by {idvar}, "
                                f"which is not a variable of {ctx.name} (copy it in source_records)")
            table = pd.Series(rows["QVAL"].astype("string[pyarrow]").to_numpy(),
                              index=pd.MultiIndex.from_arrays([rows["USUBJID"].astype("string[pyarrow]"),
                                                               rows["IDVARVAL"].astype("string[pyarrow]").str.strip()]))
            table = table[~table.index.duplicated(keep="first")]
            keys = pd.MultiIndex.from_arrays([frame["USUBJID"].astype("string[pyarrow]"), _id_text(frame[idvar])])
            found = table.reindex(keys).to_numpy()
            mask = pd.notna(found)
            value[mask] = found[mask]
        frame[self.target] = value.array


@register_adam_derivation("constant", "variables with one value on every record (e.g. SRCDOM, ADURU)",
                          example="{derive: constant, values: {SRCDOM: LB, SRCVAR: LBSTRESN}}")
class Constant(AdamDerivation):
    derive: Literal["constant"]
    values: dict[str, Union[str, float]] = Field(min_length=1, description="variable -> its value (text or number)")

    def produces(self) -> set[str]:
        return set(self.values)

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        for name, value in self.values.items():
            if isinstance(value, str):
                frame[name] = text_from_codes(np.zeros(len(frame), dtype=np.int8), [value])
            else:
                frame[name] = np.full(len(frame), float(value))


@register_adam_derivation("seq", "sequence number 1..n within subject, in the dataset's key order",
                          example="{derive: seq, target: ASEQ}")
class Seq(AdamDerivation):
    derive: Literal["seq"]
    target: str = Field(description="the sequence variable (e.g. ASEQ)")
    by: str = Field("USUBJID", description="numbering restarts for each value of this variable")

    def apply(self, ctx: AdamContext) -> None:
        # records taken from SDTM are usually in key order already; another dataset's frame is copied, not moved
        shared = any(ctx.frame is other for name, other in ctx.datasets.items() if name != ctx.name)
        ctx.frame = _number_records(ctx.frame, ctx.dataset.keys, self.target, self.by, shared=shared)


def _number_records(frame: pd.DataFrame, keys: list[str], target: str, by: str, shared: bool) -> pd.DataFrame:
    """``sdtmgen.finalise.number_records`` (same order, same numbers) with ``by`` encoded before the records
    move -- its encoding is usually the run's shared one already (baseline, subject lookups) -- and the
    groups counted in one pass when each is one run of records (by sorted first: USUBJID), instead of
    encoding the moved 2.1 M ADLB subjects again and sorting their codes."""
    codes, _ = factorize(frame[by])
    order = record_order(frame, [k for k in keys if k != target])
    if shared:
        taken = take_records(frame, order)
        frame = taken.copy(deep=False) if taken is frame else taken  # a column added here stays here
    else:
        frame = move_records(frame, order)
    codes = np.asarray(codes) if order is None else np.asarray(codes)[order]
    frame[target] = np.where(codes >= 0, _cumcount(codes) + 1.0, np.nan)
    return frame


def _cumcount(codes: np.ndarray) -> np.ndarray:
    """``sdtmgen.columns.ordering.cumcount``: 0, 1, 2... within each code in row order; without its sort
    when the codes never decrease (each group one run of records)."""
    n = len(codes)
    if n and not (codes[1:] >= codes[:-1]).all():
        return cumcount(codes)
    starts = np.ones(n, dtype=bool)
    starts[1:] = codes[1:] != codes[:-1]
    return np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
