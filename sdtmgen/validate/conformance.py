"""Cross-dataset conformance rules, kept in one registry.

A rule is a function registered with its id, severity and message; it receives the whole
package and returns the offending records. The build runs every registered rule and writes the
results to the conformance report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.spec.models import DomainSpec


@dataclass
class Package:
    """What the rules see: every dataset with its spec and lineage."""

    datasets: dict[str, pd.DataFrame]
    specs: dict[str, DomainSpec]
    lineage: dict[str, pd.DataFrame] = field(default_factory=dict)

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


@dataclass(frozen=True)
class ConformanceRule:
    id: str
    severity: str
    message: str
    check: Callable[[Package], Iterable[Hit]]


RULES: dict[str, ConformanceRule] = {}


def conformance_rule(rule_id: str, severity: str, message: str):
    def wrap(fn: Callable[[Package], Iterable[Hit]]):
        if rule_id in RULES:
            raise ValueError(f"conformance rule {rule_id} registered twice")
        RULES[rule_id] = ConformanceRule(rule_id, severity, message, fn)
        return fn

    return wrap


def run_rules(package: Package, rule_ids: Iterable[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    for rule in (RULES[i] for i in (rule_ids or sorted(RULES))):
        for hit in rule.check(package):
            if not hit.mask.any():
                continue
            rows = tuple(int(i) + 1 for i in np.flatnonzero(hit.mask))
            findings.append(Finding(rule=rule.id, severity=rule.severity, dataset=hit.dataset,
                                    variable=hit.variable, message=rule.message + (f" ({hit.detail})" if hit.detail else ""),
                                    rows=rows, values=hit.values, sources=package.sources(hit.dataset, hit.mask)))
    return findings


def _subject_datasets(package: Package):
    for name, frame in package.datasets.items():
        if "USUBJID" in frame.columns and name != "DM":
            yield name, frame


@conformance_rule("XD-SUBJ-DM", "error", "subject not in DM")
def subjects_in_dm(package: Package) -> Iterable[Hit]:
    if "DM" not in package.datasets:
        return
    known = set(package.datasets["DM"]["USUBJID"].dropna())
    for name, frame in _subject_datasets(package):
        mask = ~frame["USUBJID"].isin(known).to_numpy(dtype=bool)
        yield Hit(name, "USUBJID", mask, tuple(sorted(set(frame.loc[mask, "USUBJID"].astype(str)))))


@conformance_rule("XD-SEQ-UNIQUE", "error", "--SEQ is not unique within subject")
def seq_unique(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        seq = f"{name}SEQ"
        if seq in frame.columns:
            mask = frame.duplicated(["USUBJID", seq], keep=False).to_numpy(dtype=bool)
            mask |= frame[seq].isna().to_numpy(dtype=bool)
            yield Hit(name, seq, mask)


def _compare_iso(start: pd.Series, end: pd.Series) -> np.ndarray:
    """True where end is before start, at the precision both have (partial dates compare by prefix)."""
    s = start.astype("string")
    e = end.astype("string")
    width = np.minimum(s.str.len().fillna(0).to_numpy(), e.str.len().fillna(0).to_numpy())
    width = np.minimum(width, 16)
    both = (s.notna() & e.notna()).to_numpy(dtype=bool) & (width >= 4)
    out = np.zeros(len(s), dtype=bool)
    for w in np.unique(width[both]):  # a handful of precisions, not rows
        sel = both & (width == w)
        out[sel] = (e[sel].str.slice(0, int(w)) < s[sel].str.slice(0, int(w))).to_numpy(dtype=bool)
    return out


@conformance_rule("XD-START-END", "error", "end date/time is before start date/time")
def start_before_end(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        for start in [c for c in frame.columns if c.endswith("STDTC")]:
            end = start[:-5] + "ENDTC"
            if end in frame.columns:
                mask = _compare_iso(frame[start], frame[end])
                values = tuple(f"{a} > {b}" for a, b in zip(frame.loc[mask, start], frame.loc[mask, end]))
                yield Hit(name, end, mask, values[:10])


@conformance_rule("XD-DY-ZERO", "error", "study day is 0 (there is no day 0)")
def no_day_zero(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        for col in [c for c in frame.columns if c.endswith("DY") and frame[c].dtype.kind == "f"]:
            yield Hit(name, col, (frame[col] == 0).to_numpy(dtype=bool))


@conformance_rule("XD-SUPP-PARENT", "error", "SUPP-- record points at no parent record")
def supp_parent(package: Package) -> Iterable[Hit]:
    for name, supp in package.datasets.items():
        if not name.startswith("SUPP") or name[4:] not in package.datasets:
            continue
        parent = package.datasets[name[4:]]
        keys = pd.Series(False, index=supp.index)
        idvar = supp["IDVAR"].fillna("")
        for var in idvar.unique():
            rows = idvar == var
            if var == "":
                found = supp.loc[rows, "USUBJID"].isin(parent["USUBJID"])
            else:
                values = parent[var]
                text = values.astype("Int64").astype("string") if values.dtype.kind == "f" else values.astype("string")
                targets = pd.DataFrame({"USUBJID": parent["USUBJID"].astype("string"), "IDVARVAL": text}).drop_duplicates()
                asked = supp.loc[rows, ["USUBJID", "IDVARVAL"]].astype("string")
                merged = asked.merge(targets, how="left", on=["USUBJID", "IDVARVAL"], indicator=True)
                found = pd.Series((merged["_merge"] == "both").to_numpy(), index=asked.index)
            keys[rows] = ~found
        yield Hit(name, "IDVARVAL", keys.to_numpy(dtype=bool))
