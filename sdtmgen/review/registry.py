"""The data-review check registry, what a check returns and what it sees.

Each family of checks (one module per family beside this one) registers its checks here with
``register_check``; ``sdtmgen.review`` imports every family, so the registry is complete once the
package is imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pandas as pd

from sdtmgen.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import ReviewCheck, Spec


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
            self._days[key] = distinct_days(self.datasets[dataset][column])
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


def distinct_days(values: pd.Series) -> np.ndarray:
    """Days since 1970 (NaN: partial or missing) of ISO 8601 values as ``sdtmgen.dates.iso_date`` reads them, each
    distinct value read once (by ``validate.rule_base.day_numbers``) and spread to the records."""
    from sdtmgen.validate.rule_base import day_numbers

    codes, dates = pd.factorize(values.array, use_na_sentinel=True)
    return np.append(day_numbers(pd.Series(dates)), np.nan)[codes]
