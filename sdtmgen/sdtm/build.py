"""Build the SDTM datasets: map every domain, run derivations in dependency order, finalise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.raw import RawExport
from sdtmgen.scheduling import run_in_dependency_order
from sdtmgen.sdtm.derivations import DeriveContext, memo
from sdtmgen.sdtm.derivations.columns import blank_to_missing, missing_text
from sdtmgen.sdtm.derivations.ordering import key_order, sort_columns, take_rows
from sdtmgen.sdtm.mapper import SourceCount, map_domain
from sdtmgen.sdtm.suppqual import build_supp, split_long_text, supp_spec
from sdtmgen.spec.loader import spec_location
from sdtmgen.spec.models import DomainSpec, Spec

LINEAGE_COLUMNS = ["_FILE", "_ROW"]


@dataclass
class SdtmResult:
    datasets: dict[str, pd.DataFrame]            # final datasets, columns as in the spec
    specs: dict[str, DomainSpec]                   # the spec of every dataset, SUPP-- included
    lineage: dict[str, pd.DataFrame]               # per dataset: _FILE, _ROW of each record
    counts: list[SourceCount] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def run_derivations(spec: Spec, datasets: dict[str, pd.DataFrame], findings: list[Finding]) -> None:
    """Run each domain's steps in order, each as soon as the variables it needs exist."""
    domains = {d.domain: d for d in spec.domains}
    available = {(name, col) for name, frame in datasets.items() for col in frame.columns}

    def run(name: str, step) -> set[str]:
        step.apply(DeriveContext(domain=domains[name], datasets=datasets, study=spec.study,
                                 terminology=spec.terminology, findings=findings))
        return step.produces()

    try:
        run_in_dependency_order({d.domain: d.derivations for d in spec.domains}, available, run, "derivations",
                                locate=lambda name, k: spec_location(domains[name], ("derivations", k)))
    finally:
        memo.clear()


def finalise(domain: DomainSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spec column order and types, sorted by keys; returns (dataset, lineage).

    Only the spec's columns are converted and, when the records are not yet in key order, moved.
    """
    order = key_order(frame, sort_columns(frame, domain.keys))
    n = len(frame)
    columns = {}
    for var in domain.variables:
        if var.type == "Num":
            values = (pd.to_numeric(frame[var.name], errors="coerce").to_numpy(dtype="float64")
                      if var.name in frame.columns else np.full(n, np.nan))
            columns[var.name] = values if order is None else values[order]
        else:
            text = blank_to_missing(frame[var.name]) if var.name in frame.columns else missing_text(n)
            columns[var.name] = text if order is None else text.take(order)
    # copy=False: the columns are not copied again into one 2-D block (the input frame is a
    # working frame its caller drops; a dataset's numbers would otherwise exist twice at this point)
    out = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    lineage = take_rows(frame[[c for c in LINEAGE_COLUMNS if c in frame.columns]], order)
    return out, lineage


def build_sdtm(spec: Spec, raw_folder) -> SdtmResult:
    raw = RawExport(Path(raw_folder))
    findings: list[Finding] = []
    counts: list[SourceCount] = []
    datasets: dict[str, pd.DataFrame] = {}
    for domain in spec.domains:
        frame, domain_counts = map_domain(spec, domain, raw, findings)
        datasets[domain.domain] = frame
        counts += domain_counts
    findings += raw.notes  # normalisations made while reading (RAW-WHITESPACE)
    run_derivations(spec, datasets, findings)
    unread = sorted(p.name for p in Path(raw_folder).glob("*.csv") if p.stem not in raw.forms)
    for name in unread:
        findings.append(Finding(rule="RAW-UNUSED", severity="warning", dataset="*", variable=name,
                                message=f"raw form {name} is read by no spec source; its rows are not in the package"))

    result = SdtmResult(datasets={}, specs={}, lineage={}, counts=counts, findings=findings)
    for domain in spec.domains:
        frame = datasets.pop(domain.domain)  # the working frame is not needed once finalised
        overflow = split_long_text(domain, frame)
        if overflow:
            parts = sum(len(records) for records in overflow)  # one frame per value split, one row per part
            findings.append(Finding(rule="TEXT-SPLIT", severity="warning", dataset=domain.domain,
                                    message=f"{parts} text value part(s) beyond 200 bytes moved to "
                                            f"SUPP{domain.domain} (SDTMIG 4.5.3.2)"))
        supp = build_supp(domain, frame, overflow)
        result.datasets[domain.domain], result.lineage[domain.domain] = finalise(domain, frame)
        result.specs[domain.domain] = domain
        if supp is not None:
            sspec = supp_spec(domain)
            result.datasets[sspec.domain], result.lineage[sspec.domain] = finalise(sspec, supp)
            result.specs[sspec.domain] = sspec
    return result
