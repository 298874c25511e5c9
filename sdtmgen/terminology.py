"""Controlled terminology from the spec: codelists, their terms and vectorised look-ups.

A codelist maps what the CRF collected (the submission value itself, its decode, or a listed
synonym, compared case-insensitively) to the CDISC submission value. Non-extensible codelists
reject anything else; extensible ones keep the collected value and report it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from sdtmgen.arrowtext import Distinct, spread_flags, spread_text_by_codes


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="CDISC submission value (or sponsor value)")
    code: Optional[str] = Field(default=None, pattern=r"^C\d+$", description="NCI C-code")
    decode: Optional[str] = Field(default=None, description="NCI preferred term / decode shown in define.xml")
    synonyms: list[str] = Field(default_factory=list, description="collected texts that mean this term")
    extended: bool = Field(default=False, description="sponsor extension of a CDISC codelist")


class Codelist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="the id variables and rules name it by (upper-case "
                                                                 "letters, digits, _); unique; define.xml CodeList OID")
    name: str = Field(description="codelist name: define.xml CodeList Name")
    code: Optional[str] = Field(default=None, pattern=r"^C\d+$", description="NCI codelist C-code; empty for sponsor codelists")
    extensible: bool = Field(description="true: a collected value matching no term is kept (upper-cased unless "
                                         "case_sensitive), reported as a warning and listed as an extended value in "
                                         "define.xml; false: it is an error")
    data_type: Literal["text", "integer", "float"] = Field(default="text", description="define.xml CodeList "
                                                                                       "DataType")
    case_sensitive: bool = Field(default=False, description="values differ by case (units): sponsor extensions "
                                                            "are kept as collected instead of upper-cased")
    terms: list[Term] = Field(description="the terms in define.xml order; a value, decode or synonym leads to one "
                                          "term")

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

    id: str = Field(description="the id variables name in their dictionary key (e.g. MEDDRA)")
    name: str = Field(description="dictionary name: define.xml ExternalCodeList Dictionary (e.g. MedDRA)")
    version: str = Field(description="dictionary version: define.xml ExternalCodeList Version (e.g. 27.1)")
    href: Optional[str] = Field(default=None, description="web address of the dictionary: define.xml "
                                                          "ExternalCodeList href (optional)")


class ExtensionTerm(BaseModel):
    """A sponsor term added to an extensible CDISC codelist taken by reference (no C-code)."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="the sponsor's submission value")
    decode: Optional[str] = Field(default=None, description="decode shown in define.xml")
    synonyms: list[str] = Field(default_factory=list, description="collected texts that mean this term")


class CodelistRef(BaseModel):
    """A codelist by reference: ``nci: C66742`` (the packaged NCI CT of ``standards.ct``) or ``file: ct/x.csv``
    (a CSV codelist file in the spec folder), with the sponsor's subset, synonyms and extensions.

    Resolved at load (:func:`sdtmgen.ct_import.resolve_terminology`) into a plain :class:`Codelist`.
    """

    model_config = ConfigDict(extra="forbid")

    nci: Optional[str] = Field(default=None, pattern=r"^C\d+$",
                               description="NCI codelist C-code: terms, C-codes, name and extensibility from the CT")
    file: Optional[str] = Field(default=None, description="CSV codelist file, relative to the spec folder")
    codelist: Optional[str] = Field(default=None, description="with file: which codelist of the file (its id or "
                                                               "C-code), when the file holds several")
    id: Optional[str] = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$",
                              description="codelist id; by default the codelist's submission value (NY for C66742)")
    terms: Optional[list[str]] = Field(default=None, min_length=1,
                                       description="only these submission values, in this order (each must exist)")
    synonyms: dict[str, str] = Field(default_factory=dict,
                                     description="sponsor synonyms: collected text -> submission value")
    extensions: list[Union[str, ExtensionTerm]] = Field(
        default_factory=list, description="sponsor terms (extensible codelists only), flagged as extensions")
    data_type: Optional[Literal["text", "integer", "float"]] = Field(
        default=None, description="define.xml CodeList DataType; default: text")
    case_sensitive: Optional[bool] = Field(default=None, description="as for a codelist written out")

    @model_validator(mode="after")
    def _one_source(self) -> "CodelistRef":
        if (self.nci is None) == (self.file is None):
            raise ValueError("give either 'nci: <C-code>' or 'file: <csv file>'")
        if self.codelist is not None and self.file is None:
            raise ValueError("'codelist' selects a codelist of a CSV file; it needs 'file'")
        if self.terms is not None:
            dupes = sorted({t for t in self.terms if self.terms.count(t) > 1})
            if dupes:
                raise ValueError(f"terms listed twice: {dupes}")
        return self

    def extension_terms(self) -> list[ExtensionTerm]:
        return [ExtensionTerm(value=e) if isinstance(e, str) else e for e in self.extensions]


def _entry_kind(data: Any) -> str:
    if isinstance(data, dict):
        return "ref" if ("nci" in data or "file" in data) else "codelist"
    return "ref" if isinstance(data, CodelistRef) else "codelist"


#: a codelist of terminology.yaml: written out, or by reference
CodelistEntry = Annotated[Union[Annotated[Codelist, Tag("codelist")], Annotated[CodelistRef, Tag("ref")]],
                          Discriminator(_entry_kind)]


class Terminology(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ct_package: str = Field(description="CDISC CT package date, e.g. 2025-03-28")
    adam_ct_package: Optional[str] = Field(
        default=None, description="NCI ADaM CT package date the ADaM define.xml cites; default: study.yaml's "
                                  "standards.ct when sdtmgen ships the ADaM CT of that date")
    codelists: list[CodelistEntry] = Field(description="codelists written out, or by reference "
                                                       "(nci: C-code, file: CSV codelist file)")
    dictionaries: list[Dictionary] = Field(default_factory=list, description="external dictionaries (MedDRA, "
                                                                              "WHODrug...) named by variables' "
                                                                              "dictionary key")

    @model_validator(mode="after")
    def _unique_ids(self) -> "Terminology":
        ids = [c.id for c in self.codelists if isinstance(c, Codelist)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"codelist ids defined twice: {dupes}")
        return self

    def get(self, codelist_id: str) -> Codelist:
        for codelist in self.codelists:
            if isinstance(codelist, Codelist) and codelist.id == codelist_id:
                return codelist
        raise KeyError(codelist_id)

    def ids(self) -> set[str]:
        """Ids of the codelists (those by reference count once resolved, see ``resolve_terminology``)."""
        return {c.id for c in self.codelists if isinstance(c, Codelist)}

    def references(self) -> bool:
        """True while a codelist is still a reference (nci: or file:) to resolve."""
        return any(isinstance(c, CodelistRef) for c in self.codelists)


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
    return spread_text_by_codes(distinct, mapped, values.index), spread_flags(distinct, unmatched)


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
