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
from lxml import etree

from sdtmgen.errors import Finding, RawDataError
from sdtmgen.readers.common import make_form

FIXED = ("SUBJECT", "VISIT", "RECORDPOSITION")
IGNORED = ("AuditRecord", "Signature", "Annotation", "AuditRecords", "Signatures", "Annotations")


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class OdmReader:
    """All forms of one ODM file, read in one pass on first use."""

    def __init__(self, path: Path, items: str = "oid", forms: str = "oid", decode: bool = False, file: str = ""):
        path = Path(path)
        if path.is_dir():
            from sdtmgen.readers import is_odm
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
        return make_form(rows, np.asarray(lines, dtype=np.int64), self.path.name, FIXED)

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
        # per FormOID: column -> values, and lines; rows kept by OID until names are known
        groups: dict[str, list] = defaultdict(list)
        ignored: dict[str, int] = defaultdict(int)
        subject = event = form = form_key = None
        transactional = False
        try:
            context = etree.iterparse(str(self.path), events=("start", "end"), huge_tree=True,
                                      resolve_entities=False, no_network=True)
            for kind, element in context:
                tag = _local(element.tag)
                if kind == "start":
                    if tag == "ODM":
                        transactional = element.get("FileType") == "Transactional"
                    elif tag == "SubjectData":
                        subject = element.get("SubjectKey")
                        if not subject:
                            raise self._fail(element.sourceline, "SubjectData without SubjectKey")
                        event = ""
                    elif tag == "StudyEventData":
                        event = element.get("StudyEventOID") or ""
                    elif tag == "FormData":
                        form, form_key = element.get("FormOID"), element.get("FormRepeatKey") or ""
                        if not form:
                            raise self._fail(element.sourceline, "FormData without FormOID")
                    continue
                if tag == "ItemGroupData":
                    if form is None or subject is None:
                        raise self._fail(element.sourceline, "ItemGroupData outside SubjectData/FormData")
                    row = {"SUBJECT": subject, "VISIT": event,
                           "RECORDPOSITION": element.get("ItemGroupRepeatKey") or form_key}
                    for item in element:
                        name = _local(item.tag)
                        if name in IGNORED:
                            ignored[name] += 1
                            continue
                        if not name.startswith("ItemData"):
                            continue
                        oid = item.get("ItemOID")
                        if not oid:
                            raise self._fail(item.sourceline, "ItemData without ItemOID")
                        if item.get("IsNull") == "Yes":
                            value = ""
                        else:
                            value = item.get("Value") if name == "ItemData" else (item.text or "")
                            if value is None:
                                raise self._fail(item.sourceline, f"ItemData {oid} without Value")
                        if oid in FIXED:
                            raise self._fail(item.sourceline, f"item {oid} is named {oid}, a column the reader "
                                                              f"provides (SUBJECT, VISIT, RECORDPOSITION)")
                        if oid in row:
                            raise self._fail(item.sourceline, f"item {oid} given twice in one ItemGroupData "
                                                              f"(subject {subject}, form {form})")
                        row[oid] = value
                        self.item_count += 1
                    groups[form].append((row, element.sourceline))
                    element.clear(keep_tail=False)
                elif tag in IGNORED:
                    ignored[tag] += 1
                    element.clear(keep_tail=False)
                elif tag == "ItemDef":
                    item_names[element.get("OID")] = element.get("Name") or element.get("OID")
                    ref = next((c for c in element if _local(c.tag) == "CodeListRef"), None)
                    if ref is not None:
                        item_codelist[element.get("OID")] = ref.get("CodeListOID")
                    element.clear(keep_tail=False)
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
                    element.clear(keep_tail=False)
                elif tag in ("SubjectData", "StudyEventData", "FormData"):
                    element.clear(keep_tail=False)
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
        for oid, rows in groups.items():
            name = self._plain(form_names.get(oid, oid) if self.form_by == "name" else oid)
            if name in self._forms:
                raise RawDataError(f"{self.path.name}: forms {oid} and another both become form '{name}'",
                                   file=self.path.name, rule="raw-form")
            columns: dict[str, list[str]] = {c: [] for c in FIXED}
            lines = []
            for i, (row, line) in enumerate(rows):
                row["VISIT"] = event_names.get(row["VISIT"], row["VISIT"])
                for key, value in row.items():
                    column = key if key in FIXED else self._column(key, item_names)
                    if key not in FIXED and column in FIXED:
                        raise self._fail(line, f"item {key} is named {column}, a column the reader provides")
                    if self.decode and key in item_codelist:
                        value = codelists.get(item_codelist[key], {}).get(value, value)
                    if column not in columns:
                        columns[column] = [""] * i
                    columns[column].append(value)
                for values in columns.values():
                    if len(values) < i + 1:
                        values.append("")
                lines.append(line)
            # items the metadata declares for the form are columns even when no row holds them (as a CSV header)
            declared = [self._column(item, item_names) for group in form_groups.get(oid, [])
                        for item in group_items.get(group, [])]
            order = list(FIXED) + list(dict.fromkeys(c for c in declared if c not in FIXED)) + list(columns)
            columns = {c: columns.get(c, [""] * len(rows)) for c in dict.fromkeys(order)}
            self._forms[name] = (columns, lines)
        return self._forms

    def _column(self, oid: str, names: dict[str, str]) -> str:
        return names.get(oid, oid) if self.items == "name" else oid

    @staticmethod
    def _plain(text: str) -> str:
        from sdtmgen.readers import form_name
        return form_name(text)
