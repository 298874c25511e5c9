"""The ADaM derivation registry: named steps, with their parameters in the spec, that build a dataset.

An ADaM dataset spec lists ``derivations:``; each is a pydantic model registered under the name
used in ``derive:``. The first step of a dataset creates its records (e.g. ``source_records``
from an SDTM domain, or ``recovery`` for time-to-event), the next ones add variables. A step says
which variables it produces and which variables of *other* datasets (SDTM or ADaM) it needs; the
build runs it once those exist, so ADSL may use an ADAE flag that itself needs an ADSL date.

Dates are SAS numeric dates (days since 1960-01-01, as float64) and datetimes SAS numeric
datetimes (seconds since 1960-01-01 00:00:00); see ``sdtmgen.dates.to_sas_date``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar, Optional, Sequence, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.dates import study_day
from sdtmgen.columns import ordering
from sdtmgen.errors import Finding, SpecError
from sdtmgen.registry import Entry, Registry, StepContext

if TYPE_CHECKING:
    from sdtmgen.spec.models import AdamDatasetSpec, StudySpec

D = TypeVar("D", bound=type["AdamDerivation"])



def _named(entry: Entry[type["AdamDerivation"]]) -> None:
    entry.item.derivation_name = entry.name
    entry.item.description = entry.description


ADAM_DERIVATIONS: Registry[type["AdamDerivation"]] = Registry(
    "ADaM derivation", key="derive", where="ADaM files (specs/adam/*.yaml): `derivations: [...]`", on_register=_named)


def register_adam_derivation(name: str, description: str, example: str = "") -> Callable[[D], D]:
    """Class decorator: make a derivation available to ADaM specs as ``derive: <name>``."""
    return ADAM_DERIVATIONS.register(name, description, example=example)


class Params(BaseModel):
    """Base of the parameter blocks nested in a derivation (strict: unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatasetVariable(Params):
    """A variable of another dataset, SDTM or ADaM, e.g. ``{dataset: ADSL, variable: TRTSDT}``."""

    dataset: str = Field(description="the dataset, SDTM or ADaM, e.g. ADSL")
    variable: str = Field(description="its variable, e.g. TRTSDT")


class AdamDerivation(Params):
    derivation_name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    def produces(self) -> set[str]:
        return {self.target}

    def needs(self) -> set[tuple[str, str]]:
        """(dataset, variable) pairs of *other* datasets this step reads."""
        return set()

    def creates_records(self) -> bool:
        """True for the steps that make a dataset's records (they may run on an empty dataset)."""
        return False

    def apply(self, ctx: "AdamContext") -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class AdamContext(StepContext):
    dataset: "AdamDatasetSpec"
    datasets: dict[str, pd.DataFrame]          # SDTM datasets and the ADaM datasets built so far
    study: "StudySpec"
    spec_folder: Path = Path(".")
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

    def subject_rows(self, dataset: str) -> np.ndarray:
        """Per record of this frame, the row of another dataset holding its subject (the first), -1 for none."""
        return first_positions(self.frame["USUBJID"], self.source(dataset)["USUBJID"])

    def subject_values(self, dataset: str, variable: str) -> pd.Series:
        """One value per subject of another dataset's subject-level variable, aligned to this frame."""
        rows = self.subject_rows(dataset)
        return pd.Series(take_rows(self.source(dataset)[variable], rows), index=self.frame.index)

    def column(self, variable: str) -> pd.Series:
        frame = self.frame
        if variable not in frame.columns:
            raise SpecError(f"ADaM {self.name}: variable {variable} does not exist yet "
                            f"(list the step that makes it earlier)")
        return frame[variable]

    def record(self, severity: str, rule: str, variable: str, message: str, mask: np.ndarray | None,
               hint: str, values: tuple[str, ...]) -> None:
        """A finding; ``mask`` marks records of this dataset, named by their subjects (record numbers would not
        survive the final sort)."""
        if mask is not None and "USUBJID" in self.frame:
            values = tuple(sorted({str(v) for v in self.frame["USUBJID"].to_numpy()[np.asarray(mask, dtype=bool)]}))
        self.findings.append(Finding(rule=rule, severity=severity, dataset=self.name, variable=variable,
                                     message=message, values=values, hint=hint))


# ---------------------------------------------------------------------------------------------
# columns: lookups by hashing, work per distinct value, text built from codes (no Python object per row)


def column_values(column: pd.Series):
    """The column's array as stored: Arrow-backed (and other extension) arrays stay as they are."""
    return column.array if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) else column.to_numpy()


def take_rows(column: pd.Series, rows: np.ndarray):
    """The column's values at ``rows`` (-1 = missing: NaN, or NA for text), in the column's own type."""
    return pd.api.extensions.take(column_values(column), np.asarray(rows, dtype=np.intp), allow_fill=True)


def first_positions(values: pd.Series, table: pd.Series) -> np.ndarray:
    """Position in ``table`` of each value (its first occurrence there), -1 where it does not occur."""
    values, table = pd.Series(values, copy=False), pd.Series(table, copy=False)
    if isinstance(values.dtype, pd.StringDtype) and isinstance(table.dtype, pd.StringDtype):
        text = _arrow_text(values)
        runs = _run_starts(text)
        if runs is not None:  # records grouped by value (SDTM by USUBJID): one lookup per run of equal values
            found = np.asarray(pc.index_in(text.take(pa.array(runs)), value_set=_arrow_text(table)).fill_null(-1),
                               dtype=np.intp)
            return np.repeat(found, np.diff(np.append(runs, len(text))))
        found = pc.index_in(text, value_set=_arrow_text(table))
        return np.asarray(found.fill_null(-1), dtype=np.intp)
    first = np.flatnonzero(~table.duplicated().to_numpy())
    found = pd.Index(table.iloc[first]).get_indexer(values)
    return np.where(found >= 0, first[found.clip(0)] if len(first) else -1, -1)


def _run_starts(text: pa.Array) -> np.ndarray | None:
    """First record of each run of equal neighbouring values (a missing value is a run of its own), when
    the runs are long enough for a lookup per run to pay (comparing neighbours costs a third of hashing)."""
    n = len(text)
    if n < 4096:
        return None
    changes = np.asarray(pc.not_equal(text.slice(1), text.slice(0, n - 1)).fill_null(True), dtype=bool)
    if changes.sum() > n // 8:
        return None
    return np.flatnonzero(np.r_[True, changes])


def group_codes(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """One integer per distinct combination of the key variables, dense (0..groups-1, in order of
    appearance: they index per-group arrays), -1 where a key is missing (as pandas groupby drops such
    records). The combinations are those of ``sdtmgen.columns.ordering.group_codes``, made dense."""
    combined = ordering.group_codes(frame, keys)
    codes = np.full(len(frame), -1, dtype=np.int64)
    present = combined >= 0
    codes[present] = pd.factorize(combined[present])[0]
    return codes


def _arrow_text(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("string[pyarrow]").array)


class Distinct:
    """The distinct values of a column, so that costly work (parsing, regular expressions) runs once per
    value instead of once per record; missing is one more value, at the end."""

    def __init__(self, values: pd.Series):
        codes, uniques = pd.factorize(pd.Series(values, copy=False))
        self.codes = np.where(codes < 0, len(uniques), codes)
        self.values = pd.Series(uniques).reindex(range(len(uniques) + 1))

    def expand(self, per_value) -> np.ndarray:
        """A result per distinct value (aligned to ``values``) -> the result per record."""
        return np.asarray(per_value)[self.codes]

    def map(self, compute: Callable[[pd.Series], object]) -> np.ndarray:
        """``compute`` (value by value) run on the distinct values, as a result per record."""
        return self.expand(compute(self.values))


@dataclass
class Codes:
    """A text column as integer codes (-1 = missing) numbering its distinct values."""

    codes: np.ndarray
    names: pd.Index

    @classmethod
    def of(cls, values: pd.Series) -> "Codes":
        if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
            # Arrow text: the run's shared encoding of the column (PARAMCD is read by baseline, criteria, grades...)
            codes, names = ordering.factorize(values)
            return cls(codes, pd.Index(names))
        return cls(*pd.factorize(values))

    def rows_with(self, value: str) -> np.ndarray:
        """Mask of the records holding ``value``."""
        return self.codes == (self.names.get_loc(value) if value in self.names else -2)


def text_from_codes(codes: np.ndarray, labels: Sequence[Optional[str]]) -> pd.arrays.ArrowStringArray:
    """Text column ``labels[code]`` per record (code -1 or a None label: missing), Arrow-backed."""
    codes = np.asarray(codes)
    index = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0)
    return pd.arrays.ArrowStringArray(pa.array(list(labels), type=pa.large_string()).take(index))


def flag_array(mask: np.ndarray, yes: str = "Y", no: Optional[str] = None) -> pd.arrays.ArrowStringArray:
    """A Y/N (or Y/null) flag column from a boolean mask."""
    return text_from_codes(np.asarray(mask, dtype=bool).astype(np.int8), [no, yes])


# ---------------------------------------------------------------------------------------------
# dates


def relative_day(dates: pd.Series, anchor: pd.Series, day_zero: bool = False) -> pd.Series:
    """Day of ``dates`` counted from ``anchor`` (both SAS dates) by the study-day rule, ``sdtmgen.dates.study_day``:
    anchor = day 1; before it -1, -2, ... With ``day_zero`` the plain difference + 1 on both sides."""
    days = study_day(pd.to_numeric(pd.Series(dates, copy=False), errors="coerce").to_numpy(dtype=float),
                     pd.to_numeric(pd.Series(anchor, copy=False), errors="coerce").to_numpy(dtype=float), day_zero)
    return pd.Series(days, index=pd.Series(dates).index, dtype="float64")


def present(values: pd.Series) -> np.ndarray:
    """Not missing and, for text, not blank."""
    series = pd.Series(values, copy=False)
    if pd.api.types.is_numeric_dtype(series):
        return series.notna().to_numpy(dtype=bool)
    text = series.astype("string[pyarrow]").str.strip()
    return (text.notna() & (text != "")).fillna(False).to_numpy(dtype=bool)
