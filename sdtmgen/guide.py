"""``reports/reviewers-guide.html``: a study data reviewer's guide (in the spirit of the PHUSE cSDRG).

Written by every build from what the build already knows, so it cannot drift from the package:

1. the study (id, title, sponsor, protocol, registry id) and the standards with their versions;
2. every dataset, SDTM and ADaM, with its record count, class, keys and label;
3. the data flow: raw forms -> SDTM domains (the spec's sources, with the rows read, mapped and
   excluded from ``reports/reconciliation.csv``) -> ADaM datasets (the datasets each dataset's
   derivations read);
4. every conformance finding (rule, severity, dataset, count, message) beside the explanation the
   study keeps in study.yaml ``justifications:``, then the study's data-quality severities and the
   data-review settings with their reasons;
5. the data problems the build handled (normalised raw text, split text, excluded raw rows).

The page is an lxml element tree: every text (spec, raw values in messages) is escaped by the
serializer. CSS is inline, there is no script and no external resource, and the same inputs give the
same bytes (no date is written).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pandas as pd
from lxml import etree
from lxml import html as lxml_html
from lxml.builder import ElementMaker

from sdtmgen import __version__
from sdtmgen.errors import Finding

if TYPE_CHECKING:
    from sdtmgen.spec.models import Spec

E = ElementMaker(makeelement=lxml_html.html_parser.makeelement)

#: findings that record how the build handled a data problem (not a conformance failure)
HANDLED = {"RAW-WHITESPACE": "leading/trailing spaces, tabs, line breaks removed; inner tabs/line breaks made one space",
           "RAW-UNUSED": "raw form read by no spec source: its rows are not in the package",
           "TEXT-SPLIT": "text beyond 200 bytes moved to SUPP-- records (SDTMIG 4.5.3.2)",
           "RAW-SUBJECT-CONFLICT": "a subject-level value differing between a subject's forms or rows: DM takes the "
                                   "DM form's (or the lookup's first/last row), every value listed"}

CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222;max-width:75em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:.25em .5em;
text-align:left;vertical-align:top;font-size:.9em}th{background:#eee}td.n{text-align:right}
.note{color:#555;font-size:.9em}.sev-error{color:#a00;font-weight:bold}.sev-warning{color:#a60}
nav a{margin-right:1em}
"""


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], numeric: Iterable[int] = ()) -> Any:
    right = set(numeric)
    body = [E.tr(*[E.td(str(v), **({"class": "n"} if i in right else {})) for i, v in enumerate(row)])
            for row in rows]
    return E.table(E.thead(E.tr(*[E.th(h) for h in header])), E.tbody(*body))


def _dataset_rows(spec: "Spec", records: Mapping[str, int]) -> list[list[Any]]:
    """SDTM then ADaM datasets: name, label, class, structure, keys, records."""
    meta: dict[str, tuple[str, str, str, str, str]] = {}
    for d in spec.domains:
        meta[d.domain] = ("SDTM", d.label, d.dataset_class, d.structure, ", ".join(d.keys))
        if d.supplemental:
            meta["SUPP" + d.domain] = ("SDTM", f"Supplemental Qualifiers for {d.domain}", "RELATIONSHIP",
                                       "One record per supplemental qualifier per related parent record",
                                       "STUDYID, RDOMAIN, USUBJID, IDVAR, IDVARVAL, QNAM")
    for a in spec.adam:
        meta[a.dataset] = ("ADaM", a.label, a.dataset_class, a.structure, ", ".join(a.keys))
    names = sorted(records, key=lambda n: (meta.get(n, ("SDTM",))[0] != "SDTM", n))
    rows = []
    for name in names:
        package, label, cls, structure, keys = meta.get(name, ("SDTM", "", "", "", ""))
        rows.append([package, name, label, cls, structure, keys, records[name]])
    return rows


def _flow(spec: "Spec", reconciliation: pd.DataFrame | None) -> tuple[list[list[Any]], list[list[Any]]]:
    """(raw form -> SDTM rows with counts, SDTM/ADaM -> ADaM rows)."""
    # a domain's reconciliation rows follow its sources in spec order (one form may feed two sources,
    # and an EDC export names each form inside its file: data.csv:demographics)
    counts: dict[str, list[list[Any]]] = {}
    if reconciliation is not None and len(reconciliation):
        for rec in reconciliation.fillna("").to_dict("records"):
            counts.setdefault(str(rec["domain"]), []).append(
                [str(rec["form"]), rec["rows_read"], rec["rows_mapped"], rec["rows_excluded"],
                 rec.get("exclude_rule", "")])
    raw_rows: list[list[Any]] = []
    for d in sorted(spec.domains, key=lambda d: d.domain):
        if not d.sources:
            steps = ", ".join(sorted({s.derivation_name for s in d.derivations})) or "spec"
            raw_rows.append([d.domain, "(derived: " + steps + ")", "", "", "", ""])
        recs = counts.get(d.domain, [])
        for i, s in enumerate(d.sources):
            rec = recs[i] if len(recs) == len(d.sources) else [s.form + ".csv", "", "", "", ""]
            raw_rows.append([d.domain, *rec])
    adam_rows = []
    for a in spec.adam:
        inputs = sorted({name for step in a.derivations for name, _ in step.needs()} - {a.dataset})
        first = a.derivations[0]
        origin = getattr(first, "dataset", None) or getattr(first, "source", None) or ""
        adam_rows.append([a.dataset, origin, ", ".join(inputs),
                          ", ".join(dict.fromkeys(step.derivation_name for step in a.derivations))])
    return raw_rows, adam_rows


def _grouped(findings: Iterable[Finding]) -> list[tuple[str, str, str, int, str]]:
    """(rule, severity, dataset.variable, count, first message) per rule, severity and place."""
    groups: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        where = f.dataset + (f".{f.variable}" if f.variable else "")
        groups[(f.rule, "not run" if f.not_run else f.severity, where)].append(f)
    out = []
    for (rule, severity, where), items in sorted(groups.items()):
        count = sum(max(len(f.rows), 1) for f in items)
        out.append((rule, severity, where, count, items[0].message))
    return out


def build_guide(spec: "Spec", records: Mapping[str, int], findings: list[Finding],
                reconciliation: pd.DataFrame | None, standards: Mapping[str, Any],
                acrf: str | None = None) -> etree._Element:
    """``acrf``: the relative link to the annotated CRF, when the build wrote one."""
    study = spec.study
    justify = study.justifications
    title = f"Study Data Reviewer's Guide: {study.studyid}"
    body: list[Any] = [E.h1(title),
                       E.p(f"Written by sdtmgen {__version__} from the spec and the data of this build.",
                           **{"class": "note"}),
                       E.nav(*[E.a(t, href=f"#{i}") for i, t in (
                           ("study", "Study"), ("standards", "Standards"), ("datasets", "Datasets"),
                           ("flow", "Data flow"), ("conformance", "Conformance findings"),
                           ("settings", "Study settings"), ("handled", "Data problems handled"))])]

    body += [E.h2("1. Study", id="study"),
             _table(["Item", "Value"], [["Study identifier", study.studyid], ["Title", study.title.strip()],
                                        ["Sponsor", study.sponsor], ["Protocol", study.protocol],
                                        ["Registry identifier", study.registry_id]])]

    names = {"sdtmig": "SDTM Implementation Guide", "adamig": "ADaM Implementation Guide",
             "ct": "NCI SDTM and ADaM Controlled Terminology", "define_ct": "NCI Define-XML Controlled Terminology",
             "ctcae": "NCI CTCAE (lab toxicity grades)"}
    std_rows = [["SDTM model", study.sdtm_version, ""], ["Define-XML", "2.1", ""]]
    for key in sorted(standards, key=lambda k: (list(names).index(k) if k in names else len(names), k)):
        entry = standards[key] or {}
        files = ", ".join(sorted((entry.get("sha256") or {})))
        std_rows.append([names.get(key, key), str(entry.get("version", "")), files])
    body += [E.h2("2. Standards", id="standards"), _table(["Standard", "Version", "Files used"], std_rows)]

    ds_rows = _dataset_rows(spec, records)
    body += [E.h2("3. Datasets", id="datasets"),
             E.p(f"{len(ds_rows)} dataset(s); the record counts are those of the files written.",
                 **{"class": "note"}),
             _table(["Package", "Dataset", "Description", "Class", "Structure", "Keys", "Records"], ds_rows,
                    numeric=[6])]

    raw_rows, adam_rows = _flow(spec, reconciliation)
    body += [E.h2("4. Data flow", id="flow"),
             E.p("Raw forms (CSV export of the EDC) are mapped to SDTM domains by the spec's sources; "
                 "rows read, mapped and excluded come from reports/reconciliation.csv. ADaM datasets are "
                 "derived from SDTM and other ADaM datasets by the registered derivations named in the spec."),
             E.p("Each collected field and the SDTM variable it goes to: ", E.a("the annotated CRF", href=acrf), ".")
             if acrf else E.p("No annotated CRF was written.", **{"class": "note"}),
             E.h3("Raw forms to SDTM"),
             _table(["SDTM domain", "Raw form", "Rows read", "Rows mapped", "Rows excluded", "Exclusion rule"],
                    raw_rows, numeric=[2, 3, 4]),
             E.h3("SDTM to ADaM"),
             _table(["ADaM dataset", "Records from", "Datasets read", "Derivations"], adam_rows)]

    conformance = [f for f in findings if f.rule not in HANDLED]
    grouped = _grouped(conformance)
    rows = []
    for rule, severity, where, count, message in grouped:
        rows.append(E.tr(E.td(rule), E.td(severity, **{"class": f"sev-{severity}"}), E.td(where),
                         E.td(str(count), **{"class": "n"}), E.td(message),
                         E.td(justify.get(rule, "") or "No explanation in the spec.")))
    header = E.thead(E.tr(*[E.th(h) for h in ("Rule", "Severity", "Dataset", "Count", "Message", "Explanation")]))
    body += [E.h2("5. Conformance findings", id="conformance"),
             E.p(f"{len(grouped)} finding group(s) from {len(conformance)} finding(s); every rule and its status is in "
                 "reports/conformance.txt. Explanations are kept in study.yaml (justifications).",
                 **{"class": "note"}),
             E.table(header, E.tbody(*rows)) if rows else E.p("No conformance findings.")]
    unused = sorted(set(justify) - {g[0] for g in grouped})
    if unused:
        body += [E.h3("Explanations kept for rules without findings in this build"),
                 _table(["Rule", "Explanation"], [[r, justify[r]] for r in unused])]

    dq = [[rid, s.severity, s.reason] for rid, s in sorted(study.data_quality.items())]
    rv = []
    for rid, check in sorted(study.review.items()):
        settings = []
        if check.limit is not None:
            settings.append(f"limit {check.limit:g}")
        if check.planned:
            settings.append("planned " + ", ".join(f"{k}: {v:g}" for k, v in sorted(check.planned.items())))
        rv.append([rid, check.severity, "; ".join(settings), check.reason])
    body += [E.h2("6. Study settings", id="settings"),
             E.h3("Data-quality rule severities (study.yaml data_quality)"),
             _table(["Rule", "Severity", "Reason"], dq) if dq else E.p("All rules at their default severities."),
             E.h3("Data-review checks (study.yaml review)"),
             _table(["Check", "Severity", "Settings", "Reason"], rv) if rv
             else E.p("All data-review checks run as warnings with their default thresholds.")]

    handled = _grouped(f for f in findings if f.rule in HANDLED)
    handled_rows = [[rule, HANDLED[rule], where, count, message, justify.get(rule, "")]
                    for rule, _sev, where, count, message in handled]
    excluded = [r for r in raw_rows if r[4] not in ("", 0, "0")]
    body += [E.h2("7. Data problems handled", id="handled"),
             _table(["Rule", "Handling", "Where", "Count", "Message", "Explanation"], handled_rows, numeric=[3])
             if handled_rows else E.p("No raw value was normalised or split."),
             E.h3("Raw rows excluded"),
             _table(["SDTM domain", "Raw form", "Rows read", "Rows mapped", "Rows excluded", "Exclusion rule"],
                    excluded, numeric=[2, 3, 4]) if excluded else E.p("No raw row was excluded.")]

    return E.html(E.head(E.meta(charset="utf-8"), E.title(title), E.style(CSS)), E.body(*body), lang="en")


def write_reviewers_guide(path: Path, spec: "Spec", records: Mapping[str, int], findings: list[Finding],
                          reconciliation: pd.DataFrame | None, standards: Mapping[str, Any],
                          acrf: str | None = None) -> None:
    page = build_guide(spec, records, findings, reconciliation, standards, acrf)
    data = lxml_html.tostring(page, doctype="<!DOCTYPE html>", encoding="utf-8", pretty_print=True)
    path.write_bytes(data)
