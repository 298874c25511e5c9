"""Helpers for the ADaM derivation tests: run one registered step on small hand-made frames."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from sdtmgen.adam import ADAM_DERIVATIONS, AdamContext


def study(arms=("DL1", "DL2", "DL3"), ctcae="5.0", ctcae_file=None, ctcae_units="si"):
    return SimpleNamespace(arms=[SimpleNamespace(armcd=a) for a in arms],
                           standards=SimpleNamespace(ctcae=ctcae, ctcae_file=ctcae_file, ctcae_units=ctcae_units))


@pytest.fixture
def make_study():
    """make_study(arms=..., ctcae=..., ctcae_file=...) -> the parts of StudySpec the derivations read."""
    return study


@pytest.fixture
def run_step():
    """run_step(step_dict, frame, **other_datasets) -> (resulting frame, context)."""

    def run(step: dict, frame: pd.DataFrame | None = None, *, name: str = "ADX", keys=("USUBJID",),
            study_spec=None, spec_folder: Path = Path("."), **others: pd.DataFrame):
        derivation = ADAM_DERIVATIONS[step["derive"]].model_validate(step)
        datasets = dict(others)
        if frame is not None:
            datasets[name] = frame.copy()
        ctx = AdamContext(dataset=SimpleNamespace(dataset=name, keys=list(keys)), datasets=datasets,
                          study=study_spec or study(), spec_folder=spec_folder)
        derivation.apply(ctx)
        return ctx.datasets[name], ctx

    return run


@pytest.fixture
def sas():
    """sas("2024-03-10", None, ...) -> SAS dates (days since 1960-01-01; None -> NaN)."""

    def convert(*iso: str | None) -> list[float]:
        epoch = pd.Timestamp("1960-01-01")
        return [float((pd.Timestamp(d) - epoch).days) if d else float("nan") for d in iso]

    return convert
