"""CDISC ODM 1.3.x ClinicalData as raw forms, streamed with lxml's iterparse.

SubjectData > StudyEventData > FormData > ItemGroupData > ItemData: each form (FormOID, or the
FormDef Name with ``forms: name``) is one raw form; each ItemGroupData one row, holding

- ``SUBJECT``: the SubjectKey; ``VISIT``: the StudyEventDef Name of the StudyEventOID (the OID when
  the file has no metadata); ``RECORDPOSITION``: the ItemGroupRepeatKey (else the FormRepeatKey);
- one column per item: the ItemOID, or the ItemDef Name with ``items: name``.

Form names are made plain (lower-case, other characters ``_``): FormOID ``AE`` is form ``ae``.
With ``decode: true`` a coded value is replaced by the Decode of its CodeList. A missing item is an
empty value, as in a CSV form. Lineage: ``_FILE`` is the XML file name, ``_ROW`` the line of the
ItemGroupData element. Audit records, signatures and annotations (Transactional files) are not data:
they are counted and reported once (RAW-ODM-IGNORED). FormData directly under SubjectData (REDCap's
ODM of a classic project) is read with an empty VISIT.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from sdtmgen.errors import Finding, RawDataError
from sdtmgen.readers.common import make_form

FIXED = ("SUBJECT", "VISIT", "RECORDPOSITION")
FIXED_SET = frozenset(FIXED)
IGNORED = ("AuditRecord", "Signature", "Annotation", "AuditRecords", "Signatures", "Annotations")


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class OdmReader:
    """All forms of one ODM file, read in one pass on first use."""

    def __init__(self, path: Path, items: str = "oid", forms: str = "oid", decode: bool = False, file: str = ""):
        path = Path(path)
        if path.is_dir():
            from sdtmgen.readers.detect import is_odm
            found = [p for p in sorted(path.glob("*.xml")) if is_odm(p)] if not file else [path / file]
            if len(found) != 1:
                raise RawDataError(f"{path}: expected one ODM XML file, found {len(found)}", rule="raw-format")
            path = found[0]
        if items not in ("oid", "name") or forms not in ("oid", "name"):
            raise RawDataError("odm reader: items and forms are 'oid' or 'name'", rule="raw-format")
        self.path, self.items, self.form_by, self.decode = path, items, forms, decode
        self._forms: dict | None = None
        self.notes: list[Finding] = []
        self.item_count = 0

    def file_name(self, form: str) -> str:
        return self.path.name

    def forms(self) -> list[str]:
        return sorted(self._load())

    def read(self, form: str):
        forms = self._load()
        if form not in forms:
            raise RawDataError(f"raw form '{form}' not found in {self.path.name}; its forms: "
                               f"{', '.join(sorted(forms)) or 'none'}", file=self.path.name, rule="raw-form")
        rows, lines = forms[form]
        return make_form(rows, np.asarray(lines, dtype=np.int64), self.path.name)

    def _fail(self, line, message: str) -> RawDataError:
        return RawDataError(f"{self.path.name} line {line}: {message}", file=self.path.name, rule="raw-form")

    def _load(self) -> dict:
        if self._forms is not None:
            return self._forms
        item_names: dict[str, str] = {}
        item_codelist: dict[str, str] = {}
        form_names: dict[str, str] = {}
        event_names: dict[str, str] = {}
        form_groups: dict[str, list[str]] = {}  # FormDef -> its ItemGroupRefs
        group_items: dict[str, list[str]] = {}  # ItemGroupDef -> its ItemRefs
        codelists: dict[str, dict[str, str]] = defaultdict(dict)
        # per FormOID: fixed columns as lists, items as (row numbers, values) (most rows leave most items empty)
        forms: dict[str, dict] = {}
        ignored: dict[str, int] = defaultdict(int)
        transactional = False
        wanted = ["ItemGroupData", "ItemDef", "FormDef", "ItemGroupDef", "StudyEventDef", "CodeList", "SubjectData",
                  *IGNORED]
        try:
            with self.path.open("rb") as handle:
                head = handle.read(4096)
            transactional = b'FileType="Transactional"' in head or b"FileType='Transactional'" in head
            context = etree.iterparse(str(self.path), events=("end",), tag=[f"{{*}}{t}" for t in wanted],
                                      huge_tree=True, resolve_entities=False, no_network=True)
            for _, element in context:
                tag = _local(element.tag)
                if tag == "ItemGroupData":
                    self._group(element, forms, ignored)
                    element.clear(keep_tail=False)
                    parent = element.getparent()
                    while element.getprevious() is not None:  # rows already read leave the tree
                        del parent[0]
                elif tag == "SubjectData":
                    element.clear(keep_tail=False)
                    parent = element.getparent()
                    while element.getprevious() is not None:
                        del parent[0]
                elif tag in IGNORED:
                    if element.getparent() is None or _local(element.getparent().tag) not in IGNORED:
                        ignored[tag] += 1
                    element.clear(keep_tail=False)
                elif tag == "ItemDef":
                    item_names[element.get("OID")] = element.get("Name") or element.get("OID")
                    ref = next((c for c in element if _local(c.tag) == "CodeListRef"), None)
                    if ref is not None:
                        item_codelist[element.get("OID")] = ref.get("CodeListOID")
                elif tag == "FormDef":
                    form_names[element.get("OID")] = element.get("Name") or element.get("OID")
                    form_groups[element.get("OID")] = [c.get("ItemGroupOID") for c in element
                                                       if _local(c.tag) == "ItemGroupRef"]
                elif tag == "ItemGroupDef":
                    group_items[element.get("OID")] = [c.get("ItemOID") for c in element if _local(c.tag) == "ItemRef"]
                elif tag == "StudyEventDef":
                    event_names[element.get("OID")] = element.get("Name") or element.get("OID")
                elif tag == "CodeList":
                    for entry in element:
                        if _local(entry.tag) in ("CodeListItem", "EnumeratedItem"):
                            text = entry.findtext(".//{*}TranslatedText")
                            codelists[element.get("OID")][entry.get("CodedValue")] = (
                                text.strip() if text is not None else entry.get("CodedValue"))
        except etree.XMLSyntaxError as exc:
            raise RawDataError(f"{self.path.name} line {exc.lineno}: not well-formed XML ({exc.msg})",
                               file=self.path.name, rule="raw-form") from None
        if ignored:
            what = ", ".join(f"{n} {t}" for t, n in sorted(ignored.items()))
            self.notes.append(Finding(
                rule="RAW-ODM-IGNORED", severity="warning", dataset="*", variable=self.path.name,
                message=f"{self.path.name}{' (Transactional)' if transactional else ''}: {what} element(s) "
                        f"are audit or signature information, not data; they were not read"))
        self._forms = {}
        for oid, form in forms.items():
            name = self._plain(form_names.get(oid, oid) if self.form_by == "name" else oid)
            if name in self._forms:
                raise RawDataError(f"{self.path.name}: forms {oid} and another both become form '{name}'",
                                   file=self.path.name, rule="raw-form")
            n = len(form["lines"])
            form["VISIT"] = [event_names.get(e, e) for e in form["VISIT"]]
            columns: dict[str, object] = {c: form[c] for c in FIXED}
            declared = [self._column(item, item_names) for group in form_groups.get(oid, [])
                        for item in group_items.get(group, [])]
            for item in declared:  # items the metadata declares are columns even when no row holds them
                if item not in FIXED:
                    columns.setdefault(item, None)
            codes, uniques = pd.factorize(np.asarray(form["oids"], dtype=object))
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            all_rows = np.asarray(form["rows"], dtype=np.int64)[order]
            all_values = np.asarray(form["values"], dtype=object)[order]
            for j, item in enumerate(uniques):
                rows, values = all_rows[bounds[j]:bounds[j + 1]], all_values[bounds[j]:bounds[j + 1]]
                column = self._column(item, item_names)
                if column in FIXED:
                    raise self._fail(form["lines"][rows[0]], f"item {item} is named {column}, a column the reader "
                                                             f"provides (SUBJECT, VISIT, RECORDPOSITION)")
                if self.decode and item in item_codelist:
                    codes = codelists.get(item_codelist[item], {})
                    decoded = codelists.get(item_codelist[item], {})
                    values = np.asarray([decoded.get(v, v) for v in values], dtype=object)
                full = np.full(n, "", dtype=object)
                full[rows] = values
                if columns.get(column) is not None:
                    raise RawDataError(f"{self.path.name}: items of form {oid} share the column name {column}",
                                       file=self.path.name, rule="raw-form")
                columns[column] = full
            columns = {c: (v if v is not None else np.full(n, "", dtype=object)) for c, v in columns.items()}
            self._forms[name] = (columns, form["lines"])
        return self._forms

    def _group(self, element, forms: dict, ignored: dict) -> None:
        """One ItemGroupData: a row of its form (context from its ancestors, still in the tree)."""
        form_data = element.getparent()
        event_data = form_data.getparent() if form_data is not None else None
        if form_data is None or _local(form_data.tag) != "FormData" or event_data is None:
            raise self._fail(element.sourceline, "ItemGroupData outside SubjectData/FormData")
        if _local(event_data.tag) == "SubjectData":  # FormData directly under SubjectData (REDCap classic)
            subject_data, event = event_data, ""
        else:
            subject_data, event = event_data.getparent(), event_data.get("StudyEventOID") or ""
        subject = subject_data.get("SubjectKey") if subject_data is not None else None
        if not subject:
            raise self._fail(getattr(subject_data, "sourceline", element.sourceline), "SubjectData without SubjectKey")
        oid = form_data.get("FormOID")
        if not oid:
            raise self._fail(form_data.sourceline, "FormData without FormOID")
        form = forms.get(oid)
        if form is None:
            form = forms[oid] = {"SUBJECT": [], "VISIT": [], "RECORDPOSITION": [], "lines": [], "oids": [], "values": [],
                                 "rows": []}
        row = len(form["lines"])
        form["SUBJECT"].append(subject)
        form["VISIT"].append(event)
        form["RECORDPOSITION"].append(element.get("ItemGroupRepeatKey") or form_data.get("FormRepeatKey") or "")
        form["lines"].append(element.sourceline)
        cells = [(c.get("ItemOID"), c.get("Value"), c.get("IsNull")) for c in element.iterchildren("{*}ItemData")]
        if len(cells) != len(element) and any(_local(c.tag).startswith("ItemData") and _local(c.tag) != "ItemData"
                                               for c in element):
            cells += [(c.get("ItemOID"), c.text or "", c.get("IsNull")) for c in element
                      if _local(c.tag).startswith("ItemData") and _local(c.tag) != "ItemData"]
        oids = [c[0] for c in cells]
        values = [c[1] if c[2] != "Yes" else "" for c in cells]
        if None in oids or None in values or len(set(oids)) != len(oids) or not FIXED_SET.isdisjoint(oids):
            self._bad_items(element, cells, subject, oid)
        form["oids"] += oids
        form["values"] += values
        form["rows"] += [row] * len(oids)
        self.item_count += len(oids)

    def _bad_items(self, element, cells, subject, form) -> None:
        """The first faulty ItemData of a group, named with its line."""
        children = [c for c in element if _local(c.tag).startswith("ItemData")]
        seen = set()
        for child, (item, value, null) in zip(children, cells):
            if not item:
                raise self._fail(child.sourceline, "ItemData without ItemOID")
            if value is None and null != "Yes":
                raise self._fail(child.sourceline, f"ItemData {item} without Value")
            if item in FIXED:
                raise self._fail(child.sourceline, f"item {item} is named {item}, a column the reader "
                                                   f"provides (SUBJECT, VISIT, RECORDPOSITION)")
            if item in seen:
                raise self._fail(child.sourceline, f"item {item} given twice in one ItemGroupData "
                                                   f"(subject {subject}, form {form})")
            seen.add(item)

    def _column(self, oid: str, names: dict[str, str]) -> str:
        return names.get(oid, oid) if self.items == "name" else oid

    @staticmethod
    def _plain(text: str) -> str:
        from sdtmgen.readers.detect import form_name
        return form_name(text)
