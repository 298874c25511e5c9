"""RTF tables, one per outcome measure, written with rtflite from the ARD rows.

Each file ``rtf/outcome_NN.rtf`` has the outcome's title and population, one block per analysis
(its label as a heading row, then the statistics by dose group, the same cells as report.html; text
taken literally, no LaTeX-style conversion of ^ or _),
footnotes (how cells read, each analysis' method) and the source. Column headers carry each group's
safety-population N.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdtmgen.report.html import NOTE_STATS, table_data


def outcome_table(rows: pd.DataFrame, levels: list[str], sizes: dict[str, int],
                  indent: frozenset[str]) -> tuple[list[str], list[list[str]], list[str]]:
    """(column headers, body rows, footnotes) of one outcome's table."""
    present = [lv for lv in levels if lv in set(rows["group1_level"])]
    headers = ["", *(f"{lv} (N={sizes[lv]})" if lv in sizes else lv for lv in present)]
    body: list[list[str]] = []
    notes: list[str] = []
    for analysis in dict.fromkeys(rows["analysis"]):
        block = rows[rows["analysis"] == analysis]
        body.append([str(block["analysis_label"].iloc[0]), *([""] * len(present))])
        _, entries, note = table_data(block[~block["stat_name"].isin(NOTE_STATS)], present, indent)
        for entry in entries:
            label = ("    " if entry["sub"] else "  ") + str(entry["label"])
            body.append([label, *(entry["cells"][lv][0] if lv in entry["cells"] else "" for lv in present)])
        if note:
            notes.append(note)
        notes.extend(f"Method: {m}." for m in block.loc[block["stat_name"] == "method", "stat"])
    return headers, body, list(dict.fromkeys(notes))


def _literal(text: str) -> str:
    """Text shown as written: RTF's own characters escaped (rtflite is given text_convert=False), so a raw
    value or a spec title holding ``{``, ``}`` or ``\\`` cannot close the cell's group or add control words."""
    return text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")


def write_rtf_tables(folder: Path, ard: pd.DataFrame, levels: list[str], outcomes: list, sizes: dict[str, int],
                     population: str, source: str, indent: frozenset[str] = frozenset()) -> list[Path]:
    """One RTF file per outcome measure with ARD rows; returns the files written."""
    import polars as pl
    from rtflite import RTFBody, RTFColumnHeader, RTFDocument, RTFFootnote, RTFSource, RTFTitle

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for outcome in outcomes:
        rows = ard[ard["outcome"] == outcome.number]
        if rows.empty:
            continue
        headers, body, notes = outcome_table(rows, levels, sizes, indent)
        headers, notes = [_literal(h) for h in headers], [_literal(n) for n in notes]
        body = [[_literal(cell) for cell in row] for row in body]
        names = [f"c{i}" for i in range(len(headers))]
        frame = pl.DataFrame({name: [row[i] for row in body] for i, name in enumerate(names)})
        widths = [3.0, *([1.4] * (len(headers) - 1))]
        justify = ["l", *(["c"] * (len(headers) - 1))]
        doc = RTFDocument(
            df=frame,
            rtf_title=RTFTitle(text=[_literal(f"Table {outcome.number}. {outcome.title}"), _literal(population)],
                               text_convert=False),
            rtf_column_header=[RTFColumnHeader(text=headers, col_rel_width=widths, text_justification=justify,
                                               text_convert=False)],
            rtf_body=RTFBody(col_rel_width=widths, text_justification=[justify] * len(body), text_convert=False),
            rtf_footnote=RTFFootnote(text=notes or [" "], text_convert=False),
            rtf_source=RTFSource(text=[_literal(source)], text_convert=False),
        )
        path = folder / f"outcome_{outcome.number:02d}.rtf"
        # rtf_encode + our own write: rtflite's write_rtf also prints every path to stdout, which showed
        # the build's hidden temporary folder in the user's terminal; the bytes are the same
        path.write_text(doc.rtf_encode(), encoding="utf-8")
        written.append(path)
    return written
