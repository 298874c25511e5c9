"""``acrf.pdf``: the annotated CRF, written from the raw forms and the spec.

The forms are the raw export's CSV files (their header rows are the collected fields, see
docs/raw-forms.md); the spec's sources say where each field goes. One section per form, starting on
a new page, lists every field with its SDTM annotation:

- ``DOMAIN.VARIABLE`` for each variable a mapping rule fills from the field (``VS.VSORRES when
  VSTEST = Temperature`` for the columns of a wide form that is unpivoted);
- ``SUPPxx.QNAM`` for a field kept as a supplemental qualifier;
- ``DOMAIN.VARIABLE`` of the derivations that read a temporary filled from the field (``DM.DTHDTC``
  from ``ds.csv`` DTHDAT through ``DS._DTHDTC``);
- ``NOT SUBMITTED`` for a field no source reads.

The PDF has an outline (bookmarks): one entry per form and one per SDTM domain (its first annotated
page). :func:`write_acrf` returns the physical pages (1-based) where each ``(DOMAIN, VARIABLE)`` is
annotated; the build writes define.xml's PDFPageRefs from them, so a page reference always points
at a page that shows the variable. The same spec and raw headers give the same bytes (reportlab's
invariant mode: no creation date, fixed document id).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from sdtmgen.spec.models import Spec

NOT_SUBMITTED = "NOT SUBMITTED"

#: (domain, variable or QNAM, text shown); domain "SUPPxx" for supplemental qualifiers
Annotation = tuple[str, str, str]


def form_fields(raw_folder: Path, source: object = None) -> dict[str, list[str]]:
    """Each raw form -> its columns: the header row of each CSV form, or the forms an EDC export's
    reader (ODM, REDCap; ``source`` as study.yaml's ``raw``, or detected) gives."""
    from sdtmgen.raw_export import RawExport

    export = RawExport(Path(raw_folder), source)
    if export.reader_forms() is not None:
        return {form: [c for c in export.read(form).columns if not c.startswith("_")]
                for form in export.reader_forms()}
    forms = {}
    dialect = export._dialect  # study.yaml's CSV options (encoding, delimiter, quotechar)
    encoding = "utf-8-sig" if dialect.utf8 else dialect.encoding
    for path in sorted(Path(raw_folder).glob("*.csv")):
        with open(path, encoding=encoding, errors="replace", newline="") as fh:  # header only
            header = next(csv.reader(fh, delimiter=dialect.delimiter, quotechar=dialect.quotechar), [])
        forms[path.stem] = [h.strip() for h in header if h.strip()]
    return forms


def _mentions(value, name: str) -> bool:
    if isinstance(value, str):
        return value == name
    if isinstance(value, dict):
        return any(_mentions(v, name) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return any(_mentions(v, name) for v in value)
    return False


def annotations(spec: "Spec") -> dict[tuple[str, str], list[Annotation]]:
    """(form, column) -> the SDTM annotations of that collected field, in spec order."""
    found: dict[tuple[str, str], list[Annotation]] = defaultdict(list)
    derivations = [(d, step, step.model_dump()) for d in spec.domains for step in d.derivations]

    def targets_of_temp(domain: str, temp: str) -> list[Annotation]:
        out = []
        for d, step, params in derivations:
            reads_here = d.domain == domain or params.get("domain") == domain
            if reads_here and _mentions(params, temp):
                names = {v.name for v in d.variables}
                out += [(d.domain, v, f"{d.domain}.{v}") for v in sorted(step.produces()) if v in names]
        return out

    for d in spec.domains:
        supp = {s.column: s.qnam for s in d.supplemental}
        for source in d.sources:
            unpivoted: dict[str, list[tuple[str, str]]] = defaultdict(list)  # raw column -> (temp, test)
            if source.unpivot:
                u = source.unpivot
                for m in u.measurements:
                    if m.get("result"):
                        unpivoted[m["result"]].append((u.result_column, m.get("test", "")))
                    if m.get("unit"):
                        unpivoted[m["unit"]].append((u.unit_column, m.get("test", "")))
            reads: dict[str, list[Annotation]] = defaultdict(list)  # column (or FORM.COLUMN, temp) -> targets
            for target, rule in source.map.items():
                if target.startswith("_"):
                    if target in supp:
                        ann = [(f"SUPP{d.domain}", supp[target], f"SUPP{d.domain}.QNAM = {supp[target]}")]
                    else:
                        ann = targets_of_temp(d.domain, target)
                else:
                    ann = [(d.domain, target, f"{d.domain}.{target}")]
                for column in sorted(rule.columns()):
                    reads[column] += ann
            for column, anns in reads.items():
                if "." in column:
                    form, col = column.split(".", 1)
                else:
                    form, col = source.form, column
                if col in unpivoted:
                    continue
                found[(form, col)] += anns
            for column, uses in unpivoted.items():
                for temp, test in uses:
                    for dom, var, text in reads.get(temp, []):
                        found[(source.form, column)].append((dom, var, f"{text} when {d.domain}TEST = {test}"))
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}


class _Row(Table):
    """One field of a form: records the page it is drawn on, and bookmarks the first page of a domain."""

    def __init__(self, data, annotations_: list[Annotation], pages: dict, **kw):
        super().__init__(data, **kw)
        self._annotations = annotations_
        self._pages = pages

    def draw(self):
        page = self.canv.getPageNumber()
        for dom, var, _ in self._annotations:
            if not self._pages:
                self.canv.bookmarkPage("domains")  # the outline's "Domains" entry (keys name one entry each)
            if not any(d == dom for d, _v in self._pages):
                self.canv.bookmarkPage(f"domain-{dom}")
            self._pages.setdefault((dom, var), set()).add(page)
        super().draw()


class _FormMark(Flowable):
    """Zero-size mark at the top of a form's section: a bookmark and its outline entry."""

    def __init__(self, form: str, first: bool):
        super().__init__()
        self.form, self.first = form, first
        self.width = self.height = 0

    def draw(self):
        key = f"form-{self.form}"
        self.canv.bookmarkPage(key)
        if self.first:
            self.canv.bookmarkPage("forms")
            self.canv.addOutlineEntry("Forms", "forms", level=0)
        self.canv.addOutlineEntry(f"{self.form}.csv", key, level=1)


class _DomainOutline(Flowable):
    """Zero-size, last in the story: the outline's "Domains" entries, once every page is laid out."""

    def __init__(self, pages: dict):
        super().__init__()
        self.pages = pages
        self.width = self.height = 0

    def draw(self):
        domains = sorted({d for d, _v in self.pages}, key=lambda d: (d.startswith("SUPP"), d))
        if domains:
            self.canv.addOutlineEntry("Domains", "domains", level=0)
            for dom in domains:
                self.canv.addOutlineEntry(dom, f"domain-{dom}", level=1)
        self.canv.showOutline()


def write_acrf(path: Path, spec: "Spec", raw_folder: Path) -> dict[tuple[str, str], list[int]]:
    """Write the annotated CRF; return (DOMAIN, VARIABLE) -> the sorted pages where it is annotated."""
    forms = form_fields(raw_folder, getattr(spec.study, "raw_source", None))
    notes = annotations(spec)
    styles = getSampleStyleSheet()
    cell = styles["BodyText"]
    pages: dict[tuple[str, str], set[int]] = {}
    study = spec.study
    grid = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    head = TableStyle(grid + [("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)])
    story: list = [Paragraph(escape(f"Annotated CRF: study {study.studyid}"), styles["Title"]),
                   Paragraph(escape(" ".join(study.title.split())), cell),
                   Paragraph(escape(f"Sponsor: {study.sponsor}. Protocol: {study.protocol or study.studyid}."), cell),
                   Spacer(1, 6 * mm),
                   Paragraph("Each form of the EDC export is one section. Each collected field shows where it is "
                             "submitted: DOMAIN.VARIABLE in SDTM, SUPPxx.QNAM for a supplemental qualifier, or "
                             f"{NOT_SUBMITTED}.", cell),
                   Spacer(1, 4 * mm),
                   Table([["Form", "File", "Fields", "Domains"]]
                         + [[name, f"{name}.csv", str(len(cols)),
                             Paragraph(escape(", ".join(sorted({a[0] for c in cols for a in notes.get((name, c), [])}))
                                              or NOT_SUBMITTED), cell)]
                            for name, cols in forms.items()],
                         colWidths=[35 * mm, 40 * mm, 20 * mm, 75 * mm], style=head, repeatRows=1)]
    widths = [55 * mm, 115 * mm]
    for i, (name, columns) in enumerate(forms.items()):
        domains = sorted({a[0] for c in columns for a in notes.get((name, c), [])})
        story += [PageBreak(), _FormMark(name, i == 0),
                  Paragraph(escape(f"Form {name} ({name}.csv)"), styles["Heading1"]),
                  Paragraph(escape("Domains: " + (", ".join(domains) or NOT_SUBMITTED)), cell),
                  Spacer(1, 3 * mm),
                  Table([["Collected field", "SDTM annotation"]], colWidths=widths, style=head)]
        for column in columns:
            anns = notes.get((name, column), [])
            text = "<br/>".join(escape(_shown(a[2])) for a in anns) or NOT_SUBMITTED
            story.append(_Row([[Paragraph(escape(_shown(column)), cell), Paragraph(text, cell)]], anns, pages,
                              colWidths=widths, style=TableStyle(grid)))
    story.append(_DomainOutline(pages))
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=f"Annotated CRF {study.studyid}",
                            author=study.sponsor, invariant=True, leftMargin=20 * mm, rightMargin=20 * mm)
    doc.build(story)
    return {k: sorted(v) for k, v in sorted(pages.items())}


#: longest text shown whole in a cell of a form's table: a table row cannot run over two pages, and a raw
#: header name (or an annotation) of thousands of characters made the PDF layout fail
SHOWN_CHARACTERS = 600


def _shown(text: str) -> str:
    """The text of a cell, shortened past SHOWN_CHARACTERS with its full length said."""
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}... (shortened here: {len(text):,} characters in all)"


def with_pages(specs: dict, pages: dict[tuple[str, str], list[int]]) -> dict:
    """The dataset specs with each Collected variable's crf_pages replaced by the pages of the aCRF just
    written (none when the aCRF does not annotate it), so define.xml's PDFPageRefs point at real pages.
    The spec's own crf_pages are not used by a build: page numbers follow the layout of the PDF."""
    out = {}
    for name, dspec in specs.items():
        variables = [v.model_copy(update={"crf_pages": pages.get((name, v.name), []) if v.origin == "Collected"
                                          else []}) for v in dspec.variables]
        out[name] = dspec.model_copy(update={"variables": variables})
    return out
