"""The one-page HTML report: a table per analysis (made from the ARD rows), the figures.

Every piece of text (spec titles, data values, subject ids) goes through ``html.escape``.
No timestamp is written, so the page is byte-stable.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

import pandas as pd

from sdtmgen import __version__

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; line-height: 1.35; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1em; margin-bottom: .3em; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .85em; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td { white-space: nowrap; }
td.text, td:first-child { white-space: normal; }
td.text { text-align: left; max-width: 22em; }
td.sub { padding-left: 1.8em; }
thead th { background: #f2f2f2; }
.note { color: #555; font-size: .85em; }
figure { margin: .5em 0 1.5em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
.mtd { background: #f7f7e8; border-left: 4px solid #cc9; padding: .5em 1em; }
"""


@dataclass
class Figure:
    outcome: int | None  # None: the blood count section
    name: str  # file name under plots/
    caption: str
    png: bytes


# ARD rows told once under the table rather than in every column
NOTE_STATS = ("method", "conf.level")


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _percent(text: str) -> str:
    """A percentage as a table shows it: none and all without decimals ("0/3 (0%)", "3/3 (100%)")."""
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value in (0.0, 100.0) else text


#: a variable code with its value in a label, e.g. " (TRANSFL = Y)", " (AREL RELATED)", " (ADAE FNFL)"
_VAR = r"[A-Z][A-Z0-9_]{1,7}"
_CODE_NOTE = re.compile(rf" \((?:(?:AD[A-Z]{{2}} )?{_VAR} = [A-Z0-9]+|{_VAR} [A-Z]+|AD[A-Z]{{2}} {_VAR}"
                        rf"|[A-Z][A-Z_]*[0-9][A-Z0-9_]*|[A-Z]{{2,6}}FL)\)")


def plain(text: str, names: dict[str, str] | None = None) -> str:
    """A label as a study team reads it: variable codes in parentheses dropped, and the variable names
    report.yaml gives a plain name (``labels``) replaced by it."""
    text = _CODE_NOTE.sub("", str(text))
    for name, label in (names or {}).items():
        text = re.sub(rf"\b{re.escape(name)}\b", label, text)
    return text


def _cell(stats: dict[str, str], context: str) -> tuple[str, bool]:
    """(text, is_text) of one table cell from {stat_name: stat_fmt}."""
    if context == "categorical" and "n" in stats:
        text = stats["n"]
        if "N" in stats:
            text = f"{text}/{stats['N']}"
        if stats.get("p"):
            text += f" ({_percent(stats['p'])}%)"
        if "n_events" in stats:
            text += f" [{stats['n_events']}]"
        if stats.get("conf.low") and stats.get("conf.high"):
            text += f" ({stats['conf.low']}-{stats['conf.high']}%)"
        return text, False
    if {"estimate", "conf.low", "conf.high"} <= stats.keys():
        return f"{stats['estimate']} ({stats['conf.low']}, {stats['conf.high']})", False
    (value,) = stats.values()
    return value, not value.replace(".", "", 1).replace("-", "", 1).isdigit()


def _row_key(row: dict) -> tuple[str, ...]:
    if row["context"] == "categorical" and row["stat_name"] in ("n", "N", "p", "n_events", "conf.low", "conf.high"):
        return (row["variable"], row["variable_level"], row["group2_level"], "")
    if row["context"] == "survival" and row["variable"] in ("prob", "time"):
        return (row["variable"], row["variable_level"], row["group2_level"], "")
    return (row["variable"], row["variable_level"], row["group2_level"], row["stat_name"])


def table_data(rows: pd.DataFrame, levels: list[str], indent: frozenset[str] = frozenset()
               ) -> tuple[list[str], list[dict], str]:
    """(groups present, entries {label, sub, cells: {group: (text, is_text)}}, note) of one analysis table:
    rows = statistics (n/N/% and estimate/CI merged into one cell), columns = groups present."""
    present = [lv for lv in levels if lv in set(rows["group1_level"])]
    keys: dict[tuple[str, ...], dict] = {}
    several = len(rows[["variable", "variable_level"]].drop_duplicates()) > 1
    for row in rows.to_dict("records"):
        key = _row_key(row)
        entry = keys.setdefault(key, {"label": None, "context": row["context"], "stats": {},
                                      "sub": row["variable"] in indent})
        if entry["label"] is None:
            entry["label"] = row["variable_label"] if key[3] == "" else (
                row["stat_label"] if row["context"] in ("continuous", "dlt", "mtd") or row["variable_label"] == row["variable"]
                else row["variable_label"])
            if key[3] and row["context"] == "continuous" and several:
                entry["label"] = f"{row['variable_label']}: {row['stat_label']}"
        entry["stats"].setdefault(row["group1_level"], {})[row["stat_name"]] = row["stat_fmt"]
    entries = [{"label": e["label"], "sub": e["sub"],
                "cells": {lv: _cell(e["stats"][lv], e["context"]) for lv in present if e["stats"].get(lv)}}
               for e in keys.values()]
    events = any("n_events" in c for e in keys.values() for c in e["stats"].values())
    limits = any("conf.low" in c for e in keys.values() if e["context"] == "categorical" for c in e["stats"].values())
    note = ("n/N (%) of subjects" + ("; [k] = number of records" if events else "")
            + ("; (a-b%) = exact confidence limits of %" if limits else "") + ".") if events or limits else ""
    return present, entries, note


def header(level: str, sizes: dict[str, int] | None) -> str:
    """A group's column header with its population count: "50 ug/kg (N=3)"."""
    return f"{level} (N={sizes[level]})" if sizes and level in sizes else level


def analysis_table(rows: pd.DataFrame, levels: list[str], indent: frozenset[str] = frozenset(),
                   sizes: dict[str, int] | None = None, names: dict[str, str] | None = None) -> str:
    """The HTML table of ``table_data``; rows whose variable is in ``indent`` (terms under their SOC) indented;
    column headers with the safety-population N of the group (``sizes``)."""
    present, entries, note = table_data(rows, levels, indent)
    head = "".join(f"<th>{esc(header(lv, sizes))}</th>" for lv in present)
    body = []
    for entry in entries:
        cells = []
        for lv in present:
            if lv not in entry["cells"]:
                cells.append("<td></td>")
                continue
            text, is_text = entry["cells"][lv]
            cells.append(f'<td class="text">{esc(text)}</td>' if is_text else f"<td>{esc(text)}</td>")
        first = '<td class="sub">' if entry["sub"] else "<td>"
        body.append(f"<tr>{first}{esc(plain(entry['label'], names))}</td>{''.join(cells)}</tr>")
    note = f'<p class="note">{esc(note)}</p>' if note else ""
    return (f'<table><thead><tr><th></th>{head}</tr></thead><tbody>\n' + "\n".join(body)
            + "\n</tbody></table>" + note)


def listing_table(title: str, name: str, frame: pd.DataFrame, show=None, shown: str = "") -> str:
    """A record-level listing (one row per record, the columns as they are in ``<name>.csv``); only the
    rows of ``show`` when given (``shown`` says which)."""
    total = len(frame)
    if show is not None:
        frame = frame[show]
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = "\n".join("<tr>" + "".join(f'<td class="text">{esc("" if pd.isna(v) else v)}</td>' for v in row) + "</tr>"
                     for row in frame.itertuples(index=False))
    empty = '<p class="note">No record to list.</p>\n' if frame.empty else ""
    which = (f"Shown: {len(frame)} of {total} rows, {shown}; all rows are in {name}.csv." if show is not None
             else f"Also written as {name}.csv.")
    return (f"<h3>{esc(title)}</h3>\n{empty}<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"
            f'<p class="note">{esc(which)}</p>\n')


def _img(fig: Figure, embed: bool) -> str:
    src = ("data:image/png;base64," + base64.b64encode(fig.png).decode("ascii")) if embed else f"plots/{fig.name}"
    return (f'<figure><img src="{esc(src)}" alt="{esc(fig.caption)}">'
            f"<figcaption>{esc(fig.caption)}</figcaption></figure>")


def render(title: str, subtitle: str, ard: pd.DataFrame, levels: list[str], outcomes: list, figures: list[Figure],
           populations: pd.DataFrame, embed: bool, counts_title: str = "Blood counts by subject",
           counts_note: str = "", indent: frozenset[str] = frozenset(), listings: list | None = None,
           names: dict[str, str] | None = None, cutoff: str = "") -> str:
    """The page. Column headers carry each group's safety-population N (from ``populations``); labels go
    through ``plain`` (``names``: report.yaml's plain names of variables); an analysis nobody was at
    risk for is one line, not a table of NE; ``cutoff``: the data cut-off date (TS DCUTDTC)."""
    sizes = ({str(g): int(n) for g, n in zip(populations.iloc[:, 0], populations.iloc[:, 1])}
             if populations.shape[1] >= 2 else {})
    parts = [f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(title)}</title>\n'
             f"<style>{CSS}</style>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n"
             f'<p class="note">{esc(subtitle + " " if subtitle else "")}Generated by sdtmgen {esc(__version__)} from the ADaM datasets; '
             f"every number below is a row of ard.csv.</p>\n"
             + (f'<p><strong>Data cut-off: {esc(cutoff)}</strong></p>\n' if cutoff else "")]
    parts.append("<h2>Populations</h2>\n<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in populations.columns)
                 + "</tr></thead><tbody>\n" + "\n".join(
                     "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in populations.itertuples(index=False))
                 + "\n</tbody></table>\n")
    parts.append("<nav><ol>" + "".join(f'<li value="{o.number}"><a href="#outcome-{o.number}">{esc(o.title)}</a></li>'
                                      for o in outcomes) + "</ol></nav>\n")
    for o in outcomes:
        parts.append(f'<section id="outcome-{o.number}">\n<h2>{o.number}. {esc(o.title)}</h2>\n')
        if o.note:
            parts.append(f'<p class="note">{esc(o.note)}</p>\n')
        rows = ard[ard["outcome"] == o.number]
        if o.kind == "mtd" and len(rows):
            stat = dict(zip(rows["stat_name"], rows["stat"]))
            parts.append(f'<p class="mtd"><strong>MTD: {esc(stat.get("mtd"))}</strong> (rule {esc(stat.get("rule"))}: '
                         f"{esc(stat.get('reason'))})</p>\n")
        nobody = set()
        for analysis in dict.fromkeys(rows["analysis"]):
            block = rows[rows["analysis"] == analysis]
            label = plain(block["analysis_label"].iloc[0], names)
            at_risk = block.loc[block["stat_name"] == "n_risk", "stat"]
            if len(at_risk) and (pd.to_numeric(at_risk, errors="coerce").fillna(0) == 0).all():
                nobody.add(str(analysis))
                parts.append(f'<p class="note"><strong>{esc(label)}</strong>: no subject at risk in any group, '
                             "nothing to estimate (no table, no plot).</p>\n")
                continue
            described = block["stat_name"].isin(NOTE_STATS)
            notes = list(dict.fromkeys(block.loc[block["stat_name"] == "method", "stat"]))
            parts.append(f"<h3>{esc(label)}</h3>\n"
                         + analysis_table(block[~described], levels, indent, sizes, names) + "\n"
                         + "".join(f'<p class="note">Method: {esc(n)}.</p>\n' for n in notes))
        for number, listing_title, name, frame, show, shown in listings or []:
            if number == o.number:
                parts.append(listing_table(listing_title, name, frame, show, shown))
        for fig in figures:
            if fig.outcome == o.number and not any(fig.name == f"km_{a.lower()}.png" for a in nobody):
                parts.append(_img(fig, embed) + "\n")
        parts.append("</section>\n")
    counts = [f for f in figures if f.outcome is None]
    if counts:
        parts.append(f'<section id="blood-counts">\n<h2>{esc(counts_title)}</h2>\n')
        if counts_note:
            parts.append(f'<p class="note">{esc(counts_note)}</p>\n')
        parts.extend(_img(f, embed) + "\n" for f in counts)
        parts.append("</section>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)
