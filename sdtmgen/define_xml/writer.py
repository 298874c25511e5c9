"""``write_define``: the whole Define-XML 2.1 document (ODM 1.3.2 with the def: extensions).

Element order is the schema's: def:Standards, def:AnnotatedCRF, def:ValueListDef,
def:WhereClauseDef, ItemGroupDef, ItemDef, CodeList, MethodDef, def:CommentDef, def:leaf.

Determinism: the same inputs give the same bytes. Nothing comes from the clock: ODM requires a
CreationDateTime, and it is ``DEFAULT_CREATION`` (1970-01-01T00:00:00, the instant the XPT
headers carry too) unless the caller passes ``created``. Definitions are emitted in dataset and
variable order, codelists/methods/comments sorted by OID. An ADaM define ends with the
Analysis Results Metadata (arm:AnalysisResultDisplays, after the def:leaf elements) when the
study has a report configuration.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from lxml import etree

from sdtmgen import __version__
from sdtmgen.errors import Finding

from .adam_codelists import adam_codelist_id
from .codelist import codelist_elements, codelist_ref
from .comments import CommentDef, comment_for
from .context import DefineContext, clean
from .distinct import DistinctValues
from .item_def import ItemDef, describe_dataset, variable_origin
from .item_group import ItemGroupDef, dataset_order, leaf
from .methods import MethodDef, method_for
from .oids import (ACRF_LEAF, DEFINE_VERSION, NSMAP, ODM_VERSION, define, metadata_version_oid, odm,
                   study_oid)
from .standards import Standards, ig_name, ig_version
from .value_level import value_level

#: ODM requires a CreationDateTime; we write this fixed instant (see the module docstring).
DEFAULT_CREATION = "1970-01-01T00:00:00"
ACRF_HREF = "acrf.pdf"


def file_oid(studyid: str, standard: str, version: str) -> str:
    return f"{studyid}.{standard}.{version}.Define-XML_{DEFINE_VERSION}"


def mdv_oid(study: Any, standard: str) -> str:
    return metadata_version_oid(study.studyid, ig_name(standard), ig_version(standard, study))


def build_define(*, study: Any, terminology: Any, datasets: dict[str, pd.DataFrame], specs: dict[str, Any],
                 standard: str = "SDTMIG", lengths: dict[tuple[str, str], int] | None = None,
                 stylesheet_href: str | None = None, data_ext: str = "xpt",
                 created: datetime | str | None = None, annotated_crf: bool = False, results: Any = None,
                 described: Callable[[str, list[etree._Element]], None] | None = None,
                 ) -> tuple[etree._ElementTree, list[Finding]]:
    """The define.xml tree for ``datasets`` (described by ``specs``) and the notes made on the way.

    ``annotated_crf``: the annotated CRF (``ACRF_HREF``) is in the package, so collected variables
    get page references into it; without it no reference to it is written.
    ``results``: the study's report configuration (report.yaml); for an ADaM define it adds the
    Analysis Results Metadata (:mod:`.arm`) of its outcome measures.
    ``described(name, elements)``: called as each dataset is described, with the elements made for it
    (its ItemDefs, value-level ItemDefs, ValueListDefs and WhereClauseDefs; the package reads the
    file's values for the check meanwhile).
    """
    ctx = DefineContext(study=study, terminology=terminology, standard=standard, datasets=datasets, specs=specs,
                        lengths=dict(lengths or {}), data_ext=data_ext, annotated_crf=annotated_crf)
    standards = Standards(ctx)
    groups, items, value_lists, where_clauses = [], [], [], {}
    for name in dataset_order(specs, [n for n in datasets if n in specs]):
        frame, spec, first = datasets[name], specs[name], len(items)
        distinct = DistinctValues(frame)  # each column factorised once, for all the judgements below
        metas = describe_dataset(name, frame, spec, ctx.lengths, distinct)
        method_oids = {var.name: method_for(ctx, name, spec, var) for var in spec.variables}
        vlm = value_level(ctx, name, frame, spec, {m.name: m for m in metas}, method_oids, distinct)
        for var, meta in zip(spec.variables, metas):
            added = (adam_codelist_id(ctx, name, frame, var, distinct) if ctx.is_adam and not getattr(var, "codelist", None)
                     and not getattr(var, "dictionary", None) else None)
            items.append(ItemDef(ctx, meta, origin=variable_origin(ctx, name, var),
                                 codelist_oid=codelist_ref(ctx, name, var, partial(distinct.values, var.name),
                                                           meta.data_type, codelist_id=added),
                                 value_list_oid=vlm.refs.get(var.name),
                                 comment_oid=comment_for(ctx, name, var, var.name)))
        items += vlm.item_defs
        value_lists += vlm.value_lists
        where_clauses.update(vlm.where_clauses)
        groups.append(ItemGroupDef(ctx, name, spec, metas, method_oids, comment_for(ctx, name, spec, "DATASET")))
        if described is not None:
            described(name, items[first:] + vlm.value_lists + list(vlm.where_clauses.values()))
    if ctx.undocumented_methods:
        ctx.findings.append(Finding(
            rule="DEFINE-METHOD", severity="warning", dataset="*", values=tuple(ctx.undocumented_methods),
            message=f"{len(ctx.undocumented_methods)} derived variable(s) have no 'method' text in the spec; "
                    "their MethodDef describes the build step (derivation or mapping rule) that fills them"))
    for name in sorted(set(datasets) - set(specs)):
        ctx.warn("DEFINE-SPEC", name, "dataset without a spec: not described in define.xml")

    arm_clauses, arm_leaves, arm_displays = [], [], None
    if results is not None and ctx.is_adam:
        from .arm import analysis_results

        arm_clauses, arm_leaves, arm_displays = analysis_results(ctx, results)
        where_clauses.update((c.get("OID"), c) for c in arm_clauses)

    created_text = created.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(created, datetime) else (created or DEFAULT_CREATION)
    ig, version = ig_name(standard), ig_version(standard, study)
    if arm_displays is not None:
        from .arm import ARM_NS

        root = etree.Element(odm("ODM"), nsmap={**NSMAP, "arm": ARM_NS})
    else:
        root = etree.Element(odm("ODM"), nsmap=NSMAP)
    root.set("FileType", "Snapshot")
    root.set("FileOID", file_oid(study.studyid, ig, version))
    root.set("ODMVersion", ODM_VERSION)
    root.set("CreationDateTime", created_text)
    root.set("Originator", clean(getattr(study, "sponsor", "") or "sdtmgen"))
    root.set("SourceSystem", "sdtmgen")
    root.set("SourceSystemVersion", __version__)
    root.set(define("Context"), "Submission")
    study_el = etree.SubElement(root, odm("Study"), OID=study_oid(study.studyid))
    gv = etree.SubElement(study_el, odm("GlobalVariables"))
    etree.SubElement(gv, odm("StudyName")).text = clean(study.studyid)
    etree.SubElement(gv, odm("StudyDescription")).text = clean(" ".join(str(getattr(study, "title", "")).split()))
    etree.SubElement(gv, odm("ProtocolName")).text = clean(getattr(study, "protocol", "") or study.studyid)
    mdv = etree.SubElement(study_el, odm("MetaDataVersion"), OID=mdv_oid(study, standard),
                           Name=f"Study {study.studyid}, {ig} {version} Data Definitions",
                           Description=f"{'Analysis' if ctx.is_adam else 'Tabulation'} datasets of study "
                                       f"{study.studyid} ({ig} {version})")
    mdv.set(define("DefineVersion"), DEFINE_VERSION)
    mdv.append(standards)
    if ctx.crf_pages_used:
        acrf = etree.SubElement(mdv, define("AnnotatedCRF"))
        etree.SubElement(acrf, define("DocumentRef"), leafID=ACRF_LEAF)
    mdv.extend(value_lists)
    mdv.extend(where_clauses.values())
    mdv.extend(groups)
    mdv.extend(items)
    mdv.extend(codelist_elements(ctx))
    mdv.extend(MethodDef(ctx.methods[oid]) for oid in sorted(ctx.methods))
    mdv.extend(CommentDef(oid, ctx.comments[oid]) for oid in sorted(ctx.comments))
    if ctx.crf_pages_used:
        mdv.append(leaf(ACRF_LEAF, ACRF_HREF, "Annotated CRF"))
    mdv.extend(arm_leaves)
    if arm_displays is not None:
        mdv.append(arm_displays)

    tree = etree.ElementTree(root)
    if stylesheet_href:
        root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{stylesheet_href}"'))
    return tree, ctx.findings


def define_bytes(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_define(path: str | Path, *, study: Any, terminology: Any, datasets: dict[str, pd.DataFrame],
                 specs: dict[str, Any], standard: str = "SDTMIG", lengths: dict[tuple[str, str], int] | None = None,
                 stylesheet_href: str | None = None, data_ext: str = "xpt",
                 created: datetime | str | None = None, results: Any = None,
                 described: Callable[[str, list[etree._Element]], None] | None = None) -> list[Finding]:
    """Write define.xml for the datasets; returns the notes made on the way (warnings).

    Page references to the annotated CRF are written only when it is beside define.xml.
    ``described``: see ``build_define``.
    """
    tree, findings = build_define(study=study, terminology=terminology, datasets=datasets, specs=specs,
                                  standard=standard, lengths=lengths, stylesheet_href=stylesheet_href,
                                  data_ext=data_ext, created=created,
                                  annotated_crf=(Path(path).parent / ACRF_HREF).is_file(), results=results,
                                  described=described)
    Path(path).write_bytes(define_bytes(tree))
    return findings
