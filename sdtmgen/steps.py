"""The in-memory stages shared by ``sdtmgen build``, ``sdtmgen report`` and the Python API (``sdtmgen.build``):
load the spec and its configuration, open the raw export, map and derive SDTM, validate, data review, derive
and validate ADaM; and the two output-folder checks made before any work. The stages that write files live in
``sdtmgen.pipeline`` (the build) and ``sdtmgen.report.build`` (the report); see ``sdtmgen.runner``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdtmgen.adam.build import build_adam, sdtm_read_later, validate_adam
from sdtmgen.errors import Finding, SpecError
from sdtmgen.memory import release_unused_memory
from sdtmgen.output import check_target, prepare_target
from sdtmgen.raw_export import RawExport
from sdtmgen.review import run_review
from sdtmgen.runner import RunContext, Stage
from sdtmgen.sdtm.build import SdtmResult, derive_sdtm, map_sdtm, package_spec, without_repeats
from sdtmgen.spec.loader import load_spec
from sdtmgen.spec.models import Spec
from sdtmgen.standards.study import ig_metadata
from sdtmgen.validate.conformance import Package, run_rules
from sdtmgen.validate.schema import validate_dataset
from sdtmgen.validate.severities import apply_settings


def resolve_raw(spec: Spec, raw: str | Path | None) -> Path:
    """The raw export folder: ``raw`` when given, else the folder study.yaml names (relative to the spec)."""
    return Path(raw) if raw else (Path(spec.folder) / spec.study.raw_path).resolve()


def load_ig(spec: Spec) -> tuple[pd.DataFrame | None, list[Finding]]:
    """SDTMIG variable metadata named in study.yaml (packaged version or sponsor file); an error if unreadable."""
    return ig_metadata(Path(spec.folder), spec.study.standards, "sdtmig"), []


def validate_sdtm(spec: Spec, result: SdtmResult) -> list[Finding]:
    """Mapping findings, each dataset against its spec and terminology, then the cross-dataset conformance
    rules (skipped when a dataset could not be built), with the study's severity settings applied."""
    findings = list(result.findings)
    for name, frame in result.datasets.items():
        findings += validate_dataset(result.specs[name], frame, spec.terminology, result.lineage.get(name))
    if result.skipped:  # rules across datasets would only report the datasets that could not be built
        return without_repeats(findings)
    ig, notes = load_ig(spec)
    findings += notes
    findings += run_rules(Package(result.datasets, result.specs, result.lineage, ig=ig,
                                  unplanned_visit=spec.study.unplanned_visits.visit))
    return apply_settings(without_repeats(findings), spec.study.data_quality)


def spec_folder_of(ctx: RunContext) -> str | Path:
    """The spec folder the run was given (a folder, or the folder of a Spec already loaded)."""
    return Path(ctx.spec.folder) if isinstance(ctx.spec, Spec) else ctx.spec


# ------------------------------------------------------------------------------------------
# stages


class PrepareOutput(Stage):
    """Before any work: an unsafe --out is refused, an interrupted earlier run repaired."""

    name = "prepare output"

    def run(self, ctx: RunContext) -> None:
        prepare_target(ctx.out, [("spec", spec_folder_of(ctx)), ("raw", ctx.raw)], ctx.say)


class LoadSpec(Stage):
    """The spec, every file of it (report.yaml too) checked before any data is read; and where the raw
    export is. ``require_report``: no report.yaml is an error (``sdtmgen report``)."""

    name = "load spec"
    gives = ("spec", "raw_folder")

    def __init__(self, say: bool = True, require_report: bool = False) -> None:
        self.say, self.require_report = say, require_report

    def message(self, ctx: RunContext) -> str | None:
        return "loading spec" if self.say else None

    def run(self, ctx: RunContext) -> None:
        spec = ctx.spec if isinstance(ctx.spec, Spec) else load_spec(ctx.spec)
        if spec.report is None and self.require_report:
            raise SpecError(f"{Path(spec.folder) / 'report.yaml'}: not found; the report needs it")
        ctx["spec"], ctx["raw_folder"] = spec, resolve_raw(spec, ctx.raw)


class CheckOutput(Stage):
    """--out is checked again now that the spec and raw folders are known (it may not be inside them)."""

    name = "check output"
    needs = ("spec", "raw_folder")
    gives = ("protect",)

    def run(self, ctx: RunContext) -> None:
        protect = [("spec", spec_folder_of(ctx)), ("spec", ctx["spec"].folder), ("raw", ctx["raw_folder"])]
        check_target(ctx.out, protect)
        ctx["protect"] = protect


class ReadRaw(Stage):
    """The raw export opened (its format detected, an EDC export's reader ready); CSV forms are read as the
    mapping needs them and released when no later domain reads them."""

    name = "read raw"
    needs = ("spec", "raw_folder")
    gives = ("raw_export", "spec")

    def message(self, ctx: RunContext) -> str | None:
        return f"mapping SDTM from {ctx['raw_folder']}"

    def run(self, ctx: RunContext) -> None:
        raw = ctx["raw_export"] = RawExport(Path(ctx["raw_folder"]), ctx["spec"].study.raw_source)
        ctx["spec"] = package_spec(ctx["spec"], raw)  # an SDTM package: its domains taken as delivered


class MapSdtm(Stage):
    name = "map SDTM"
    needs = ("spec", "raw_export")
    gives = ("mapped",)
    drops = ("raw_export",)  # the mapped domains hold the export until the derivations are done

    def run(self, ctx: RunContext) -> None:
        ctx["mapped"] = map_sdtm(ctx["spec"], ctx["raw_export"])


class DeriveSdtm(Stage):
    """Derivations in dependency order, then SUPP--, key order and the spec's columns."""

    name = "derive SDTM"
    needs = ("spec", "mapped")
    gives = ("sdtm",)
    drops = ("mapped",)

    def run(self, ctx: RunContext) -> None:
        ctx["sdtm"] = derive_sdtm(ctx["spec"], ctx["mapped"])


class ValidateSdtm(Stage):
    name = "validate SDTM"
    needs = ("spec", "sdtm")

    def __init__(self, say: bool = True) -> None:
        self.say = say

    def message(self, ctx: RunContext) -> str | None:
        return "validating" if self.say else None

    def run(self, ctx: RunContext) -> None:
        ctx.findings += validate_sdtm(ctx["spec"], ctx["sdtm"])


class DataReview(Stage):
    """The data-review checks (DR-...): their findings, and the table of reports/data-review.csv."""

    name = "data review"
    needs = ("spec", "sdtm")
    gives = ("review",)

    def run(self, ctx: RunContext) -> None:
        sdtm = ctx["sdtm"]
        try:
            review = run_review(ctx["spec"], sdtm.datasets, sdtm.lineage)
        except Exception as exc:  # e.g. DM with a subject twice (SCH-KEYS): the run stops on the errors found
            from sdtmgen.review import COLUMNS
            from sdtmgen.sdtm.build import _stopped_by_bad_data

            _stopped_by_bad_data(exc, "the data review", ctx.findings)
            ctx["review"] = pd.DataFrame(columns=COLUMNS)
            return
        ctx.findings += review.findings
        ctx["review"] = review.table


class DeriveAdam(Stage):
    """ADaM derived from the SDTM datasets and validated. ``only_without_errors``: skipped when the findings
    so far have an error (``sdtmgen.validate``). ``trim``: afterwards only the SDTM datasets the results read
    are kept (memory), unless the run keeps every dataset (the Python API)."""

    name = "ADaM"
    needs = ("spec", "sdtm_datasets")
    gives = ("adam",)
    release = True

    def __init__(self, trim: bool = False, only_without_errors: bool = False, validate: bool = True) -> None:
        self.trim, self.only_without_errors, self.validate = trim, only_without_errors, validate

    def message(self, ctx: RunContext) -> str | None:
        return "deriving ADaM"

    def run(self, ctx: RunContext) -> None:
        spec, sdtm = ctx["spec"], ctx["sdtm_datasets"]
        if self.only_without_errors and any(f.severity == "error" for f in ctx.findings):
            ctx["adam"] = None
            return
        if self.trim and not ctx.keep:  # only the SDTM columns ADaM, its checks and the report read again
            sdtm = ctx["sdtm_datasets"] = sdtm_read_later(spec, sdtm)
            release_unused_memory()
        ctx["adam"] = build_adam(spec, sdtm)
        if self.validate:  # else by a ValidateAdam stage of its own (the build starts the files in between)
            ValidateAdam(self.trim).run(ctx)


class ValidateAdam(Stage):
    """The ADaM datasets validated (``validate_adam``), their findings added; with ``trim`` only the SDTM
    datasets the results read are kept afterwards, unless the run keeps every dataset (the Python API)."""

    name = "validate ADaM"
    needs = ("spec", "adam", "sdtm_datasets")

    def __init__(self, trim: bool = False) -> None:
        self.trim = trim

    def run(self, ctx: RunContext) -> None:
        spec, sdtm, adam = ctx["spec"], ctx["sdtm_datasets"], ctx["adam"]
        if adam is None:
            return
        ctx.findings += validate_adam(adam, spec.terminology, sdtm)
        if self.trim and adam.datasets and not ctx.keep:
            from sdtmgen.report.datasets import report_datasets

            read_by_report = report_datasets(sdtm, adam.datasets)
            ctx["sdtm_datasets"] = {n: f for n, f in sdtm.items() if n in read_by_report}


class SdtmDatasets(Stage):
    """From here on only the SDTM datasets are needed (not the lineage, counts or specs of the mapping)."""

    name = "SDTM datasets"
    needs = ("sdtm",)
    gives = ("sdtm_datasets",)
    drops = ("sdtm",)
    release = True

    def run(self, ctx: RunContext) -> None:
        ctx["sdtm_datasets"] = ctx["sdtm"].datasets


def in_memory_stages(say_loading: bool = True, review: bool = True, validating: bool = True) -> list[Stage]:
    """Load, read, map, derive and validate SDTM (the stages every run starts with, after the output checks)."""
    return [LoadSpec(say_loading), ReadRaw(), MapSdtm(), DeriveSdtm(), ValidateSdtm(validating),
            *([DataReview()] if review else [])]
