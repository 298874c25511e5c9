"""What the element builders share while one define.xml is assembled.

Builders register the MethodDefs, CommentDefs and CodeLists they reference here; the writer then
emits exactly the registered definitions, sorted by OID, so every reference resolves and nothing
unreferenced is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from lxml import etree

from sdtmgen.errors import Finding

from .oids import XML_LANG, odm

# characters XML 1.0 cannot carry at all (lxml refuses them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: Any) -> str:
    return _NOT_XML.sub("", str(text))


def translated(parent: etree._Element, tag: str, text: Any) -> etree._Element:
    """``<tag><TranslatedText xml:lang="en">text</TranslatedText></tag>`` under ``parent``."""
    holder = etree.SubElement(parent, tag)
    tt = etree.SubElement(holder, odm("TranslatedText"))
    tt.set(XML_LANG, "en")
    tt.text = clean(text)
    return holder


@dataclass
class Method:
    oid: str
    name: str
    text: str
    type: str = "Computation"


@dataclass
class DefineContext:
    study: Any
    terminology: Any
    standard: str                       # "SDTMIG" | "ADaMIG"
    datasets: dict[str, pd.DataFrame]
    specs: dict[str, Any]
    lengths: dict[tuple[str, str], int]
    data_ext: str = "xpt"
    ig_standard_oid: str = ""
    ct_standard_oids: dict[str, str] = field(default_factory=dict)   # publishing set -> OID
    ct_packages: list[tuple[str, str]] = field(default_factory=list)  # (publishing set, date) cited
    ig_version: str = ""
    extra_codelists: dict[str, Any] = field(default_factory=dict)  # codelist id -> codelist not in the spec
    methods: dict[str, Method] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    codelists: dict[str, set[str]] = field(default_factory=dict)     # codelist id -> data values using it
    dictionaries: dict[str, tuple[Any, str]] = field(default_factory=dict)  # CL OID -> (Dictionary, DataType)
    crf_pages_used: bool = False
    annotated_crf: bool = False          # the annotated CRF (ACRF_HREF) is in the package: page refs may point at it
    undocumented_methods: list[str] = field(default_factory=list)   # DATASET.VARIABLE derived without method text
    findings: list[Finding] = field(default_factory=list)

    @property
    def purpose(self) -> str:
        return "Analysis" if self.standard.upper().startswith("ADAM") else "Tabulation"

    @property
    def is_adam(self) -> bool:
        return self.purpose == "Analysis"

    def add_method(self, method: Method) -> str:
        self.methods.setdefault(method.oid, method)
        return method.oid

    def add_comment(self, oid: str, text: str) -> str:
        self.comments.setdefault(oid, text)
        return oid

    def use_codelist(self, codelist_id: str, values: list[str]) -> None:
        self.codelists.setdefault(codelist_id, set()).update(values)

    def warn(self, rule: str, dataset: str, message: str, variable: str = "") -> None:
        self.findings.append(Finding(rule=rule, severity="warning", dataset=dataset, variable=variable, message=message))
