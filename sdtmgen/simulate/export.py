"""The simulated forms written as a CDISC ODM 1.3.2 export (``sdtmgen simulate --format odm``).

The same cell texts as the CSV forms (each form is first rendered as CSV text, then parsed), so the
ODM reader gives the same forms back: FormOID = the form name upper-cased, ItemOID = the CSV column,
StudyEventOID ``SE.<n>`` named by the VISIT value (forms without VISIT sit in the event ``SE.COMMON``),
RECORDPOSITION = ItemGroupRepeatKey. An empty value is no ItemData.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

FIXED = ("SUBJECT", "VISIT", "RECORDPOSITION")
COMMON = "Common"


def _texts(frame: pd.DataFrame) -> list[list[str]]:
    """The form's rows as the CSV writer renders them (header first)."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def _visit_order(visits: list[str], rows: dict) -> list[str]:
    """Visits in an order that keeps every form's row order within a subject (a topological merge of the
    visit sequences of all forms and subjects; ties in order of first appearance)."""
    after: dict[str, set[str]] = {v: set() for v in visits}
    sequence: dict[tuple[str, str], list[str]] = {}
    for subject, visit, name in rows:  # dict order = row order within each form and subject
        sequence.setdefault((subject, name), []).append(visit)
    for seq in sequence.values():
        for before, then in zip(seq, seq[1:]):
            if before != then:
                after[then].add(before)
    order: list[str] = []
    while len(order) < len(visits):
        ready = next((v for v in visits if v not in order and after[v] <= set(order)), None)
        if ready is None:
            raise ValueError("the forms order one subject's visits differently; no event order keeps them all")
        order.append(ready)
    return order


def write_odm(frames: dict[str, pd.DataFrame], path: Path, study: str = "SIMULATED") -> None:
    forms = {name: _texts(frame) for name, frame in frames.items()}
    visits: list[str] = [COMMON]
    subjects: dict[str, None] = {}  # in order of first appearance (a dict: a list's `in` made 10,000 subjects quadratic)
    rows: dict[str, dict[tuple[str, str, str], list[list[tuple[str, str]]]]] = {}  # by subject
    for name, (header, *body) in forms.items():
        s, v, r = header.index("SUBJECT"), header.index("VISIT") if "VISIT" in header else None, \
            header.index("RECORDPOSITION") if "RECORDPOSITION" in header else None
        for row in body:
            visit = row[v] if v is not None else COMMON
            if visit not in visits:
                visits.append(visit)
            subjects.setdefault(row[s])
            items = [("", row[r])] if r is not None else [("", "")]
            items += [(c, x) for c, x in zip(header, row) if c not in FIXED and x != ""]
            rows.setdefault(row[s], {}).setdefault((row[s], visit, name), []).append(items)
    event_oid = {visit: "SE.COMMON" if visit == COMMON else f"SE.{i}" for i, visit in enumerate(visits)}
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Snapshot" '
           f'FileOID={quoteattr(study)} CreationDateTime="2000-01-01T00:00:00">',
           f'<Study OID={quoteattr(study)}><GlobalVariables><StudyName>{escape(study)}</StudyName>'
           f'<StudyDescription>{escape(study)}</StudyDescription><ProtocolName>{escape(study)}</ProtocolName>'
           f'</GlobalVariables>', '<MetaDataVersion OID="MDV.1" Name="simulated">']
    for visit in visits:
        out.append(f'<StudyEventDef OID="{event_oid[visit]}" Name={quoteattr(visit)} Repeating="No" '
                   f'Type="Scheduled"/>')
    for name in forms:
        out.append(f'<FormDef OID="{name.upper()}" Name="{name}" Repeating="Yes">'
                   f'<ItemGroupRef ItemGroupOID="IG.{name.upper()}" Mandatory="Yes"/></FormDef>')
    for name, (header, *_) in forms.items():
        refs = "".join(f'<ItemRef ItemOID={quoteattr(c)} Mandatory="No"/>' for c in header if c not in FIXED)
        out.append(f'<ItemGroupDef OID="IG.{name.upper()}" Name="{name}" Repeating="Yes">{refs}</ItemGroupDef>')
    seen = set()
    for header, *_ in forms.values():
        for column in header:
            if column not in FIXED and column not in seen:
                seen.add(column)
                out.append(f'<ItemDef OID={quoteattr(column)} Name={quoteattr(column)} DataType="text"/>')
    out += ['</MetaDataVersion></Study>', f'<ClinicalData StudyOID={quoteattr(study)} MetaDataVersionOID="MDV.1">']
    for subject in subjects:
        out.append(f'<SubjectData SubjectKey={quoteattr(subject)}>')
        mine = rows[subject]
        for visit in _visit_order(list(dict.fromkeys(v for v in visits if v in {k[1] for k in mine})), mine):
            present = [name for name in forms if (subject, visit, name) in mine]
            out.append(f'<StudyEventData StudyEventOID="{event_oid[visit]}">')
            for name in present:
                out.append(f'<FormData FormOID="{name.upper()}">')
                for (_, key), *items in mine[(subject, visit, name)]:
                    repeat = f' ItemGroupRepeatKey={quoteattr(key)}' if key else ""
                    out.append(f'<ItemGroupData ItemGroupOID="IG.{name.upper()}"{repeat}>')
                    out += [f'<ItemData ItemOID={quoteattr(c)} Value={quoteattr(x)}/>' for c, x in items]
                    out.append('</ItemGroupData>')
                out.append('</FormData>')
            out.append('</StudyEventData>')
        out.append('</SubjectData>')
    out += ['</ClinicalData>', '</ODM>', '']
    Path(path).write_text("\n".join(out), encoding="utf-8")


def _event_name(visit: str) -> str:
    """A REDCap unique event name: the label lower-cased, other characters ``_``, then the arm."""
    return "".join(c if c.isalnum() else "_" for c in visit.lower()).strip("_") + "_arm_1"


def write_redcap(frames: dict[str, pd.DataFrame], folder: Path) -> None:
    """The forms as a longitudinal REDCap project with repeating instruments: ``dictionary.csv``,
    ``event.csv`` and the records ``data.csv``. Each CSV column is a field ``<form>_<column>`` labelled
    with the column's name (the redcap reader sees that and names columns by label); VISIT is the event
    (``Common`` for forms without one), RECORDPOSITION the repeat instance (else 1, 2, ... per event)."""
    folder = Path(folder)
    forms = {name: _texts(frame) for name, frame in frames.items()}
    fields = {name: [(f"{name}_{c.lower()}", c) for c in header if c not in FIXED]
              for name, (header, *_) in forms.items()}
    dictionary = [["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
                   "Choices, Calculations, OR Slider Labels"],
                  ["record_id", next(iter(forms)), "", "text", "Record ID", ""]]
    dictionary += [[field, name, "", "text", label, ""] for name, pairs in fields.items() for field, label in pairs]
    visits: list[str] = []
    records = [["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
               + [f for pairs in fields.values() for f, _ in pairs] + [f"{name}_complete" for name in forms]]
    width = len(records[0])
    position = {f: i for i, f in enumerate(records[0])}
    for name, (header, *body) in forms.items():
        index = {c: i for i, c in enumerate(header)}
        counter: dict[tuple[str, str], int] = {}
        for row in body:
            visit = row[index["VISIT"]] if "VISIT" in index else COMMON
            if visit not in visits:
                visits.append(visit)
            subject = row[index["SUBJECT"]]
            counter[(subject, visit)] = counter.get((subject, visit), 0) + 1
            instance = row[index["RECORDPOSITION"]] if "RECORDPOSITION" in index else str(counter[(subject, visit)])
            out = [""] * width
            out[:4] = [subject, _event_name(visit), name, instance]
            for field, column in fields[name]:
                out[position[field]] = row[index[column]]
            out[position[f"{name}_complete"]] = "2"
            records.append(out)
    events = [["event_name", "arm_num", "unique_event_name", "custom_event_label", "event_id"]]
    events += [[visit, "1", _event_name(visit), "", str(i + 1)] for i, visit in enumerate(visits)]
    folder.mkdir(parents=True, exist_ok=True)
    for file, table in (("dictionary.csv", dictionary), ("event.csv", events), ("data.csv", records)):
        with (folder / file).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(table)
