"""Build the ADaM datasets from the SDTM datasets: run every dataset's derivations, then finalise.

Steps run in each dataset's listed order, each as soon as the variables it reads from *other*
datasets exist, so ADSL can use an ADAE flag whose derivation needs an ADSL date; a cycle (or a
variable nothing produces) is a spec error naming the waiting step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdtmgen.adam.base import AdamContext
from sdtmgen.errors import Finding, SpecError
from sdtmgen.sdtm.build import finalise
from sdtmgen.spec.models import AdamDatasetSpec, Spec
from sdtmgen.terminology import Terminology
from sdtmgen.validate.schema import validate_dataset


@dataclass
class AdamResult:
    datasets: dict[str, pd.DataFrame]              # final datasets: spec column order, Char -> string, Num -> float64
    specs: dict[str, AdamDatasetSpec]
    findings: list[Finding] = field(default_factory=list)


def run_adam_derivations(spec: Spec, datasets: dict[str, pd.DataFrame], findings: list[Finding]) -> None:
    pending = {d.dataset: list(d.derivations) for d in spec.adam}
    available = {(name, col) for name, frame in datasets.items() for col in frame.columns}
    progress = True
    while progress and any(pending.values()):
        progress = False
        for dataset in spec.adam:
            queue = pending[dataset.dataset]
            while queue and queue[0].needs() <= available:
                step = queue.pop(0)
                ctx = AdamContext(dataset=dataset, datasets=datasets, study=spec.study, spec_folder=Path(spec.folder),
                                  reference=spec.study.reference, findings=findings)
                if not step.creates_records() and dataset.dataset not in datasets:
                    raise SpecError(f"ADaM {dataset.dataset}: derivation {step.derivation_name} runs before any "
                                    f"step has created the records")
                step.apply(ctx)
                produced = step.produces() | ({"USUBJID"} if step.creates_records() else set())
                available |= {(dataset.dataset, v) for v in produced}
                progress = True
    stuck = {name: steps for name, steps in pending.items() if steps}
    if stuck:
        lines = [f"  {name}: {steps[0].derivation_name} waits for "
                 f"{', '.join(f'{d}.{v}' for d, v in sorted(steps[0].needs() - available))}"
                 for name, steps in stuck.items()]
        raise SpecError("ADaM derivations can never run (a cycle, or a variable nothing produces):\n"
                        + "\n".join(lines))


def build_adam(spec: Spec, sdtm_datasets: dict[str, pd.DataFrame]) -> AdamResult:
    """ADaM datasets from the (final) SDTM datasets; the SDTM frames are only read, never modified."""
    datasets = dict(sdtm_datasets)
    findings: list[Finding] = []
    run_adam_derivations(spec, datasets, findings)
    result = AdamResult(datasets={}, specs={}, findings=findings)
    for dataset in spec.adam:
        frame, _ = finalise(dataset, datasets[dataset.dataset])  # type: ignore[arg-type]
        result.datasets[dataset.dataset] = frame
        result.specs[dataset.dataset] = dataset
    return result


def validate_adam(result: AdamResult, terminology: Terminology) -> list[Finding]:
    """The derivations' findings and the generated Pandera schema of every dataset."""
    findings = list(result.findings)
    for name, frame in result.datasets.items():
        findings += validate_dataset(result.specs[name], frame, terminology)  # type: ignore[arg-type]
    return findings
