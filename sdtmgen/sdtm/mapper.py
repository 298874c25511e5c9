"""Map the raw rows of each source of a domain through the spec's rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from sdtmgen.arrowtext import Distinct, arrow_text, as_arrow_text, concat_text, is_blank, repeat_text, text_series
from sdtmgen.textcheck import non_ascii
from sdtmgen.errors import Finding, RawDataError
from sdtmgen.raw_export import RawExport
from sdtmgen.sdtm.rules import MapContext
from sdtmgen.sdtm.rules.base import CELLS_KEPT
from sdtmgen.spec.models import DomainSpec, Lookup, Source, Spec, Unpivot

LINEAGE = ("_FILE", "_ROW")


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
        rows = ", ".join(str(r) for r in other.loc[dup, "_ROW"].tolist()[:10])
        raise RawDataError(f"{raw.file_name(lookup.form)} lines {rows}: more than one row per {lookup.key}, "
                           f"but {used_by} looks it up as unique\n"
                           f"  what to do: remove the duplicate rows, or set take: first/last in the spec",
                           file=raw.file_name(lookup.form), rule="lookup-unique")
    table = table.drop_duplicates(lookup.key, keep="last" if lookup.take == "last" else "first")
    table = table.rename(columns={c: f"{lookup.form}.{c}" for c in lookup.columns})
    joined = frame.merge(table, on=lookup.key, how="left", sort=False)
    joined.index = frame.index
    return joined


def _unpivot(frame: pd.DataFrame, spec: Unpivot, carry: list[str],
             drop_empty: str | None = None) -> tuple[pd.DataFrame, int | None, dict[str, tuple[pd.Series, np.ndarray]]]:
    """One row per raw row and measurement, in (raw row, measurement) order.

    Built by index arithmetic on Arrow arrays: the ``carry`` columns are repeated per
    measurement, and each result/unit column is one ``take`` over the measurement columns laid
    end to end, so no cell becomes a Python object.

    ``drop_empty``: when it names a column of the result, the rows where it is blank are left out
    before anything is taken (each column is copied once, not taken and then filtered); the second
    value is then how many raw rows are left with no row, else None.

    The third value gives, for the carried text columns and the test column, the column before unpivoting
    and the position in it of each long row: a rule that factorises one of them factorises the short
    column and takes its codes (``MapContext.distinct``), instead of hashing every long row's text.
    """
    k, n = len(spec.measurements), len(frame)
    rows = np.repeat(np.arange(n), k)  # the raw row and the measurement of each long row
    which = np.tile(np.arange(k), n)
    position = which * n + rows  # its value in the measurement columns laid end to end

    def laid(columns: list[str | None]) -> pa.ChunkedArray:
        return concat_text(*(arrow_text(frame[c]) if c else repeat_text("", n) for c in columns))

    tests = pa.array([m["test"] for m in spec.measurements], pa.large_string())
    results = laid([m["result"] for m in spec.measurements])
    units = laid([m.get("unit") for m in spec.measurements])
    emptied = None
    blank = {spec.test_column: lambda: is_blank(pa.chunked_array([tests]))[which],
             spec.result_column: lambda: is_blank(results)[position],
             spec.unit_column: lambda: is_blank(units)[position]}
    if drop_empty in carry:
        blank[drop_empty] = lambda: is_blank(arrow_text(frame[drop_empty]))[rows]
    if drop_empty in blank:
        keep = ~blank[drop_empty]()
        rows, which, position = rows[keep], which[keep], position[keep]
        raw_rows = frame["_ROW"].to_numpy()
        emptied = _count_distinct(raw_rows) - _count_distinct(raw_rows[rows])
    # int32 positions (half the memory of int64 ones), kept while the source's rules run
    rows, which = rows.astype(np.int32), which.astype(np.int32)
    at, measurement = rows, which
    long = frame[carry].take(at).reset_index(drop=True)
    long[spec.test_column] = text_series(tests.take(pa.array(measurement)), long.index)
    long[spec.result_column] = text_series(results.take(pa.array(position)), long.index)
    long[spec.unit_column] = text_series(units.take(pa.array(position)), long.index)
    unpivoted = {c: (frame[c], at) for c in carry if c not in LINEAGE and isinstance(frame[c].dtype, pd.StringDtype)}
    unpivoted[spec.test_column] = (text_series(pa.chunked_array([tests]), pd.RangeIndex(k)), measurement)
    return long, emptied, unpivoted


def _columns_read(source: Source) -> set[str]:
    """Every column the source's rules and conditions read (lookup columns as 'form.column')."""
    needed: set[str] = set()
    for rule in source.map.values():
        needed |= rule.columns()
    if source.where:
        needed |= source.where.columns()
    if source.drop_empty:
        needed.add(source.drop_empty)
    return needed


def _count_distinct(rows: np.ndarray) -> int:
    """How many different raw line numbers (small positive integers) occur."""
    if not len(rows):
        return 0
    seen = np.zeros(int(rows.max()) + 1, dtype=bool)
    seen[rows] = True
    return int(np.count_nonzero(seen))


def map_source(spec: Spec, domain: DomainSpec, source: Source, raw: RawExport,
               findings: list[Finding]) -> tuple[pd.DataFrame, SourceCount]:
    used_by = f"{domain.domain} (form {source.form})"
    frame = raw.read(source.form)
    rows_read = len(frame)
    read = _columns_read(source)
    measured: set[str] = set()
    if source.unpivot:
        for m in source.unpivot.measurements:
            measured |= {m["result"]} | ({m["unit"]} if m.get("unit") else set())
        read -= {source.unpivot.test_column, source.unpivot.result_column, source.unpivot.unit_column}
    # only the columns the source uses travel through joins, filters and the unpivot
    keys = {c for lookup in source.lookups for c in lookup.key}
    frame = frame[[c for c in frame.columns if c in read | measured | keys or c in LINEAGE]]
    for lookup in source.lookups:
        frame = _join_lookup(frame, raw, lookup, used_by)
    raw.require_columns(source.form, {c for c in read | measured if "." not in c}, used_by)

    reasons: dict[str, int] = {}
    if source.where is not None:
        keep = source.where.evaluate(frame)
        if (~keep).any():
            reasons[source.exclude_reason or "outside the source's 'where' condition"] = int((~keep).sum())
        frame = frame[keep]
    frame = frame.reset_index(drop=True)
    emptied = None
    unpivoted: dict[str, tuple[pd.Series, np.ndarray]] = {}
    if source.unpivot:
        frame, emptied, unpivoted = _unpivot(frame, source.unpivot, [c for c in frame.columns if c in read or c in LINEAGE],
                                  source.drop_empty)
        if emptied:  # the empty rows were left out while unpivoting
            reasons[f"no value in {source.drop_empty} (nothing collected)"] = emptied
    if source.drop_empty and emptied is None:
        keep = ~is_blank(arrow_text(frame[source.drop_empty]))
        rows = frame["_ROW"].to_numpy()
        emptied = _count_distinct(rows) - _count_distinct(rows[keep])  # raw rows left with no record
        if emptied:
            reasons[f"no value in {source.drop_empty} (nothing collected)"] = emptied
        frame = frame[keep].reset_index(drop=True)

    columns = {}
    variables = {v.name: v for v in domain.variables}
    file_name = raw.file_name(source.form)
    factorised: dict[str, Distinct] = {}
    # a column's codes are dropped after the last rule reading it (each is an int64 per record)
    last_read = {column: target for target, rule in source.map.items() for column in rule.columns()}
    for target, rule in source.map.items():
        ctx = MapContext(frame=frame, form_file=file_name, domain=domain.domain, target=target,
                         study=spec.study, terminology=spec.terminology, variable=variables.get(target),
                         findings=findings, factorised=factorised, mapped=columns, unpivoted=unpivoted)
        values = rule.run(ctx)
        if values.dtype != "float64":
            values = _to_ascii(values, spec, ctx, rule, (domain, source))
        columns[target] = values.to_numpy() if values.dtype == "float64" else values.array
        for column in [c for c, last in last_read.items() if last == target]:
            factorised.pop(column, None)
            unpivoted.pop(column, None)
    columns["_FILE"] = frame["_FILE"].to_numpy()
    columns["_ROW"] = frame["_ROW"].to_numpy()
    out = pd.DataFrame(columns, index=frame.index, copy=False)  # the mapped columns are new: no second copy
    mapped_rows = _count_distinct(frame["_ROW"].to_numpy())
    excluded = sum(reasons.values())
    if rows_read != mapped_rows + excluded:
        raise RawDataError(f"{file_name}: {rows_read} rows read but {mapped_rows} mapped and {excluded} excluded "
                           f"for {domain.domain}; rows are unaccounted for (a defect in the spec's source)",
                           file=file_name, rule="reconciliation")
    # an EDC export holds many forms in one file (ODM, REDCap records): the form is named beside it
    form_name = file_name if file_name == f"{source.form}.csv" else f"{file_name}:{source.form}"
    count = SourceCount(domain.domain, form_name, rows_read, mapped_rows, excluded,
                        "; ".join(f"{n}: {why}" for why, n in sorted(reasons.items())))
    return out, count


def _to_ascii(values: pd.Series, spec: Spec, ctx: MapContext, rule, origin: tuple | None = None) -> pd.Series:
    """Apply the study's transliteration table; any character still outside ASCII is an error, blamed on the
    raw cell that holds it, or on the spec (``origin``: the domain and source) when no input cell of the row
    holds it: a constant of the rule or a codelist term or decode of terminology.yaml."""
    text = as_arrow_text(values)
    bad = non_ascii(text)
    if bad.any() and spec.study.transliteration:  # rare: translate only the cells that need it
        fixed = text[bad].str.translate(str.maketrans(spec.study.transliteration))
        text = text.copy()
        text[bad] = fixed
        bad = non_ascii(text)
    if bad.any():
        bad = np.asarray(bad, dtype=bool)
        made = _made_by_spec(text, ctx, rule, bad)
        if made.any():
            _spec_not_ascii(text[made], spec, ctx, rule, origin)
            bad &= ~made
    if bad.any():
        columns = sorted(rule.columns()) or ["(value)"]
        rows = ctx.frame["_ROW"].to_numpy()[bad]
        shown = values.to_numpy()[bad]
        cells = tuple(f"{ctx.form_file} row {r}, column {', '.join(columns)}: {v!r}"
                      for r, v in zip(rows[:CELLS_KEPT], shown[:CELLS_KEPT]))
        ctx.findings.append(Finding(
            rule="ascii", severity="error", dataset=ctx.domain, variable=ctx.target,
            message="text is not ASCII, which XPT v5 cannot carry", values=tuple(sorted({str(v) for v in shown})),
            sources=ctx.sources(np.asarray(bad, dtype=bool)), cells=cells,
            hint="translate the text in the EDC, or add the characters to the study's "
                 "'transliteration' table in study.yaml"))
    return text


def _made_by_spec(text: pd.Series, ctx: MapContext, rule, bad: np.ndarray) -> np.ndarray:
    """Of the ``bad`` cells, those whose non-ASCII characters no raw input cell of the row holds (in any case)."""
    at = np.flatnonzero(bad)
    inputs = [ctx.frame[c].to_numpy()[at] for c in sorted(rule.columns()) if c in ctx.frame]
    out = np.zeros(len(bad), dtype=bool)
    seen: dict[tuple, bool] = {}
    for k, value in enumerate(text.to_numpy()[at]):  # only the cells in error
        cells = tuple(str(column[k]) for column in inputs if isinstance(column[k], str))
        key = (value, cells)
        if key not in seen:
            held = set("".join(cells).casefold())  # the rule may have changed the case (upper: true)
            seen[key] = not any(all(c in held for c in ch.casefold()) for ch in str(value) if ord(ch) > 127)
        out[at[k]] = seen[key]
    return out


def _spec_not_ascii(shown: pd.Series, spec: Spec, ctx: MapContext, rule, origin: tuple | None) -> None:
    """A non-ASCII constant of the spec, named by its spec file, line and key (not by the raw rows using it)."""
    from sdtmgen.spec.source import spec_location

    texts = sorted({str(v) for v in shown})
    where = []
    codelist_id = getattr(rule, "codelist_id", None)
    if codelist_id is not None and origin is not None:
        variable = origin[0].variable(ctx.target) if ctx.target in {v.name for v in origin[0].variables} else None
        cl = codelist_id(variable.codelist if variable is not None else None)
        for k, codelist in enumerate(spec.terminology.codelists):
            if codelist.id != cl:
                continue
            for term in codelist.terms:
                for key, text in (("value", term.value), ("decode", term.decode)):
                    if text is not None and text in texts:
                        where.append(f"{spec_location(spec.terminology, ('codelists', k))}: codelist {cl}, "
                                     f"term {term.value!r}, {key}: {text!r}")
    if origin is not None and not where:
        domain, source = origin
        i = next((n for n, s in enumerate(domain.sources) if s is source), 0)
        where.append(f"{spec_location(domain, ('sources', i, 'map', ctx.target))}: sources.{i}.map.{ctx.target}: "
                     + ", ".join(repr(t) for t in texts))
    located = "; ".join(dict.fromkeys(where)) or f"the {ctx.domain} spec, {ctx.target}"
    ctx.findings.append(Finding(
        rule="ascii", severity="error", dataset=ctx.domain, variable=ctx.target,
        message=f"{located}: text given by the spec is not ASCII, which XPT v5 cannot carry (no raw cell holds it)",
        values=tuple(texts), cells=tuple(dict.fromkeys(where)),
        hint="write the spec's text in ASCII, or add the characters to the study's 'transliteration' table "
             "in study.yaml"))


def map_domain(spec: Spec, domain: DomainSpec, raw: RawExport, findings: list[Finding],
               problems: list[RawDataError] | None = None) -> tuple[pd.DataFrame | None, list[SourceCount]]:
    """The domain's mapped records. A source whose form cannot be mapped raises, or, with
    ``problems``, is added to it and the other sources are still mapped (to report them too);
    the domain is then None."""
    frames, counts = [], []
    failed = False
    try:
        for source in domain.sources:
            try:
                frame, count = map_source(spec, domain, source, raw, findings)
            except RawDataError as exc:
                if problems is None:
                    raise
                problems.append(exc)
                failed = True
                continue
            frames.append(frame)
            counts.append(count)
    finally:  # also when a form cannot be mapped: the build goes on with the other domains
        _release_finished_forms(spec, domain, raw)
    if failed:
        return None, counts
    if not frames:
        return pd.DataFrame(), counts
    if len(frames) == 1:
        return frames[0], counts  # already indexed 0..n-1
    return pd.concat(frames, ignore_index=True), counts


def _forms_read(domain: DomainSpec) -> set[str]:
    return {s.form for s in domain.sources} | {lookup.form for s in domain.sources for lookup in s.lookups}


def _release_finished_forms(spec: Spec, domain: DomainSpec, raw: RawExport) -> None:
    """Free the raw forms no later domain of the spec reads, so raw text is not held through the
    derivations. The build maps domains in spec order; mapped in another order, a released form
    is simply read again."""
    position = next((i for i, d in enumerate(spec.domains) if d is domain), None)
    if position is None:
        return
    later = set().union(*(_forms_read(d) for d in spec.domains[position + 1:]))
    for form in _forms_read(domain) - later:
        raw.release(form)
