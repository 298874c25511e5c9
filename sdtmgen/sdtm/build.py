"""Build the SDTM datasets: map every domain, run derivations in dependency order, finalise."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from sdtmgen.columns import memo
from sdtmgen.errors import Finding, RawDataError, SdtmgenError
from sdtmgen.finalise import finalise
from sdtmgen.findings_text import SKIPPED_RULE
from sdtmgen.raw_export import RawExport
from sdtmgen.scheduling import run_in_dependency_order
from sdtmgen.sdtm.derivations import DeriveContext
from sdtmgen.sdtm.mapper import SourceCount, map_domain
from sdtmgen.sdtm.subject_level import SubjectLevel
from sdtmgen.sdtm.suppqual import build_supp, split_long_text, supp_spec
from sdtmgen.spec.source import spec_location
from sdtmgen.readers import SdtmPackage
from sdtmgen.spec.models import DomainSpec, SdtmSource, Spec

@dataclass
class SdtmResult:
    datasets: dict[str, pd.DataFrame]            # final datasets, columns as in the spec
    specs: dict[str, DomainSpec]                   # the spec of every dataset, SUPP-- included
    lineage: dict[str, pd.DataFrame]               # per dataset: _FILE, _ROW of each record
    counts: list[SourceCount] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # datasets not built because of errors in their raw forms (or in a dataset they need) -> why
    skipped: dict[str, str] = field(default_factory=dict)


def run_derivations(spec: Spec, datasets: dict[str, pd.DataFrame], findings: list[Finding]) -> set[str]:
    """Run each domain's steps in order, each as soon as the variables it needs exist.

    Domains missing from ``datasets`` (their forms could not be mapped) are not derived, nor is any
    step that needs one of their variables; returns the domains left incompletely derived.
    """
    domains = {d.domain: d for d in spec.domains}
    available = {(name, col) for name, frame in datasets.items() for col in frame.columns}

    def run(name: str, step) -> set[str]:
        step.apply(DeriveContext(domain=domains[name], datasets=datasets, study=spec.study,
                                 terminology=spec.terminology, findings=findings))
        return step.produces()

    queues = {d.domain: d.derivations for d in spec.domains if d.domain in datasets}
    try:
        return run_in_dependency_order(queues, available, run, "derivations",
                                       locate=lambda name, k: spec_location(domains[name], ("derivations", k)),
                                       stuck_ok=len(queues) < len(spec.domains))
    finally:
        memo.clear()


def _form_error(exc: RawDataError, domain: str, errors: dict[tuple[str, str, str], list[str]]) -> None:
    """A form that cannot be mapped (missing, unreadable, a column missing): once per problem,
    naming every domain that needs the form."""
    errors.setdefault((exc.rule, exc.file, str(exc)), []).append(domain)


def build_sdtm(spec: Spec, raw_folder) -> SdtmResult:
    """Map and derive every domain. Data errors are collected as findings, not raised: a form that
    cannot be mapped at all skips the domains that need it (and what depends on them), and the
    other forms are still mapped and checked, so one run reports every problem."""
    raw = RawExport(Path(raw_folder), spec.study.raw_source)
    spec = package_spec(spec, raw)
    return derive_sdtm(spec, map_sdtm(spec, raw))


def package_spec(spec: Spec, raw: RawExport) -> Spec:
    """The spec as this export is read: for an SDTM package (format sdtm) every domain with a
    ``<domain>.xpt`` in the package is taken from it as delivered; otherwise the spec unchanged."""
    if isinstance(raw._reader, SdtmPackage):
        return _from_package(spec, Path(raw.folder))
    return spec


@dataclass
class MappedSdtm:
    """The domains mapped from the raw forms, before derivations (the build's "map SDTM" stage)."""

    raw: RawExport
    datasets: dict[str, pd.DataFrame]
    counts: list[SourceCount]
    findings: list[Finding]
    skipped: dict[str, str]
    delivered: dict[str, pd.DataFrame | None] = field(default_factory=dict)  # delivered SDTM domains -> SUPP


def map_sdtm(spec: Spec, raw: RawExport) -> MappedSdtm:
    """Every domain mapped from its raw forms (read as the mapping needs them); form errors as findings."""
    raw_folder = raw.folder
    findings: list[Finding] = []
    counts: list[SourceCount] = []
    datasets: dict[str, pd.DataFrame] = {}
    form_errors: dict[tuple[str, str, str], list[str]] = {}
    delivered: dict[str, pd.DataFrame | None] = {}  # domains taken from delivered SDTM -> their SUPP (or None)
    subject_level = SubjectLevel.of(spec)  # DM values repeated on other forms, compared as each form is read
    if subject_level is not None:
        raw.on_read.append(subject_level.observe)
    for domain in spec.domains:
        if domain.source is not None:  # a delivered SDTM dataset (readers.sdtm_source)
            try:
                frame, supp, count = _delivered(spec, domain, Path(raw_folder))
            except RawDataError as exc:
                _form_error(exc, domain.domain, form_errors)
                continue
            datasets[domain.domain], delivered[domain.domain] = frame, supp
            counts.append(count)
            continue
        problems: list[RawDataError] = []
        frame, domain_counts = map_domain(spec, domain, raw, findings, problems)
        for exc in problems:
            _form_error(exc, domain.domain, form_errors)
        counts += domain_counts
        if frame is not None:
            datasets[domain.domain] = frame
    findings += raw.notes  # normalisations made while reading (RAW-WHITESPACE)
    if subject_level is not None:
        raw.on_read.remove(subject_level.observe)
        findings += subject_level.findings()
    for (rule, file, message), domains in form_errors.items():
        findings.append(Finding(rule=rule, severity="error", dataset=", ".join(domains), message=message,
                                sources=(file,) if file else ()))
    skipped = {name: "its raw form could not be mapped" for name in (d.domain for d in spec.domains)
               if name not in datasets}
    return MappedSdtm(raw=raw, datasets=datasets, counts=counts, findings=findings, skipped=skipped,
                      delivered=delivered)


def derive_sdtm(spec: Spec, mapped: MappedSdtm) -> SdtmResult:
    """Derivations in dependency order, then every dataset finalised (SUPP--, key order, spec columns)."""
    raw, datasets, counts, findings, skipped = (mapped.raw, mapped.datasets, mapped.counts, mapped.findings,
                                                mapped.skipped)
    delivered = mapped.delivered
    try:
        stuck = run_derivations(spec, datasets, findings)
    except Exception as exc:
        _stopped_by_bad_data(exc, "derivations", findings)
        stuck = set()
        skipped |= {d.domain: "derivations stopped" for d in spec.domains if d.domain in datasets}
    skipped |= {d.domain: "it needs a dataset that could not be built" for d in spec.domains if d.domain in stuck}
    taken = {name for domain in spec.domains if domain.source is not None
             for name in (Path(domain.source.sdtm).name, Path(domain.source.supp or "").name)}
    unread = [name for name in raw.unread() if name not in taken and f"{name}.xpt" not in taken
              and f"{name}.csv" not in taken]
    for name in unread:
        if not any(f.sources == (name,) for f in findings):
            findings.append(Finding(rule="RAW-UNUSED", severity="warning", dataset="*", variable=name,
                                    message=f"raw form {name} is read by no spec source; its rows are not in the package"))
    if skipped:
        findings.append(Finding(rule=SKIPPED_RULE, severity="warning", dataset="*",
                                message="not built, so not checked, because of the errors above: "
                                        + "; ".join(f"{name} ({why})" for name, why in skipped.items())))

    result = SdtmResult(datasets={}, specs={}, lineage={}, counts=counts, findings=findings, skipped=skipped)
    try:
        _finalise_all(spec, datasets, result, delivered)
    except Exception as exc:
        _stopped_by_bad_data(exc, "finalising the datasets", findings)
        result.skipped |= {name: "not finalised" for name in result.datasets}
        result.datasets.clear()
    return result


def _from_package(spec: Spec, folder: Path) -> Spec:
    """The spec with every domain that has a ``<domain>.xpt`` in the SDTM package ``folder`` taken from it
    as delivered (with ``supp<domain>.xpt`` when there): its sources and derivations are not run, the
    package's values are the data; other domains (e.g. trial design from the spec) are built as usual."""
    files = {p.name.lower(): p for p in folder.glob("*.xpt")}
    domains = []
    for domain in spec.domains:
        file = files.get(f"{domain.domain.lower()}.xpt")
        if file is None:
            domains.append(domain)
            continue
        supp = files.get(f"supp{domain.domain.lower()}.xpt")
        source = SdtmSource(sdtm=os.path.relpath(file, spec.folder),
                            supp=os.path.relpath(supp, spec.folder) if supp is not None else None)
        domains.append(domain.model_copy(update={"source": source, "sources": [], "derivations": []}))
    return spec.model_copy(update={"domains": domains})


def _delivered(spec: Spec, domain: DomainSpec, raw_folder: Path) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                                          SourceCount]:
    """A domain read from its delivered SDTM dataset (``source: {sdtm: ...}``), paths confined to the
    spec and raw folders; its reconciliation counts every record as taken."""
    from sdtmgen.readers.sdtm_source import read_delivered, read_delivered_supp
    from sdtmgen.spec.paths import allowed_roots, resolve_spec_path

    roots = allowed_roots(Path(spec.folder), raw_folder)
    where = f"{domain.domain} source"
    path = resolve_spec_path(Path(spec.folder), domain.source.sdtm, roots, f"{where}.sdtm")
    derived = set().union(*(step.produces() for step in domain.derivations)) if domain.derivations else set()
    dialect = _csv_dialect(spec)
    frame = read_delivered(path, domain, derived, dialect)
    supp = None
    if domain.source.supp:
        supp = read_delivered_supp(resolve_spec_path(Path(spec.folder), domain.source.supp, roots, f"{where}.supp"),
                                   domain, dialect)
    return frame, supp, SourceCount(domain.domain, path.name, len(frame), len(frame), 0, "")


def _csv_dialect(spec: Spec):
    """The study's CSV options (``raw: {format: csv, options: {na_values: [NA]}}``) for a delivered CSV
    dataset too: the same export writes both; RFC 4180 defaults when the raw export is not CSV."""
    from sdtmgen.raw import RFC4180, CsvDialect

    raw = spec.study.raw
    if isinstance(raw, str) or raw.format not in ("csv", "auto") or not raw.options:
        return RFC4180
    return CsvDialect.from_options(raw.options)


def _stopped_by_bad_data(exc: Exception, stage: str, findings: list[Finding]) -> None:
    """A step that failed on data already reported as wrong: report that data, not what it broke.
    Without reported errors the failure is a defect and is raised."""
    if isinstance(exc, SdtmgenError) or not any(f.severity == "error" for f in findings):
        raise exc
    findings.append(Finding(rule=SKIPPED_RULE, severity="warning", dataset="*",
                            message=f"{stage} stopped on the data with errors ({type(exc).__name__})"))


def _finalise_all(spec: Spec, datasets: dict[str, pd.DataFrame], result: SdtmResult,
                  delivered: dict[str, pd.DataFrame | None] | None = None) -> None:
    findings = result.findings
    delivered = delivered or {}
    for domain in spec.domains:
        frame = datasets.pop(domain.domain, None)  # the working frame is not needed once finalised
        if domain.domain in result.skipped:
            continue
        try:
            overflow = split_long_text(domain, frame)
        except RawDataError as exc:  # a key or a text too long to split: reported beside the other errors
            findings.append(Finding(rule=exc.rule, severity="error", dataset=domain.domain, message=str(exc),
                                    sources=(exc.file,) if exc.file else ()))
            result.skipped[domain.domain] = "a value too long to split into SUPP" + domain.domain
            continue
        if overflow:
            parts = sum(len(records) for records in overflow)  # one frame per value split, one row per part
            findings.append(Finding(rule="TEXT-SPLIT", severity="warning", dataset=domain.domain,
                                    message=f"{parts} text value part(s) beyond 200 bytes moved to "
                                            f"SUPP{domain.domain} (SDTMIG 4.5.3.2)"))
        if domain.domain in delivered:  # SUPP-- as delivered (its QNAMs described by ``supplemental``)
            extra = overflow + ([delivered[domain.domain]] if delivered[domain.domain] is not None else [])
            supp = build_supp(domain.model_copy(update={"supplemental": []}), frame, extra)
        else:
            supp = build_supp(domain, frame, overflow)
        result.datasets[domain.domain], result.lineage[domain.domain] = finalise(domain, frame)
        result.specs[domain.domain] = domain
        if supp is not None:
            sspec = supp_spec(domain)
            result.datasets[sspec.domain], result.lineage[sspec.domain] = finalise(sspec, supp)
            result.specs[sspec.domain] = sspec


def _repeated_keys(finding: Finding):
    """The (dataset, variable) errors a finding may only repeat: its own variable, and, for the
    subject number and what is numbered within a subject (--SEQ), a missing subject number."""
    yield finding.dataset, finding.variable
    if finding.variable == "USUBJID" or finding.variable.endswith("SEQ"):
        yield finding.dataset, "USUBJID"
        if finding.dataset.startswith("SUPP"):
            yield finding.dataset[4:], "USUBJID"


#: a rule whose findings repeat another's on the same records: said once, by the other, which names both
SAME_CHECK = {"IG-REQ": "SCH-REQUIRED"}


def without_repeats(findings: list[Finding]) -> list[Finding]:
    """Drop later errors that only repeat an error of the mapping or derivations on the same raw
    rows: a date that could not be read is also a missing date, a record without its subject
    number also lacks its --SEQ. A finding naming the same cells under the same rule as an earlier one
    (one raw column read by two variables: EXSTDAT for EXSTDTC and EXENDTC, COHORT for ARMCD and ARM)
    is said once: the earlier one names both variables."""
    reported: dict[tuple[str, str], set[str]] = {}
    given: dict[tuple[str, str], set[str]] = {}  # values of the spec found wrong (no raw rows), per variable
    first: dict[tuple, int] = {}  # (rule, severity, dataset, cells) -> position in out
    said: dict[tuple[str, str, str], tuple[int, set[str]]] = {}  # (rule, dataset, variable) -> position, raw rows
    out = []
    for finding in findings:
        same = SAME_CHECK.get(finding.rule)
        if same is not None and finding.sources and (same, finding.dataset, finding.variable) in said:
            at, rows = said[(same, finding.dataset, finding.variable)]
            if set(finding.sources) <= rows:  # the same missing values, found by the SDTMIG's rule too
                out[at] = replace(out[at], message=f"{out[at].message} (also {finding.rule}: {finding.message})")
                continue
        if finding.cells and (finding.rule, finding.severity, finding.dataset, finding.cells) in first:
            if finding.severity == "error" and finding.sources:
                reported.setdefault((finding.dataset, finding.variable), set()).update(finding.sources)
            if finding.severity == "error" and not finding.sources:
                given.setdefault((finding.dataset, finding.variable), set()).update(finding.values)
            at = first[(finding.rule, finding.severity, finding.dataset, finding.cells)]
            earlier = out[at]
            also = "" if finding.message == earlier.message else f"; {finding.variable}: {finding.message}"
            out[at] = replace(earlier, variable=f"{earlier.variable}, {finding.variable}",
                              message=earlier.message + also)
            continue
        if finding.severity == "error" and finding.cells and not finding.sources:  # a spec text, located in the spec
            given.setdefault((finding.dataset, finding.variable), set()).update(finding.values)
        elif finding.severity == "error" and finding.sources and finding.values and set(finding.values) <= given.get(
                (finding.dataset, finding.variable), set()):
            continue  # the same spec text again, on the records that carry it
        if finding.severity == "error" and finding.cells:  # a raw-data error, with its cells
            reported.setdefault((finding.dataset, finding.variable), set()).update(finding.sources)
        elif finding.severity == "error" and finding.sources and any(
                set(finding.sources) <= reported.get(key, set()) for key in _repeated_keys(finding)):
            continue
        if finding.cells:
            first[(finding.rule, finding.severity, finding.dataset, finding.cells)] = len(out)
        if finding.rule in SAME_CHECK.values() and finding.sources:
            said[(finding.rule, finding.dataset, finding.variable)] = (len(out), set(finding.sources))
        out.append(finding)
    return out
