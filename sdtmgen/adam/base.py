"""The ADaM derivation registry: named steps, with their parameters in the spec, that build a dataset.

An ADaM dataset spec lists ``derivations:``; each is a pydantic model registered under the name
used in ``derive:``. The first step of a dataset creates its records (e.g. ``source_records``
from an SDTM domain, or ``recovery`` for time-to-event), the next ones add variables. A step says
which variables it produces and which variables of *other* datasets (SDTM or ADaM) it needs; the
build runs it once those exist, so ADSL may use an ADAE flag that itself needs an ADSL date.

Dates are SAS numeric dates (days since 1960-01-01, as float64) and datetimes SAS numeric
datetimes (seconds since 1960-01-01 00:00:00); see :func:`to_sas_date`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Optional, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from sdtmgen.errors import Finding, SpecError

if TYPE_CHECKING:
    from sdtmgen.spec.models import AdamDatasetSpec, StudySpec

ADAM_DERIVATIONS: dict[str, type["AdamDerivation"]] = {}

D = TypeVar("D", bound=type["AdamDerivation"])

SAS_EPOCH = pd.Timestamp("1960-01-01")


def register_adam_derivation(name: str, description: str) -> Callable[[D], D]:
    def wrap(cls: D) -> D:
        if name in ADAM_DERIVATIONS:
            raise ValueError(f"ADaM derivation {name!r} registered twice")
        cls.derivation_name = name
        cls.description = description
        ADAM_DERIVATIONS[name] = cls
        return cls

    return wrap


class Params(BaseModel):
    """Base of the parameter blocks nested in a derivation (strict: unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatasetVariable(Params):
    """A variable of another dataset, SDTM or ADaM, e.g. ``{dataset: ADSL, variable: TRTSDT}``."""

    dataset: str
    variable: str


class AdamDerivation(Params):
    derivation_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def produces(self) -> set[str]:
        return {getattr(self, "target")}

    def needs(self) -> set[tuple[str, str]]:
        """(dataset, variable) pairs of *other* datasets this step reads."""
        return set()

    def creates_records(self) -> bool:
        """True for the steps that make a dataset's records (they may run on an empty dataset)."""
        return False

    def apply(self, ctx: "AdamContext") -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class AdamContext:
    dataset: "AdamDatasetSpec"
    datasets: dict[str, pd.DataFrame]          # SDTM datasets and the ADaM datasets built so far
    study: "StudySpec"
    spec_folder: Path = Path(".")
    reference: Optional[str] = None            # the study's reference folder (confines standards paths)
    findings: list[Finding] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.dataset.dataset

    @property
    def frame(self) -> pd.DataFrame:
        if self.name not in self.datasets:
            raise SpecError(f"ADaM {self.name}: the first derivation must create the records "
                            f"(e.g. source_records or recovery)")
        return self.datasets[self.name]

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self.datasets[self.name] = value

    def source(self, name: str) -> pd.DataFrame:
        if name not in self.datasets:
            raise SpecError(f"ADaM {self.name}: dataset {name} is not available")
        return self.datasets[name]

    def subject_values(self, dataset: str, variable: str) -> pd.Series:
        """One value per subject of another dataset's subject-level variable, aligned to this frame."""
        other = self.source(dataset)
        table = other.drop_duplicates("USUBJID").set_index("USUBJID")[variable]
        return pd.Series(self.frame["USUBJID"].map(table).to_numpy(), index=self.frame.index)

    def column(self, variable: str) -> pd.Series:
        frame = self.frame
        if variable not in frame.columns:
            raise SpecError(f"ADaM {self.name}: variable {variable} does not exist yet "
                            f"(list the step that makes it earlier)")
        return frame[variable]

    def warn(self, rule: str, variable: str, message: str, mask: np.ndarray | None = None,
             values: tuple[str, ...] = ()) -> None:
        """A warning finding; ``mask`` marks records of this dataset, named by their subjects (record numbers
        would not survive the final sort)."""
        if mask is not None and "USUBJID" in self.frame:
            values = tuple(sorted({str(v) for v in self.frame["USUBJID"].to_numpy()[np.asarray(mask, dtype=bool)]}))
        self.findings.append(Finding(rule=rule, severity="warning", dataset=self.name, variable=variable,
                                     message=message, values=values))


# ---------------------------------------------------------------------------------------------
# dates


def iso_date(iso: pd.Series) -> pd.Series:
    """The calendar date (midnight) of ISO 8601 values with a complete date; partial or missing -> NaT."""
    text = pd.Series(iso, copy=False).astype("string")
    complete = (text.str.len() >= 10).fillna(False)
    return pd.to_datetime(text.str.slice(0, 10).where(complete), format="%Y-%m-%d", errors="coerce")


def iso_clock(iso: pd.Series) -> pd.Series:
    """Seconds after midnight of ISO 8601 values that carry a time (``THH:MM[:SS]``); NaN otherwise."""
    text = pd.Series(iso, copy=False).astype("string")
    timed = (text.str.slice(10, 11) == "T").fillna(False)
    hours = pd.to_numeric(text.str.slice(11, 13).where(timed), errors="coerce")
    minutes = pd.to_numeric(text.str.slice(14, 16).where(timed), errors="coerce")
    seconds = pd.to_numeric(text.str.slice(17, 19).where(timed & (text.str.len() >= 19)), errors="coerce")
    return (hours * 3600 + minutes * 60 + seconds.fillna(0)).astype("float64")


def iso_datetime(iso: pd.Series) -> pd.Series:
    """Date and time (to the second) of ISO 8601 values with a complete date; a missing time is 00:00."""
    seconds = iso_clock(iso).fillna(0).to_numpy()
    return iso_date(iso) + pd.to_timedelta(seconds, unit="s")


def to_sas_date(stamps: pd.Series) -> pd.Series:
    """Timestamps -> SAS dates (days since 1960-01-01, float64, NaN when missing)."""
    stamps = pd.to_datetime(pd.Series(stamps, copy=False))
    return ((stamps.dt.normalize() - SAS_EPOCH).dt.days).astype("float64")


def to_sas_datetime(stamps: pd.Series) -> pd.Series:
    """Timestamps -> SAS datetimes (seconds since 1960-01-01 00:00:00, float64)."""
    stamps = pd.to_datetime(pd.Series(stamps, copy=False))
    return ((stamps - SAS_EPOCH).dt.total_seconds()).astype("float64")


def from_sas_date(days: pd.Series) -> pd.Series:
    """SAS dates -> timestamps (NaT when missing)."""
    values = pd.to_numeric(pd.Series(days, copy=False), errors="coerce")
    return SAS_EPOCH + pd.to_timedelta(values, unit="D")


def relative_day(dates: pd.Series, anchor: pd.Series, day_zero: bool = False) -> pd.Series:
    """Day of ``dates`` counted from ``anchor`` (both SAS dates): anchor = day 1; before it -1, -2, ...

    With ``day_zero`` the count is the plain difference + 1 on both sides (no gap at zero).
    """
    delta = pd.to_numeric(pd.Series(dates, copy=False), errors="coerce").to_numpy(dtype=float) - \
        pd.to_numeric(pd.Series(anchor, copy=False), errors="coerce").to_numpy(dtype=float)
    days = delta + 1 if day_zero else np.where(delta >= 0, delta + 1, delta)
    return pd.Series(days, index=pd.Series(dates).index, dtype="float64")


def present(values: pd.Series) -> np.ndarray:
    """Not missing and, for text, not blank."""
    series = pd.Series(values, copy=False)
    if pd.api.types.is_numeric_dtype(series):
        return series.notna().to_numpy(dtype=bool)
    text = series.astype("string").str.strip()
    return (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)


def flag_series(mask: np.ndarray, index: pd.Index, yes: str = "Y", no: Optional[str] = None) -> pd.Series:
    """A Y/N (or Y/null) flag column from a boolean mask."""
    out = pd.Series(no if no is not None else pd.NA, index=index, dtype="string")
    out[np.asarray(mask, dtype=bool)] = yes
    return out
