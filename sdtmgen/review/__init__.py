"""Data-review checks: collected values that are valid SDTM but implausible, inconsistent or repeated.

Conformance rules (``sdtmgen.validate``) decide whether the package is valid; these checks find what
a data manager queries with the sites: a negative neutrophil count, a birth year of 1801, a dose
above the dose level's, a visit after death, an AE entered twice. Each check is registered here
with an id (``DR-...``), a default severity and a description; the study's ``review:`` section in
study.yaml may set a check's severity (``error`` stops the build, ``warning``, ``off``), give the
reason, and set its threshold (``limit``) or planned doses (``planned``).

A check is a function of the :class:`ReviewContext` (the SDTM datasets, their lineage and the
spec), vectorised over a dataset, returning :class:`ReviewHit` masks. The build reports each hit
as a conformance finding and as rows of ``reports/data-review.csv``: check, severity, subject,
raw file, raw row, raw column, value and message, one row per offending record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from sdtmgen.errors import Finding
# the families of checks register themselves on import: importing the package completes the registry
from sdtmgen.review import consistency, duplicates, plausibility  # noqa: F401
from sdtmgen.review.registry import (REVIEW_CHECKS, ReviewCheckDef, ReviewContext, ReviewHit,  # noqa: F401
                                     register_check)

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import Spec

COLUMNS = ["check", "severity", "subject", "raw_file", "raw_row", "column", "value", "message"]


def severity_of(spec: "Spec | None", check: ReviewCheckDef) -> str:
    config = spec.study.review.get(check.id) if spec is not None else None
    return config.severity if config is not None else check.severity


def raw_columns(spec: "Spec | None", dataset: str) -> dict[tuple[str, str], str]:
    """(raw file, SDTM variable) -> the raw column(s) it was mapped from, from the spec's sources."""
    out: dict[tuple[str, str], str] = {}
    if spec is None:
        return out
    domain = next((d for d in spec.domains if d.domain == dataset), None)
    for source in domain.sources if domain is not None else []:
        for variable, rule in source.map.items():
            names = []
            for column in sorted(rule.columns()):
                form, _, name = column.rpartition(".")
                names.append(f"{name} ({form}.csv)" if form else column)
            out[(f"{source.form}.csv", variable)] = " + ".join(names)
    return out


@dataclass
class ReviewResult:
    findings: list[Finding]
    table: pd.DataFrame  # COLUMNS, one row per offending record


def _text(values: pd.Series) -> pd.Series:
    """Values as a data manager reads them: numbers without a trailing .0, missing as empty."""
    if values.dtype.kind in "fiu":
        numbers = values.astype(float)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = numbers.map(repr).astype(object)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        text[numbers.isna()] = ""
        return text.astype(str)
    return values.astype("string[pyarrow]").fillna("").astype(str)


def run_review(spec: "Spec", datasets: dict[str, pd.DataFrame], lineage: dict[str, pd.DataFrame],
               check_ids: Iterable[str] | None = None) -> ReviewResult:
    """Run every registered check the study has not switched off."""
    findings: list[Finding] = []
    tables: list[pd.DataFrame] = []
    for check in (REVIEW_CHECKS[i] for i in (check_ids or sorted(REVIEW_CHECKS))):
        severity = severity_of(spec, check)
        if severity == "off":
            continue
        ctx = ReviewContext(datasets, lineage, spec, check.id)
        for hit in check.check(ctx):
            if not hit.mask.any():
                continue
            frame = datasets[hit.dataset]
            at = np.flatnonzero(hit.mask)
            lin = lineage.get(hit.dataset)
            if lin is not None and "_FILE" in lin and len(lin) == len(frame):
                files = lin["_FILE"].iloc[at].astype("string[pyarrow]").fillna("").astype(str).to_numpy()
                rows = lin["_ROW"].iloc[at].to_numpy()
            else:  # a dataset built from other datasets (SV, SE): no raw row of its own
                files, rows = np.full(len(at), "", dtype=object), pd.array([None] * len(at), dtype="Int64")
            mapped = raw_columns(spec, hit.dataset)
            columns = [mapped.get((f, hit.variable), hit.variable) for f in files]
            values = _text(frame[hit.variable].iloc[at].reset_index(drop=True)) if hit.variable in frame else ""
            message = pd.Series(check.description, index=range(len(at)), dtype=object)
            if hit.detail is not None:
                detail = pd.Series(hit.detail).reset_index(drop=True).astype(str)
                message = message + np.where(detail != "", ": " + detail, "")
            subjects = (frame["USUBJID"].iloc[at].astype("string[pyarrow]").fillna("").astype(str).to_numpy()
                        if "USUBJID" in frame else "")
            tables.append(pd.DataFrame({
                "check": check.id, "severity": severity, "subject": subjects, "raw_file": files,
                "raw_row": pd.array(rows, dtype="Int64"), "column": columns,
                "value": values, "message": message}))
            sources = tuple(f"{f}:{r}" for f, r in zip(files, rows) if f and not pd.isna(r))
            reason = ctx.config.reason if ctx.config is not None and ctx.config.reason else ""
            findings.append(Finding(rule=check.id, severity=severity, dataset=hit.dataset, variable=hit.variable,
                                    message=f"{check.description} (data review{'; ' + reason if reason else ''})",
                                    rows=tuple(int(i) + 1 for i in at),
                                    values=tuple(dict.fromkeys(tables[-1]["value"].tolist()))[:10],
                                    sources=sources))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({c: pd.Series(dtype="string[pyarrow]")
                                                                             for c in COLUMNS})
    if len(table):
        table["raw_row"] = table["raw_row"].astype("Int64")
        # by subject, so the rows of one site's subjects are together
        table = table.sort_values(["subject", "raw_file", "raw_row", "check"], kind="stable").reset_index(drop=True)
    return ReviewResult(findings, table)


def write_review_csv(path, table: pd.DataFrame) -> None:
    """reports/data-review.csv, through the shared CSV writer (formula-like text neutralised)."""
    from sdtmgen.csv_text import write_csv

    out = table[COLUMNS].copy()
    for column in COLUMNS:
        if column != "raw_row":
            out[column] = out[column].astype("string[pyarrow]")
    out["raw_row"] = out["raw_row"].astype("Int64")
    write_csv(path, out)


def catalogue() -> list[dict[str, str]]:
    """Every registered check (id, default severity, description) for the conformance report."""
    return [{"id": c.id, "severity": c.severity, "message": c.description, "kind": f"data review ({c.family})"}
            for c in sorted(REVIEW_CHECKS.values(), key=lambda c: c.id)]
