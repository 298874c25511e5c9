"""CDISC ODM 1.3.x ClinicalData as raw forms.

The ClinicalData is read by a compiled pass over the file's bytes in chunks (sdtmgen.readers.odm_scan);
a file that pass does not read (comments, CDATA, another encoding, any error) is streamed with lxml's
iterparse instead, which also names the line of every error. The metadata (MetaDataVersion) is always
read by lxml. Both paths give the same tables of rows and cells, assembled into forms here.

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

import re
from collections import defaultdict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pyarrow as pa
from lxml import etree

from sdtmgen.errors import Finding, RawDataError
from sdtmgen.raw import SUSPECT
from sdtmgen.readers.common import make_form
from sdtmgen.readers import odm_kernel as K
from sdtmgen.readers.odm_scan import IGNORED, Clinical, NeedsParser, Scanned, scan, take

FIXED = ("SUBJECT", "VISIT", "RECORDPOSITION")
FIXED_SET = frozenset(FIXED)
METADATA = ("ItemDef", "FormDef", "ItemGroupDef", "StudyEventDef", "CodeList")


@dataclass
class Metadata:
    """What the reader uses of MetaDataVersion: names, the structure of forms, codelists."""

    item_names: dict = field(default_factory=dict)
    item_codelist: dict = field(default_factory=dict)
    form_names: dict = field(default_factory=dict)
    event_names: dict = field(default_factory=dict)
    form_groups: dict = field(default_factory=dict)  # FormDef -> its ItemGroupRefs
    group_items: dict = field(default_factory=dict)  # ItemGroupDef -> its ItemRefs
    codelists: dict = field(default_factory=lambda: defaultdict(dict))


def _codes(arrays: list) -> tuple[np.ndarray, list[str]]:
    """Integer codes of the values of several Arrow string arrays, values in order of first appearance."""
    known: dict[str, int] = {}
    parts = []
    for array in arrays:
        encoded = array.dictionary_encode()
        lookup = np.asarray([known.setdefault(v, len(known)) for v in encoded.dictionary.to_pylist()] or [0],
                            dtype=np.int64)
        parts.append(lookup[encoded.indices.to_numpy(zero_copy_only=False)])
    return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), list(known)


@dataclass
class _Cells:
    """A column the fast path read (one value per row of its form) and its ItemOID."""

    values: pa.Array
    item: str
    plain: bool = False  # no value holds a control character, tab or line break (the loop saw none)
    edged: bool = True  # some value may start or end with a space


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
        self._meta = Metadata()
        self.notes: list[Finding] = []
        self.item_count = 0
        self._wide = K.WIDE  # the fast path tells when no byte of the file is above 127

    def file_name(self, form: str) -> str:
        return self.path.name

    def forms(self) -> list[str]:
        return sorted(self._load())

    def read(self, form: str):
        forms = self._load()
        if form not in forms:
            raise RawDataError(f"raw form '{form}' not found in {self.path.name}; its forms: "
                               f"{', '.join(sorted(forms)) or 'none'}", file=self.path.name, rule="raw-form")
        rows, lines, *known = forms[form]
        seen = dict(known[0]) if known else {}  # what the fast path saw of its columns (K.SUSPECT, K.EDGED bits)
        columns = {c: (self._cells(v) if isinstance(v, _Cells) else v) for c, v in rows.items()}
        seen.update({c: (0 if v.plain else K.SUSPECT) | (K.EDGED if v.edged else 0) | self._wide
                     for c, v in rows.items()
                     if isinstance(v, _Cells) and not (self.decode and v.item in self._meta.item_codelist)})
        plain = {c for c, bits in seen.items() if not bits & K.SUSPECT}
        # clean: no edge space, and ASCII (the loop looks for spaces only; an invisible character such as a
        # no-break space at an edge is looked for by the shared checks); ASCII: no reference either (plain)
        ascii = {c for c in plain if not seen[c] & K.WIDE}
        clean = {c for c in ascii if not seen[c] & K.EDGED}
        return make_form(columns, np.asarray(lines, dtype=np.int64), self.path.name, plain=frozenset(plain),
                         clean=frozenset(clean), ascii=frozenset(ascii))

    def _cells(self, cells: "_Cells") -> pa.Array:
        """One column the fast path read (its cells already where they stay, one per row), decoded."""
        values = cells.values
        if self.decode and cells.item in self._meta.item_codelist:
            decoded = self._meta.codelists.get(self._meta.item_codelist[cells.item], {})
            encoded = values.dictionary_encode()
            values = pa.array([decoded.get(v, v) for v in encoded.dictionary.to_pylist()],
                              type=pa.large_string()).take(encoded.indices)
        return values

    def _fail(self, line, message: str) -> RawDataError:
        return RawDataError(f"{self.path.name} line {line}: {message}", file=self.path.name, rule="raw-form")

    def _load(self) -> dict:
        if self._forms is not None:
            return self._forms
        with self.path.open("rb") as handle:
            head = handle.read(4096)
        transactional = b'FileType="Transactional"' in head or b"FileType='Transactional'" in head
        try:  # the fast path reads most exports; anything it does not read the XML parser reads, or names
            clinical = scan(self.path)
            meta = Metadata()
            try:
                self._read_metadata(etree.iterparse(BytesIO(clinical.metadata), **self._parse_options()), meta)
            except etree.XMLSyntaxError:
                raise NeedsParser("metadata") from None
            forms = self._assemble_scanned(clinical, meta)
        except NeedsParser:
            clinical, meta = self._parse()
            forms = self._assemble(clinical, meta, scanned=False)
        self._meta = meta
        if clinical.ignored:
            what = ", ".join(f"{n} {t}" for t, n in sorted(clinical.ignored.items()))
            self.notes.append(Finding(
                rule="RAW-ODM-IGNORED", severity="warning", dataset="*", variable=self.path.name,
                message=f"{self.path.name}{' (Transactional)' if transactional else ''}: {what} element(s) "
                        f"are audit or signature information, not data; they were not read"))
        self._forms = forms
        return forms

    @staticmethod
    def _parse_options() -> dict:
        return {"events": ("end",), "tag": [f"{{*}}{t}" for t in METADATA], "huge_tree": True,
                "resolve_entities": False, "no_network": True}

    @staticmethod
    def _read_metadata(context, meta: "Metadata") -> None:
        for _, element in context:
            OdmReader._metadata_element(element, meta)

    @staticmethod
    def _metadata_element(element, meta: "Metadata") -> None:
        tag = _local(element.tag)
        oid = element.get("OID")
        if tag == "ItemDef":
            meta.item_names[oid] = element.get("Name") or oid
            ref = next((c for c in element if _local(c.tag) == "CodeListRef"), None)
            if ref is not None:
                meta.item_codelist[oid] = ref.get("CodeListOID")
        elif tag == "FormDef":
            meta.form_names[oid] = element.get("Name") or oid
            meta.form_groups[oid] = [c.get("ItemGroupOID") for c in element if _local(c.tag) == "ItemGroupRef"]
        elif tag == "ItemGroupDef":
            meta.group_items[oid] = [c.get("ItemOID") for c in element if _local(c.tag) == "ItemRef"]
        elif tag == "StudyEventDef":
            meta.event_names[oid] = element.get("Name") or oid
        elif tag == "CodeList":
            for entry in element:
                if _local(entry.tag) in ("CodeListItem", "EnumeratedItem"):
                    text = entry.findtext(".//{*}TranslatedText")
                    meta.codelists[oid][entry.get("CodedValue")] = (
                        text.strip() if text is not None else entry.get("CodedValue"))

    def _parse(self) -> tuple[Clinical, "Metadata"]:
        """The whole file through lxml's iterparse: slower, reads any well-formed ODM and names the line of an
        error. Rows leave the tree once read (memory stays bounded)."""
        clinical, meta = Clinical(), Metadata()
        ignored: dict[str, int] = defaultdict(int)
        options = self._parse_options()
        options["tag"] = options["tag"] + [f"{{*}}{t}" for t in ("ItemGroupData", "SubjectData", *IGNORED)]
        try:
            for _, element in etree.iterparse(str(self.path), **options):
                tag = _local(element.tag)
                if tag == "ItemGroupData":
                    self._group(element, clinical)
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
                else:
                    self._metadata_element(element, meta)
        except etree.XMLSyntaxError as exc:
            raise RawDataError(f"{self.path.name} line {exc.lineno}: not well-formed XML ({exc.msg})",
                               file=self.path.name, rule="raw-form") from None
        clinical.ignored = dict(ignored)
        clinical.line = [np.asarray(clinical.line, dtype=np.int64)]
        clinical.item_group = [np.asarray(clinical.item_group, dtype=np.int64)]
        clinical.item_typed = [np.asarray(clinical.item_typed, dtype=bool)]
        for name in ("form", "subject", "event", "repeat", "item_oid", "item_value"):
            setattr(clinical, name, [pa.array(getattr(clinical, name), type=pa.large_string())])
        return clinical, meta

    def _assemble(self, clinical: Clinical, meta: "Metadata", scanned: bool) -> dict:
        """The forms from the tables of groups (rows) and items (cells): one column per item, an empty value
        where a row lacks it; columns in the order items first appear (ItemData before ItemDataString & co.
        within a row)."""
        self.item_count = sum(len(g) for g in clinical.item_group)
        lines = np.concatenate(clinical.line) if clinical.line else np.zeros(0, dtype=np.int64)
        form_codes, form_oids = _codes(clinical.form)
        subjects = pa.chunked_array(clinical.subject, type=pa.large_string()).combine_chunks()
        events = pa.chunked_array(clinical.event, type=pa.large_string()).combine_chunks()
        repeats = pa.chunked_array(clinical.repeat, type=pa.large_string()).combine_chunks()
        item_group = np.concatenate(clinical.item_group) if clinical.item_group else np.zeros(0, dtype=np.int64)
        typed = np.concatenate(clinical.item_typed) if clinical.item_typed else np.zeros(0, dtype=bool)
        oid_codes, oids = _codes(clinical.item_oid)
        clinical.item_group.clear()
        clinical.item_oid.clear()
        values = pa.chunked_array(clinical.item_value, type=pa.large_string()).combine_chunks()  # (a take from chunks joins them again at each call)
        clinical.item_value.clear()  # the chunks' copies go as the joined array is made
        # each group's row number within its form
        row_in_form = np.empty(len(form_codes), dtype=np.int64)
        members = [np.flatnonzero(form_codes == f) for f in range(len(form_oids))]
        for rows in members:
            row_in_form[rows] = np.arange(len(rows))
        # items sorted by (form, item), stable: each item's cells in row order (small integer types: at
        # 10,000 subjects there are 20 M items, and every int64 array of them is 160 MB)
        small = np.uint16 if len(form_oids) * max(len(oids), 1) < 1 << 16 else np.int64
        key = form_codes.astype(small)[item_group]
        key *= small(max(len(oids), 1))
        key += oid_codes.astype(small)
        del oid_codes
        order = np.argsort(key, kind="stable")
        if len(order) < 1 << 31:
            order = order.astype(np.int32)
        sorted_key = key[order]
        del key
        bounds = np.flatnonzero(sorted_key[1:] != sorted_key[:-1]) + 1
        starts = np.concatenate([[0], bounds]).astype(np.int64) if len(order) else np.zeros(0, dtype=np.int64)
        stops = np.append(bounds, len(order)) if len(order) else np.zeros(0, dtype=np.int64)
        segment_form = form_codes[item_group[order[starts]]] if len(order) else np.zeros(0, dtype=np.int64)
        segment_oid = (sorted_key[starts].astype(np.int64) % max(len(oids), 1)) if len(order) else starts
        del sorted_key
        forms: dict[str, tuple] = {}
        for f, oid in enumerate(form_oids):
            name = self._plain(meta.form_names.get(oid, oid) if self.form_by == "name" else oid)
            if name in forms:
                raise RawDataError(f"{self.path.name}: forms {oid} and another both become form '{name}'",
                                   file=self.path.name, rule="raw-form")
            rows = members[f]
            n = len(rows)
            take = pa.array(rows, type=pa.int64())
            visit = events.take(take).dictionary_encode()
            named = [meta.event_names.get(e, e) for e in visit.dictionary.to_pylist()]
            columns: dict[str, object] = {
                "SUBJECT": subjects.take(take),
                "VISIT": pa.array(named, type=pa.large_string()).take(visit.indices),
                "RECORDPOSITION": repeats.take(take)}
            declared = [self._column(item, meta.item_names) for group in meta.form_groups.get(oid, [])
                        for item in meta.group_items.get(group, [])]
            for item in declared:  # items the metadata declares are columns even when no row holds them
                if item not in FIXED:
                    columns.setdefault(item, None)
            mine = np.flatnonzero(segment_form == f)
            firsts = order[starts[mine]]  # each item's first cell: row, then ItemData before typed, then position
            mine = mine[np.lexsort((firsts, typed[firsts], row_in_form[item_group[firsts]]))]
            for segment in mine:
                cells = order[starts[segment]:stops[segment]]
                cell_rows = row_in_form[item_group[cells]]
                item = oids[segment_oid[segment]]
                column = self._column(item, meta.item_names)
                if scanned and (item in FIXED or (len(cell_rows) > 1 and (np.diff(cell_rows) <= 0).any())):
                    raise NeedsParser("an item named as a fixed column, or given twice in a row")
                if column in FIXED:
                    raise self._fail(lines[rows[cell_rows[0]]], f"item {item} is named {column}, a column the "
                                                                f"reader provides (SUBJECT, VISIT, RECORDPOSITION)")
                if columns.get(column) is not None:
                    raise RawDataError(f"{self.path.name}: items of form {oid} share the column name {column}",
                                       file=self.path.name, rule="raw-form")
                picked = pa.array(cells, type=pa.int64())
                if len(cells) != n:
                    at = np.full(n, -1, dtype=np.int64)
                    at[cell_rows] = cells
                    picked = pa.array(at, mask=at < 0)
                cell_values = values.take(picked).fill_null("")
                if self.decode and item in meta.item_codelist:
                    decoded = meta.codelists.get(meta.item_codelist[item], {})
                    encoded = cell_values.dictionary_encode()
                    cell_values = pa.array([decoded.get(v, v) for v in encoded.dictionary.to_pylist()],
                                           type=pa.large_string()).take(encoded.indices)
                columns[column] = cell_values
            columns = {c: (v if v is not None else pa.array([""] * n, type=pa.large_string()))
                       for c, v in columns.items()}
            forms[name] = (columns, lines[rows])
        return forms

    def _assemble_scanned(self, scanned: Scanned, meta: "Metadata") -> dict:
        """The forms from what the fast path read: columns as _Cells, joined when a form is read. Columns and
        checks as in _assemble: declared items first, then items in the order they first appear."""
        self.item_count = scanned.item_count
        self._wide = 0 if scanned.ascii else K.WIDE  # what the fast path saw of the file's bytes
        # each form's rows, the forms in the order they first appear (no sort of the 2 M groups)
        form_rows = {int(f): np.flatnonzero(scanned.group_form == f)
                     for f in np.flatnonzero(np.bincount(scanned.group_form))} if len(scanned.group_form) else {}
        slots = scanned.slots
        forms: dict[str, tuple] = {}
        for f in sorted(form_rows, key=lambda f: form_rows[f][0]):
            oid = scanned.names[f]
            name = self._plain(meta.form_names.get(oid, oid) if self.form_by == "name" else oid)
            if name in forms:
                raise RawDataError(f"{self.path.name}: forms {oid} and another both become form '{name}'",
                                   file=self.path.name, rule="raw-form")
            rows = form_rows[f]
            visits = scanned.group_event[rows]
            named = [meta.event_names.get(e, e) for e in scanned.events]
            lines = scanned.line[rows]
            columns: dict[str, object] = {
                "SUBJECT": take(scanned.subjects, scanned.group_subject[rows]),
                "VISIT": take(pa.array(named, type=pa.large_string()), visits),
                "RECORDPOSITION": take(scanned.repeat, rows)}
            named = [named[e] for e in np.flatnonzero(np.bincount(visits))]  # the names this form's rows hold
            for item in (self._column(item, meta.item_names) for group in meta.form_groups.get(oid, [])
                         for item in meta.group_items.get(group, [])):
                if item not in FIXED:
                    columns.setdefault(item, None)
            mine = np.flatnonzero(slots[:, K.SLOT_FORM] == f)
            mine = mine[np.lexsort((slots[mine, K.SLOT_FIRST_CELL], slots[mine, K.SLOT_FIRST_TYPED],
                                    slots[mine, K.SLOT_FIRST_ROW]))]
            for slot in mine:
                item = scanned.names[slots[slot, K.SLOT_ITEM]]
                column = self._column(item, meta.item_names)
                if item in FIXED:
                    raise NeedsParser("an item named as a fixed column")
                if column in FIXED:
                    raise self._fail(lines[slots[slot, K.SLOT_FIRST_ROW]], f"item {item} is named {column}, a column "
                                     f"the reader provides (SUBJECT, VISIT, RECORDPOSITION)")
                if columns.get(column) is not None:
                    raise RawDataError(f"{self.path.name}: items of form {oid} share the column name {column}",
                                       file=self.path.name, rule="raw-form")
                columns[column] = _Cells(scanned.cells[slot], item, plain=not scanned.suspect[slot],
                                         edged=bool(scanned.edged[slot]))
            n = len(rows)
            seen = {c: 0 for c, v in columns.items() if v is None}  # declared, in no row: empty values
            columns = {c: (v if v is not None else pa.array([""] * n, type=pa.large_string()))
                       for c, v in columns.items()}
            visit_seen = ((K.SUSPECT if any(re.search(SUSPECT, e) for e in named) else 0)
                          | (K.EDGED if any(e[:1] == " " or e[-1:] == " " for e in named) else 0))
            visit_seen |= 0 if all(e.isascii() for e in named) else K.WIDE  # names from the metadata, decoded
            seen.update({"SUBJECT": scanned.subject_seen | self._wide, "VISIT": visit_seen,
                         "RECORDPOSITION": scanned.repeat_seen | self._wide})
            forms[name] = (columns, lines, seen)
        return forms

    def _group(self, element, clinical: Clinical) -> None:
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
        row = len(clinical.line)
        clinical.form.append(oid)
        clinical.subject.append(subject)
        clinical.event.append(event)
        clinical.repeat.append(element.get("ItemGroupRepeatKey") or form_data.get("FormRepeatKey") or "")
        clinical.line.append(element.sourceline)
        cells = [(c.get("ItemOID"), c.get("Value"), c.get("IsNull")) for c in element.iterchildren("{*}ItemData")]
        plain = len(cells)
        if len(cells) != len(element) and any(_local(c.tag).startswith("ItemData") and _local(c.tag) != "ItemData"
                                               for c in element):
            cells += [(c.get("ItemOID"), c.text or "", c.get("IsNull")) for c in element
                      if _local(c.tag).startswith("ItemData") and _local(c.tag) != "ItemData"]
        oids = [c[0] for c in cells]
        values = [c[1] if c[2] != "Yes" else "" for c in cells]
        if None in oids or None in values or len(set(oids)) != len(oids) or not FIXED_SET.isdisjoint(oids):
            self._bad_items(element, cells, subject, oid)
        clinical.item_oid += oids
        clinical.item_value += values
        clinical.item_group += [row] * len(oids)
        clinical.item_typed += [False] * plain + [True] * (len(oids) - plain)

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
