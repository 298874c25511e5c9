"""Namespaces, element names and the OID scheme of the define.xml we write.

OIDs are built from names only (never from counters or the clock), so the same package always
gets the same OIDs, and Dataset-JSON files can point at define.xml's ItemDefs:

    Study / MetaDataVersion   STDY.<studyid> / MDV.<studyid>.<standard>.<version>
    def:Standard              STD.<name>.<version>, STD.CT.<publishing set>.<date>
    ItemGroupDef              IG.DM
    ItemDef                   IT.DM.USUBJID             (value level: IT.LB.LBORRES.NEUT)
    CodeList                  CL.SEX                    (dictionaries: CL.MEDDRA, CL.MEDDRA.INTEGER)
    MethodDef                 MT.DM.RFSTDTC
    def:CommentDef            COM.DM.COUNTRY
    def:ValueListDef          VL.LB.LBORRES
    def:WhereClauseDef        WC.LB.LBTESTCD.NEUT
    def:leaf                  LF.DM, LF.acrf
"""

from __future__ import annotations

import re

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}
#: prefixes for XPath queries on a written define.xml
XPATH_NS = {"odm": ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

DEFINE_VERSION = "2.1.0"
ODM_VERSION = "1.3.2"
ACRF_LEAF = "LF.acrf"


def odm(tag: str) -> str:
    """Clark name of an ODM element or attribute (``odm("ItemDef")``)."""
    return f"{{{ODM_NS}}}{tag}"


def define(tag: str) -> str:
    """Clark name of a def: element or attribute (``define("Origin")``)."""
    return f"{{{DEF_NS}}}{tag}"


def xlink(tag: str) -> str:
    return f"{{{XLINK_NS}}}{tag}"


XML_LANG = f"{{{XML_NS}}}lang"

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")


def part(text: object) -> str:
    """A value made safe for an OID (letters, digits, _ and -); collisions are handled by callers."""
    cleaned = _UNSAFE.sub("_", str(text)).strip("_")
    return cleaned or "_"


def study_oid(studyid: str) -> str:
    return f"STDY.{studyid}"


def metadata_version_oid(studyid: str, standard: str, version: str) -> str:
    return f"MDV.{studyid}.{standard}.{version}"


def standard_oid(name: str, version: str) -> str:
    return f"STD.{part(name)}.{version}"


def ct_standard_oid(publishing_set: str, version: str) -> str:
    return f"STD.CT.{publishing_set}.{version}"


def item_group_oid(dataset: str) -> str:
    return f"IG.{dataset}"


def item_oid(dataset: str, variable: str) -> str:
    return f"IT.{dataset}.{variable}"


def value_item_oid(dataset: str, variable: str, where_value: object) -> str:
    return f"IT.{dataset}.{variable}.{part(where_value)}"


def codelist_oid(codelist_id: str) -> str:
    return f"CL.{codelist_id}"


def method_oid(dataset: str, variable: str) -> str:
    return f"MT.{dataset}.{variable}"


def comment_oid(dataset: str, variable: str) -> str:
    return f"COM.{dataset}.{variable}"


def value_list_oid(dataset: str, variable: str) -> str:
    return f"VL.{dataset}.{variable}"


def where_clause_oid(dataset: str, variable: str, value: object) -> str:
    return f"WC.{dataset}.{variable}.{part(value)}"


def leaf_id(dataset: str) -> str:
    return f"LF.{dataset}"
