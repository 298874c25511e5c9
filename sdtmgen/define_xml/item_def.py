"""``ItemDef`` (one per variable) with its ``def:Origin``; the variable metadata Dataset-JSON shares.

Origins follow the spec's ``origin``: Collected (Source Investigator, with a ``def:DocumentRef``
to the annotated CRF pages in ``crf_pages``), Derived (Source Sponsor; the ItemRef carries the
MethodOID), Assigned and Protocol (Source Sponsor), Predecessor (the predecessor variable, from
``predecessor`` or the method/comment text) and Not Available.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable

import pandas as pd
from lxml import etree

from .context import DefineContext, clean, translated
from .distinct import DistinctValues
from .datatypes import LENGTH_TYPES, char_type, is_iso_name, num_type, xpt_length
from .oids import ACRF_LEAF, define, item_oid, odm

ORIGIN_SOURCE = {"Collected": "Investigator", "Derived": "Sponsor", "Assigned": "Sponsor", "Protocol": "Sponsor"}


@dataclass(frozen=True)
class VariableMeta:
    """A variable as define.xml and Dataset-JSON describe it."""

    dataset: str
    name: str
    label: str
    type: str                      # "Char" | "Num" (the XPT type)
    oid: str
    data_type: str                 # Define-XML DataType
    length: int                    # the XPT length
    significant_digits: int | None
    display_format: str | None
    key_sequence: int | None
    order: int
    mandatory: bool
    role: str

    @property
    def define_length(self) -> int | None:
        """Define-XML gives a Length for text, integer and float only."""
        return self.length if self.data_type in LENGTH_TYPES else None


def describe_variable(dataset: str, var: Any, values: pd.Series | Callable[[], pd.Series | None] | None, *,
                      order: int, keys: list[str], lengths: dict[tuple[str, str], int] | None = None) -> VariableMeta:
    """``values``: the column (or its distinct values), or a function giving them, called only when needed."""
    column = values if callable(values) else lambda: values
    if var.type == "Num":
        data_type, digits = num_type(column(), getattr(var, "significant_digits", None))
    else:
        data_type, digits = char_type(var.name, column() if is_iso_name(var.name) else None), None
    length = (lengths or {}).get((dataset, var.name)) or xpt_length(var.type, getattr(var, "length", None), column())
    return VariableMeta(
        dataset=dataset, name=var.name, label=var.label, type=var.type, oid=item_oid(dataset, var.name),
        data_type=data_type, length=int(length), significant_digits=digits,
        display_format=getattr(var, "format", None) or None,
        key_sequence=keys.index(var.name) + 1 if var.name in keys else None, order=order,
        mandatory=getattr(var, "core", "") == "Req", role=getattr(var, "role", "") or "")


def describe_dataset(dataset: str, frame: pd.DataFrame, spec: Any,
                     lengths: dict[tuple[str, str], int] | None = None,
                     distinct: DistinctValues | None = None) -> list[VariableMeta]:
    """The metadata of every variable of the spec, its data read only where it decides something.

    Num types are judged on the column itself (vectorised), Char types on its distinct values.
    """
    distinct = distinct if distinct is not None else DistinctValues(frame)
    keys = list(getattr(spec, "keys", []) or [])

    def numbers(name: str) -> pd.Series | None:
        return frame[name] if name in frame.columns else None

    return [describe_variable(dataset, var, partial(numbers if var.type == "Num" else distinct.values, var.name),
                              order=i, keys=keys, lengths=lengths)
            for i, var in enumerate(spec.variables, start=1)]


def Origin(ctx: DefineContext, origin_type: str, *, crf_pages: Iterable[int] = (),  # noqa: N802
           description: str | None = None, source: str | None = None) -> etree._Element:
    element = etree.Element(define("Origin"), Type=origin_type)
    source = source or ORIGIN_SOURCE.get(origin_type)
    if source:
        element.set("Source", source)
    if description:
        translated(element, odm("Description"), description)
    pages = sorted(set(int(p) for p in crf_pages))
    # page references only into a document the package holds: without the annotated CRF, a Collected
    # variable's origin says Collected and nothing more
    if origin_type == "Collected" and pages and ctx.annotated_crf:
        ref = etree.SubElement(element, define("DocumentRef"), leafID=ACRF_LEAF)
        etree.SubElement(ref, define("PDFPageRef"), PageRefs=" ".join(str(p) for p in pages), Type="PhysicalRef")
        ctx.crf_pages_used = True
    return element


def variable_origin(ctx: DefineContext, dataset: str, var: Any) -> etree._Element:
    origin = getattr(var, "origin", None) or "Collected"
    if origin == "Predecessor":
        text = getattr(var, "predecessor", None) or getattr(var, "method", None) or getattr(var, "comment", None)
        if not text:
            ctx.warn("DEFINE-ORIGIN", dataset, "origin Predecessor without the predecessor variable "
                     "(give 'method' or 'comment' as DATASET.VARIABLE)", var.name)
        return Origin(ctx, origin, description=text)
    return Origin(ctx, origin, crf_pages=getattr(var, "crf_pages", []) or [])


def ItemDef(ctx: DefineContext, meta: VariableMeta, *, origin: etree._Element | None,  # noqa: N802
            codelist_oid: str | None = None, value_list_oid: str | None = None,
            comment_oid: str | None = None, name: str | None = None, description: str | None = None,
            oid: str | None = None) -> etree._Element:
    element = etree.Element(odm("ItemDef"), OID=oid or meta.oid, Name=name or meta.name, DataType=meta.data_type)
    if meta.define_length is not None:
        element.set("Length", str(meta.define_length))
    if meta.data_type == "float" and meta.significant_digits is not None:
        element.set("SignificantDigits", str(meta.significant_digits))
    if oid is None:
        element.set("SASFieldName", meta.name)
    if meta.display_format:
        element.set(define("DisplayFormat"), clean(meta.display_format))
    if comment_oid:
        element.set(define("CommentOID"), comment_oid)
    translated(element, odm("Description"), description if description is not None else meta.label)
    if codelist_oid:
        etree.SubElement(element, odm("CodeListRef"), CodeListOID=codelist_oid)
    if origin is not None:
        element.append(origin)
    if value_list_oid:
        etree.SubElement(element, define("ValueListRef"), ValueListOID=value_list_oid)
    return element
