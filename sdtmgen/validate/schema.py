"""Pandera schemas generated from a dataset's spec — never written per domain by hand.

Each variable gets: its type; non-null when Required; codelist membership (non-extensible:
error, extensible: warning); ISO 8601 form for --DTC variables; ASCII and <= 200 bytes for
text. The dataset gets uniqueness of its key variables. Failures become findings that name the
dataset, variable, rule, record number and the raw file and row behind the record.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from sdtmgen.dates import ISO8601_PATTERN
from sdtmgen.textcheck import non_ascii
from sdtmgen.errors import Finding
from sdtmgen.spec.models import DomainSpec, Variable
from sdtmgen.terminology import Terminology

MAX_TEXT_BYTES = 200

# rule id -> (severity, what it means); the check name in a schema is the rule id
SCHEMA_RULES: dict[str, tuple[str, str]] = {
    "SCH-TYPE": ("error", "value has the wrong type for the variable"),
    "SCH-REQUIRED": ("error", "Required variable is missing on these records"),
    "SCH-CT": ("error", "value is not in the variable's non-extensible codelist"),
    "SCH-CT-EXT": ("warning", "value is not in the variable's extensible codelist (sponsor extension)"),
    "SCH-ISO8601": ("error", "date/time is not in ISO 8601 form"),
    "SCH-ASCII": ("error", "text is not ASCII (XPT v5 requires ASCII)"),
    "SCH-LENGTH": ("error", f"text longer than {MAX_TEXT_BYTES} bytes"),
    "SCH-KEYS": ("error", "key variables do not identify records uniquely"),
    "SCH-COLUMNS": ("error", "dataset columns differ from the spec's variables (missing, extra or out of order)"),
    "SCH-NUMRANGE": ("error", "number beyond what an XPT v5 (IBM) float holds (|x| >= 7.2E75)"),
}
IBM_MAX = 7.2e75


def _fits_in_bytes(values: pd.Series) -> pd.Series:
    """UTF-8 length <= 200; characters == bytes for ASCII, so only other text is encoded."""
    fits = values.str.len() <= MAX_TEXT_BYTES
    wide = pd.Series(non_ascii(values), index=values.index)
    if wide.any():
        fits[wide] = values[wide].str.encode("utf-8").str.len() <= MAX_TEXT_BYTES
    return fits


def _text_checks(var: Variable, terminology: Terminology, severity: str) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if severity == "error":
        checks.append(pa.Check(lambda s: pd.Series(~non_ascii(s), index=s.index), name="SCH-ASCII", ignore_na=True))
        checks.append(pa.Check(_fits_in_bytes, name="SCH-LENGTH", ignore_na=True))
        if var.name.endswith("DTC"):
            checks.append(pa.Check(lambda s: s.str.fullmatch(ISO8601_PATTERN), name="SCH-ISO8601", ignore_na=True))
    if var.codelist:
        codelist = terminology.get(var.codelist)
        if codelist.extensible == (severity == "warning"):
            allowed = set(codelist.values())
            rule = "SCH-CT-EXT" if codelist.extensible else "SCH-CT"
            checks.append(pa.Check(lambda s, allowed=allowed: s.isin(allowed), name=rule, ignore_na=True))
    return checks


def build_schema(spec: DomainSpec, terminology: Terminology, severity: str = "error") -> pa.DataFrameSchema:
    """The schema of one dataset; severity 'error' or 'warning' selects which checks it holds."""
    columns = {}
    for var in spec.variables:
        if var.type == "Num":
            dtype = "float64"
            checks = [pa.Check(lambda s: ~(s.abs() >= IBM_MAX) | s.abs().eq(float("inf")), name="SCH-NUMRANGE",
                               ignore_na=True)] if severity == "error" else []
        else:
            dtype, checks = pd.StringDtype(), _text_checks(var, terminology, severity)
        nullable = not (severity == "error" and var.core == "Req")
        columns[var.name] = pa.Column(dtype if severity == "error" else None, checks=checks,
                                      nullable=nullable, required=severity == "error")
    unique = [k for k in spec.keys] if severity == "error" and spec.keys else None
    structural = severity == "error"
    return pa.DataFrameSchema(columns, name=spec.domain, strict=structural, ordered=structural, unique=unique,
                              report_duplicates="all")


def _rule_of(check: str, column: str | None) -> str:
    if check == "not_nullable":
        return "SCH-REQUIRED"
    if check.startswith("dtype"):
        return "SCH-TYPE"
    if check in ("column_in_dataframe", "column_in_schema", "column_ordered"):
        return "SCH-COLUMNS"
    if check in ("multiple_fields_uniqueness", "field_uniqueness"):
        return "SCH-KEYS"
    return check


def validate_dataset(spec: DomainSpec, frame: pd.DataFrame, terminology: Terminology,
                     lineage: pd.DataFrame | None = None) -> list[Finding]:
    """Run the generated schemas; return findings (errors and warnings), never raise."""
    findings: list[Finding] = []
    for severity in ("error", "warning"):
        schema = build_schema(spec, terminology, severity)
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            cases = cases.assign(column=cases["column"].fillna(""), check=cases["check"].astype(str))
            # one finding per duplicated key, not one per key column
            keys = cases["check"].isin(["multiple_fields_uniqueness", "field_uniqueness"])
            cases.loc[keys, "column"] = ", ".join(spec.keys)
            cases.loc[keys, "failure_case"] = None
            for (column, check), group in cases.groupby(["column", "check"], sort=True):
                rule = _rule_of(check, column)
                level, meaning = SCHEMA_RULES.get(rule, ("error", check))
                rows = tuple(sorted(int(i) + 1 for i in group["index"].dropna().astype(int).unique()))
                values = tuple(sorted({str(v) for v in group["failure_case"].dropna()}))
                sources: tuple[str, ...] = ()
                if lineage is not None and len(lineage.columns) == 2 and rows:
                    picked = lineage.iloc[[r - 1 for r in rows[:20]]]
                    sources = tuple(f"{f}:{r}" for f, r in zip(picked["_FILE"], picked["_ROW"]))
                findings.append(Finding(rule=rule, severity=level, dataset=spec.domain, variable=str(column),
                                        message=meaning, rows=rows, values=values, sources=sources))
    return findings
