"""Fixtures for the simulator tests: the spec, and small simulations written once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sdtmgen.simulate import load_simulation_params, simulate_study

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "simulation.yaml"
SEED = 20240304


@pytest.fixture(scope="session")
def params():
    return load_simulation_params(SPEC)


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))}


@pytest.fixture(scope="session")
def study9(params, tmp_path_factory):
    """The default study: 9 subjects. Returns (folder, counts, forms)."""
    out = tmp_path_factory.mktemp("sim9")
    counts = simulate_study(params, n_subjects=9, seed=SEED, out_dir=out)
    return out, counts, _read(out)


@pytest.fixture(scope="session")
def study60(params, tmp_path_factory):
    """A larger simulation for statistical checks (discontinuations possible)."""
    out = tmp_path_factory.mktemp("sim60")
    counts = simulate_study(params, n_subjects=60, seed=7, out_dir=out)
    return out, counts, _read(out)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def chemo_day():
    return _chemo_day


@pytest.fixture(scope="session")
def numeric_result():
    return _numeric_result


def _chemo_day(forms: dict[str, pd.DataFrame], frame: pd.DataFrame, date_column: str) -> pd.Series:
    """Chemotherapy day of each row's date (day 1 = first chemotherapy administration)."""
    chemo = forms["chemo"]
    first = chemo[chemo["RECORDPOSITION"] == "1"].set_index("SUBJECT")["CMSTDAT"]
    day1 = pd.to_datetime(first, format="%d %b %Y")
    dates = pd.to_datetime(frame[date_column], format="%d %b %Y")
    delta = (dates - frame["SUBJECT"].map(day1)).dt.days
    return delta.where(delta < 0, delta + 1)


def _numeric_result(text: pd.Series) -> pd.Series:
    """LBORRES as a number; '<0.1' counts as half the limit."""
    below = text.str.startswith("<")
    value = pd.to_numeric(text.str.lstrip("<"), errors="coerce")
    return value.where(~below, value / 2)
