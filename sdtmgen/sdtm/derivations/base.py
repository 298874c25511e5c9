"""The derivation registry: steps that run on mapped SDTM records, possibly reading other domains.

Each step is a pydantic model (its parameters in the spec) registered under the name used in
``derive:``. A step says which variables it produces and which variables of *other* domains it
needs; the build runs a step once everything it needs exists, so the order of domains in the spec
does not matter and a cycle is reported as a spec error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.errors import Finding
from sdtmgen.sdtm.rules.base import CELLS_KEPT

if TYPE_CHECKING:
    from sdtmgen.spec.models import DomainSpec, StudySpec
    from sdtmgen.terminology import Terminology

DERIVATIONS: dict[str, type["Derivation"]] = {}

D = TypeVar("D", bound=type["Derivation"])


def register_derivation(name: str, description: str) -> Callable[[D], D]:
    def wrap(cls: D) -> D:
        if name in DERIVATIONS:
            raise ValueError(f"derivation {name!r} registered twice")
        cls.derivation_name = name
        cls.description = description
        DERIVATIONS[name] = cls
        return cls

    return wrap


class VariableRef(BaseModel):
    """A variable of another domain, e.g. ``{domain: DM, variable: RFSTDTC}``."""

    model_config = ConfigDict(extra="forbid")

    domain: str
    variable: str


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
class DeriveContext:
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
        from sdtmgen.sdtm.derivations.ordering import lookup

        other = self.datasets[ref.domain].drop_duplicates("USUBJID")
        rows = lookup(self.frame["USUBJID"], pd.Index(other["USUBJID"]))
        values = other[ref.variable].array.take(rows, allow_fill=True)
        return pd.Series(values, index=self.frame.index, name="USUBJID")

    def raw_sources(self, mask: np.ndarray) -> tuple[str, ...]:
        frame = self.frame
        if "_FILE" not in frame:
            return ()
        return tuple(f"{f}:{r}" for f, r in zip(frame["_FILE"].to_numpy()[mask], frame["_ROW"].to_numpy()[mask]))

    def fail(self, mask: np.ndarray, variable: str, rule: str, message: str, hint: str) -> None:
        """Record an error naming the raw rows and values; the build goes on to report every problem
        and stops after validation."""
        frame = self.frame
        values = frame[variable].to_numpy()[mask] if variable in frame else np.full(int(mask.sum()), "", dtype=object)
        sources = self.raw_sources(mask)
        if sources:  # once per raw row (a raw row gives several records when unpivoted)
            first = dict(zip(reversed(sources), reversed(range(len(sources)))))
            keep = sorted(first.values())
            sources, values = tuple(sources[i] for i in keep), values[keep]
        cells = tuple(f"{src}: {variable}={val!r}"
                      for src, val in zip(sources[:CELLS_KEPT] or ["?"] * min(len(values), CELLS_KEPT), values))
        self.findings.append(Finding(rule=rule, severity="error", dataset=self.domain.domain, variable=variable,
                                     message=message, values=tuple(sorted({str(v) for v in values})),
                                     sources=sources, cells=cells, hint=hint))

    def warn(self, mask: np.ndarray, variable: str, rule: str, message: str) -> None:
        frame = self.frame
        values = frame[variable].to_numpy()[mask] if variable in frame else []
        self.findings.append(Finding(rule=rule, severity="warning", dataset=self.domain.domain,
                                     variable=variable, message=message,
                                     values=tuple(sorted({str(v) for v in values})),
                                     sources=self.raw_sources(mask)))
