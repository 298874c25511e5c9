"""The mapping-rule registry.

A mapping rule turns columns of one raw form into one SDTM variable. Each rule is a pydantic
model (its parameters, as written in the spec) with an ``apply`` method working on whole columns,
registered under the name the spec uses in ``rule:``. The spec loader builds its schema from this
registry, so a misspelled rule or parameter fails when the spec is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.arrowtext import Distinct, arrow_text, blank_as_missing, text_series
from sdtmgen.errors import Finding, RawDataError

if TYPE_CHECKING:
    from sdtmgen.spec.models import StudySpec, Variable
    from sdtmgen.terminology import Terminology

RULES: dict[str, type["MappingRule"]] = {}

R = TypeVar("R", bound=type["MappingRule"])


def register_rule(name: str, description: str) -> Callable[[R], R]:
    """Class decorator: make a rule available to specs as ``rule: <name>``."""

    def wrap(cls: R) -> R:
        if name in RULES:
            raise ValueError(f"mapping rule {name!r} registered twice")
        cls.rule_name = name
        cls.description = description
        RULES[name] = cls
        return cls

    return wrap


class MappingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    rule_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def columns(self) -> set[str]:
        """Raw columns the rule reads (checked against the raw form before mapping)."""
        return set()

    def apply(self, ctx: "MapContext") -> pd.Series:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class MapContext:
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

    def distinct(self, column: str) -> Distinct:
        """The raw column factorised, once per source however many rules read it."""
        if column not in self.factorised:
            self.factorised[column] = Distinct.of(self.frame[column])
        return self.factorised[column]

    def sources(self, mask: np.ndarray) -> tuple[str, ...]:
        rows = self.frame["_ROW"].to_numpy()[mask]
        return tuple(f"{self.form_file}:{r}" for r in rows)

    def fail(self, mask: np.ndarray, column: str, rule: str, message: str, hint: str) -> None:
        """Stop the build naming the raw file, rows, column and values."""
        rows = self.frame["_ROW"].to_numpy()[mask]
        values = self.frame[column].to_numpy()[mask] if column in self.frame else []
        cells = "\n".join(f"    {self.form_file} row {r}, column {column}: {v!r}" for r, v in list(zip(rows, values))[:20])
        more = f"\n    ... and {len(rows) - 20} more" if len(rows) > 20 else ""
        raise RawDataError(
            f"{self.domain}.{self.target} ({rule}): {message}\n{cells}{more}\n  what to do: {hint}")

    def warn(self, mask: np.ndarray, column: str, rule: str, message: str) -> None:
        values = self.frame[column].to_numpy()[mask] if column in self.frame else []
        self.findings.append(Finding(
            rule=rule, severity="warning", dataset=self.domain, variable=self.target, message=message,
            values=tuple(sorted({str(v) for v in values})), sources=self.sources(mask)))


def as_text(values: Any, index: pd.Index) -> pd.Series:
    """A string column, trimmed, with blanks as missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, index=index)
    return text_series(blank_as_missing(arrow_text(series)), series.index)
