"""``ItemGroupDef`` (one per dataset) with its ItemRefs, ``def:Class`` and ``def:leaf``.

* Repeating="No" for reference data and one-record-per-subject datasets (keys STUDYID, USUBJID),
  else "Yes"; IsReferenceData="Yes" for the TRIAL DESIGN class.
* KeySequence from the spec's ``keys``; Mandatory="Yes" for Required (core Req) variables;
  OrderNumber is the variable's position; MethodOID for derived variables; Role (SDTM only).
* ``def:leaf`` points at the dataset file next to define.xml (``dm.xpt``).
"""

from __future__ import annotations

from typing import Any, Iterable

from lxml import etree

from .context import DefineContext, translated
from .item_def import VariableMeta
from .oids import define, item_group_oid, leaf_id, odm, xlink

CLASS_ORDER = ["TRIAL DESIGN", "SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT",
               "RELATIONSHIP", "STUDY REFERENCE", "SUBJECT LEVEL ANALYSIS DATASET", "OCCURRENCE DATA STRUCTURE",
               "BASIC DATA STRUCTURE", "ADAM OTHER"]


def dataset_class(spec: Any) -> str:
    return str(getattr(spec, "dataset_class", None) or getattr(spec, "class_", None) or "").upper()


def dataset_order(specs: dict[str, Any], names: Iterable[str]) -> list[str]:
    """Datasets by class (trial design first, as in SDTMIG) then name; SUPP-- after the others."""
    rank = {c: i for i, c in enumerate(CLASS_ORDER)}

    def key(name: str) -> tuple:
        return (rank.get(dataset_class(specs[name]), len(rank)), name.startswith("SUPP"), name)

    return sorted(names, key=key)


def is_reference(spec: Any) -> bool:
    return dataset_class(spec) == "TRIAL DESIGN"


def repeating(spec: Any) -> str:
    keys = [k for k in getattr(spec, "keys", []) or [] if k != "STUDYID"]
    return "No" if is_reference(spec) or keys == ["USUBJID"] else "Yes"


def leaf(identifier: str, href: str, title: str) -> etree._Element:
    element = etree.Element(define("leaf"), ID=identifier)
    element.set(xlink("href"), href)
    etree.SubElement(element, define("title")).text = title
    return element


def ItemGroupDef(ctx: DefineContext, name: str, spec: Any, metas: list[VariableMeta],  # noqa: N802
                 method_oids: dict[str, str | None], comment_oid: str | None = None) -> etree._Element:
    element = etree.Element(odm("ItemGroupDef"), OID=item_group_oid(name))
    if not ctx.is_adam:
        domain = name[4:] if name.startswith("SUPP") and len(name) > 4 else (name if len(name) == 2 else None)
        if domain:
            element.set("Domain", domain)
    element.set("Name", name)
    element.set("Repeating", repeating(spec))
    element.set("IsReferenceData", "Yes" if is_reference(spec) else "No")
    element.set("SASDatasetName", name)
    element.set("Purpose", ctx.purpose)
    element.set(define("Structure"), getattr(spec, "structure", "") or "")
    if ctx.ig_standard_oid:
        element.set(define("StandardOID"), ctx.ig_standard_oid)
    if comment_oid:
        element.set(define("CommentOID"), comment_oid)
    element.set(define("ArchiveLocationID"), leaf_id(name))
    translated(element, odm("Description"), spec.label)
    for meta in metas:
        ref = etree.SubElement(element, odm("ItemRef"), ItemOID=meta.oid, OrderNumber=str(meta.order),
                               Mandatory="Yes" if meta.mandatory else "No")
        if meta.key_sequence is not None:
            ref.set("KeySequence", str(meta.key_sequence))
        if method_oids.get(meta.name):
            ref.set("MethodOID", method_oids[meta.name])
        if meta.role and not ctx.is_adam:
            ref.set("Role", meta.role)
    if name.startswith("SUPP") and name[4:] in ctx.specs:
        etree.SubElement(element, odm("Alias"), Context="DomainDescription", Name=ctx.specs[name[4:]].label)
    cls = etree.SubElement(element, define("Class"), Name=dataset_class(spec))
    subclass = getattr(spec, "subclass", None)
    if subclass:
        etree.SubElement(cls, define("SubClass"), Name=str(subclass).upper())
    element.append(leaf(leaf_id(name), f"{name.lower()}.{ctx.data_ext}", f"{name.lower()}.{ctx.data_ext}"))
    return element
