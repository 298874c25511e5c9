"""Subject-level raw values that disagree between forms (RAW-SUBJECT-CONFLICT).

DM holds one record per subject, so each of its values is taken from one raw cell: the DM form's
(``SITEID: {rule: assign, column: SITENUMBER}``) or the first/last row of a lookup form
(``lookups: [{form: exo, columns: [DOSELVL], take: first}]``). An EDC export often repeats such a
column on other forms (the site number on every page), and a form may hold several rows of a subject.
When those cells disagree for a subject (site 01 on the DM page, 02 on an AE page), taking one of them
silently would hide a data-entry error or a subject moved between sites; every such disagreement is
reported as a warning naming each distinct value with the first file and line holding it, and the
value DM takes (``--strict`` stops the build on it).

The subject-level columns are the raw columns the DM sources map (other than the subject number, and
DMDTC/DMDY, which date the DM page itself), and the columns of DM's lookups taken first/last; every
form read by the build that holds the subject column and one of them is compared. Each form is looked
at once, when it is read, over its distinct (subject, value) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sdtmgen.errors import Finding
from sdtmgen.spec.models import Spec

RULE = "RAW-SUBJECT-CONFLICT"
#: DM variables that date the DM page itself, not the subject
_PAGE_OWN = {"DMDTC", "DMDY"}
#: conflicts listed per finding (every value of each), then a count
SHOWN = 20


@dataclass
class SubjectLevel:
    key: str  # the raw column holding the subject number
    columns: dict[str, list[str]]  # raw column -> the DM variables mapped from it
    kept: dict[str, str]  # raw column -> which cell DM takes ("dm.csv" or "the first row of exo.csv")
    seen: list[pd.DataFrame] = field(default_factory=list)
    files: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, spec: Spec) -> "SubjectLevel | None":
        dm = next((d for d in spec.domains if d.domain == "DM" and d.source is None and d.sources), None)
        if dm is None:
            return None
        key = None
        columns: dict[str, list[str]] = {}
        kept: dict[str, str] = {}
        for source in dm.sources:
            subject = source.map.get("USUBJID")
            read = sorted(subject.columns()) if subject is not None else []
            if len(read) != 1 or "." in read[0] or (key is not None and key != read[0]):
                return None  # the subject number is not one raw column: nothing to compare by
            key = read[0]
            for variable, rule in source.map.items():
                if variable in _PAGE_OWN or variable == "USUBJID":
                    continue
                for column in rule.columns():
                    form, _, name = column.rpartition(".")
                    lookup = next((lk for lk in source.lookups if lk.form == form), None) if form else None
                    if name == key or (form and (lookup is None or lookup.key != [key] or lookup.take == "unique")):
                        continue  # a unique lookup stops the build on a second row already
                    columns.setdefault(name, []).append(variable)
                    kept.setdefault(name, f"the {lookup.take} row of {form}.csv" if lookup else f"{source.form}.csv")
        if key is None or not columns:
            return None
        return cls(key, {c: sorted(set(v)) for c, v in columns.items()}, kept)

    def observe(self, file: str, frame: pd.DataFrame) -> None:
        """The distinct non-blank (subject, value) pairs of a form just read, with the first line of each."""
        if file in self.files or self.key not in frame.columns:
            return
        self.files.add(file)
        present = [c for c in self.columns if c in frame.columns]
        if not present:
            return
        subjects = pa.array(frame[self.key].array).cast(pa.large_string())
        lines = frame["_ROW"].to_numpy()
        has_subject = pc.greater(pc.utf8_length(pc.fill_null(subjects, "")), 0)
        s_rows = _row_codes(subjects)  # integer codes per row: a form is scanned without copying its text
        for column in present:
            values = pa.array(frame[column].array).cast(pa.large_string())
            filled = pc.and_(pc.invert(pc.is_null(values)), pc.greater(pc.utf8_length(values), 0))
            filled = pc.and_(filled, has_subject)
            at = np.flatnonzero(filled.to_numpy(zero_copy_only=False))
            if not len(at):
                continue
            # only the first row of each run of one (subject, value) pair can be a pair's first row; the
            # first row of every subject and of every value is one, so the codes below are as over all rows
            s_at, v_at = s_rows[at], _row_codes(values)[at]
            starts = np.ones(len(at), dtype=bool)
            starts[1:] = (s_at[1:] != s_at[:-1]) | (v_at[1:] != v_at[:-1])
            at = at[starts]
            s_codes, s_names = _codes(subjects.take(pa.array(at)))
            v_codes, v_names = _codes(values.take(pa.array(at)))
            pair = s_codes.astype(np.int64) * (len(v_names) + 1) + v_codes
            _, first = np.unique(pair, return_index=True)
            self.seen.append(pd.DataFrame({
                "subject": np.asarray(s_names, dtype=object)[s_codes[first]],
                "column": column, "value": np.asarray(v_names, dtype=object)[v_codes[first]],
                "file": file, "line": lines[at[first]]}))

    def findings(self) -> list[Finding]:
        if not self.seen:
            return []
        table = pd.concat(self.seen, ignore_index=True)
        counts = table.groupby(["column", "subject"], sort=False)["value"].transform("nunique")
        table = table[counts.to_numpy() > 1]
        out = []
        for column, rows in table.groupby("column", sort=True):
            kept_in = self.kept[str(column)]
            kept_file = kept_in.rsplit(" ", 1)[-1]
            cells, sources = [], []
            for subject, values in rows.groupby("subject", sort=True):
                where = values.assign(other=values["file"] != kept_file)
                where = where.sort_values(["other", "file", "line"], kind="stable").drop_duplicates("value")
                parts = [f"{v!r} in {f} line {int(n)}" for v, f, n in zip(where["value"], where["file"], where["line"])]
                cells.append(f"subject {subject}, column {column}: " + "; ".join(parts))
                sources.append(f"{where['file'].iloc[-1]}:{int(where['line'].iloc[-1])}")
            variables = ", ".join(self.columns[str(column)])
            more = f" ({len(cells)} subjects)" if len(cells) > 1 else ""
            out.append(Finding(
                rule=RULE, severity="warning", dataset="DM", variable=self.columns[str(column)][0],
                message=f"raw column {column} (DM {variables}) differs between the subject's forms or rows{more}; "
                        f"DM takes the value of {kept_in}",
                values=tuple(dict.fromkeys(rows["value"].astype(str)))[:10], sources=tuple(sources),
                cells=tuple(cells[:SHOWN]),
                hint=f"correct the form(s) in the EDC so that every page of a subject gives one {column}"))
        return out


def _codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list]:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def _row_codes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer per row (int32, as Arrow's dictionary indices), equal for equal values (missing: -1)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):  # chunks may have dictionaries of their own
        encoded = encoded.unify_dictionaries()
        return np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in encoded.chunks]
                              or [np.zeros(0, dtype=np.int32)])
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
