"""The whole build: spec -> raw -> SDTM -> validation -> XPT, written atomically.

``build`` runs ``build_stages()`` (sdtmgen.runner): the in-memory stages of sdtmgen.steps and the writing
stages below, in the order that keeps the fewest frames alive."""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from sdtmgen import __version__
from sdtmgen.csv_text import write_csv
from sdtmgen.dataset_json import write_dataset_json
from sdtmgen.define_xml.package import write_define_package
from sdtmgen.errors import Finding
from sdtmgen.output import atomic_folder, write_marker
from sdtmgen.review import write_review_csv
from sdtmgen.sdtm.build import SdtmResult
from sdtmgen.spec.models import DomainSpec, Spec
from sdtmgen.spec.paths import resolve_spec_path
from sdtmgen.runner import Hooks, Runner, RunContext, Stage, StopOnErrors
from sdtmgen.steps import (CheckOutput, DataReview, DeriveAdam, DeriveSdtm, LoadSpec, MapSdtm, PrepareOutput,
                           ReadRaw, ValidateAdam, ValidateSdtm)
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
    # delivered SDTM datasets kept in the spec folder (source: {sdtm: ...}); those in the raw folder are raw files
    spec_root = Path(spec.folder).resolve()
    delivered = {(spec_root / rel).resolve() for d in spec.domains if d.source is not None
                 for rel in (d.source.sdtm, d.source.supp) if rel}
    spec_hashes = {str(p.relative_to(spec.folder)): _sha256(p) for p in spec_files}
    spec_hashes |= {str(p.relative_to(spec_root)): _sha256(p) for p in sorted(delivered)
                    if spec_root in p.parents and p.is_file()}
    raw_files = sorted(p for p in raw.glob("*") if p.suffix.lower() in (".csv", ".sas7bdat", ".xpt"))
    manifest = {
        "tool": "sdtmgen", "version": __version__, "studyid": spec.study.studyid,
        "spec": spec_hashes,
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


class PendingFiles:
    """XPT files being written by XPT_WRITERS threads, the largest first, while the build goes on.

    Each writer gets a shallow copy of its frame (the same arrays under its own pandas block manager), so
    that stages reading the same frames meanwhile cannot rearrange what a writer walks through. ``wait``
    returns when every file is written and re-raises the first writer's error; ``close`` (also on an
    error or an interrupt elsewhere) drops the files not started and waits for those being written.
    """

    def __init__(self, folder: Path, datasets: dict[str, pd.DataFrame], specs: dict,
                 created: datetime | None = None) -> None:
        names = sorted(datasets, key=lambda n: (-len(datasets[n]), n))
        frames = {name: datasets[name].copy(deep=False) for name in names}

        def write(name: str) -> None:
            dspec = specs[name]
            write_xpt((folder / name.lower()).with_suffix(".xpt"), frames.pop(name), dataset_name=name,
                      dataset_label=dspec.label, variables=xpt_variables(dspec), created=created)

        self.count = len(names)
        self._pool = ThreadPoolExecutor(max_workers=XPT_WRITERS, thread_name_prefix="xpt")
        # each in a copy of the run's context: the writers hand their text columns' encodings to define.xml
        # (sdtmgen.columns.memo); a context can be entered by one thread at a time, hence one copy per file
        self._futures = [self._pool.submit(contextvars.copy_context().run, write, name) for name in names]

    def wait(self) -> None:
        try:
            for done in self._futures:
                done.result()  # re-raises a writer's error here
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def start_xpt_files(folder: Path, datasets: dict[str, pd.DataFrame], specs: dict, say: Progress,
                    created: datetime | None = None) -> PendingFiles:
    """The XPT files of ``datasets`` started in the background (``PendingFiles``)."""
    say(f"writing {len(datasets)} XPT file(s) to {folder.name}/")
    return PendingFiles(folder, datasets, specs, created)


def write_json_datasets(folder: Path, spec: Spec, datasets: dict[str, pd.DataFrame], specs: dict, formats: str,
                        standard: str, say: Progress, created: datetime | None = None) -> None:
    """The Dataset-JSON (and NDJSON) files of one package (sdtm/, adam/) when ``formats`` asks for them; its XPT
    files are started separately (``start_xpt_files``), its define.xml is a later stage.

    ``created``: the instant the file headers carry (None: the fixed 1970-01-01T00:00:00).
    """
    kinds = FORMATS[formats]
    for name in sorted(datasets):
        dspec, stem = specs[name], folder / name.lower()
        for kind, suffix in (("dataset-json", ".json"), ("ndjson", ".ndjson")):
            if kind in kinds:
                say(f"writing {stem.with_suffix(suffix).name}")
                write_dataset_json(stem.with_suffix(suffix), datasets[name], dspec, study=spec.study, name=name,
                                   standard=standard, ndjson=kind == "ndjson", created=created)


# ------------------------------------------------------------------------------------------
# the stages that write the build's output folder (sdtmgen.runner); the in-memory ones are in sdtmgen.steps


class Timestamp(Stage):
    """The instant the file headers carry (--timestamp, SOURCE_DATE_EPOCH or 1970-01-01), fixed before any work."""

    name = "timestamp"
    gives = ("created",)

    def run(self, ctx: RunContext) -> None:
        ctx["created"] = build_timestamp(ctx.timestamp)


class StartSdtm(Stage):
    """The output folder opened (a temporary folder beside --out, swapped in by the package stage) and the SDTM
    XPT files started in the background (``PendingFiles``), so that they are written while the validation
    and the data review run on the main thread. The validation gate still decides: on an error the files
    being written are awaited, the rest dropped, and the folder discarded, as before."""

    name = "start SDTM files"
    needs = ("sdtm", "protect", "created")
    gives = ("work", "sdtm_files")

    def run(self, ctx: RunContext) -> None:
        result = ctx["sdtm"]
        work = ctx["work"] = ctx.resources.enter_context(atomic_folder(ctx.out, ctx["protect"], notify=ctx.say))
        sdtm = work / "sdtm"
        sdtm.mkdir()
        ctx["sdtm_files"] = None
        if "xpt" in FORMATS[ctx.formats]:
            pending = start_xpt_files(sdtm, result.datasets, result.specs, ctx.say, ctx["created"])
            ctx.resources.callback(pending.close)  # closed before the folder is discarded (last in, first out)
            ctx["sdtm_files"] = pending


class WriteSdtm(Stage):
    """The annotated CRF (before define.xml, whose page references point into it), the SDTM files in the other
    formats asked for, and the XPT files started earlier awaited."""

    name = "write SDTM"
    needs = ("spec", "raw_folder", "sdtm", "work", "sdtm_files", "created")
    gives = ("crf_specs", "records")
    drops = ("sdtm_files",)

    def run(self, ctx: RunContext) -> None:
        from sdtmgen.acrf import with_pages, write_acrf

        spec, result, work = ctx["spec"], ctx["sdtm"], ctx["work"]
        ctx["records"] = {n: len(f) for n, f in sorted(result.datasets.items())}
        sdtm = work / "sdtm"
        ctx.say("writing sdtm/acrf.pdf")
        ctx["crf_specs"] = with_pages(result.specs, write_acrf(sdtm / "acrf.pdf", spec, ctx["raw_folder"]))
        write_json_datasets(sdtm, spec, result.datasets, ctx["crf_specs"], ctx.formats, "SDTMIG", ctx.say,
                            ctx["created"])  # the XPT files were started before the validation
        if ctx["sdtm_files"] is not None:
            ctx["sdtm_files"].wait()


class WriteDefine(Stage):
    """define.xml (and define.html) of one package, checked against the files written; its findings are kept
    for the define.xml gate (``package``: "sdtm" or "adam")."""

    needs = ("spec", "work", "created")
    release = False

    def __init__(self, package: str) -> None:
        self.package = package
        self.name = f"{'SDTM' if package == 'sdtm' else 'ADaM'} define.xml"
        self.gives = (f"{package}_define",)

    def run(self, ctx: RunContext) -> None:
        spec, folder = ctx["spec"], ctx["work"] / self.package
        if self.package == "sdtm":
            datasets, specs, standard = ctx["sdtm"].datasets, ctx["crf_specs"], "SDTMIG"
        else:
            adam = ctx["adam"]
            if not adam.datasets:
                ctx["adam_define"] = []
                return
            datasets, specs, standard = adam.datasets, adam.specs, "ADaMIG"
        ctx.say(f"writing {folder.name}/define.xml")
        ctx[f"{self.package}_define"] = write_define_package(folder, spec, datasets, specs, None, standard,
                                                            created=ctx["created"])

    def skip(self, ctx: RunContext) -> None:
        ctx[f"{self.package}_define"] = []


class WriteLineage(Stage):
    """reports/reconciliation.csv and lineage/; then only the SDTM datasets stay in memory."""

    name = "lineage"
    needs = ("work", "sdtm")
    gives = ("sdtm_datasets",)
    drops = ("sdtm", "crf_specs")
    release = True

    def run(self, ctx: RunContext) -> None:
        write_lineage(ctx["work"], ctx["sdtm"])
        ctx["sdtm_datasets"] = ctx["sdtm"].datasets


class StartAdam(Stage):
    """The ADaM XPT files started in the background (``PendingFiles``) as soon as the datasets are derived: they
    are written while the ADaM validation and the results run on the main thread. The validation gate still
    decides: on an error the files being written are awaited, the rest dropped, and the folder discarded."""

    name = "start ADaM files"
    needs = ("work", "adam", "created")
    gives = ("adam_files",)

    def run(self, ctx: RunContext) -> None:
        adam = ctx["adam"]
        ctx["adam_files"] = None
        if adam.datasets:
            folder = ctx["work"] / "adam"
            folder.mkdir()
            if "xpt" in FORMATS[ctx.formats]:
                pending = start_xpt_files(folder, adam.datasets, adam.specs, ctx.say, ctx["created"])
                ctx.resources.callback(pending.close)  # closed before the folder is discarded (last in, first out)
                ctx["adam_files"] = pending


class WriteAdam(Stage):
    """The ADaM dataset files in the other formats asked for (the XPT files were started before the validation),
    after the SDTM define.xml findings join the list, in the order reported."""

    name = "write ADaM"
    needs = ("spec", "work", "adam", "sdtm_define", "created")

    def run(self, ctx: RunContext) -> None:
        ctx.findings += ctx["sdtm_define"]
        adam = ctx["adam"]
        if adam.datasets:
            write_json_datasets(ctx["work"] / "adam", ctx["spec"], adam.datasets, adam.specs, ctx.formats, "ADaMIG",
                                ctx.say, ctx["created"])


class AwaitAdam(Stage):
    """The ADaM XPT files started by "start ADaM files" finished (a writer's error raised here)."""

    name = "ADaM files"
    needs = ("adam_files",)
    drops = ("adam_files",)

    def run(self, ctx: RunContext) -> None:
        if ctx["adam_files"] is not None:
            ctx["adam_files"].wait()


class AdamDefineFindings(Stage):
    name = "define.xml findings"
    needs = ("adam_define",)

    def run(self, ctx: RunContext) -> None:
        ctx.findings += ctx["adam_define"]


class WriteReports(Stage):
    """reports/ (conformance, data review, reviewer's guide) and manifest.json."""

    name = "reports"
    needs = ("spec", "work", "raw_folder", "review", "records", "adam")

    def run(self, ctx: RunContext) -> None:
        adam = ctx["adam"]
        ctx["records"].update({n: len(f) for n, f in sorted(adam.datasets.items())})
        write_reports(ctx["work"], ctx["spec"], ctx["raw_folder"], ctx.findings, ctx["review"], ctx["records"])


class WriteResults(Stage):
    """report/ (ard.csv, report.html, plots/) when the spec has a report.yaml and ADaM datasets."""

    name = "results"
    needs = ("spec", "work", "sdtm_datasets", "adam")
    gives = ("results",)

    def run(self, ctx: RunContext) -> None:
        from sdtmgen.report.build import write_results

        adam, work = ctx["adam"], ctx["work"]
        ctx["results"] = None
        if adam.datasets:
            report = write_results(work / "report", ctx["spec"], ctx["sdtm_datasets"], adam.datasets, ctx.say)
            if report is not None:
                write_marker(work / "report", "report")  # `sdtmgen report` may replace it later
                ctx["results"] = report

    def skip(self, ctx: RunContext) -> None:
        ctx["results"] = None


class Package(Stage):
    """The output folder swapped in for --out (the previous output is replaced only now)."""

    name = "package"
    needs = ("work",)

    def run(self, ctx: RunContext) -> None:
        ctx.resources.close()


def build_stages() -> list[Stage]:
    """``sdtmgen build``: check --out, load, map, derive, validate, write SDTM, ADaM, reports, results, swap.

    Written in the order that keeps the fewest frames alive: SDTM files and lineage first, then ADaM from
    the SDTM frames, then only what the results read stays. Any error discards the whole folder, so a
    failed build writes nothing. The XPT files are written by threads while the main thread goes on (the
    SDTM files during the validation and data review, the ADaM files during the results), and awaited
    before anything reads them back (define.xml).
    """
    stop = "nothing was written"
    return [PrepareOutput(), Timestamp(), LoadSpec(), CheckOutput(), ReadRaw(), MapSdtm(), DeriveSdtm(), StartSdtm(),
            ValidateSdtm(), DataReview(), StopOnErrors("validation", stop), WriteSdtm(), WriteDefine("sdtm"), WriteLineage(),
            DeriveAdam(trim=True, validate=False), StartAdam(), ValidateAdam(trim=True),
            StopOnErrors("validation", stop, strict=False), WriteAdam(), WriteResults(),
            AwaitAdam(), WriteDefine("adam"), AdamDefineFindings(), StopOnErrors("define.xml consistency", stop),
            WriteReports(), Package()]


def build(spec_folder: str | Path | Spec, raw: str | Path | None = None, out: str | Path = "output",
          progress: Progress | None = None, formats: str = "xpt", strict: bool = False,
          keep: dict | None = None, timestamp: str | None = None, hooks: Iterable[Hooks] = ()) -> BuildSummary:
    """``sdtmgen build``: the package written atomically into ``out`` (see README, Commands).

    ``spec_folder``: a spec folder or an already loaded Spec. ``strict``: warnings fail the build like
    errors (BuildError), before anything is written. ``keep``: when a dict, the frames built are also
    put there ("sdtm", "adam": name -> DataFrame; "results": the Report or None), for ``sdtmgen.build``.
    ``timestamp``: ISO 8601 instant for the file headers; else SOURCE_DATE_EPOCH; else 1970-01-01.
    ``hooks``: called around every stage (``sdtmgen.runner.Hooks``; the benchmark's timers).
    """
    if formats not in FORMATS:
        raise ValueError(f"formats must be one of {sorted(FORMATS)}, got {formats!r}")
    ctx = run_build(RunContext(spec=spec_folder, raw=raw, out=out, formats=formats, strict=strict,
                               timestamp=timestamp, keep=keep is not None, say=progress or (lambda _msg: None)),
                    hooks)
    if keep is not None:
        keep.update(sdtm=ctx["sdtm_datasets"], adam=ctx["adam"].datasets, results=ctx["results"])
    return BuildSummary(out=Path(out), records=ctx["records"], findings=ctx.findings)


def run_build(ctx: RunContext, hooks: Iterable[Hooks] = (), skip: Iterable[str] = ()) -> RunContext:
    """The build's stages run over ``ctx`` (``skip``: stage names given empty outputs, for the benchmark)."""
    return Runner(build_stages(), hooks, skip).run(ctx)
