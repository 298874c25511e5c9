"""Controlled terminology from the spec: codelists, their terms and vectorised look-ups.

A codelist maps what the CRF collected (the submission value itself, its decode, or a listed
synonym, compared case-insensitively) to the CDISC submission value. Non-extensible codelists
reject anything else; extensible ones keep the collected value and report it.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sdtmgen.arrowtext import Distinct


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="CDISC submission value (or sponsor value)")
    code: Optional[str] = Field(default=None, pattern=r"^C\d+$", description="NCI C-code")
    decode: Optional[str] = Field(default=None, description="NCI preferred term / decode shown in define.xml")
    synonyms: list[str] = Field(default_factory=list, description="collected texts that mean this term")
    extended: bool = Field(default=False, description="sponsor extension of a CDISC codelist")


class Codelist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    name: str
    code: Optional[str] = Field(default=None, pattern=r"^C\d+$", description="NCI codelist C-code; empty for sponsor codelists")
    extensible: bool
    data_type: Literal["text", "integer", "float"] = "text"
    case_sensitive: bool = Field(default=False, description="values differ by case (units): sponsor extensions "
                                                            "are kept as collected instead of upper-cased")
    terms: list[Term]

    @model_validator(mode="after")
    def _unique_terms(self) -> "Codelist":
        seen: dict[str, str] = {}
        for term in self.terms:
            if term.value in seen:
                raise ValueError(f"term '{term.value}' listed twice")
            seen[term.value] = term.value
        for term in self.terms:
            for text in [term.decode, *term.synonyms]:
                if text is not None and seen.setdefault(text.strip(), term.value) != term.value:
                    raise ValueError(f"'{text}' maps to both '{seen[text.strip()]}' and '{term.value}'")
        return self

    def values(self) -> list[str]:
        return [t.value for t in self.terms]

    def lookup_tables(self, output: str = "value") -> tuple[dict[str, str], dict[str, str]]:
        """(exact text -> result, upper-cased text -> result).

        Exact matches win (submission values first, then decodes and synonyms); the
        case-insensitive table keeps only texts that are unambiguous without case, since units
        such as g/L and G/L (giga per litre) differ only by case.
        """
        exact: dict[str, str] = {}
        folded: dict[str, set[str]] = {}
        for term in self.terms:
            out = term.value if output == "value" else (term.decode or term.value)
            exact[term.value.strip()] = out
        for term in self.terms:
            out = term.value if output == "value" else (term.decode or term.value)
            for text in [term.value, term.decode, *term.synonyms]:
                if text is not None:
                    exact.setdefault(text.strip(), out)
                    folded.setdefault(text.strip().upper(), set()).add(out)
        unambiguous = {k: next(iter(v)) for k, v in folded.items() if len(v) == 1}
        return exact, unambiguous


class Dictionary(BaseModel):
    """An external dictionary (MedDRA, WHODrug, CTCAE): named and versioned, never shipped."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    version: str
    href: Optional[str] = None


class Terminology(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ct_package: str = Field(description="CDISC CT package date, e.g. 2025-03-28")
    adam_ct_package: Optional[str] = Field(
        default=None, description="NCI ADaM CT package date the ADaM define.xml cites; default: study.yaml's "
                                  "standards.ct when sdtmgen ships the ADaM CT of that date")
    codelists: list[Codelist]
    dictionaries: list[Dictionary] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Terminology":
        ids = [c.id for c in self.codelists]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"codelist ids defined twice: {dupes}")
        return self

    def get(self, codelist_id: str) -> Codelist:
        for codelist in self.codelists:
            if codelist.id == codelist_id:
                return codelist
        raise KeyError(codelist_id)

    def ids(self) -> set[str]:
        return {c.id for c in self.codelists}


def map_to_codelist(values: pd.Series, codelist: Codelist, output: str = "value",
                    distinct: Distinct | None = None) -> tuple[pd.Series, np.ndarray]:
    """Map collected text to submission values.

    Returns the mapped series (missing stays missing) and a boolean mask of the non-missing values
    that matched no term. For extensible codelists unmatched values are kept as
    collected (upper-cased unless the codelist is case-sensitive, like units); for non-extensible ones they are set missing (the caller raises).
    Each distinct collected text is looked up once (``distinct``: ``values`` factorised, if at hand).
    """
    distinct = distinct or Distinct.of(values)
    mapped, unmatched = _map_distinct(distinct.values, codelist, output)
    return distinct.spread_text(mapped, values.index), distinct.spread_mask(unmatched)


def _map_distinct(values: pd.Series, codelist: Codelist, output: str) -> tuple[pd.Series, np.ndarray]:
    text = values.astype("string[pyarrow]").str.strip()
    key = text.str.upper()
    exact, folded = codelist.lookup_tables(output)
    mapped = text.map(exact).astype("string[pyarrow]").fillna(key.map(folded).astype("string[pyarrow]"))
    present = ~(text.isna() | (text == "")).to_numpy(dtype=bool)
    unmatched = present & mapped.isna().to_numpy(dtype=bool)
    if codelist.extensible and unmatched.any():
        mapped = mapped.where(~unmatched, text if codelist.case_sensitive else key)
    return mapped, unmatched
