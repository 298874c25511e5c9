"""``def:Standards``: the implementation guide and the CDISC CT packages the metadata uses.

SDTM packages reference SDTMIG (``study.sdtmig_version``, equal to ``study.standards.sdtmig``
unless a sponsor file replaces the packaged metadata) and the SDTM CT package of the spec
(``terminology.ct_package``, which the spec loader holds equal to ``study.standards.ct``). ADaM packages reference ADaMIG
(``study.standards.adamig``, default 1.3), the ADaM CT package and the SDTM CT package (ADaM
variables reuse SDTM codelists). The ADaM CT package is ``terminology.adam_ct_package`` when the
terminology names one, else the study's ``standards.ct`` when sdtmgen ships the ADaM CT of that
date (``sdtmgen/standards/data/ct/<date>/adam.tsv``); codelists of the ADaM CT (DATEFL, SBJTSTAT...)
then point at it with ``def:StandardOID``.
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


def adam_ct_package(terminology: Any, study: Any = None) -> str | None:
    """Date of the ADaM CT package an ADaM define cites: the terminology's ``adam_ct_package``, else the
    study's ``standards.ct`` when the ADaM CT of that date is packaged, else None."""
    named = getattr(terminology, "adam_ct_package", None)
    if named:
        return str(named)
    version = getattr(getattr(study, "standards", None), "ct", None) or getattr(terminology, "ct_package", None)
    return str(version) if version and adam_ct_packaged(str(version)) else None


def adam_ct_packaged(version: str) -> bool:
    from sdtmgen.standards import CT_FILES, UnknownStandard, standard_folder

    try:
        return (standard_folder("ct", version) / CT_FILES["ADaM"]).is_file()
    except UnknownStandard:
        return False


def ct_packages(standard: str, terminology: Any, study: Any = None) -> list[tuple[str, str]]:
    """(publishing set, package date) of every CT package the metadata may reference."""
    packages = []
    adam = adam_ct_package(terminology, study) if ig_name(standard) == "ADaMIG" else None
    if adam:
        packages.append(("ADaM", adam))
    if getattr(terminology, "ct_package", None):
        packages.append(("SDTM", str(terminology.ct_package)))
    return packages


def Standards(ctx: DefineContext) -> etree._Element:  # noqa: N802 - named as the element
    """Build ``def:Standards`` and record the OIDs other elements refer to."""
    name, version = ig_name(ctx.standard), ig_version(ctx.standard, ctx.study)
    element = etree.Element(define("Standards"))
    ctx.ig_standard_oid = standard_oid(name, version)
    ctx.ig_version = version
    etree.SubElement(element, define("Standard"), OID=ctx.ig_standard_oid, Name=name, Type="IG",
                     Version=version, Status="Final")
    ctx.ct_packages = ct_packages(ctx.standard, ctx.terminology, ctx.study)
    for publishing_set, date in ctx.ct_packages:
        oid = ct_standard_oid(publishing_set, date)
        ctx.ct_standard_oids[publishing_set] = oid
        etree.SubElement(element, define("Standard"), OID=oid, Name="CDISC/NCI", Type="CT",
                         PublishingSet=publishing_set, Version=date, Status="Final")
    return element


#: Define-XML CT codelists (NCI C-codes) whose terms the define.xml attributes take
DEFINE_CT_CODELISTS = {"class": "C103329",        # General Observation Class: def:Class of ItemGroupDef
                       "origin": "C170449",       # Origin Type: def:Origin Type
                       "standard": "C170452",     # Standard Name: def:Standard Name
                       "standard_type": "C170451"}  # Standard Type: def:Standard Type


def define_ct_terms(version: str, codelist: str) -> set[str]:
    """Submission values of one Define-XML CT codelist (``DEFINE_CT_CODELISTS`` key) in the packaged version."""
    from sdtmgen.standards import controlled_terminology

    ct = controlled_terminology(version, "Define-XML")
    return set(ct.loc[ct["codelist"] == DEFINE_CT_CODELISTS[codelist], "value"])


def define_ct_problems(spec: Any, where: Any) -> list[str]:
    """Spec values define.xml writes as Define-XML CT terms (dataset class, origin type) that the study's
    Define-XML CT (``standards.define_ct``) does not have; ``where(model, loc)`` names file and line."""
    version = str(spec.study.standards.define_ct)
    classes, origins = define_ct_terms(version, "class"), define_ct_terms(version, "origin")
    problems = []
    for dataset in [*spec.domains, *spec.adam]:
        if dataset.dataset_class not in classes:
            problems.append(f"{where(dataset, ('class',))}: class {dataset.dataset_class!r} is not a term of the "
                            f"Define-XML CT {version} General Observation Class codelist "
                            f"({', '.join(sorted(classes))})")
        for i, var in enumerate(dataset.variables):
            if var.origin not in origins:
                problems.append(f"{where(dataset, ('variables', i, 'origin'))}: origin {var.origin!r} is not a term "
                                f"of the Define-XML CT {version} Origin Type codelist")
    return problems
