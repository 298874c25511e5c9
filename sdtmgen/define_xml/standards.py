"""``def:Standards``: the implementation guide and the CDISC CT packages the metadata uses.

SDTM packages reference SDTMIG (``study.sdtmig_version``, equal to ``study.standards.sdtmig``
unless a sponsor file replaces the packaged metadata) and the SDTM CT package of the spec
(``terminology.ct_package``, which the spec loader holds equal to ``study.standards.ct``). ADaM packages reference ADaMIG
(``study.standards.adamig``, default 1.3), the ADaM CT package when the terminology names one
(``terminology.adam_ct_package``) and the SDTM CT package (ADaM variables reuse SDTM codelists).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .context import DefineContext
from .oids import ct_standard_oid, define, standard_oid

IG_NAMES = {"SDTMIG": "SDTMIG", "ADAMIG": "ADaMIG"}
DEFAULT_ADAMIG_VERSION = "1.3"


def ig_name(standard: str) -> str:
    try:
        return IG_NAMES[standard.upper()]
    except KeyError:
        raise ValueError(f"standard must be SDTMIG or ADaMIG, got {standard!r}") from None


def ig_version(standard: str, study: Any) -> str:
    standards = getattr(study, "standards", None)
    if ig_name(standard) == "ADaMIG":
        return str(getattr(standards, "adamig", None) or getattr(study, "adamig_version", None)
                   or DEFAULT_ADAMIG_VERSION)
    return str(getattr(study, "sdtmig_version", None) or getattr(standards, "sdtmig", None) or "3.4")


def ct_packages(standard: str, terminology: Any) -> list[tuple[str, str]]:
    """(publishing set, package date) of every CT package the metadata may reference."""
    packages = []
    if ig_name(standard) == "ADaMIG" and getattr(terminology, "adam_ct_package", None):
        packages.append(("ADaM", str(terminology.adam_ct_package)))
    if getattr(terminology, "ct_package", None):
        packages.append(("SDTM", str(terminology.ct_package)))
    return packages


def Standards(ctx: DefineContext) -> etree._Element:  # noqa: N802 - named as the element
    """Build ``def:Standards`` and record the OIDs other elements refer to."""
    name, version = ig_name(ctx.standard), ig_version(ctx.standard, ctx.study)
    element = etree.Element(define("Standards"))
    ctx.ig_standard_oid = standard_oid(name, version)
    etree.SubElement(element, define("Standard"), OID=ctx.ig_standard_oid, Name=name, Type="IG",
                     Version=version, Status="Final")
    for publishing_set, date in ct_packages(ctx.standard, ctx.terminology):
        oid = ct_standard_oid(publishing_set, date)
        ctx.ct_standard_oids[publishing_set] = oid
        etree.SubElement(element, define("Standard"), OID=oid, Name="CDISC/NCI", Type="CT",
                         PublishingSet=publishing_set, Version=date, Status="Final")
    return element
