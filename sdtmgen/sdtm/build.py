"""Build the SDTM datasets: map every domain, run derivations in dependency order, finalise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.raw import RawExport
from sdtmgen.scheduling import run_in_dependency_order
from sdtmgen.sdtm.derivations import DeriveContext
from sdtmgen.sdtm.derivations.sequence import sort_by_keys
from sdtmgen.sdtm.mapper import SourceCount, map_domain
from sdtmgen.sdtm.suppqual import build_supp, split_long_text, supp_spec
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

    run_in_dependency_order({d.domain: d.derivations for d in spec.domains}, available, run, "derivations")


def finalise(domain: DomainSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spec column order and types, sorted by keys; returns (dataset, lineage)."""
    frame = sort_by_keys(frame, domain.keys)
    out = pd.DataFrame(index=frame.index)
    for var in domain.variables:
        values = frame[var.name] if var.name in frame.columns else pd.Series(pd.NA, index=frame.index)
        if var.type == "Num":
            out[var.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            text = values.astype("string")
            out[var.name] = text.mask(text.str.strip() == "")
    lineage = frame[[c for c in LINEAGE_COLUMNS if c in frame.columns]].copy()
    return out.reset_index(drop=True), lineage.reset_index(drop=True)


def build_sdtm(spec: Spec, raw_folder) -> SdtmResult:
    raw = RawExport(Path(raw_folder))
    findings: list[Finding] = []
    counts: list[SourceCount] = []
    datasets: dict[str, pd.DataFrame] = {}
    for domain in spec.domains:
        frame, domain_counts = map_domain(spec, domain, raw, findings)
        datasets[domain.domain] = frame
        counts += domain_counts
    run_derivations(spec, datasets, findings)
    unread = sorted(p.name for p in Path(raw_folder).glob("*.csv") if p.stem not in raw.forms)
    for name in unread:
        findings.append(Finding(rule="RAW-UNUSED", severity="warning", dataset="*", variable=name,
                                message=f"raw form {name} is read by no spec source; its rows are not in the package"))

    result = SdtmResult(datasets={}, specs={}, lineage={}, counts=counts, findings=findings)
    for domain in spec.domains:
        frame = datasets[domain.domain]
        overflow = split_long_text(domain, frame)
        if overflow:
            findings.append(Finding(rule="TEXT-SPLIT", severity="warning", dataset=domain.domain,
                                    message=f"{len(overflow)} text value part(s) beyond 200 bytes moved to "
                                            f"SUPP{domain.domain} (SDTMIG 4.5.3.2)"))
        supp = build_supp(domain, frame, overflow)
        result.datasets[domain.domain], result.lineage[domain.domain] = finalise(domain, frame)
        result.specs[domain.domain] = domain
        if supp is not None:
            sspec = supp_spec(domain)
            result.datasets[sspec.domain], result.lineage[sspec.domain] = finalise(sspec, supp)
            result.specs[sspec.domain] = sspec
    return result
