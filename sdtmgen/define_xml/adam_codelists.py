"""Codelists of an ADaM define for the variables the spec gives none: from the standards and the data.

A variable with a ``codelist`` (or ``dictionary``) in the spec keeps it. For the others an ADaM
define adds, in this order:

* **the IG's codelist**: ADaMIG names a CDISC codelist for some variables, by name or by pattern
  (``*DTF`` -> C81223 Date Imputation Flag, ``*TMF`` -> C81226 Time Imputation Flag, ``EOSSTT``
  -> C124296 Subject Trial Status, ``DTYPE`` -> C81224...). The codelist of the spec's terminology
  with that C-code is used when there is one; else it is built from the packaged NCI CT (ADaM CT
  first, then SDTM CT) with the terms the data uses, in the package's order (the whole codelist
  when the variable is empty), each with its C-code, and points at that CT package.
* **parameters**: ``PARAMCD`` (decoded by ``PARAM``), ``PARAM`` and ``PARAMN`` (decoded by
  ``PARAM``) of each BDS dataset get a codelist of that dataset (``CL.ADLB.PARAMCD``) listing the
  parameters in its data, ordered by ``PARAMN``: the parameter list comes from what the spec's
  derivations wrote, never from the engine.
* **treatment variables**: ``TRTxxP``/``TRTxxA`` (and ``TRTP``/``TRTA``) get a codelist of the
  values in the data, ordered by their numeric companion ``TRTxxPN``; the companion gets an
  integer codelist decoded by the text. One codelist per variable name, shared by every dataset
  that carries it (ADSL's values, copied).

Codelists built from data are sponsor codelists (``def:IsNonStandard="Yes"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from sdtmgen.terminology import Codelist, Term

from .codelist import format_number
from .distinct import DistinctValues

#: ADaMIG's placeholders in variable names: xx two digits (01-99), w / y one digit, * any prefix
_PLACEHOLDERS = (("*", "[A-Z0-9]*"), ("xx", r"\d\d"), ("w", r"\d"), ("y", r"\d"), ("zz", r"\d\d"))

_TREATMENT = re.compile(r"TRT(\d\d)?[PA]\Z")
_TREATMENT_N = re.compile(r"TRT(\d\d)?[PA]N\Z")
PARAMETER_VARIABLES = ("PARAMCD", "PARAM", "PARAMN")


class PackagedCodelist(Codelist):
    """A codelist of the spec's model that also says which CT package it belongs to."""

    publishing_set: str = "SDTM"


def _pattern(name: str) -> re.Pattern[str]:
    text = re.escape(name)
    for placeholder, regex in _PLACEHOLDERS:
        text = text.replace(re.escape(placeholder), regex)
    return re.compile(text + r"\Z")


@lru_cache(maxsize=4)
def ig_codelists(version: str) -> tuple[dict[str, str], tuple[tuple[re.Pattern[str], str], ...]]:
    """(variable name -> NCI codelist code, (name pattern, code) ...) of the packaged ADaMIG ``version``.

    Names with placeholders (``TRxxSDTF``, ``*DTF``) become patterns; the most specific (longest
    literal part) is tried first. Several codes in one cell: the first is the variable's.
    """
    from sdtmgen.standards import UnknownStandard, packaged_ig

    try:
        ig = packaged_ig("adamig", version)
    except UnknownStandard:
        return {}, ()
    rows = ig[ig["codelists"].astype(str).str.strip() != ""]
    exact: dict[str, str] = {}
    patterns: dict[str, str] = {}
    for name, codes in zip(rows["name"], rows["codelists"]):
        code = re.split(r"[;,\s]+", str(codes).strip())[0]
        if name == name.upper() and "*" not in name:
            exact.setdefault(name, code)
        else:
            patterns.setdefault(name, code)
    ordered = sorted(patterns, key=lambda n: (-len(n.replace("*", "")), n))
    return exact, tuple((_pattern(n), patterns[n]) for n in ordered)


def ig_codelist_code(name: str, version: str) -> str | None:
    exact, patterns = ig_codelists(version)
    if name in exact:
        return exact[name]
    return next((code for pattern, code in patterns if pattern.match(name)), None)


@lru_cache(maxsize=16)
def _packaged_ct(version: str, publishing_set: str) -> pd.DataFrame | None:
    from sdtmgen.standards import UnknownStandard, controlled_terminology

    try:
        return controlled_terminology(version, publishing_set)
    except (UnknownStandard, FileNotFoundError):
        return None


def packaged_codelist(code: str, packages: list[tuple[str, str]]) -> PackagedCodelist | None:
    """The codelist ``code`` of the first CT package (publishing set, date) that has it, all its terms."""
    for publishing_set, version in packages:
        ct = _packaged_ct(version, publishing_set)
        if ct is None:
            continue
        head = ct[(ct["codelist"] == "") & (ct["code"] == code)]
        if head.empty:
            continue
        terms = ct[ct["codelist"] == code]
        return PackagedCodelist.model_construct(
            id=str(head["value"].iloc[0]), name=str(head["codelist_name"].iloc[0]), code=code,
            extensible=head["extensible"].iloc[0] == "Yes", data_type="text", case_sensitive=False,
            terms=[Term.model_construct(value=v, code=c, decode=d or None, synonyms=[], extended=False)
                   for v, c, d in zip(terms["value"], terms["code"], terms["preferred_term"])],
            publishing_set=publishing_set)
    return None


@dataclass
class DataCodelist:
    """A sponsor codelist whose terms are the values the datasets hold (with a decode and an order)."""

    id: str
    name: str
    data_type: str = "text"
    terms: dict[str, tuple[Any, str | None]] = field(default_factory=dict)  # value -> (order key, decode)

    def add(self, frame: pd.DataFrame, variable: str, decode: str | None, order: str | None,
            distinct: DistinctValues | None = None) -> None:
        """The distinct (value, decode, order) of ``frame`` as terms; ``distinct``: the frame's columns
        factorised (the define.xml builder's, shared with its other judgements of the dataset)."""
        columns = [c for c in dict.fromkeys([variable, decode, order]) if c and c in frame.columns]
        if variable not in frame.columns:
            return
        rows = distinct.rows(columns) if distinct is not None else frame[columns].drop_duplicates()
        rows = rows[rows[variable].notna()]
        numeric = self.data_type != "text"
        for record in rows.itertuples(index=False):  # distinct combinations only: a handful
            row = dict(zip(columns, record))
            value = row[variable]
            if numeric:
                if not pd.notna(value):
                    continue
                value = format_number(float(value))
            else:
                value = str(value).strip()
                if not value:
                    continue
            key = row.get(order) if order else None
            key = float(key) if key is not None and pd.notna(key) else float("inf")
            text = row.get(decode) if decode else None
            text = str(text).strip() if text is not None and pd.notna(text) and str(text).strip() else None
            old = self.terms.get(value)
            if old is None or (key, text or "") < (old[0], old[1] or ""):
                self.terms[value] = (key, text)

    def codelist(self) -> PackagedCodelist:
        def sort_key(item: tuple[str, tuple[float, str | None]]) -> tuple:
            value, (key, _) = item
            return (key, float(value) if self.data_type != "text" else 0.0, value)

        ordered = sorted(self.terms.items(), key=sort_key)
        return PackagedCodelist.model_construct(
            id=self.id, name=self.name, code=None, extensible=False, data_type=self.data_type,
            case_sensitive=True, publishing_set="",
            terms=[Term.model_construct(value=v, code=None, decode=d, synonyms=[], extended=False)
                   for v, (_, d) in ordered])


def _data_codelist(ctx: Any, codelist_id: str, name: str, data_type: str, frame: pd.DataFrame, variable: str,
                   decode: str | None, order: str | None, distinct: DistinctValues | None = None) -> str:
    holder = ctx.extra_codelists.get(codelist_id)
    if not isinstance(holder, DataCodelist):
        holder = ctx.extra_codelists[codelist_id] = DataCodelist(codelist_id, name, data_type)
    holder.add(frame, variable, decode, order, distinct)
    return codelist_id


def adam_codelist_id(ctx: Any, dataset: str, frame: pd.DataFrame, var: Any,
                     distinct: DistinctValues | None = None) -> str | None:
    """The codelist id an ADaM variable without a spec codelist gets (registered in ``ctx``), or None.

    ``distinct``: the frame's columns factorised once for the whole dataset (``DistinctValues``)."""
    name = var.name
    version = str(getattr(ctx, "ig_version", "") or "")
    code = ig_codelist_code(name, version) if version else None
    if code:
        for codelist in getattr(ctx.terminology, "codelists", []):
            if codelist.code == code:
                return codelist.id
        existing = next((cid for cid, cl in ctx.extra_codelists.items()
                         if isinstance(cl, PackagedCodelist) and cl.code == code), None)
        if existing:
            return existing
        packages = [(s, v) for s, v in ctx.ct_packages if s in ("ADaM", "SDTM")]
        codelist = packaged_codelist(code, packages)
        if codelist is not None:
            ctx.extra_codelists[codelist.id] = codelist
            return codelist.id
    if name in PARAMETER_VARIABLES and "PARAMCD" in frame.columns:
        labels = {"PARAMCD": "Parameter Code", "PARAM": "Parameter", "PARAMN": "Parameter (N)"}
        decode = "PARAM" if name != "PARAM" else None
        return _data_codelist(ctx, f"{dataset}.{name}", f"{labels[name]} ({dataset})",
                              "integer" if var.type == "Num" else "text", frame, name, decode, "PARAMN", distinct)
    if var.type == "Char" and _TREATMENT.match(name):
        return _data_codelist(ctx, name, var.label, "text", frame, name, None, f"{name}N", distinct)
    if var.type == "Num" and _TREATMENT_N.match(name):
        return _data_codelist(ctx, name, var.label, "integer", frame, name, name[:-1], name, distinct)
    return None
