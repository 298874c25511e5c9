"""``CodeList``: the spec's codelists and the external dictionaries variables are coded with.

* A CDISC codelist (it has an NCI code) points at its CT package (``def:StandardOID``) and
  carries ``Alias Context="nci:ExtCodeID"`` on the list and on every term that has a C-code.
  Sponsor codelists are ``def:IsNonStandard="Yes"``.
* Terms are ``CodeListItem`` with a ``Decode`` when the codelist decodes anything (value !=
  decode), else ``EnumeratedItem``; the spec's order is kept.
* Sponsor extensions get ``def:ExtendedValue="Yes"``: terms marked ``extended`` in the spec, and
  values found in the data of an extensible codelist that the spec does not list (the build has
  already reported those as SCH-CT-EXT warnings). Values outside a non-extensible codelist are
  not added: the consistency check reports them.
* External dictionaries (MedDRA, WHODrug, CTCAE) are ``ExternalCodeList`` with their version,
  one per data type used (``CL.MEDDRA`` text, ``CL.MEDDRA.INTEGER`` for the numeric codes).
"""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd
from lxml import etree

from .context import DefineContext, translated
from .datatypes import present_numbers, present_text
from .oids import codelist_oid, define, odm

NCI = "nci:ExtCodeID"


def data_values(values: pd.Series | None, var_type: str) -> list[str]:
    """Distinct values as they are compared with coded values (numbers without a trailing .0)."""
    if var_type == "Num":
        return sorted({format_number(v) for v in present_numbers(values)})
    return sorted(set(present_text(values)))


def format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def dictionary_oid(dictionary_id: str, data_type: str) -> str:
    return codelist_oid(dictionary_id) if data_type == "text" else codelist_oid(f"{dictionary_id}.{data_type.upper()}")


def codelist_ref(ctx: DefineContext, dataset: str, var: Any, values: pd.Series | Callable[[], pd.Series | None] | None,
                 data_type: str, codelist_id: str | None = None) -> str | None:
    """The CodeListOID of a variable (its codelist, else its dictionary); registers what it uses.

    ``values``: the variable's values (or its distinct values), or a function giving them, called
    only for a codelist (to register the values used).
    """
    codelist_id = codelist_id or getattr(var, "codelist", None)
    dictionary_id = getattr(var, "dictionary", None)
    if codelist_id:
        if codelist_id not in ctx.terminology.ids() and codelist_id not in ctx.extra_codelists:
            ctx.warn("DEFINE-CODELIST", dataset, f"unknown codelist {codelist_id}; no CodeListRef written", var.name)
            return None
        if dictionary_id:
            ctx.warn("DEFINE-CODELIST", dataset, f"both codelist {codelist_id} and dictionary {dictionary_id}; "
                     "define.xml references the codelist", var.name)
        ctx.use_codelist(codelist_id, data_values(values() if callable(values) else values, var.type))
        return codelist_oid(codelist_id)
    if dictionary_id:
        found = [d for d in getattr(ctx.terminology, "dictionaries", []) if d.id == dictionary_id]
        if not found:
            ctx.warn("DEFINE-CODELIST", dataset, f"unknown dictionary {dictionary_id}; no CodeListRef written", var.name)
            return None
        dtype = "text" if data_type not in ("integer", "float") else data_type
        oid = dictionary_oid(dictionary_id, dtype)
        ctx.dictionaries.setdefault(oid, (found[0], dtype))
        return oid
    return None


def _standard(ctx: DefineContext, element: etree._Element, codelist: Any) -> None:
    if codelist.code:
        publishing_set = getattr(codelist, "publishing_set", None) or "SDTM"
        oid = ctx.ct_standard_oids.get(publishing_set) or next(iter(ctx.ct_standard_oids.values()), None)
        if oid:
            element.set(define("StandardOID"), oid)
            return
    element.set(define("IsNonStandard"), "Yes")


def CodeList(ctx: DefineContext, codelist: Any, used: set[str]) -> etree._Element:  # noqa: N802
    element = etree.Element(odm("CodeList"), OID=codelist_oid(codelist.id), Name=codelist.name,
                            DataType=codelist.data_type)
    _standard(ctx, element, codelist)
    known = set(codelist.values())
    extensions = sorted(used - known) if codelist.extensible else []
    decoded = any(t.decode and t.decode != t.value for t in codelist.terms)
    order = 0
    rows = [(t.value, t.decode, t.code, bool(t.extended)) for t in codelist.terms]
    rows += [(value, None, None, True) for value in extensions]
    for value, decode, code, extended in rows:
        order += 1
        tag = "CodeListItem" if decoded else "EnumeratedItem"
        item = etree.SubElement(element, odm(tag), CodedValue=value, OrderNumber=str(order))
        if extended:
            item.set(define("ExtendedValue"), "Yes")
        if decoded:
            translated(item, odm("Decode"), decode or value)
        if code and not extended:
            etree.SubElement(item, odm("Alias"), Context=NCI, Name=code)
    if codelist.code:
        etree.SubElement(element, odm("Alias"), Context=NCI, Name=codelist.code)
    return element


def ExternalCodeList(dictionary: Any, data_type: str) -> etree._Element:  # noqa: N802
    name = dictionary.name if data_type == "text" else f"{dictionary.name} ({data_type} codes)"
    element = etree.Element(odm("CodeList"), OID=dictionary_oid(dictionary.id, data_type), Name=name,
                            DataType=data_type)
    element.set(define("IsNonStandard"), "Yes")
    external = etree.SubElement(element, odm("ExternalCodeList"), Dictionary=dictionary.name,
                                Version=str(dictionary.version))
    if getattr(dictionary, "href", None):
        external.set("href", dictionary.href)
    return element


def _resolved(ctx: DefineContext, codelist_id: str, used: set[str]) -> Any:
    """The codelist to write: the spec's, or one an ADaM define added (:mod:`.adam_codelists`) -- built
    from the data, or a packaged CT codelist cut to the terms the data uses (all of them when none)."""
    extra = ctx.extra_codelists.get(codelist_id)
    if extra is None:
        return ctx.terminology.get(codelist_id)
    if hasattr(extra, "codelist"):
        return extra.codelist()
    kept = [t for t in extra.terms if t.value in used]
    return extra.model_copy(update={"terms": kept}) if kept else extra


def codelist_elements(ctx: DefineContext) -> list[etree._Element]:
    """Every codelist and dictionary the ItemDefs reference, sorted by OID."""
    elements = [(codelist_oid(cid), CodeList(ctx, _resolved(ctx, cid, used), used))
                for cid, used in ctx.codelists.items()]
    elements += [(oid, ExternalCodeList(dictionary, dtype)) for oid, (dictionary, dtype) in ctx.dictionaries.items()]
    return [element for _, element in sorted(elements, key=lambda pair: pair[0])]
