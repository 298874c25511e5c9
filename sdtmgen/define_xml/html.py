"""``define.html``: the define.xml of a package as a self-contained HTML page a reviewer can read.

Browsers are dropping XSLT, so CDISC's stylesheet can no longer be relied on to show define.xml.
This module renders the page itself, from the define.xml *tree* (``build_define``'s, or the
written file parsed back, which is what ``write_define_package`` passes). Reading the tree rather
than the spec is deliberate: define.xml is the one description of the package the build produces,
and it has already been through every judgement (data types, lengths, value-level items, codelist
extensions, method texts); describing the package a second time from the spec could disagree with
it, whereas a view of the tree cannot. The only fact that is not in define.xml is the number of
records per dataset, which the caller may pass.

What the page shows: the study and its standards; a table of datasets (class, structure, keys,
records, the file); per dataset its variables (order, name, label, key, type, length, significant
digits, format, codelist, origin with annotated CRF pages, method and comment, mandatory, role) and
its value-level metadata with the where clauses written out (``LBTESTCD EQ NEUT``); the codelists
(coded value, decode, NCI C-codes, sponsor extensions marked), external dictionaries, methods,
comments and a summary of origins. Every cross reference is an in-page link whose anchor is the
OID (``#IG.DM``, ``#IT.DM.SEX``, ``#CL.SEX``, ``#MT.DM.RFSTDTC``, ``#VL.LB.LBORRES``,
``#COM.AE.AELLT``), each with a list of the places that use it.

Safety and stability: the page is built as an lxml element tree, so every text (labels, comments,
codelist values: untrusted spec and data) is escaped by the serializer, never pasted into markup.
A file link (dataset file, annotated CRF) is written only when its href is a relative path to a
file that exists inside the package folder; otherwise the href is shown as text. The page has its
CSS inline, no script and no external resource; the same define.xml gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

from lxml import etree
from lxml import html as lxml_html
from lxml.builder import ElementMaker

from .oids import XPATH_NS, define, xlink

E = ElementMaker(makeelement=lxml_html.html_parser.makeelement)
NS = XPATH_NS
NCI = "nci:ExtCodeID"

SECTION_IDS = ("top", "datasets", "value-level", "codelists", "dictionaries", "methods", "comments", "origins",
               "analysis-results")
ARM = "{http://www.cdisc.org/ns/arm/v1.0}"

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9dee3; --head: #eef1f4; --accent: #1d4f91; --hl: #fff4c2; }
* { box-sizing: border-box; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; padding: 0 24px 48px; }
header.page { border-bottom: 3px solid var(--accent); padding: 18px 0 10px; margin-bottom: 6px; }
h1 { font-size: 1.7em; margin: 0 0 2px; color: var(--accent); }
h2 .code { font-size: inherit; }
h1 small { color: var(--muted); font-weight: normal; font-size: .68em; }
h2 { font-size: 1.3em; margin: 28px 0 8px; padding-bottom: 3px; border-bottom: 1px solid var(--line); color: var(--accent); }
h3 { font-size: 1.08em; margin: 18px 0 6px; }
nav.toc { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 0;
          z-index: 1; font-size: .96em; }
nav.toc a { margin-right: 14px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { background: var(--head); font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f9fafb; }
tr:target, section:target > h2, div:target > h3 { background: var(--hl); }
td { overflow-wrap: break-word; }
table.terms { width: auto; min-width: 60%; }
table.terms td.code { min-width: 14em; }
th.w-method { width: 17em; } th.w-mtype { width: 7.5em; } th.w-used { width: 22em; } th.w-comment { width: 11em; }
table.fixed { table-layout: fixed; }
th.w-ord { width: 2.8em; } th.w-name { width: 7.2em; } th.w-label { width: 10.5em; } th.w-key { width: 3.2em; }
th.w-type { width: 9.6em; } th.w-len { width: 4.6em; } th.w-dig { width: 4.4em; } th.w-fmt { width: 7em; }
th.w-ct { width: 10.5em; } th.w-origin { width: 9em; } th.w-mand { width: 6.6em; } th.w-role { width: 7em; }
th.w-where { width: 13em; } th.w-desc { width: 13em; }
td.nowrap { white-space: nowrap; }
table.meta { width: auto; }
table.meta th { background: var(--head); width: 13em; }
td.num, th.num { text-align: right; white-space: nowrap; }
.code, td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .92em; }
td.name { white-space: nowrap; font-weight: 600; }
.oid { color: var(--muted); font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85em; }
.muted, .note { color: var(--muted); }
.note { font-size: .92em; margin: 2px 0 8px; }
.text { white-space: pre-wrap; }
.facts { margin: 0 0 6px; color: var(--muted); }
.facts b { color: var(--ink); font-weight: 600; }
.ext { font-weight: 600; color: #9a3412; }
.used { font-size: .92em; }
.up { float: right; font-size: .7em; font-weight: normal; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { padding: 0; font-size: 10px; }
  nav.toc, .up { display: none; }
  a { color: inherit; }
  thead { display: table-header-group; }
  thead th { white-space: normal; }
  tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  section.dataset, section.part { break-before: page; }
  tbody tr:nth-child(even) { background: none; }
}
"""


def _text(element: etree._Element | None, path: str = "odm:Description/odm:TranslatedText") -> str:
    if element is None:
        return ""
    found = element.find(path, NS)
    return (found.text or "") if found is not None else ""


def _children(items: Iterable[Any]) -> list[Any]:
    """Element content: drops None, flattens lists, turns numbers into text (elements and dicts pass)."""
    out = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (list, tuple)):
            out += _children(item)
        else:
            out.append(item if isinstance(item, (etree._Element, dict)) else str(item))
    return out


def el(tag: str, *content: Any, cls: str | None = None, **attrs: str) -> etree._Element:
    if cls:
        attrs["class"] = cls
    return getattr(E, tag)(*_children(content), **{k.rstrip("_"): v for k, v in attrs.items()})


def _joined(parts: Iterable[Any], sep: str = ", ") -> list[Any]:
    out: list[Any] = []
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(part)
    return out


def _fragment(oid: str) -> str:
    """The href of an in-page link to the element whose id is ``oid``."""
    return "#" + quote(oid, safe="._-~!$&'()*+,;=:@/")


def _quoted(value: str) -> str:
    """A where-clause value, quoted (SAS style, inner quotes doubled) when it would otherwise read ambiguously."""
    if value == "" or value != value.strip() or any(c in value for c in ' ,"()'):
        return '"' + value.replace('"', '""') + '"'
    return value


#: longer method and comment texts are cut in the variable tables (the whole text is in its own section)
INLINE_TEXT = 240


def _shortened(text: str, full: Any) -> list[Any]:
    if len(text) <= INLINE_TEXT:
        return [text]
    cut = text[:INLINE_TEXT].rsplit(" ", 1)[0] if " " in text[:INLINE_TEXT] else text[:INLINE_TEXT]
    return [cut.rstrip(" ,;:"), "… (", full, ")"]


class DefineView:
    """define.xml read once into the look-ups the page needs (OID -> element, who uses what)."""

    def __init__(self, tree: etree._ElementTree | etree._Element, folder: Path | None,
                 records: Mapping[str, int] | None):
        root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
        self.root = root
        self.study = root.find("odm:Study", NS)
        self.mdv = self.study.find("odm:MetaDataVersion", NS) if self.study is not None else None
        if self.mdv is None:
            raise ValueError("not a define.xml: no Study/MetaDataVersion")
        self.folder = Path(folder).resolve() if folder is not None else None
        self.records = dict(records or {})
        mdv = self.mdv
        self.standards = {s.get("OID"): s for s in mdv.iterfind("def:Standards/def:Standard", NS)}
        self.groups = mdv.findall("odm:ItemGroupDef", NS)
        self.items = {i.get("OID"): i for i in mdv.iterfind("odm:ItemDef", NS)}
        self.value_lists = {v.get("OID"): v for v in mdv.iterfind("def:ValueListDef", NS)}
        self.where_clauses = {w.get("OID"): w for w in mdv.iterfind("def:WhereClauseDef", NS)}
        self.codelists = mdv.findall("odm:CodeList", NS)
        self.codelist_by_oid = {c.get("OID"): c for c in self.codelists}
        self.methods = mdv.findall("odm:MethodDef", NS)
        self.method_by_oid = {m.get("OID"): m for m in self.methods}
        self.comments = mdv.findall("def:CommentDef", NS)
        self.comment_by_oid = {c.get("OID"): c for c in self.comments}
        self.leaves = {leaf.get("ID"): leaf for leaf in mdv.iter(define("leaf"))}
        self.ids: set[str] = set(SECTION_IDS)  # the sections' own ids are never given to an OID
        self.has_roles = any(r.get("Role") for g in self.groups for r in g.iterfind("odm:ItemRef", NS))
        self._index_uses()

    # ------------------------------------------------------------------ look-ups
    def _index_uses(self) -> None:
        """Who references each codelist, method and comment: (text, anchor) in page order."""
        self.uses: dict[str, list[tuple[str, str]]] = {}

        def use(oid: str | None, text: str, anchor: str) -> None:
            if oid:
                found = self.uses.setdefault(oid, [])
                if (text, anchor) not in found:
                    found.append((text, anchor))

        for group in self.groups:
            name = group.get("Name", "")
            use(group.get(define("CommentOID")), name, group.get("OID"))
            for ref in group.iterfind("odm:ItemRef", NS):
                item = self.items.get(ref.get("ItemOID"))
                if item is None:
                    continue
                label, anchor = f"{name}.{item.get('Name')}", item.get("OID")
                use(ref.get("MethodOID"), label, anchor)
                self._use_item(use, item, label, anchor)
                for vref in self.value_list_refs(item):
                    vitem = self.items.get(vref.get("ItemOID"))
                    if vitem is None:
                        continue
                    vlabel = f"{label} [{self.where_text(vref)}]"
                    use(vref.get("MethodOID"), vlabel, vitem.get("OID"))
                    self._use_item(use, vitem, vlabel, vitem.get("OID"))

    def value_list(self, item: etree._Element | None) -> etree._Element | None:
        """The def:ValueListDef an ItemDef points at, if any."""
        ref = item.find("def:ValueListRef", NS) if item is not None else None
        return self.value_lists.get(ref.get("ValueListOID")) if ref is not None else None

    def value_list_refs(self, item: etree._Element) -> list[etree._Element]:
        vl = self.value_list(item)
        return vl.findall("odm:ItemRef", NS) if vl is not None else []

    def _use_item(self, use, item: etree._Element, label: str, anchor: str) -> None:
        use(item.get(define("CommentOID")), label, anchor)
        ref = item.find("odm:CodeListRef", NS)
        if ref is not None:
            use(ref.get("CodeListOID"), label, anchor)

    def anchor(self, oid: str | None) -> dict[str, str]:
        """``{"id": oid}`` the first time an OID is placed on the page, else nothing (ids stay unique)."""
        if not oid or oid in self.ids:
            return {}
        self.ids.add(oid)
        return {"id": oid}

    def local_href(self, href: str | None) -> str | None:
        """``href`` (quoted) when it is a relative link to a file inside the package folder, else None."""
        if not href or self.folder is None:
            return None
        parts = urlsplit(href)
        path = unquote(parts.path)
        if parts.scheme or parts.netloc or not path or path.startswith(("/", "\\")) or "\\" in path:
            return None
        target = (self.folder / path).resolve()
        if not target.is_relative_to(self.folder) or not target.is_file():
            return None
        return quote(path) + (f"#{quote(parts.fragment, safe='=&')}" if parts.fragment else "")

    def file_link(self, leaf_id: str | None, fragment: str = "", text: str | None = None) -> Any:
        leaf = self.leaves.get(leaf_id or "")
        if leaf is None:
            return text or leaf_id
        href = leaf.get(xlink("href"), "")
        label = text or _text(leaf, "def:title") or href
        local = self.local_href(href + (f"#{fragment}" if fragment else ""))
        if local is None:
            return el("span", label, title=f"{href} (not in this folder)")
        return el("a", label, href=local)

    def link(self, oid: str | None, text: str | None = None, cls: str | None = None) -> Any:
        """An in-page link to ``oid`` (``unlink_dangling`` turns it into text if the page has no such anchor)."""
        if not oid:
            return None
        return el("a", text or oid, href=_fragment(oid), cls=cls)

    # ------------------------------------------------------------------ texts
    def where_text(self, ref: etree._Element) -> str:
        return " AND ".join(self._where_parts(ref, linked=False)) or "(no where clause)"

    def _where_parts(self, ref: etree._Element, linked: bool) -> list[Any]:
        parts: list[Any] = []
        for wref in ref.iterfind("def:WhereClauseRef", NS):
            clause = self.where_clauses.get(wref.get("WhereClauseOID"))
            if clause is None:
                parts.append(wref.get("WhereClauseOID"))
                continue
            for check in clause.iterfind("odm:RangeCheck", NS):
                item_oid = check.get(define("ItemOID"))
                item = self.items.get(item_oid)
                name = item.get("Name") if item is not None else item_oid
                comparator = check.get("Comparator", "EQ")
                values = [_quoted(v.text or "") for v in check.iterfind("odm:CheckValue", NS)]
                shown = f"({', '.join(values)})" if comparator in ("IN", "NOTIN") or len(values) > 1 else \
                    (values[0] if values else "")
                if linked:
                    parts.append(el("span", self.link(item_oid, name), f" {comparator} {shown}"))
                else:
                    parts.append(f"{name} {comparator} {shown}")
        return parts

    def where_cell(self, ref: etree._Element) -> etree._Element:
        parts = self._where_parts(ref, linked=True)
        return el("td", _joined(parts, " AND ") if parts else "(no where clause)", cls="code")

    def origin_cell(self, item: etree._Element) -> etree._Element:
        lines: list[Any] = []
        for origin in item.iterfind("def:Origin", NS):
            kind = origin.get("Type", "")
            source = origin.get("Source")
            line: list[Any] = [el("b", kind) if kind else None, f" ({source})" if source else None]
            description = _text(origin)
            if description:
                line += [": ", description]
            for doc in origin.iterfind("def:DocumentRef", NS):
                line += [el("br"), *self.document_ref(doc, "CRF")]
            lines.append(el("div", line))
        return el("td", lines)

    def document_ref(self, doc: etree._Element, label: str) -> list[Any]:
        leaf_id = doc.get("leafID")
        out: list[Any] = []
        refs = doc.findall("def:PDFPageRef", NS)
        if not refs:
            return [self.file_link(leaf_id)]
        for page_ref in refs:
            if page_ref.get("PageRefs"):
                pages = page_ref.get("PageRefs").split()
                physical = page_ref.get("Type") == "PhysicalRef"
                links = [self.file_link(leaf_id, f"page={p}" if physical else "", p) for p in pages]
                out += [f"{label} p. " if len(pages) == 1 else f"{label} pp. ", *_joined(links)]
            elif page_ref.get("FirstPage"):
                first, last = page_ref.get("FirstPage"), page_ref.get("LastPage") or page_ref.get("FirstPage")
                out += [f"{label} pp. ", self.file_link(leaf_id, f"page={first}", f"{first}-{last}")]
        return out

    def terms_cell(self, item: etree._Element) -> etree._Element:
        parts: list[Any] = []
        ref = item.find("odm:CodeListRef", NS)
        if ref is not None:
            codelist = self.codelist_by_oid.get(ref.get("CodeListOID"))
            name = codelist.get("Name") if codelist is not None else ref.get("CodeListOID")
            parts.append(el("div", self.link(ref.get("CodeListOID"), name)))
        vref = item.find("def:ValueListRef", NS)
        if vref is not None:
            vl = self.value_lists.get(vref.get("ValueListOID"))
            count = len(vl.findall("odm:ItemRef", NS)) if vl is not None else 0
            parts.append(el("div", self.link(vref.get("ValueListOID"), f"value-level metadata ({count})")))
        return el("td", parts)

    def notes_cell(self, method_oid: str | None, comment_oid: str | None) -> etree._Element:
        parts: list[Any] = []
        if method_oid:
            method = self.method_by_oid.get(method_oid)
            parts.append(el("div", "Method: ", self.link(method_oid, method_oid), cls="used"))
            if method is not None:
                parts.append(el("div", _shortened(_text(method), self.link(method_oid, "full text")), cls="text"))
        if comment_oid:
            comment = self.comment_by_oid.get(comment_oid)
            parts.append(el("div", "Comment: ", self.link(comment_oid, comment_oid), cls="used"))
            if comment is not None:
                parts.append(el("div", _shortened(_text(comment), self.link(comment_oid, "full text")), cls="text"))
        return el("td", parts)

    def used_links(self, oid: str) -> list[Any]:
        uses = self.uses.get(oid, [])
        return _joined(self.link(anchor, text) for text, anchor in uses) if uses else ["-"]

    def used_by(self, oid: str) -> etree._Element:
        return el("td", self.used_links(oid), cls="used")

    def standard_text(self, oid: str | None) -> str:
        standard = self.standards.get(oid or "")
        if standard is None:
            return ""
        bits = [standard.get("Name", ""), standard.get("PublishingSet", ""), standard.get("Version", "")]
        return " ".join(b for b in bits if b)


# ---------------------------------------------------------------------- page parts
def _header(view: DefineView) -> list[etree._Element]:
    root, study, mdv = view.root, view.study, view.mdv
    name = study.findtext("odm:GlobalVariables/odm:StudyName", "", NS)
    ig = next((s for s in view.standards.values() if s.get("Type") == "IG"), None)
    ig_text = f"{ig.get('Name')} {ig.get('Version')}" if ig is not None else ""
    rows = [
        ("Study", name),
        ("Description", study.findtext("odm:GlobalVariables/odm:StudyDescription", "", NS)),
        ("Protocol", study.findtext("odm:GlobalVariables/odm:ProtocolName", "", NS)),
        ("Metadata", mdv.get("Description") or mdv.get("Name")),
        ("Standards", [el("div", " ".join(b for b in (s.get("Name"), s.get("PublishingSet"), s.get("Version"))
                                          if b), el("span", f"  {s.get('Type')}, {s.get('Status')}", cls="muted"))
                       for s in view.standards.values()]),
        ("Define-XML", [mdv.get(define("DefineVersion"), ""), " (ODM ", root.get("ODMVersion", ""), "), ",
                        _define_link(view)]),
        ("Originator", root.get("Originator", "")),
        ("Source system", " ".join(b for b in (root.get("SourceSystem"), root.get("SourceSystemVersion")) if b)),
        ("Created", root.get("CreationDateTime", "")),
    ]
    acrf = mdv.find("def:AnnotatedCRF/def:DocumentRef", NS)
    if acrf is not None:
        link = view.file_link(acrf.get("leafID"))
        leaf = view.leaves.get(acrf.get("leafID") or "")
        href = leaf.get(xlink("href"), "") if leaf is not None else ""
        missing = None if isinstance(link, etree._Element) and link.tag == "a" else \
            el("span", f" ({href or 'file'} is not in this folder: CRF page numbers are shown without links)",
               cls="muted")
        rows.append(("Annotated CRF", [link, missing]))
    table = el("table", el("tbody", [el("tr", el("th", label), el("td", value)) for label, value in rows]),
               cls="meta")
    heading = el("h1", f"{name} ", el("small", f"{ig_text} define.xml" if ig_text else "define.xml"))
    return [el("header", heading, table, cls="page", id="top")]


def _define_link(view: DefineView) -> Any:
    local = view.local_href("define.xml")
    return el("a", "define.xml", href=local) if local else "define.xml"


def _toc(view: DefineView) -> etree._Element:
    parts = [("datasets", "Datasets")]
    if view.value_lists:
        parts.append(("value-level", "Value-level metadata"))
    if any(c.find("odm:ExternalCodeList", NS) is None for c in view.codelists):
        parts.append(("codelists", "Codelists"))
    if any(c.find("odm:ExternalCodeList", NS) is not None for c in view.codelists):
        parts.append(("dictionaries", "External dictionaries"))
    if view.methods:
        parts.append(("methods", "Methods"))
    if view.comments:
        parts.append(("comments", "Comments"))
    parts.append(("origins", "Origins"))
    if view.mdv.find(f"{ARM}AnalysisResultDisplays") is not None:
        parts.append(("analysis-results", "Analysis results"))
    return el("nav", [el("a", text, href=f"#{anchor}") for anchor, text in parts], cls="toc")


def _keys(view: DefineView, group: etree._Element) -> list[str]:
    keyed = [(int(r.get("KeySequence")), r.get("ItemOID")) for r in group.iterfind("odm:ItemRef", NS)
             if (r.get("KeySequence") or "").isdigit()]
    return [view.items[oid].get("Name") if oid in view.items else oid for _, oid in sorted(keyed)]


def _class(group: etree._Element) -> str:
    cls = group.find("def:Class", NS)
    if cls is None:
        return ""
    subs = [s.get("Name", "") for s in cls.iterfind("def:SubClass", NS)]
    return cls.get("Name", "") + (f" ({', '.join(subs)})" if subs else "")


def _datasets(view: DefineView) -> etree._Element:
    with_records = bool(view.records)
    head = ["Dataset", "Description", "Class", "Structure", "Keys"] + (["Records"] if with_records else []) + ["File"]
    rows = []
    for group in view.groups:
        name = group.get("Name", "")
        cells = [el("td", el("a", name, href=_fragment(group.get("OID"))), cls="name"),
                 el("td", _text(group)),
                 el("td", _class(group)),
                 el("td", group.get(define("Structure"), "")),
                 el("td", ", ".join(_keys(view, group)), cls="code")]
        if with_records:
            count = view.records.get(name)
            cells.append(el("td", f"{count:,}" if count is not None else "", cls="num"))
        cells.append(el("td", view.file_link(group.get(define("ArchiveLocationID")))))
        rows.append(el("tr", cells))
    table = el("table", el("thead", el("tr", [el("th", h, cls="num" if h == "Records" else None) for h in head])),
               el("tbody", rows))
    return el("section", el("h2", "Datasets", el("a", "top", href="#top", cls="up")), table, id="datasets")


def _value_index(view: DefineView) -> etree._Element | None:
    """One row per value list: which variable, by which topic variable, how many items."""
    rows = []
    for group in view.groups:
        for ref in group.iterfind("odm:ItemRef", NS):
            item = view.items.get(ref.get("ItemOID"))
            vl = view.value_list(item)
            if vl is None:
                continue
            refs = vl.findall("odm:ItemRef", NS)
            topics = []
            for vitem_ref in refs:
                for wref in vitem_ref.iterfind("def:WhereClauseRef", NS):
                    clause = view.where_clauses.get(wref.get("WhereClauseOID"))
                    for check in clause.iterfind("odm:RangeCheck", NS) if clause is not None else ():
                        topic = view.items.get(check.get(define("ItemOID")))
                        name = topic.get("Name") if topic is not None else check.get(define("ItemOID"))
                        if name not in topics:
                            topics.append(name)
            rows.append(el("tr", el("td", view.link(vl.get("OID"), f"{group.get('Name')}.{item.get('Name')}"),
                                    cls="name"),
                           el("td", _text(item)), el("td", ", ".join(topics), cls="code"),
                           el("td", str(len(refs)), cls="num")))
    if not rows:
        return None
    head = [el("th", "Variable"), el("th", "Label"), el("th", "Where clauses on"), el("th", "Items", cls="num")]
    return el("section", el("h2", "Value-level metadata", el("a", "top", href="#top", cls="up")),
              el("p", "Each list is shown under its dataset, after the variables.", cls="note"),
              el("table", el("thead", el("tr", head)), el("tbody", rows)), id="value-level")


def unlink_dangling(body: etree._Element) -> None:
    """Turn an in-page link whose anchor is not on the page into plain text (every href resolves)."""
    ids = {e.get("id") for e in body.iter() if e.get("id")}
    for a in list(body.iter("a")):
        href = a.get("href", "")
        if href.startswith("#") and unquote(href[1:]) not in ids:
            del a.attrib["href"]
            a.tag = "span"


VARIABLE_HEAD = [("#", "w-ord"), ("Variable", "w-name"), ("Label", "w-label"), ("Key", "w-key"), ("Type", "w-type"),
                 ("Length", "w-len"), ("Digits", "w-dig"), ("Format", "w-fmt"), ("Controlled terms", "w-ct"),
                 ("Origin", "w-origin"), ("Method / comment", None), ("Mandatory", "w-mand")]


def _variable_table(view: DefineView, group: etree._Element) -> etree._Element:
    head = VARIABLE_HEAD + ([("Role", "w-role")] if view.has_roles else [])
    rows = []
    for ref in group.iterfind("odm:ItemRef", NS):
        item = view.items.get(ref.get("ItemOID"))
        if item is None:
            rows.append(el("tr", el("td", ref.get("OrderNumber", "")), el("td", ref.get("ItemOID"), cls="name"),
                           el("td", "(no ItemDef)", colspan=str(len(head) - 2))))
            continue
        cells = [el("td", ref.get("OrderNumber", ""), cls="num"),
                 el("td", item.get("Name", ""), cls="name"),
                 el("td", _text(item)),
                 el("td", ref.get("KeySequence", ""), cls="num"),
                 el("td", item.get("DataType", "")),
                 el("td", item.get("Length", ""), cls="num"),
                 el("td", item.get("SignificantDigits", ""), cls="num"),
                 el("td", item.get(define("DisplayFormat"), ""), cls="code"),
                 view.terms_cell(item),
                 view.origin_cell(item),
                 view.notes_cell(ref.get("MethodOID"), item.get(define("CommentOID"))),
                 el("td", ref.get("Mandatory", ""))]
        if view.has_roles:
            cells.append(el("td", ref.get("Role", "")))
        rows.append(el("tr", cells, **view.anchor(item.get("OID"))))
    return el("table", el("thead", el("tr", [el("th", h, cls=w) for h, w in head])), el("tbody", rows), cls="fixed")


VALUE_HEAD = [("Where", "w-where"), ("Name", "w-name"), ("Description", "w-desc"), ("Type", "w-type"),
              ("Length", "w-len"), ("Digits", "w-dig"), ("Format", "w-fmt"), ("Controlled terms", "w-ct"),
              ("Origin", "w-origin"), ("Method / comment", None), ("Mandatory", "w-mand")]


def _value_list(view: DefineView, dataset: str, item: etree._Element) -> etree._Element | None:
    vl = view.value_list(item)
    if vl is None:
        return None
    rows = []
    for ref in vl.iterfind("odm:ItemRef", NS):
        vitem = view.items.get(ref.get("ItemOID"))
        if vitem is None:
            continue
        mandatory = ref.get("Mandatory", "") + (" (no data)" if ref.get(define("HasNoData")) == "Yes" else "")
        rows.append(el("tr", view.where_cell(ref),
                       el("td", vitem.get("Name", ""), cls="name"),
                       el("td", _text(vitem)),
                       el("td", vitem.get("DataType", "")),
                       el("td", vitem.get("Length", ""), cls="num"),
                       el("td", vitem.get("SignificantDigits", ""), cls="num"),
                       el("td", vitem.get(define("DisplayFormat"), ""), cls="code"),
                       view.terms_cell(vitem),
                       view.origin_cell(vitem),
                       view.notes_cell(ref.get("MethodOID"), vitem.get(define("CommentOID"))),
                       el("td", mandatory),
                       **view.anchor(vitem.get("OID"))))
    name = f"{dataset}.{item.get('Name')}"
    return el("div",
              el("h3", "Value-level metadata: ", view.link(item.get("OID"), name),
                 el("span", f"  {vl.get('OID')}", cls="oid")),
              el("table", el("thead", el("tr", [el("th", h, cls=w) for h, w in VALUE_HEAD])), el("tbody", rows),
                 cls="fixed"),
              **view.anchor(vl.get("OID")))


def _dataset_sections(view: DefineView) -> list[etree._Element]:
    sections = []
    for group in view.groups:
        name = group.get("Name", "")
        facts: list[Any] = [("Class", _class(group)), ("Structure", group.get(define("Structure"), "")),
                            ("Purpose", group.get("Purpose", "")), ("Repeating", group.get("Repeating", "")),
                            ("Reference data", group.get("IsReferenceData", "")),
                            ("Keys", ", ".join(_keys(view, group)))]
        if name in view.records:
            facts.append(("Records", f"{view.records[name]:,}"))
        facts.append(("File", view.file_link(group.get(define("ArchiveLocationID")))))
        fact_line = _joined([el("span", el("b", f"{label}: "), value) for label, value in facts if value != ""],
                            "  ·  ")
        extra: list[Any] = []
        for alias in group.iterfind("odm:Alias", NS):
            if alias.get("Context") == "DomainDescription":
                extra.append(el("p", el("b", "Parent domain: "), alias.get("Name", ""), cls="note"))
        comment_oid = group.get(define("CommentOID"))
        if comment_oid:
            extra.append(el("p", el("b", "Comment: "), view.link(comment_oid, comment_oid), " ",
                            _text(view.comment_by_oid.get(comment_oid)), cls="note"))
        value_lists = [_value_list(view, name, view.items[r.get("ItemOID")])
                       for r in group.iterfind("odm:ItemRef", NS) if r.get("ItemOID") in view.items]
        sections.append(el("section",
                           el("h2", el("span", name, cls="code"), f" \u2014 {_text(group)}",
                              el("a", "top", href="#top", cls="up")),
                           el("p", fact_line, cls="facts"), extra,
                           _variable_table(view, group),
                           [v for v in value_lists if v is not None],
                           cls="dataset", **view.anchor(group.get("OID"))))
    return sections


def _nci_code(element: etree._Element) -> str:
    return next((a.get("Name", "") for a in element.iterfind("odm:Alias", NS) if a.get("Context") == NCI), "")


def _codelists(view: DefineView) -> list[etree._Element]:
    coded = [c for c in view.codelists if c.find("odm:ExternalCodeList", NS) is None]
    external = [c for c in view.codelists if c.find("odm:ExternalCodeList", NS) is not None]
    out = []
    if coded:
        blocks = []
        for codelist in coded:
            code = _nci_code(codelist)
            standard = view.standard_text(codelist.get(define("StandardOID")))
            kind = standard or ("sponsor-defined" if codelist.get(define("IsNonStandard")) == "Yes" else "")
            items = codelist.xpath("odm:CodeListItem | odm:EnumeratedItem", namespaces=NS)  # define.xml's order
            decoded = any(i.tag.endswith("CodeListItem") for i in items)
            extended = any(i.get(define("ExtendedValue")) == "Yes" for i in items)
            with_codes = any(_nci_code(item) for item in items)
            head = ["Coded value"] + (["Decoded value"] if decoded else []) + (["NCI code"] if with_codes else []) + \
                (["Extended"] if extended else [])
            rows = []
            for item in items:
                item_code = _nci_code(item)
                is_ext = item.get(define("ExtendedValue")) == "Yes"
                cells = [el("td", item.get("CodedValue", ""), cls="code")]
                if decoded:
                    cells.append(el("td", _text(item, "odm:Decode/odm:TranslatedText")))
                if with_codes:
                    cells.append(el("td", item_code, cls="code"))
                if extended:
                    cells.append(el("td", "extended value" if is_ext else "", cls="ext" if is_ext else None))
                rows.append(el("tr", cells))
            facts = [("Data type", codelist.get("DataType", "")), ("NCI code", code), ("Terminology", kind)]
            blocks.append(el("div",
                             el("h3", codelist.get("Name", ""), el("span", f"  {codelist.get('OID')}", cls="oid")),
                             el("p", _joined([el("span", el("b", f"{k}: "), v) for k, v in facts if v], "  ·  "),
                                cls="facts"),
                             el("table", el("thead", el("tr", [el("th", h) for h in head])), el("tbody", rows),
                                cls="terms"),
                             el("p", "Used by: ", view.used_links(codelist.get("OID")), cls="note"),
                             **view.anchor(codelist.get("OID"))))
        out.append(el("section", el("h2", "Codelists", el("a", "top", href="#top", cls="up")),
                      el("p", "Values marked \u201cextended value\u201d are sponsor extensions of an extensible "
                              "CDISC codelist.", cls="note"), blocks, id="codelists", cls="part"))
    if external:
        rows = []
        for codelist in external:
            ext = codelist.find("odm:ExternalCodeList", NS)
            reference = ext.get("href") or ext.get("ref") or ""
            rows.append(el("tr", el("td", codelist.get("Name", ""), el("div", codelist.get("OID"), cls="oid")),
                           el("td", ext.get("Dictionary", "")), el("td", ext.get("Version", "")),
                           el("td", codelist.get("DataType", "")), el("td", reference, cls="code"),
                           view.used_by(codelist.get("OID")), **view.anchor(codelist.get("OID"))))
        head = ["Name", "Dictionary", "Version", "Data type", "Reference", "Used by"]
        out.append(el("section", el("h2", "External dictionaries", el("a", "top", href="#top", cls="up")),
                      el("table", el("thead", el("tr", [el("th", h) for h in head])), el("tbody", rows)),
                      id="dictionaries", cls="part"))
    return out


def _methods(view: DefineView) -> list[etree._Element]:
    if not view.methods:
        return []
    rows = []
    for method in view.methods:
        expressions = [el("div", el("b", f"{fx.get('Context', 'Expression')}: "), el("span", fx.text or "", cls="code"))
                       for fx in method.iterfind("odm:FormalExpression", NS)]
        documents = [el("div", view.document_ref(doc, "Document")) for doc in method.iterfind("def:DocumentRef", NS)]
        rows.append(el("tr", el("td", method.get("Name", ""), el("div", method.get("OID"), cls="oid")),
                       el("td", method.get("Type", "")),
                       el("td", el("div", _text(method), cls="text"), expressions, documents),
                       view.used_by(method.get("OID")), **view.anchor(method.get("OID"))))
    head = [("Method", "w-method"), ("Type", "w-mtype"), ("Description", None), ("Used by", "w-used")]
    return [el("section", el("h2", "Methods", el("a", "top", href="#top", cls="up")),
               el("table", el("thead", el("tr", [el("th", h, cls=w) for h, w in head])), el("tbody", rows),
                  cls="fixed"),
               id="methods", cls="part")]


def _comments(view: DefineView) -> list[etree._Element]:
    if not view.comments:
        return []
    rows = []
    for comment in view.comments:
        documents = [el("div", view.document_ref(doc, "Document")) for doc in comment.iterfind("def:DocumentRef", NS)]
        rows.append(el("tr", el("td", comment.get("OID"), cls="code"),
                       el("td", el("div", _text(comment), cls="text"), documents),
                       view.used_by(comment.get("OID")), **view.anchor(comment.get("OID"))))
    head = [("Comment", "w-comment"), ("Description", None), ("Used by", "w-used")]
    return [el("section", el("h2", "Comments", el("a", "top", href="#top", cls="up")),
               el("table", el("thead", el("tr", [el("th", h, cls=w) for h, w in head])), el("tbody", rows),
                  cls="fixed"),
               id="comments", cls="part")]


def _origins(view: DefineView) -> etree._Element:
    """How many dataset variables and value-level items have each origin (type, source)."""
    counts: dict[tuple[str, str], list[int]] = {}
    variables = {r.get("ItemOID") for g in view.groups for r in g.iterfind("odm:ItemRef", NS)}
    for oid, item in view.items.items():
        for origin in item.iterfind("def:Origin", NS):
            key = (origin.get("Type", ""), origin.get("Source", ""))
            counts.setdefault(key, [0, 0])[0 if oid in variables else 1] += 1
    rows = [el("tr", el("td", kind), el("td", source), el("td", str(n), cls="num"), el("td", str(v), cls="num"))
            for (kind, source), (n, v) in sorted(counts.items())]
    head = [el("th", "Origin"), el("th", "Source"), el("th", "Variables", cls="num"),
            el("th", "Value-level items", cls="num")]
    return el("section", el("h2", "Origins", el("a", "top", href="#top", cls="up")),
              el("p", "Each variable's origin is given in its dataset's table; collected variables link to their "
                      "annotated CRF pages when the CRF is part of the package.", cls="note"),
              el("table", el("thead", el("tr", head)), el("tbody", rows), cls="meta"),
              id="origins", cls="part")


def _analysis_results(view: DefineView) -> list[etree._Element]:
    """ARM 1.0: per result display, its analysis results (datasets, where clauses, variables, method, code)."""
    displays = view.mdv.find(f"{ARM}AnalysisResultDisplays")
    if displays is None:
        return []
    rows: list[etree._Element] = []
    for display in displays.iterfind(f"{ARM}ResultDisplay"):
        documents = [view.document_ref(doc, "Display") for doc in display.iterfind("def:DocumentRef", NS)]
        rows.append(el("tr", el("th", el("b", display.get("Name", "")), " — ", _text(display),
                                *[el("span", " (", d, ")") for d in documents], colspan="4"),
                       **view.anchor(display.get("OID"))))
        for result in display.iterfind(f"{ARM}AnalysisResult"):
            used = []
            for dataset in result.iterfind(f"{ARM}AnalysisDatasets/{ARM}AnalysisDataset"):
                group = dataset.get("ItemGroupOID", "")
                variables = [view.link(v.get("ItemOID"), v.get("ItemOID", "").rsplit(".", 1)[-1])
                             for v in dataset.iterfind(f"{ARM}AnalysisVariable")]
                where = view._where_parts(dataset, linked=True)
                used.append(el("div", view.link(group, group.split(".", 1)[-1]),
                               *([" where ", *_joined(where, " AND ")] if where else []),
                               *([el("br"), "variables: ", *_joined(variables)] if variables else [])))
            parameter = result.get("ParameterOID")
            code = result.find(f"{ARM}ProgrammingCode")
            code_text = code.findtext(f"{ARM}Code", "") if code is not None else ""
            rows.append(el("tr", el("td", el("div", _text(result), cls="text"),
                                    el("div", result.get("AnalysisPurpose", "").capitalize(), cls="oid"),
                                    el("div", result.get("OID"), cls="oid")),
                           el("td", used, *([el("div", "parameter: ", view.link(parameter, parameter.rsplit(".", 1)[-1]))]
                                            if parameter else [])),
                           el("td", el("div", _text(result.find(f"{ARM}Documentation")), cls="text")),
                           el("td", el("div", code_text, cls="text"),
                              el("div", code.get("Context", ""), cls="oid") if code is not None else None),
                           **view.anchor(result.get("OID"))))
    head = [("Analysis result", None), ("Datasets, selection, variables", None), ("Method", None),
            ("Computation", None)]
    return [el("section", el("h2", "Analysis results", el("a", "top", href="#top", cls="up")),
               el("table", el("thead", el("tr", [el("th", h) for h, _ in head])), el("tbody", rows), cls="fixed"),
               id="analysis-results", cls="part")]


def render_define_html(tree: etree._ElementTree | etree._Element, folder: str | Path | None = None,
                       records: Mapping[str, int] | None = None) -> bytes:
    """The HTML page (UTF-8 bytes) of a define.xml tree.

    ``folder``: the package folder the page will sit in; files (datasets, annotated CRF) are
    linked only when they exist there. ``records``: dataset name -> number of records.
    """
    view = DefineView(tree, Path(folder) if folder is not None else None, records)
    name = view.study.findtext("odm:GlobalVariables/odm:StudyName", "", NS)
    ig = next((s for s in view.standards.values() if s.get("Type") == "IG"), None)
    title = f"{name} \u2014 {ig.get('Name')} {ig.get('Version')} define.xml" if ig is not None else f"{name} define.xml"
    body = el("body", _header(view), _toc(view), _datasets(view), _value_index(view), _dataset_sections(view),
              _codelists(view),
              _methods(view), _comments(view), _origins(view), _analysis_results(view))
    unlink_dangling(body)
    page = el("html",
              el("head", el("meta", charset="utf-8"),
                 el("meta", name="viewport", content="width=device-width, initial-scale=1"),
                 el("meta", name="generator", content=f"{view.root.get('SourceSystem', '')} "
                                                      f"{view.root.get('SourceSystemVersion', '')}".strip()),
                 el("title", title), el("style", CSS)),
              body, lang="en")
    return lxml_html.tostring(page, doctype="<!DOCTYPE html>", encoding="utf-8", method="html", pretty_print=True)


def write_define_html(path: str | Path, tree: etree._ElementTree | etree._Element,
                      records: Mapping[str, int] | None = None) -> Path:
    """Write ``define.html`` for ``tree`` at ``path``; file links are judged against ``path``'s folder."""
    path = Path(path)
    path.write_bytes(render_define_html(tree, path.parent, records))
    return path
