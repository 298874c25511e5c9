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
    ig: pd.DataFrame | None = None          # SDTMIG variable metadata (dataset, name, label, core)
    unplanned_visit: str = "UNSCHEDULED"    # VISIT prefix of unplanned visits

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
            rows = () if hit.dataset_level else tuple(int(i) + 1 for i in np.flatnonzero(hit.mask))
            findings.append(Finding(rule=rule.id, severity=rule.severity, dataset=hit.dataset,
                                    variable=hit.variable, message=rule.message + (f" ({hit.detail})" if hit.detail else ""),
                                    rows=rows, values=hit.values,
                                    sources=() if hit.dataset_level else package.sources(hit.dataset, hit.mask)))
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
        if seq in frame.columns and "USUBJID" in frame.columns:
            mask = frame.duplicated(["USUBJID", seq], keep=False).to_numpy(dtype=bool)
            mask |= frame[seq].isna().to_numpy(dtype=bool)
            yield Hit(name, seq, mask)


def _compare_iso(start: pd.Series, end: pd.Series) -> np.ndarray:
    """True where end is before start, at the precision both have (partial dates compare by prefix)."""
    # a date with an unknown month ("2025---12") is known only to its year
    s = start.astype("string").str.replace(r"---.*$", "", regex=True)
    e = end.astype("string").str.replace(r"---.*$", "", regex=True)
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


def _study_day_expected(frame: pd.DataFrame, dtc: str, rfstdtc: pd.Series) -> pd.Series:
    from sdtmgen.dates import study_day

    return study_day(frame[dtc], rfstdtc)


@conformance_rule("XD-DY-RFSTDTC", "error", "--DY does not match the date and DM.RFSTDTC")
def study_day_consistent(package: Package) -> Iterable[Hit]:
    if "DM" not in package.datasets:
        return
    dm = package.datasets["DM"].drop_duplicates("USUBJID").set_index("USUBJID")["RFSTDTC"]
    for name, frame in _subject_datasets(package):
        for dy in [c for c in frame.columns if c.endswith("DY") and c != "VISITDY"]:
            dtc = dy[:-2] + "DTC"
            if dtc not in frame.columns:
                continue
            expected = _study_day_expected(frame, dtc, frame["USUBJID"].map(dm)).to_numpy()
            actual = frame[dy].to_numpy(dtype=float)
            mask = ~((np.isnan(expected) & np.isnan(actual)) | (expected == actual))
            yield Hit(name, dy, mask)


@conformance_rule("XD-EPOCH-SE", "error", "EPOCH differs from the subject element (SE) the record's date falls in")
def epoch_consistent(package: Package) -> Iterable[Hit]:
    from sdtmgen.sdtm.derivations.timing import iso_to_timestamp

    se = package.datasets.get("SE")
    if se is None or se.empty:
        return
    starts = pd.DataFrame({"USUBJID": se["USUBJID"].astype(str), "_T": iso_to_timestamp(se["SESTDTC"]),
                           "_E": se["EPOCH"].astype(str)}).dropna(subset=["_T"]).sort_values("_T", kind="mergesort")
    for name, frame in _subject_datasets(package):
        if "EPOCH" not in frame.columns or name == "SE":
            continue
        dtc = next((c for c in (f"{name}STDTC", f"{name}DTC", "SVSTDTC") if c in frame.columns), None)
        if dtc is None:
            continue
        obs = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(str), "_T": iso_to_timestamp(frame[dtc]),
                            "_P": np.arange(len(frame))}).dropna(subset=["_T"]).sort_values("_T", kind="mergesort")
        found = pd.merge_asof(obs, starts, on="_T", by="USUBJID", direction="backward")
        expected = pd.Series(pd.NA, index=range(len(frame)), dtype="string")
        expected.iloc[found["_P"].to_numpy()] = found["_E"].to_numpy()
        actual = frame["EPOCH"].astype("string").reset_index(drop=True)
        mask = ~((expected.isna() & actual.isna()) | (expected == actual).fillna(False)).to_numpy(dtype=bool)
        yield Hit(name, "EPOCH", mask, tuple(sorted(set(actual[mask].fillna("<missing>"))))[:10])


@conformance_rule("XD-VISIT-TV", "error", "VISITNUM/VISIT pair is neither a planned visit in TV nor unplanned")
def visits_in_tv(package: Package) -> Iterable[Hit]:
    tv = package.datasets.get("TV")
    if tv is None:
        return
    planned = set(zip(tv["VISITNUM"].astype(float), tv["VISIT"].astype(str)))
    for name, frame in _subject_datasets(package):
        if "VISITNUM" not in frame.columns or "VISIT" not in frame.columns:
            continue
        pairs = pd.DataFrame({"N": frame["VISITNUM"].astype(float), "V": frame["VISIT"].astype("string")})
        known = pd.DataFrame(sorted(planned), columns=["N", "V"]).astype({"V": "string"})
        merged = pairs.merge(known.assign(_ok=True), how="left", on=["N", "V"])
        unplanned = pairs["V"].str.startswith(package.unplanned_visit).fillna(False).to_numpy(dtype=bool)
        mask = ~merged["_ok"].eq(True).to_numpy(dtype=bool) & ~unplanned & pairs["N"].notna().to_numpy()
        yield Hit(name, "VISIT", mask, tuple(sorted({f"{n:g}/{v}" for n, v in zip(pairs["N"][mask], pairs["V"][mask])}))[:10])


@conformance_rule("XD-RELREC", "error", "RELREC points at no record")
def relrec_resolves(package: Package) -> Iterable[Hit]:
    relrec = package.datasets.get("RELREC")
    if relrec is None or relrec.empty:
        return
    mask = np.zeros(len(relrec), dtype=bool)
    for (domain, idvar), rows in relrec.groupby(["RDOMAIN", "IDVAR"], sort=True).groups.items():
        target = package.datasets.get(domain)
        if target is None or idvar not in target.columns:
            mask[relrec.index.get_indexer(rows)] = True
            continue
        values = target[idvar]
        text = values.astype("Int64").astype("string") if values.dtype.kind == "f" else values.astype("string")
        known = pd.DataFrame({"USUBJID": target["USUBJID"].astype("string"), "IDVARVAL": text, "_ok": True}).drop_duplicates()
        asked = relrec.loc[rows, ["USUBJID", "IDVARVAL"]].astype("string")
        merged = asked.merge(known, how="left", on=["USUBJID", "IDVARVAL"])
        mask[relrec.index.get_indexer(rows)] = ~merged["_ok"].eq(True).to_numpy(dtype=bool)
    yield Hit("RELREC", "IDVARVAL", mask)
    sizes = relrec.groupby(["USUBJID", "RELID"])["RELID"].transform("size").to_numpy()
    yield Hit("RELREC", "RELID", sizes < 2, detail="a relationship needs at least two records")


def _ig_rows(package: Package, name: str) -> pd.DataFrame | None:
    if package.ig is None:
        return None
    base = "SUPPQUAL" if name.startswith("SUPP") else name
    rows = package.ig[package.ig["dataset"] == base]
    return rows if len(rows) else None


@conformance_rule("IG-REQ", "error", "SDTMIG Required variable is absent or has missing values")
def ig_required(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        rows = _ig_rows(package, name)
        if rows is None:
            continue
        for var in rows.loc[rows["core"] == "Req", "name"]:
            if var not in frame.columns:
                yield Hit(name, var, np.array([True]), detail="variable absent", dataset_level=True)
            else:
                values = frame[var]
                blank = values.isna() | (values.astype("string").str.strip() == "")
                yield Hit(name, var, blank.to_numpy(dtype=bool))


@conformance_rule("IG-EXP", "error", "SDTMIG Expected variable is absent from the dataset")
def ig_expected(package: Package) -> Iterable[Hit]:
    for name, frame in package.datasets.items():
        rows = _ig_rows(package, name)
        if rows is None:
            continue
        for var in rows.loc[rows["core"] == "Exp", "name"]:
            if var not in frame.columns:
                yield Hit(name, var, np.array([True]), detail="variable absent", dataset_level=True)


@conformance_rule("IG-LABEL", "error", "variable label differs from the SDTMIG label")
def ig_labels(package: Package) -> Iterable[Hit]:
    for name, spec in package.specs.items():
        rows = _ig_rows(package, name)
        if rows is None:
            continue
        labels = dict(zip(rows["name"], rows["label"]))
        for var in spec.variables:
            if var.name in labels and labels[var.name] != var.label:
                yield Hit(name, var.name, np.array([True]), (var.label, labels[var.name]),
                          detail=f"spec says {var.label!r}, SDTMIG says {labels[var.name]!r}", dataset_level=True)
