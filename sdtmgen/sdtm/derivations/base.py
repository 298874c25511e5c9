"""The derivation registry: steps that run on mapped SDTM records, possibly reading other domains.

Each step is a pydantic model (its parameters in the spec) registered under the name used in
``derive:``. A step says which variables it produces and which variables of *other* domains it
needs; the build runs a step once everything it needs exists, so the order of domains in the spec
does not matter and a cycle is reported as a spec error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Optional, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.errors import Finding
from sdtmgen.registry import Entry, Registry, StepContext
from sdtmgen.sdtm.rules.base import CELLS_KEPT

if TYPE_CHECKING:
    from sdtmgen.spec.models import DomainSpec, StudySpec
    from sdtmgen.terminology import Terminology


def _named(entry: Entry[type["Derivation"]]) -> None:
    entry.item.derivation_name = entry.name
    entry.item.description = entry.description


DERIVATIONS: Registry[type["Derivation"]] = Registry(
    "derivation", key="derive", title="SDTM derivations",
    where="domain files (specs/sdtm/*.yaml): `derivations: [...]`", on_register=_named)

D = TypeVar("D", bound=type["Derivation"])


def register_derivation(name: str, description: str, example: str = "") -> Callable[[D], D]:
    """Class decorator: make a derivation available to SDTM specs as ``derive: <name>``."""
    return DERIVATIONS.register(name, description, example=example)


class VariableRef(BaseModel):
    """A variable of another domain, e.g. ``{domain: DM, variable: RFSTDTC}``."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(description="the domain holding the variable, e.g. DM")
    variable: str = Field(description="the variable, e.g. RFSTDTC")


class Derivation(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    derivation_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def produces(self) -> set[str]:
        return {self.target}

    def needs(self) -> set[tuple[str, str]]:
        """(domain, variable) pairs of other domains this step reads."""
        return set()

    def apply(self, ctx: "DeriveContext") -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class DeriveContext(StepContext):
    domain: "DomainSpec"
    datasets: dict[str, pd.DataFrame]
    study: "StudySpec"
    terminology: "Terminology"
    findings: list[Finding] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        return self.datasets[self.domain.domain]

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self.datasets[self.domain.domain] = value

    def subject_values(self, ref: VariableRef) -> pd.Series:
        """One value per subject of another domain's subject-level variable, aligned to this frame."""
        from sdtmgen.columns.ordering import lookup

        other = self.datasets[ref.domain].drop_duplicates("USUBJID")
        rows = lookup(self.frame["USUBJID"], pd.Index(other["USUBJID"]))
        values = other[ref.variable].array.take(rows, allow_fill=True)
        return pd.Series(values, index=self.frame.index, name="USUBJID")

    def raw_sources(self, mask: np.ndarray) -> tuple[str, ...]:
        frame = self.frame
        if "_FILE" not in frame:
            return ()
        return tuple(f"{f}:{r}" for f, r in zip(frame["_FILE"].to_numpy()[mask], frame["_ROW"].to_numpy()[mask]))

    def record(self, severity: str, rule: str, variable: str, message: str, mask: Optional[np.ndarray],
               hint: str, values: tuple[str, ...]) -> None:
        """A finding naming the raw rows and values of the offending records."""
        frame = self.frame
        if mask is None:
            self.findings.append(Finding(rule=rule, severity=severity, dataset=self.domain.domain, variable=variable,
                                         message=message, values=values, hint=hint))
            return
        if severity == "warning":
            found = frame[variable].to_numpy()[mask] if variable in frame else []
            self.findings.append(Finding(rule=rule, severity=severity, dataset=self.domain.domain,
                                         variable=variable, message=message,
                                         values=tuple(sorted({str(v) for v in found})),
                                         sources=self.raw_sources(mask)))
            return
        found = frame[variable].to_numpy()[mask] if variable in frame else np.full(int(mask.sum()), "", dtype=object)
        sources = self.raw_sources(mask)
        if sources:  # once per raw row (a raw row gives several records when unpivoted)
            first = dict(zip(reversed(sources), reversed(range(len(sources)))))
            keep = sorted(first.values())
            sources, found = tuple(sources[i] for i in keep), found[keep]
        cells = tuple(f"{src}: {variable}={val!r}"
                      for src, val in zip(sources[:CELLS_KEPT] or ["?"] * min(len(found), CELLS_KEPT), found))
        self.findings.append(Finding(rule=rule, severity=severity, dataset=self.domain.domain, variable=variable,
                                     message=message, values=tuple(sorted({str(v) for v in found})),
                                     sources=sources, cells=cells, hint=hint))
