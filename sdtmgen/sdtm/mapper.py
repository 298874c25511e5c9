"""Map the raw rows of each source of a domain through the spec's rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdtmgen.textcheck import non_ascii
from sdtmgen.errors import Finding, RawDataError
from sdtmgen.raw import RawExport
from sdtmgen.sdtm.rules import MapContext
from sdtmgen.spec.models import DomainSpec, Lookup, Source, Spec, Unpivot


@dataclass
class SourceCount:
    """Reconciliation of one source: every raw row is mapped or excluded by a named rule."""

    domain: str
    form: str
    rows_read: int
    rows_mapped: int
    rows_excluded: int
    exclude_rule: str


def _join_lookup(frame: pd.DataFrame, raw: RawExport, lookup: Lookup, used_by: str) -> pd.DataFrame:
    raw.require_columns(lookup.form, set(lookup.key) | set(lookup.columns), used_by)
    other = raw.read(lookup.form)
    table = other[lookup.key + lookup.columns]
    dup = table.duplicated(lookup.key, keep=False)
    if lookup.take == "unique" and dup.any():
        rows = other.loc[dup, "_ROW"].tolist()[:10]
        raise RawDataError(f"{raw.file_name(lookup.form)}: more than one row per {lookup.key} (rows {rows}), "
                           f"but {used_by} looks it up as unique\n"
                           f"  what to do: remove the duplicate rows, or set take: first/last in the spec")
    table = table.drop_duplicates(lookup.key, keep="last" if lookup.take == "last" else "first")
    table = table.rename(columns={c: f"{lookup.form}.{c}" for c in lookup.columns})
    joined = frame.merge(table, on=lookup.key, how="left", sort=False)
    joined.index = frame.index
    return joined


def _unpivot(frame: pd.DataFrame, spec: Unpivot) -> pd.DataFrame:
    """One row per raw row and measurement, in (raw row, measurement) order, built by index
    arithmetic: no copy of the frame per measurement, no concat, no sort (10x faster on VS)."""
    k, n = len(spec.measurements), len(frame)
    long = frame.take(np.repeat(np.arange(n), k)).reset_index(drop=True)

    def interleaved(columns: list[str | None]) -> np.ndarray:
        return np.column_stack([frame[c].to_numpy(dtype=object) if c else np.full(n, "", dtype=object)
                                for c in columns]).ravel()

    long[spec.test_column] = np.tile(np.array([m["test"] for m in spec.measurements], dtype=object), n)
    long[spec.result_column] = interleaved([m["result"] for m in spec.measurements])
    long[spec.unit_column] = interleaved([m.get("unit") for m in spec.measurements])
    long["_MEASURE"] = np.tile(np.arange(k), n)
    return long


def map_source(spec: Spec, domain: DomainSpec, source: Source, raw: RawExport,
               findings: list[Finding]) -> tuple[pd.DataFrame, SourceCount]:
    used_by = f"{domain.domain} (form {source.form})"
    frame = raw.read(source.form)
    rows_read = len(frame)
    for lookup in source.lookups:
        frame = _join_lookup(frame, raw, lookup, used_by)
    needed: set[str] = set()
    for rule in source.map.values():
        needed |= rule.columns()
    if source.where:
        needed |= source.where.columns()
    if source.unpivot:
        for m in source.unpivot.measurements:
            needed |= {m["result"]} | ({m["unit"]} if m.get("unit") else set())
        needed -= {source.unpivot.test_column, source.unpivot.result_column, source.unpivot.unit_column}
    raw_needed = {c for c in needed if "." not in c}
    raw.require_columns(source.form, raw_needed, used_by)

    reasons: dict[str, int] = {}
    if source.where is not None:
        keep = source.where.evaluate(frame)
        if (~keep).any():
            reasons[source.exclude_reason or "outside the source's 'where' condition"] = int((~keep).sum())
        frame = frame[keep]
    frame = frame.reset_index(drop=True)
    if source.unpivot:
        frame = _unpivot(frame, source.unpivot)
    if source.drop_empty:
        keep = (frame[source.drop_empty].astype("string").str.strip().fillna("") != "").to_numpy()
        emptied = set(frame.loc[~keep, "_ROW"]) - set(frame.loc[keep, "_ROW"])
        if emptied:
            reasons[f"no value in {source.drop_empty} (nothing collected)"] = len(emptied)
        frame = frame[keep].reset_index(drop=True)

    out = pd.DataFrame(index=frame.index)
    variables = {v.name: v for v in domain.variables}
    file_name = raw.file_name(source.form)
    for target, rule in source.map.items():
        ctx = MapContext(frame=frame, form_file=file_name, domain=domain.domain, target=target,
                         study=spec.study, terminology=spec.terminology, variable=variables.get(target),
                         findings=findings)
        values = rule.apply(ctx)
        if values.dtype != "float64":
            values = _to_ascii(values, spec, domain.domain, target, rule, frame, file_name)
        out[target] = values
    out["_FILE"] = frame["_FILE"].to_numpy()
    out["_ROW"] = frame["_ROW"].to_numpy()
    mapped_rows = int(pd.unique(frame["_ROW"]).size) if len(frame) else 0
    excluded = sum(reasons.values())
    if rows_read != mapped_rows + excluded:
        raise RawDataError(f"{file_name}: {rows_read} rows read but {mapped_rows} mapped and {excluded} excluded "
                           f"for {domain.domain}; rows are unaccounted for (a defect in the spec's source)")
    count = SourceCount(domain.domain, file_name, rows_read, mapped_rows, excluded,
                        "; ".join(f"{n}: {why}" for why, n in sorted(reasons.items())))
    return out, count


def _to_ascii(values: pd.Series, spec: Spec, domain: str, target: str, rule, frame: pd.DataFrame,
              file_name: str) -> pd.Series:
    """Apply the study's transliteration table; stop on any character still outside ASCII."""
    text = values.astype("string")
    bad = non_ascii(text)
    if bad.any() and spec.study.transliteration:  # rare: translate only the cells that need it
        fixed = text[bad].str.translate(str.maketrans(spec.study.transliteration))
        text = text.copy()
        text[bad] = fixed
        bad = non_ascii(text)
    if bad.any():
        columns = sorted(rule.columns()) or ["(value)"]
        cells = "\n".join(f"    {file_name} row {r}, column {', '.join(columns)}: {v!r}"
                          for r, v in list(zip(frame["_ROW"].to_numpy()[bad], values.to_numpy()[bad]))[:20])
        raise RawDataError(
            f"{domain}.{target} (ascii): text is not ASCII, which XPT v5 cannot carry\n{cells}\n"
            f"  what to do: translate the text in the EDC, or add the characters to the study's "
            f"'transliteration' table in study.yaml")
    return text


def map_domain(spec: Spec, domain: DomainSpec, raw: RawExport,
               findings: list[Finding]) -> tuple[pd.DataFrame, list[SourceCount]]:
    frames, counts = [], []
    for source in domain.sources:
        frame, count = map_source(spec, domain, source, raw, findings)
        frames.append(frame)
        counts.append(count)
    if not frames:
        return pd.DataFrame(), counts
    return pd.concat(frames, ignore_index=True), counts


