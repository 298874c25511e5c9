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
from sdtmgen.adam.records import Seq
from sdtmgen.finalise import LINEAGE_COLUMNS, finalise
from sdtmgen.scheduling import run_in_dependency_order
from sdtmgen.spec.models import AdamDatasetSpec, Spec
from sdtmgen.terminology import Terminology
from sdtmgen.validate.schema import validate_dataset


@dataclass
class AdamResult:
    datasets: dict[str, pd.DataFrame]              # final datasets: spec column order, Char -> string, Num -> float64
    specs: dict[str, AdamDatasetSpec]
    findings: list[Finding] = field(default_factory=list)
    adamig: pd.DataFrame | None = None             # ADaMIG metadata the study names (ADAMIG-REQ, ADAMIG-LABEL)


def run_adam_derivations(spec: Spec, datasets: dict[str, pd.DataFrame], findings: list[Finding]) -> None:
    adam = {d.dataset: d for d in spec.adam}
    available = {(name, col) for name, frame in datasets.items() for col in frame.columns}
    read_by_steps = {pair for d in spec.adam for step in d.derivations for pair in step.needs()}

    def run(name: str, step) -> set[str]:
        if not step.creates_records() and name not in datasets:
            raise SpecError(f"ADaM {name}: derivation {step.derivation_name} runs before any "
                            f"step has created the records")
        last = step is adam[name].derivations[-1]
        if last and isinstance(step, Seq):  # the records are moved once more: without the columns nobody reads
            _drop_unread(adam[name], datasets, read_by_steps, keep={step.by})
        step.apply(AdamContext(dataset=adam[name], datasets=datasets, study=spec.study, spec_folder=Path(spec.folder),
                               findings=findings))
        if last:
            _drop_unread(adam[name], datasets, read_by_steps)
        return step.produces() | ({"USUBJID"} if step.creates_records() else set())

    from sdtmgen.spec.source import spec_location

    run_in_dependency_order({d.dataset: d.derivations for d in spec.adam}, available, run, "ADaM derivations",
                            locate=lambda name, k: spec_location(adam[name], ("derivations", k)))


def _drop_unread(dataset: AdamDatasetSpec, datasets: dict[str, pd.DataFrame], read_by_steps: set[tuple[str, str]],
                 keep: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Once the dataset's own steps no longer read them, its helper columns (e.g. ADLB's copies of LBDTC and
    LBSTRESC, ~180 MiB at 10,000 subjects) go before the build's peak instead of at finalise: kept are the
    spec's variables and keys, the lineage and what the steps of other datasets read. A frame shared with
    another dataset is left as it is."""
    name = dataset.dataset
    frame = datasets.get(name)
    if frame is None or any(frame is other for other_name, other in datasets.items() if other_name != name):
        return
    kept = ({v.name for v in dataset.variables} | set(dataset.keys) | set(LINEAGE_COLUMNS) | set(keep)
            | {variable for other, variable in read_by_steps if other == name})
    for column in [c for c in frame.columns if c not in kept]:
        del frame[column]  # (pandas splits a block rather than copying it)


def sdtm_read_later(spec: Spec, sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The SDTM frames (and columns) that ADaM, its validation and the results report still read once the
    SDTM package is written, so that the rest is freed before ADaM, where the build peaks (VS alone is
    ~590 MiB at 10,000 subjects, and only 4 of its 17 columns are read again; LB 13 of 26).

    Kept whole: DM and TS. Of the others, the columns the ADaM steps declare they read (``needs``),
    those the report reads (report.yaml) and USUBJID; a dataset nothing reads is left out. ADAM-SRC
    checks SRCVAR against the columns of the SRCDOM dataset: when the step making SRCDOM names both
    (a constant step; recovery's source_domain and source_variable) that column and --SEQ are kept
    too, else that dataset (or, when SRCDOM comes from the data, every dataset ADaM reads) is kept
    whole. Without ADaM specs nothing later reads SDTM, and everything is kept (nothing is gained).
    """
    if not spec.adam:
        return sdtm
    whole = {"DM", "TS"}
    read: dict[str, set[str]] = {}
    all_read_whole = False
    for dataset in spec.adam:
        for step in dataset.derivations:
            for name, variable in step.needs():
                read.setdefault(name, set()).add(variable)
            if "SRCDOM" not in step.produces():
                continue
            values = getattr(step, "values", None)  # a constant step, or one naming its source (recovery)
            source, variable = ((values.get("SRCDOM"), values.get("SRCVAR")) if isinstance(values, dict)
                                else (getattr(step, "source_domain", None), getattr(step, "source_variable", None)))
            if not isinstance(source, str):
                all_read_whole = True  # the source datasets are known only from the data
            elif isinstance(variable, str):
                read.setdefault(source, set()).update({variable, f"{source}SEQ"})
            else:
                whole.add(source)
    if all_read_whole:
        whole |= set(read)
    from sdtmgen.report.data import needed_columns, optional_columns

    cfg = spec.report
    if cfg is not None:
        for columns in (needed_columns(cfg), optional_columns(cfg)):
            for name, names in columns.items():
                read.setdefault(name, set()).update(names)
    out = {}
    for name, frame in sdtm.items():
        if name in whole:
            out[name] = frame
        elif name in read:
            keep = read[name] | {"USUBJID"}
            # the columns' arrays are shared, not copied; the others go with the caller's frame
            out[name] = frame[[c for c in frame.columns if c in keep]]
    return out


def build_adam(spec: Spec, sdtm_datasets: dict[str, pd.DataFrame]) -> AdamResult:
    """ADaM datasets from the (final) SDTM datasets; the SDTM frames are only read, never modified."""
    datasets = dict(sdtm_datasets)
    findings: list[Finding] = []
    run_adam_derivations(spec, datasets, findings)
    from sdtmgen.standards.study import ig_metadata

    adamig = ig_metadata(Path(spec.folder), spec.study.standards, "adamig") if spec.adam else None
    result = AdamResult(datasets={}, specs={}, findings=findings, adamig=adamig)
    for dataset in spec.adam:
        # the working frame goes once finalised (its helper columns and replaced values with it)
        frame, _ = finalise(dataset, datasets.pop(dataset.dataset))
        result.datasets[dataset.dataset] = frame
        result.specs[dataset.dataset] = dataset
    return result


def validate_adam(result: AdamResult, terminology: Terminology,
                  sdtm: dict[str, pd.DataFrame] | None = None) -> list[Finding]:
    """The derivations' findings, the generated Pandera schema of every dataset and the ADaM conformance
    rules (sdtmgen.validate.adam_rules: ADSL against DM, PARAMCD/PARAM, CNSR, flags, dates, treatment
    variables against ADSL, SRCDOM/SRCVAR/SRCSEQ against ``sdtm``; ADaMIG Required variables, labels and
    types of ADSL and BDS datasets). Rules needing what is not given (``sdtm``, ADaMIG metadata) are 'not run'."""
    from sdtmgen.validate.adam_rules import ADAM_RULE_IDS
    from sdtmgen.validate.conformance import Package, run_rules

    findings = list(result.findings)
    for name, frame in result.datasets.items():
        findings += validate_dataset(result.specs[name], frame, terminology)  # type: ignore[arg-type]
    if result.datasets:
        package = Package(result.datasets, result.specs, adamig=getattr(result, "adamig", None),  # type: ignore[arg-type]
                          sdtm=sdtm)
        findings += run_rules(package, ADAM_RULE_IDS)
    return findings
