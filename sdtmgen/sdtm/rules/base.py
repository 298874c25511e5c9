"""The mapping-rule registry.

A mapping rule turns columns of one raw form into one SDTM variable. Each rule is a pydantic
model (its parameters, as written in the spec) with an ``apply`` method working on whole columns,
registered under the name the spec uses in ``rule:``. The spec loader builds its schema from this
registry, so a misspelled rule or parameter fails when the spec is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Optional, TypeVar

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sdtmgen.arrowtext import Distinct, arrow_text, blank_as_missing, text_series
from sdtmgen.errors import Finding, SpecError
from sdtmgen.registry import Entry, Registry, StepContext

if TYPE_CHECKING:
    from sdtmgen.spec.models import StudySpec, Variable
    from sdtmgen.terminology import Terminology


def _named(entry: Entry[type["MappingRule"]]) -> None:
    entry.item.rule_name = entry.name
    entry.item.description = entry.description


RULES: Registry[type["MappingRule"]] = Registry(
    "mapping rule", key="rule", where="domain files (specs/sdtm/*.yaml): `sources[].map.<VARIABLE>`", on_register=_named)

#: offending raw cells kept as text per finding (all their rows are kept as sources)
CELLS_KEPT = 100

R = TypeVar("R", bound=type["MappingRule"])


def register_rule(name: str, description: str, example: str = "") -> Callable[[R], R]:
    """Class decorator: make a rule available to specs as ``rule: <name>``."""
    return RULES.register(name, description, example=example)


class Step(BaseModel):
    """One step of a rule's ``then:`` chain; exactly one operation per step.

    ``{trim: true}`` (strip spaces; blank -> missing), ``{upper: true}``, ``{lower: true}``,
    ``{replace: {"from": "to"}}`` (whole values, exact unless ``ignore_case: true``; others unchanged),
    ``{codelist: ROUTE}`` (collected value, decode or synonym -> submission value; ``output: decode``
    gives the decode; values outside a non-extensible codelist stop the build).
    """

    model_config = ConfigDict(extra="forbid")

    trim: Optional[Literal[True]] = Field(None, description="true: strip leading/trailing spaces; blank -> missing")
    upper: Optional[Literal[True]] = Field(None, description="true: upper case")
    lower: Optional[Literal[True]] = Field(None, description="true: lower case")
    replace: Optional[dict[str, str]] = Field(None, max_length=10_000,
                                              description="whole value -> replacement; other values unchanged")
    ignore_case: bool = Field(False, description="replace: match values regardless of case")
    codelist: Optional[str] = Field(None, description="codelist id: collected value, decode or synonym -> submission value")
    output: Literal["value", "decode"] = Field("value", description="codelist: give the submission value or its decode")

    @model_validator(mode="after")
    def _one_operation(self) -> "Step":
        ops = [name for name in ("trim", "upper", "lower", "replace", "codelist") if getattr(self, name) is not None]
        if len(ops) != 1:
            raise ValueError("a 'then' step needs exactly one of: trim, upper, lower, replace, codelist")
        if self.ignore_case and self.replace is None:
            raise ValueError("ignore_case applies to 'replace' only")
        if self.output != "value" and self.codelist is None:
            raise ValueError("output applies to 'codelist' only")
        return self

    def apply(self, values: pd.Series, ctx: "MapContext", column: str | None) -> pd.Series:
        text = arrow_text(values)
        if self.trim:
            return text_series(blank_as_missing(text), values.index)
        if self.upper:
            return text_series(pc.utf8_upper(text), values.index)
        if self.lower:
            return text_series(pc.utf8_lower(text), values.index)
        if self.replace is not None:
            return self._replace(values)
        return self._codelist(values, ctx, column)

    def _replace(self, values: pd.Series) -> pd.Series:
        distinct = Distinct.of(values)  # each distinct value looked up once
        keys = distinct.values.astype("string[pyarrow]")
        table = self.replace or {}
        if self.ignore_case:
            folded = {k.upper(): v for k, v in table.items()}
            found = keys.str.upper().map(folded)
        else:
            found = keys.map(table)
        return distinct.spread_text(found.astype("string[pyarrow]").fillna(keys), values.index)

    def _codelist(self, values: pd.Series, ctx: "MapContext", column: str | None) -> pd.Series:
        from sdtmgen.terminology import map_to_codelist

        try:
            codelist = ctx.terminology.get(self.codelist)
        except KeyError:
            raise SpecError(f"{ctx.domain}.{ctx.target}: 'then' step uses unknown codelist {self.codelist}") from None
        mapped, unmatched = map_to_codelist(values, codelist, self.output)
        if unmatched.any() and codelist.extensible:
            ctx.warn("CT-EXT", column or "", f"value not in extensible codelist {codelist.id}; submitted as collected",
                     unmatched)
        if unmatched.any() and not codelist.extensible:
            shown = ", ".join(sorted({str(v) for v in values[unmatched]})[:20])
            ctx.fail("codelist", column or "",
                     f"value (after the 'then' steps: {shown}) not in non-extensible codelist {codelist.id} "
                     f"({codelist.name}); allowed: {', '.join(codelist.values())}", unmatched,
                     hint=f"correct the raw value, or add it as a synonym of a term of {codelist.id} in the spec")
        return mapped


class MappingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    rule_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    then: list[Step] = Field(default_factory=list, max_length=20,
                             description="steps applied in order to the rule's text result")

    def run(self, ctx: "MapContext") -> pd.Series:
        """The rule's values with its ``then`` steps applied in order."""
        values = self.apply(ctx)
        if not self.then:
            return values
        if values.dtype == "float64":
            raise SpecError(f"{ctx.domain}.{ctx.target}: rule {self.rule_name} gives numbers; "
                            f"'then' steps work on text")
        columns = sorted(self.columns())
        for step in self.then:
            values = step.apply(values, ctx, columns[0] if columns else None)
        return values

    def columns(self) -> set[str]:
        """Raw columns the rule reads (checked against the raw form before mapping)."""
        return set()

    def apply(self, ctx: "MapContext") -> pd.Series:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class MapContext(StepContext):
    """What a rule sees: the raw rows of one source, the study, terminology and its target."""

    frame: pd.DataFrame
    form_file: str
    domain: str
    target: str
    study: "StudySpec"
    terminology: "Terminology"
    variable: "Variable | None"
    findings: list[Finding] = field(default_factory=list)
    factorised: dict[str, Distinct] = field(default_factory=dict)  # shared by a source's rules
    mapped: dict[str, Any] = field(default_factory=dict)  # variables mapped before this one from the same rows
    #: unpivoted sources: column -> (the column before unpivoting, the position in it of each row)
    unpivoted: dict[str, tuple[pd.Series, np.ndarray]] = field(default_factory=dict)

    def distinct(self, column: str) -> Distinct:
        """The raw column factorised, once per source however many rules read it. A column repeated by
        an unpivot is factorised before it was repeated (its table may hold values no row has left)."""
        if column not in self.factorised:
            if column in self.unpivoted:
                short, at = self.unpivoted[column]
                encoded = Distinct.of(short)
                self.factorised[column] = Distinct(codes=encoded.codes[at], values=encoded.values)
            else:
                self.factorised[column] = Distinct.of(self.frame[column])
        return self.factorised[column]

    def sources(self, mask: np.ndarray) -> tuple[str, ...]:
        rows = self.frame["_ROW"].to_numpy()[mask]
        return tuple(f"{self.form_file}:{r}" for r in rows)

    def record(self, severity: str, rule: str, column: str, message: str, mask: Optional[np.ndarray],
               hint: str, values: tuple[str, ...]) -> None:
        """A finding naming the raw file, rows, column and values (``column``: the raw column at fault)."""
        if mask is None:
            self.findings.append(Finding(rule=rule, severity=severity, dataset=self.domain, variable=self.target,
                                         message=message, values=values, hint=hint))
            return
        if severity == "warning":
            found = self.frame[column].to_numpy()[mask] if column in self.frame else []
            self.findings.append(Finding(
                rule=rule, severity=severity, dataset=self.domain, variable=self.target, message=message,
                values=tuple(sorted({str(v) for v in found})), sources=self.sources(mask)))
            return
        rows = self.frame["_ROW"].to_numpy()[mask]
        found = self.frame[column].to_numpy()[mask] if column in self.frame else np.full(len(rows), "", dtype=object)
        _, first = np.unique(rows, return_index=True)  # a raw row gives several records when unpivoted
        first.sort()
        rows, found = rows[first], found[first]
        cells = tuple(f"{self.form_file} row {r}, column {column}: {v!r}"
                      for r, v in zip(rows[:CELLS_KEPT], found[:CELLS_KEPT]))
        self.findings.append(Finding(
            rule=rule, severity=severity, dataset=self.domain, variable=self.target, message=message,
            values=tuple(sorted({str(v) for v in found})), sources=tuple(f"{self.form_file}:{r}" for r in rows),
            cells=cells, hint=hint))


def as_text(values: Any, index: pd.Index) -> pd.Series:
    """A string column, trimmed, with blanks as missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, index=index)
    return text_series(blank_as_missing(arrow_text(series)), series.index)
