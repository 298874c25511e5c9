"""The whole build: spec -> raw -> SDTM -> validation -> XPT, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import pandas as pd

from sdtmgen import __version__
from sdtmgen.adam.build import build_adam, sdtm_read_later, validate_adam
from sdtmgen.csv_text import write_csv
from sdtmgen.dataset_json import write_dataset_json
from sdtmgen.define_xml.package import write_define_package
from sdtmgen.errors import BuildError, Finding, raise_on_warnings
from sdtmgen.memory import release_unused_memory
from sdtmgen.output import atomic_folder, check_target, prepare_target, write_marker
from sdtmgen.review import run_review, write_review_csv
from sdtmgen.sdtm.build import SdtmResult, build_sdtm
from sdtmgen.spec.loader import load_spec
from sdtmgen.spec.models import DomainSpec, Spec
from sdtmgen.spec.paths import resolve_spec_path
from sdtmgen.steps import load_ig, resolve_raw, validate_sdtm  # noqa: F401  (also imported from here)
from sdtmgen.standards.study import standards_manifest
from sdtmgen.timestamps import build_timestamp
from sdtmgen.validate.report import write_conformance_report
from sdtmgen.xpt import XptVariable, write_xpt

Progress = Callable[[str], None]


@dataclass
class BuildSummary:
    out: Path
    records: dict[str, int]
    findings: list[Finding] = field(default_factory=list)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


def xpt_variables(spec: DomainSpec) -> list[XptVariable]:
    return [XptVariable(name=v.name, label=v.label, type=v.type, length=v.length, format=v.format)
            for v in spec.variables]


def standards_path(spec: Spec, relative: str | None, what: str) -> Path | None:
    """A file named in study.yaml's standards, confined to the spec folder (symbolic links followed)."""
    if not relative:
        return None
    return resolve_spec_path(Path(spec.folder), relative, None, what)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_lineage(folder: Path, result: SdtmResult) -> None:
    """reports/reconciliation.csv and reports/lineage/<dataset>.csv: where every record came from."""
    reports = folder / "reports"
    reports.mkdir(exist_ok=True)
    counts = pd.DataFrame([c.__dict__ for c in result.counts])
    write_csv(reports / "reconciliation.csv", counts)
    lineage = reports / "lineage"
    lineage.mkdir()
    for name, frame in sorted(result.lineage.items()):
        if len(frame.columns):
            out = frame.rename(columns={"_FILE": "raw_file", "_ROW": "raw_row"})
            out.insert(0, "record", range(1, len(out) + 1))
            write_csv(lineage / f"{name.lower()}.csv", out)


def write_reports(folder: Path, spec: Spec, raw: Path, findings: list[Finding],
                  review: pd.DataFrame | None = None, records: dict[str, int] | None = None) -> None:
    """reports/conformance.txt|json, data-review.csv, reviewers-guide.html (when ``records``, the record
    count per dataset written, is given) and manifest.json (SHA-256 of every spec and raw file, the
    standards used)."""
    reports = folder / "reports"
    reports.mkdir(exist_ok=True)
    write_conformance_report(reports, findings, spec.study.data_quality)
    if review is not None:
        write_review_csv(reports / "data-review.csv", review)
    spec_files = sorted(p for p in Path(spec.folder).rglob("*.yaml"))
    raw_files = sorted(raw.glob("*.csv"))
    manifest = {
        "tool": "sdtmgen", "version": __version__, "studyid": spec.study.studyid,
        "spec": {str(p.relative_to(spec.folder)): _sha256(p) for p in spec_files},
        "raw": {p.name: _sha256(p) for p in raw_files},
        "standards": standards_manifest(Path(spec.folder), spec.study.standards),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if records is not None:
        from sdtmgen.guide import write_reviewers_guide

        recon = reports / "reconciliation.csv"
        reconciliation = pd.read_csv(recon, dtype=str, keep_default_na=False) if recon.is_file() else None
        acrf = "../sdtm/acrf.pdf" if (folder / "sdtm" / "acrf.pdf").is_file() else None
        write_reviewers_guide(reports / "reviewers-guide.html", spec, records, findings, reconciliation,
                              manifest["standards"], acrf)


#: --format choices -> the files written per dataset
FORMATS = {"xpt": ("xpt",), "dataset-json": ("dataset-json",), "ndjson": ("ndjson",),
           "all": ("xpt", "dataset-json", "ndjson")}


#: XPT files written at the same time: the writer spends most of its time in numpy, Arrow and the
#: file system, which release the GIL, so two threads use both cores of a small machine
XPT_WRITERS = min(2, os.cpu_count() or 1)


def write_xpt_files(folder: Path, datasets: dict[str, pd.DataFrame], specs: dict, say: Progress,
                    created: datetime | None = None) -> None:
    """One XPT file per dataset, the largest first, XPT_WRITERS at a time (each file is independent)."""
    def write(name: str) -> None:
        dspec = specs[name]
        write_xpt((folder / name.lower()).with_suffix(".xpt"), datasets[name], dataset_name=name,
                  dataset_label=dspec.label, variables=xpt_variables(dspec), created=created)

    names = sorted(datasets, key=lambda n: (-len(datasets[n]), n))
    say(f"writing {len(names)} XPT file(s) to {folder.name}/")
    with ThreadPoolExecutor(max_workers=XPT_WRITERS) as pool:
        for done in [pool.submit(write, name) for name in names]:
            done.result()  # re-raises a writer's error here


def write_package(folder: Path, spec: Spec, datasets: dict[str, pd.DataFrame], specs: dict, formats: str,
                  standard: str, say: Progress, created: datetime | None = None) -> list[Finding]:
    """Write every dataset of one package (sdtm/, adam/) in the chosen formats, then its define.xml.

    ``created``: the instant the file headers carry (None: the fixed 1970-01-01T00:00:00).
    """
    kinds = FORMATS[formats]
    if "xpt" in kinds:
        write_xpt_files(folder, datasets, specs, say, created)
    for name in sorted(datasets):
        dspec, stem = specs[name], folder / name.lower()
        for kind, suffix in (("dataset-json", ".json"), ("ndjson", ".ndjson")):
            if kind in kinds:
                say(f"writing {stem.with_suffix(suffix).name}")
                write_dataset_json(stem.with_suffix(suffix), datasets[name], dspec, study=spec.study, name=name,
                                   standard=standard, ndjson=kind == "ndjson", created=created)
    say(f"writing {folder.name}/define.xml")
    return write_define_package(folder, spec, datasets, specs, None, standard, created=created)


def build(spec_folder: str | Path | Spec, raw: str | Path | None = None, out: str | Path = "output",
          progress: Progress | None = None, formats: str = "xpt", strict: bool = False,
          keep: dict | None = None, timestamp: str | None = None) -> BuildSummary:
    """``sdtmgen build``: the package written atomically into ``out`` (see README, Commands).

    ``spec_folder``: a spec folder or an already loaded Spec. ``strict``: warnings fail the build like
    errors (BuildError), before anything is written. ``keep``: when a dict, the frames built are also
    put there ("sdtm", "adam": name -> DataFrame; "results": the Report or None), for ``sdtmgen.build``.
    ``timestamp``: ISO 8601 instant for the file headers; else SOURCE_DATE_EPOCH; else 1970-01-01.
    """
    say = progress or (lambda _msg: None)
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {sorted(FORMATS)}, got {formats!r}")
    loaded = spec_folder if isinstance(spec_folder, Spec) else None
    if loaded is not None:
        spec_folder = Path(loaded.folder)
    prepare_target(out, [("spec", spec_folder), ("raw", raw)], say)  # unsafe --out refused before any work
    created = build_timestamp(timestamp)
    say("loading spec")
    spec = loaded or load_spec(spec_folder)
    raw_folder = resolve_raw(spec, raw)
    protect = [("spec", spec_folder), ("spec", spec.folder), ("raw", raw_folder)]
    check_target(out, protect)
    say(f"mapping SDTM from {raw_folder}")
    result = build_sdtm(spec, raw_folder)
    if keep is not None:
        keep.update(sdtm=result.datasets, adam={}, results=None)
    say("validating")
    findings = validate_sdtm(spec, result)
    review = run_review(spec, result.datasets, result.lineage)  # data-review checks (DR-...)
    findings += review.findings
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise BuildError(f"{len(errors)} validation error(s); nothing was written", findings)
    if strict:
        raise_on_warnings(findings, "nothing was written")
    records = {n: len(f) for n, f in sorted(result.datasets.items())}
    # Written in the order that keeps the fewest frames alive: SDTM files and lineage first, then
    # ADaM from the SDTM frames, then only what the results report reads stays. Any error below
    # discards the whole folder, so a failed build still writes nothing.
    with atomic_folder(out, protect, notify=say) as work:
        sdtm = work / "sdtm"
        sdtm.mkdir()
        from sdtmgen.acrf import with_pages, write_acrf

        say("writing sdtm/acrf.pdf")  # before define.xml, whose page references point into it
        crf_specs = with_pages(result.specs, write_acrf(sdtm / "acrf.pdf", spec, raw_folder))
        sdtm_define = write_package(sdtm, spec, result.datasets, crf_specs, formats, "SDTMIG", say, created)
        write_lineage(work, result)
        sdtm_datasets = result.datasets
        del result  # lineage and specs are written; the datasets live on in sdtm_datasets
        if keep is None:  # only what ADaM, its checks and the report read again (the API keeps all)
            sdtm_datasets = sdtm_read_later(spec, sdtm_datasets)
        release_unused_memory()
        say("deriving ADaM")
        adam = build_adam(spec, sdtm_datasets)
        findings += validate_adam(adam, spec.terminology, sdtm_datasets)
        if keep is not None:
            keep["adam"] = adam.datasets
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            raise BuildError(f"{len(errors)} validation error(s); nothing was written", findings)
        if adam.datasets:
            from sdtmgen.report.build import report_datasets

            read_by_report = report_datasets(sdtm_datasets, adam.datasets)
            sdtm_datasets = {n: f for n, f in sdtm_datasets.items() if n in read_by_report}
        release_unused_memory()
        findings += sdtm_define
        if adam.datasets:
            adam_folder = work / "adam"
            adam_folder.mkdir()
            findings += write_package(adam_folder, spec, adam.datasets, adam.specs, formats, "ADaMIG", say,
                                      created)
        errors = [f for f in findings if f.severity == "error"]
        if errors:  # define.xml disagrees with the files written: keep the previous output
            raise BuildError(f"{len(errors)} define.xml consistency error(s); nothing was written", findings)
        if strict:
            raise_on_warnings(findings, "nothing was written")
        write_reports(work, spec, raw_folder, findings, review.table,
                      records | {n: len(f) for n, f in sorted(adam.datasets.items())})
        if adam.datasets:  # results (ard.csv, report.html, plots/) when the spec has a report.yaml
            from sdtmgen.report.build import write_results

            report = write_results(work / "report", spec, sdtm_datasets, adam.datasets, say)
            if report is not None:
                write_marker(work / "report", "report")  # `sdtmgen report` may replace it later
                if keep is not None:
                    keep["results"] = report
    records.update({n: len(f) for n, f in sorted(adam.datasets.items())})
    out = Path(out)
    return BuildSummary(out=out, records=records, findings=findings)
