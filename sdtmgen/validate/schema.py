"""Pandera schemas generated from a dataset's spec — never written per domain by hand.

Each variable gets: its type; non-null when Required; codelist membership (non-extensible:
error, extensible: warning); ISO 8601 form for --DTC variables; ASCII and <= 200 bytes for
text. The dataset gets uniqueness of its key variables. Failures become findings that name the
dataset, variable, rule, record number and the raw file and row behind the record.

The value checks are plain functions (``ValueCheck``) that the Pandera schema wraps. When a
dataset has the spec's columns, in order and of the spec's types (what the build produces),
``validate_dataset`` runs those same functions itself and maps failures back to records:
regular expressions and codelists once per distinct value, ASCII and byte length first proven
for the whole column from its Arrow buffers, key uniqueness by comparing neighbours of a
key-sorted dataset. Pandera's per-check bookkeeping and frame copies cost more than the checks
at 400,000+ records. A dataset whose structure differs goes through Pandera, which names the
structural problem; both ways report the same findings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from sdtmgen.dates import ISO8601_PATTERN
from sdtmgen.textcheck import non_ascii
from sdtmgen.validate.duplicates import duplicated_rows
from sdtmgen.validate.textbuffers import all_ascii, all_plain_iso, all_within_bytes
from sdtmgen.errors import Finding
from sdtmgen.registry import Registry
from sdtmgen.spec.models import DomainSpec, Variable
from sdtmgen.terminology import Terminology

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa  # loaded when a schema is built (a dataset not as built), not on import

MAX_TEXT_BYTES = 200

# rule id -> (severity, what it means); the check name in a schema is the rule id
SCHEMA_RULES: Registry[tuple[str, str]] = Registry(
    "dataset schema rule", title="Dataset schema rules",
    where="run on every dataset against its spec's variables; study.yaml `justifications: {<id>: text}` explains "
          "accepted findings")
for _rule, (_severity, _meaning) in {
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
}.items():
    SCHEMA_RULES.add(_rule, (_severity, _meaning), _meaning, severity=_severity,
                     example=f'justifications: {{{_rule}: "why the findings are acceptable for this study"}}')
IBM_MAX = 7.2e75
# Pandera's names of its built-in checks, as the failures report them
NOT_NULL, KEYS_UNIQUE = "not_nullable", "multiple_fields_uniqueness"


@dataclass(frozen=True)
class ValueCheck:
    """One check of a variable's values: ``test`` is True where a value passes (and where missing).

    ``per_distinct``: the test is costly per value (regular expression, set lookup), so it runs
    once per distinct value; otherwise it is a column kernel and runs over the records.
    ``all_pass``: a cheap proof that every value passes (False: not proven, run ``test``).
    """

    rule: str
    test: Callable[[pd.Series], pd.Series]
    per_distinct: bool = False
    all_pass: Callable[[pd.Series], bool] | None = None


def _all_fit_in_bytes(values: pd.Series) -> bool:
    return all_within_bytes(values, MAX_TEXT_BYTES)


def _is_ascii(values: pd.Series) -> pd.Series:
    return pd.Series(~non_ascii(values), index=values.index)


def _fits_in_bytes(values: pd.Series) -> pd.Series:
    """UTF-8 length <= 200 (Arrow strings are UTF-8: their byte length is the answer)."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowStringArray):
        fits = pc.fill_null(pc.less_equal(pc.binary_length(pyarrow.array(array)), MAX_TEXT_BYTES), True)
        return pd.Series(fits.to_numpy(zero_copy_only=False), index=values.index)
    # characters == bytes for ASCII, so only other text is encoded
    fits = values.str.len() <= MAX_TEXT_BYTES
    wide = pd.Series(non_ascii(values), index=values.index)
    if wide.any():
        fits[wide] = values[wide].str.encode("utf-8").str.len() <= MAX_TEXT_BYTES
    return fits.fillna(True)


def _is_iso8601(values: pd.Series) -> pd.Series:
    return values.str.fullmatch(ISO8601_PATTERN)


def _fits_ibm_float(values: pd.Series) -> pd.Series:
    return ~(values.abs() >= IBM_MAX) | values.abs().eq(float("inf"))


def _all_fit_ibm_float(values: pd.Series) -> bool:
    numbers = values.to_numpy(dtype=float)
    if not len(numbers):
        return True
    # the largest and smallest numbers (missing ones skipped) answer without a temporary column
    if np.fmax.reduce(numbers) < IBM_MAX and np.fmin.reduce(numbers) > -IBM_MAX:
        return True
    return not (np.abs(numbers) >= IBM_MAX).any()


def value_checks(var: Variable, terminology: Terminology, severity: str) -> list[ValueCheck]:
    """The checks of one variable's values that a schema of this severity holds."""
    if var.type == "Num":
        return [ValueCheck("SCH-NUMRANGE", _fits_ibm_float, all_pass=_all_fit_ibm_float)] if severity == "error" else []
    checks: list[ValueCheck] = []
    if severity == "error":
        checks += [ValueCheck("SCH-ASCII", _is_ascii, all_pass=all_ascii),
                   ValueCheck("SCH-LENGTH", _fits_in_bytes, all_pass=_all_fit_in_bytes)]
        if var.name.endswith("DTC"):
            checks.append(ValueCheck("SCH-ISO8601", _is_iso8601, per_distinct=True, all_pass=all_plain_iso))
    if var.codelist:
        codelist = terminology.get(var.codelist)
        if codelist.extensible == (severity == "warning"):
            allowed = set(codelist.values())
            rule = "SCH-CT-EXT" if codelist.extensible else "SCH-CT"
            checks.append(ValueCheck(rule, lambda s, allowed=allowed: s.isin(allowed), per_distinct=True))
    return checks


def _dtype(var: Variable):
    return "float64" if var.type == "Num" else pd.StringDtype("pyarrow")


def build_schema(spec: DomainSpec, terminology: Terminology, severity: str = "error") -> pa.DataFrameSchema:
    """The schema of one dataset; severity 'error' or 'warning' selects which checks it holds."""
    import pandera.pandas as pa

    columns = {}
    for var in spec.variables:
        checks = [pa.Check(c.test, name=c.rule, ignore_na=True) for c in value_checks(var, terminology, severity)]
        nullable = not (severity == "error" and var.core == "Req")
        columns[var.name] = pa.Column(_dtype(var) if severity == "error" else None, checks=checks,
                                      nullable=nullable, required=severity == "error")
    unique = [k for k in spec.keys] if severity == "error" and spec.keys else None
    structural = severity == "error"
    return pa.DataFrameSchema(columns, name=spec.domain, strict=structural, ordered=structural, unique=unique,
                              report_duplicates="all")


def _rule_of(check: str, column: str | None) -> str:
    if check == NOT_NULL:
        return "SCH-REQUIRED"
    if check.startswith("dtype"):
        return "SCH-TYPE"
    if check in ("column_in_dataframe", "column_in_schema", "column_ordered"):
        return "SCH-COLUMNS"
    if check in (KEYS_UNIQUE, "field_uniqueness"):
        return "SCH-KEYS"
    return check


# (column, check, rows as 1-based record labels, offending values): one failed check
Failure = tuple[str, str, tuple[int, ...], tuple[str, ...]]


def _failures_by_pandera(spec: DomainSpec, frame: pd.DataFrame, terminology: Terminology,
                         severity: str) -> list[Failure]:
    import pandera.pandas as pa

    try:
        build_schema(spec, terminology, severity).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases.assign(column=cases["column"].fillna(""), check=cases["check"].astype(str))
        # one finding per duplicated key, not one per key column
        keys = cases["check"].isin([KEYS_UNIQUE, "field_uniqueness"])
        cases.loc[keys, "column"] = ", ".join(spec.keys)
        cases.loc[keys, "failure_case"] = None
        return [(column, check,
                 tuple(sorted(int(i) + 1 for i in group["index"].dropna().astype(int).unique())),
                 tuple(sorted({str(v) for v in group["failure_case"].dropna()})))
                for (column, check), group in cases.groupby(["column", "check"], sort=True)]
    return []


@functools.lru_cache(maxsize=64)
def _dtype_matches(expected, actual) -> bool:
    """Pandera's own dtype test, for dtypes it decides without looking at the values."""
    if actual == object:
        return False
    if actual == expected:  # the very dtype: Pandera's test passes (and Pandera need not be loaded)
        return True
    from pandera.engines.pandas_engine import Engine

    return Engine.dtype(expected).check(Engine.dtype(actual)) is True


def _as_built(spec: DomainSpec, frame: pd.DataFrame) -> bool:
    """The spec's columns in order, of the spec's types, integer record labels: nothing structural to report."""
    return (list(frame.columns) == [v.name for v in spec.variables]
            and pd.api.types.is_integer_dtype(frame.index) and not isinstance(frame.index, pd.MultiIndex)
            and all(_dtype_matches(_dtype(v), frame[v.name].dtype) for v in spec.variables))


def _rows(labels) -> tuple[int, ...]:
    return tuple((np.unique(np.asarray(labels, dtype=np.int64)) + 1).tolist())


def _value_failure(check: ValueCheck, column: pd.Series,
                   distinct: pd.Series | None = None) -> tuple[tuple[int, ...], tuple[str, ...]] | None:
    """Records and distinct values failing the check (missing values are not checked), or None.

    ``distinct``: the column's distinct values when known; a check that holds for each holds for the column."""
    if check.all_pass is not None:
        if distinct is not None and check.all_pass(distinct):
            return None
        if not (check.per_distinct and distinct is not None) and check.all_pass(column):
            return None  # (a check run per distinct value is proven on those only)
    if check.per_distinct:
        distinct = pd.Series(column.unique()).dropna() if distinct is None else distinct
        bad = distinct[~np.asarray(check.test(distinct), dtype=bool)]
        if bad.empty:
            return None
        labels = column.index[column.isin(bad).to_numpy(dtype=bool)]
    else:
        failed = ~np.asarray(check.test(column), dtype=bool)
        if not failed.any():
            return None
        bad = pd.Series(column[failed].unique())
        labels = column.index[failed]
    return _rows(labels), tuple(sorted({str(v) for v in bad}))


def _failures_as_built(spec: DomainSpec, frame: pd.DataFrame, terminology: Terminology,
                       severity: str, distinct: dict[str, pd.Series] | None = None) -> list[Failure]:
    """What Pandera reports for a dataset with nothing structural to report, from the same checks.

    ``distinct``: the distinct values of Arrow text columns that a check tests value by value (codelists,
    ISO 8601), found once for both severities; the whole-column proofs (ASCII, length) then run on them."""
    distinct = {} if distinct is None else distinct
    failures: list[Failure] = []
    for var in spec.variables:
        column = frame[var.name]
        if severity == "error" and var.core == "Req" and column.hasnans:
            failures.append((var.name, NOT_NULL, _rows(frame.index[column.isna().to_numpy(dtype=bool)]), ()))
        checks = value_checks(var, terminology, severity)
        values = None
        if checks and isinstance(column.array, pd.arrays.ArrowStringArray) and any(
                c.per_distinct for level in ("error", "warning") for c in value_checks(var, terminology, level)):
            if var.name not in distinct:
                distinct[var.name] = pd.Series(column.unique()).dropna()
            values = distinct[var.name]
        for check in checks:
            failed = _value_failure(check, column, values)
            if failed is not None:
                failures.append((var.name, check.rule, *failed))
    if severity == "error" and spec.keys:
        duplicated = duplicated_rows(frame, spec.keys)
        if duplicated.any():
            failures.append((", ".join(spec.keys), KEYS_UNIQUE, _rows(frame.index[duplicated]), ()))
    return sorted(failures, key=lambda f: (f[0], f[1]))


def validate_dataset(spec: DomainSpec, frame: pd.DataFrame, terminology: Terminology,
                     lineage: pd.DataFrame | None = None) -> list[Finding]:
    """Run the generated schemas; return findings (errors and warnings), never raise."""
    if _as_built(spec, frame):
        distinct: dict[str, pd.Series] = {}  # per column, for both severities

        def failures_of(spec, frame, terminology, severity):
            return _failures_as_built(spec, frame, terminology, severity, distinct)
    else:
        failures_of = _failures_by_pandera
    findings: list[Finding] = []
    for severity in ("error", "warning"):
        for column, check, rows, values in failures_of(spec, frame, terminology, severity):
            rule = _rule_of(check, column)
            level, meaning = SCHEMA_RULES.get(rule, ("error", check))
            sources: tuple[str, ...] = ()
            if lineage is not None and len(lineage.columns) == 2 and rows:
                picked = lineage.iloc[[r - 1 for r in rows[:20]]]
                sources = tuple(f"{f}:{r}" for f, r in zip(picked["_FILE"], picked["_ROW"]))
            findings.append(Finding(rule=rule, severity=level, dataset=spec.domain, variable=str(column),
                                    message=meaning, rows=rows, values=values, sources=sources))
    return findings
