"""The conformance rule registry: what a rule sees (the package), returns (hits) and how it is run.

Rule modules (``conformance`` for SDTM and the ADaMIG metadata, ``adam_rules`` for ADaM) register
their rules here with :func:`conformance_rule`; ``sdtmgen.validate.conformance`` imports every rule
module, so the registry is complete once it is imported. Helpers used by more than one rule module
live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from sdtmgen.errors import Finding
from sdtmgen.registry import Registry
from sdtmgen.validate.textbuffers import none_blank

if TYPE_CHECKING:  # pragma: no cover
    from sdtmgen.spec.models import DomainSpec

LOCKED = frozenset({"IG-REQ"})
"""Rules a study cannot change (Required variables); rule ids starting with ``FDA`` are locked too."""


@dataclass
class Package:
    """What the rules see: every dataset with its spec and lineage."""

    datasets: dict[str, pd.DataFrame]
    specs: dict[str, DomainSpec]
    lineage: dict[str, pd.DataFrame] = field(default_factory=dict)
    ig: pd.DataFrame | None = None          # SDTMIG variable metadata (dataset, name, label, core)
    adamig: pd.DataFrame | None = None      # ADaMIG variable metadata (dataset = data structure name)
    unplanned_visit: str = "UNSCHEDULED"    # VISIT prefix of unplanned visits
    sdtm: dict[str, pd.DataFrame] | None = None  # SDTM datasets an ADaM package derives from (ADAM-SRC, ADAM-ADSL-DM)

    _distinct: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def distinct(self, dataset: str, column: str) -> tuple[np.ndarray, pd.Series]:
        """Codes (-1: missing) and distinct values of a column, computed once for all the rules.

        Rules test each distinct value (subject, date, epoch) once and spread the answer to the
        records through the codes, instead of comparing text record by record.
        """
        frame = self.datasets[dataset]
        cached = self._distinct.get((dataset, column))
        if cached is None or cached[0] is not frame:
            codes, uniques = pd.factorize(frame[column].array, use_na_sentinel=True)
            small = np.int32 if len(uniques) < 2**31 - 1 else np.int64  # half the memory of the usual int64
            cached = (frame, codes.astype(small), pd.Series(uniques))
            self._distinct[(dataset, column)] = cached
        return cached[1], cached[2]

    def sources(self, dataset: str, mask: np.ndarray) -> tuple[str, ...]:
        lin = self.lineage.get(dataset)
        if lin is None or "_FILE" not in lin:
            return ()
        picked = lin[mask]
        return tuple(f"{f}:{r}" for f, r in zip(picked["_FILE"], picked["_ROW"]))


@dataclass(frozen=True)
class Hit:
    """Offending records of one dataset for one rule."""

    dataset: str
    variable: str
    mask: np.ndarray
    values: tuple[str, ...] = ()
    detail: str = ""
    dataset_level: bool = False  # about the dataset or its metadata, not particular records
    not_run: bool = False        # the rule could not check this dataset (``detail`` says why)


@dataclass(frozen=True)
class ConformanceRule:
    id: str
    severity: str
    message: str
    check: Callable[[Package], Iterable[Hit]]


RULES: Registry[ConformanceRule] = Registry(
    "conformance rule", title="Conformance rules",
    where="run on every build; study.yaml `data_quality: {<id>: {severity, reason}}` sets a study's severity")


def _setting_example(rule_id: str) -> str:
    """How a study sets the rule's severity (study.yaml), or explains its findings where it cannot."""
    if rule_id in LOCKED or rule_id.startswith("FDA"):
        return f'justifications: {{{rule_id}: "why the findings are acceptable for this study"}}'
    return f'data_quality: {{{rule_id}: {{severity: warning, reason: "site-confirmed values, query 17"}}}}'


def conformance_rule(rule_id: str, severity: str, message: str):
    """Function decorator: register a conformance rule (its id, default severity and message)."""

    def wrap(fn: Callable[[Package], Iterable[Hit]]):
        RULES.add(rule_id, ConformanceRule(rule_id, severity, message, fn), message, example=_setting_example(rule_id),
                  severity=severity, family=fn.__module__.rsplit(".", 1)[-1])
        return fn

    return wrap


class NotRun(Exception):
    """Raised by a rule that cannot run on this package (the message says why, e.g. no IG metadata)."""


def not_run_finding(rule_id: str, reason: str, dataset: str = "*") -> Finding:
    """A rule that could not run: a warning, listed as 'not run' (never 'pass') in the conformance report."""
    return Finding(rule=rule_id, severity="warning", dataset=dataset, message=f"not run: {reason}", not_run=True)


def run_rules(package: Package, rule_ids: Iterable[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for rule in (RULES[i] for i in (rule_ids or sorted(RULES))):
        try:
            hits = list(rule.check(package))
        except NotRun as reason:
            findings.append(not_run_finding(rule.id, str(reason)))
            continue
        for hit in hits:
            if hit.not_run:
                findings.append(not_run_finding(rule.id, hit.detail, hit.dataset))
                continue
            if not hit.mask.any():
                continue
            rows = () if hit.dataset_level else tuple(int(i) + 1 for i in np.flatnonzero(hit.mask))
            findings.append(Finding(rule=rule.id, severity=rule.severity, dataset=hit.dataset,
                                    variable=hit.variable, message=rule.message + (f" ({hit.detail})" if hit.detail else ""),
                                    rows=rows, values=hit.values,
                                    sources=() if hit.dataset_level else package.sources(hit.dataset, hit.mask)))
    return findings


def _blank(values: pd.Series) -> np.ndarray:
    """Missing, or text that is empty once stripped (tested once per distinct value)."""
    blank = values.isna().to_numpy(dtype=bool)
    if values.dtype.kind in "biufcmM" or none_blank(values):  # numbers and dates never print as blank text
        return blank
    distinct = pd.Series(values.unique()).dropna()
    empty = distinct[(distinct.astype("string[pyarrow]").str.strip() == "").to_numpy(dtype=bool)]
    if len(empty):
        blank |= values.isin(empty).to_numpy(dtype=bool)
    return blank


def iso_text(iso: pd.Series) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """The values as one Arrow large_string array, its offsets and data bytes, and which are present."""
    text = pa.array(iso.astype("string[pyarrow]").array)
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset: text.offset + len(text) + 1] \
        if len(text) else np.zeros(1, dtype=np.int64)
    data = text.buffers()[2] if len(text) else None
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    present = ~text.is_null().to_numpy(zero_copy_only=False)
    return text, offsets, data, present


def plain_days(head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970 of ``YYYY-MM-DD`` in the first 10 bytes of each row of ``head`` (see :func:`text_head`),
    by numpy's calendar; and which rows are such a date (ASCII digits, a real date, years 1678-2261)."""
    year, plain = head_number(head, range(0, 4))
    month, ok = head_number(head, range(5, 7))
    plain &= ok
    day, ok = head_number(head, range(8, 10))
    plain &= ok & (head[:, 4] == ord("-")) & (head[:, 7] == ord("-"))
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    month_days = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    plain &= (year >= 1678) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    return first.astype("datetime64[D]").astype(np.int64) + day - 1, plain


def head_number(head: np.ndarray, columns: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """The decimal number in these byte columns of ``head``, and whether they are all ASCII digits."""
    value = np.zeros(len(head), dtype=np.int64)
    digits = np.ones(len(head), dtype=bool)
    for k in columns:
        digit = head[:, k].astype(np.int64) - ord("0")
        digits &= (digit >= 0) & (digit <= 9)
        value *= 10
        value += digit
    return value, digits


def text_head(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` bytes (uint8) of the values starting at ``starts`` (each at least that long), gathered
    a block of values at a time (the positions of a block are a temporary ``width`` times its size)."""
    out = np.empty((len(starts), width), dtype=np.uint8)
    step = 1 << 16
    for block in range(0, len(starts), step):
        at = starts[block: block + step]
        out[block: block + len(at)] = data[at[:, None] + np.arange(width)]
    return out


def day_numbers(iso: pd.Series) -> np.ndarray:
    """Days since 1970 (float) of complete ISO 8601 dates: the first 10 characters of a value at least 10 long
    read as ``%Y-%m-%d``; NaN when partial, missing or not a date.

    Read here on purpose, not by ``sdtmgen.dates`` nor the derivations' reader (XD-DY-RFSTDTC checks the
    derivations' --DY with it, see ``conformance._study_day``; the data review reads dates with it): the
    plain form (digits ``YYYY-MM-DD``, years 1678-2261) is read from the text bytes with numpy's calendar;
    any other value of 10 or more bytes (rare) by pandas' strict ``%Y-%m-%d`` parser."""
    text, offsets, data, present = iso_text(iso)
    out = np.full(len(text), np.nan)
    rows = np.flatnonzero(present & (np.diff(offsets) >= 10))  # fewer bytes: fewer characters, never a date
    if not len(rows):
        return out
    days, plain = plain_days(text_head(data, offsets[rows], 10))
    out[rows[plain]] = days[plain]
    other = rows[~plain]
    if len(other):  # what pandas makes of the rest: a date, or NaT
        odd = pd.Series(text.take(pa.array(other)).to_pylist(), dtype="string[pyarrow]").str.slice(0, 10)
        odd = odd.where((odd.str.len() >= 10).fillna(False))
        stamps = pd.to_datetime(odd, format="%Y-%m-%d", errors="coerce", cache=False).to_numpy(dtype="datetime64[ns]")
        out[other] = np.where(np.isnat(stamps), np.nan, stamps.astype("datetime64[D]").astype(np.int64))
    return out


#: ADaM dataset class (spec ``class``) -> the ADaMIG 1.3 data structure its variables are listed under
ADAM_STRUCTURES = {"SUBJECT LEVEL ANALYSIS DATASET": "Subject-Level Analysis Dataset",
                   "BASIC DATA STRUCTURE": "Basic Data Structure"}


def _placeholder(name: str) -> re.Pattern | None:
    """An ADaMIG name with placeholders (TRTxxP, ANLzzFL, CRITy) as a pattern of the names it stands for.

    xx and zz stand for two digits, y and w for one (1-9); None for any other lower-case letter."""
    pattern = re.sub(r"[yw]", "#", re.sub(r"xx|zz", "%", name))
    if not re.fullmatch(r"[A-Z0-9_%#]+", pattern):
        return None
    return re.compile(pattern.replace("%", r"\d\d").replace("#", "[1-9]") + "$")
