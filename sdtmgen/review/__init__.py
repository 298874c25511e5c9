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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import ReviewCheck, Spec

COLUMNS = ["check", "severity", "subject", "raw_file", "raw_row", "column", "value", "message"]


@dataclass(frozen=True)
class ReviewHit:
    """Offending records of one dataset for one check, and optionally a detail per offending record."""

    dataset: str
    variable: str
    mask: np.ndarray
    detail: pd.Series | None = None  # text per offending record (in record order), added to the message


@dataclass(frozen=True)
class ReviewCheckDef:
    id: str
    severity: str
    description: str
    family: str
    check: Callable[["ReviewContext"], Iterable[ReviewHit]]


REVIEW_CHECKS: Registry[ReviewCheckDef] = Registry(
    "data-review check", title="Data-review checks",
    where="run on every build; study.yaml `review: {<id>: {severity, reason, limit, planned}}` configures one")


def register_check(check_id: str, severity: str = "warning", description: str = ""):
    """Register a data-review check under ``check_id`` (``DR-<DOMAIN>-<WHAT>``)."""
    if severity not in ("error", "warning"):
        raise ValueError(f"review check {check_id}: default severity must be error or warning")

    def wrap(fn: Callable[["ReviewContext"], Iterable[ReviewHit]]):
        family = fn.__module__.rsplit(".", 1)[-1]
        REVIEW_CHECKS.add(check_id, ReviewCheckDef(check_id, severity, description, family, fn), description,
                          example=f'review: {{{check_id}: {{severity: error, reason: "queried with every site"}}}}',
                          severity=severity, family=family)
        return fn

    return wrap


@dataclass
class ReviewContext:
    """What the checks see: the SDTM datasets, the raw file and row of each record, the spec."""

    datasets: dict[str, pd.DataFrame]
    lineage: dict[str, pd.DataFrame]
    spec: "Spec"
    check_id: str = ""
    _days: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def config(self) -> "ReviewCheck | None":
        return self.spec.study.review.get(self.check_id) if self.spec is not None else None

    def limit(self, default: float) -> float:
        """The running check's threshold: the study's ``limit`` or the check's default."""
        config = self.config
        return config.limit if config is not None and config.limit is not None else default

    def planned(self) -> dict[str, float]:
        config = self.config
        return dict(config.planned) if config is not None else {}

    def days(self, dataset: str, column: str) -> np.ndarray:
        """Days since 1970 of the complete ISO 8601 dates of a column (NaN: partial or missing)."""
        key = (dataset, column)
        if key not in self._days:
            from sdtmgen.dates import iso_date

            stamps = iso_date(self.datasets[dataset][column].reset_index(drop=True)).to_numpy(dtype="datetime64[ns]")
            days = stamps.astype("datetime64[D]").astype(np.int64).astype(float)
            self._days[key] = np.where(np.isnat(stamps), np.nan, days)
        return self._days[key]

    def subject_rows(self, dataset: str) -> np.ndarray:
        """Row of DM of each record's subject (-1: not in DM), found once per distinct subject."""
        key = ("rows", dataset)
        if key not in self._days:
            codes, subjects = pd.factorize(self.datasets[dataset]["USUBJID"].array, use_na_sentinel=True)
            dm = pd.Index(self.datasets["DM"]["USUBJID"].astype(object))
            per_subject = np.append(dm.get_indexer(pd.Index(subjects).astype(object)), -1)
            self._days[key] = per_subject[np.where(codes < 0, len(per_subject) - 1, codes)]
        return self._days[key]

    def subject_values(self, dataset: str, dm_column: str) -> pd.Series:
        """DM's ``dm_column`` for each record of ``dataset`` (missing when the subject is not in DM)."""
        rows = self.subject_rows(dataset)
        values = self.datasets["DM"][dm_column].reset_index(drop=True)
        return values.reindex(np.where(rows < 0, len(values), rows)).reset_index(drop=True)

    def subject_days(self, dataset: str, dm_column: str) -> np.ndarray:
        """Days since 1970 of DM's ``dm_column`` date for each record of ``dataset``."""
        rows = self.subject_rows(dataset)
        return np.append(self.days("DM", dm_column), np.nan)[np.where(rows < 0, -1, rows)]


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
    from sdtmgen.review import checks  # noqa: F401  (registers the checks)

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
    from sdtmgen.review import checks  # noqa: F401

    return [{"id": c.id, "severity": c.severity, "message": c.description, "kind": f"data review ({c.family})"}
            for c in sorted(REVIEW_CHECKS.values(), key=lambda c: c.id)]
