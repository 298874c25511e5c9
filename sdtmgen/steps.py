"""In-memory steps shared by ``sdtmgen build``, ``sdtmgen report`` and the Python API (``sdtmgen.build``):
where the raw export is, and SDTM validation. Kept apart from ``pipeline`` (which writes files) so that the
report and the API can use them without importing the writer, and without an import cycle."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.sdtm.build import SdtmResult, without_repeats
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
