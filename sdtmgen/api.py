"""The Python API: ``sdtmgen.load_spec``, ``sdtmgen.build``, ``sdtmgen.validate`` and ``BuildResult``.

``build`` returns the SDTM and ADaM datasets, the findings and the results in memory, and writes files
only when ``out`` is given (then exactly what ``sdtmgen build`` writes, through the same code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from sdtmgen.errors import Finding
from sdtmgen.report.build import ComputeResults, Report
from sdtmgen.runner import Runner, RunContext, StopOnErrors
from sdtmgen.spec.loader import load_spec as _load_spec
from sdtmgen.spec.models import Spec
from sdtmgen.steps import DeriveAdam, SdtmDatasets, in_memory_stages

__all__ = ["BuildResult", "Spec", "build", "load_spec", "validate"]

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    """What ``sdtmgen.build`` returns.

    ``sdtm``, ``adam``: dataset name -> DataFrame (the values the XPT files hold); ``findings``: every
    validation finding (warnings and notes; errors raise BuildError instead); ``results``: the endpoint
    results (``results.ard`` is the ARD frame, ``results.html`` the report page) or None when the spec
    has no report.yaml or no ADaM; ``records``: dataset name -> number of records; ``out``: the folder
    written, or None.
    """

    sdtm: dict[str, pd.DataFrame]
    adam: dict[str, pd.DataFrame]
    findings: list[Finding] = field(default_factory=list)
    results: Report | None = None
    records: dict[str, int] = field(default_factory=dict)
    out: Path | None = None

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


def load_spec(folder: str | Path) -> Spec:
    """The study spec in ``folder`` (study.yaml, terminology.yaml, sdtm/, adam/), checked; SpecError if not."""
    return _load_spec(folder)


def _spec(spec: str | Path | Spec) -> Spec:
    return spec if isinstance(spec, Spec) else _load_spec(spec)


def _in_memory(spec: Spec, raw: str | Path | None, strict: bool, progress: Progress | None) -> RunContext:
    """The build's in-memory stages over the same runner as ``sdtmgen build``, nothing written."""
    stages = [*in_memory_stages(say_loading=False), StopOnErrors("validation", None), SdtmDatasets(),
              DeriveAdam(), StopOnErrors("validation", None), ComputeResults()]
    ctx = RunContext(spec=spec, raw=raw, strict=strict, keep=True, say=progress or (lambda _msg: None))
    return Runner(stages).run(ctx)


def build(spec: str | Path | Spec, raw: str | Path | None = None, out: str | Path | None = None, *,
          strict: bool = False, formats: str = "xpt", progress: Progress | None = None) -> BuildResult:
    """Build the study's SDTM and ADaM datasets and results.

    ``spec``: a spec folder or a Spec from ``load_spec``; ``raw``: the raw export folder (default: the one
    study.yaml names). Nothing is written unless ``out`` is given; then the output folder is exactly what
    ``sdtmgen build --out OUT --format FORMATS`` writes (``formats``: xpt, dataset-json, ndjson or all).
    Validation errors raise BuildError (its ``findings`` list them); ``strict`` makes warnings errors too.
    The define.xml consistency checks need the written files, so they run only when ``out`` is given.
    ``progress``: called with a short message at each step.
    """
    loaded = _spec(spec)
    if out is not None:
        from sdtmgen.pipeline import build as write_build

        kept: dict[str, Any] = {}
        summary = write_build(loaded, raw, out, progress=progress, formats=formats, strict=strict, keep=kept)
        return BuildResult(sdtm=dict(kept["sdtm"]), adam=dict(kept["adam"]), findings=summary.findings,
                           results=kept["results"], records=summary.records, out=summary.out)
    ctx = _in_memory(loaded, raw, strict, progress)
    sdtm, adam = ctx["sdtm_datasets"], ctx["adam"].datasets
    records = {n: len(f) for n, f in sorted(sdtm.items())}
    records.update({n: len(f) for n, f in sorted(adam.items())})
    return BuildResult(sdtm=dict(sdtm), adam=dict(adam), findings=ctx.findings, results=ctx["results"],
                       records=records)


def validate(spec: str | Path | Spec, raw: str | Path | None = None) -> list[Finding]:
    """Every finding of the build, without writing or raising on errors: SDTM conformance and data review,
    then ADaM validation when the SDTM has no error. ``[f for f in findings if f.severity == "error"]``
    is what would stop ``build``."""
    stages = [*in_memory_stages(say_loading=False, validating=False), SdtmDatasets(),
              DeriveAdam(only_without_errors=True)]
    return Runner(stages).run(RunContext(spec=_spec(spec), raw=raw, keep=True)).findings
