"""Every Kaplan-Meier estimate and confidence limit in ard.csv against R's survival package.

The ADTTE records of the example study and of a 200-subject simulation go to R as CSV; R fits
``survfit(Surv(AVAL, 1 - CNSR) ~ 1, conf.type = "log-log")`` per parameter and dose group (and all
groups), reports ``quantile(fit, c(.25, .5, .75))`` and ``summary(fit, times, extend = TRUE)``; each
value in ard.csv must equal R's within 1e-6, and be missing exactly where R gives NA.
Skipped when Rscript or the survival package is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "character", "character", "numeric", "numeric"))
setup <- read.csv(args[2], colClasses = "character")
times <- as.numeric(strsplit(setup$times, " ")[[1]])
conf <- as.numeric(setup$conf)
out <- list()
add <- function(paramcd, level, variable, vlevel, est, lo, hi) {
  n <- length(vlevel)
  out[[length(out) + 1]] <<- data.frame(
    paramcd = paramcd, level = level, variable = variable, variable_level = rep(vlevel, 3),
    stat_name = rep(c("estimate", "conf.low", "conf.high"), each = n), value = c(est, lo, hi))
}
for (paramcd in unique(d$PARAMCD)) {
  p <- d[d$PARAMCD == paramcd, ]
  levels <- c(unique(p$GROUP), setup$overall)
  for (level in levels) {
    s <- if (level == setup$overall) p else p[p$GROUP == level, ]
    f <- survfit(Surv(AVAL, 1 - CNSR) ~ 1, data = s, conf.type = "log-log", conf.int = conf)
    q <- quantile(f, c(0.25, 0.5, 0.75))
    add(paramcd, level, "prob", c("0.25", "0.5", "0.75"), q$quantile, q$lower, q$upper)
    sm <- summary(f, times = times, extend = TRUE)
    add(paramcd, level, "time", format(sm$time), sm$surv, sm$lower, sm$upper)
  }
}
write.csv(do.call(rbind, out), args[3], row.names = FALSE, na = "NA")
"""


@pytest.fixture(scope="session")
def rscript() -> str:
    exe = shutil.which("Rscript")
    if exe is None:
        pytest.skip("Rscript is not installed (Debian: apt-get install r-base-core r-cran-survival)")
    probe = subprocess.run([exe, "-e", "suppressPackageStartupMessages(library(survival))"], capture_output=True,
                           text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"R's survival package is not installed: {probe.stderr.strip()[:200]}")
    return exe


def _results(spec, raw: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ard.csv as written, the ADTTE records of the safety population with their dose group)."""
    from sdtmgen.adam.build import build_adam
    from sdtmgen.report.build import make_report, report_datasets, write_report
    from sdtmgen.spec.loader import load_report_config
    from sdtmgen.sdtm.build import build_sdtm

    cfg = load_report_config(spec.folder)
    sdtm = build_sdtm(spec, raw)
    adam = build_adam(spec, sdtm.datasets)
    report = make_report(report_datasets(sdtm.datasets, adam.datasets), cfg, draw=False)
    write_report(out, report)
    adsl, adtte = adam.datasets["ADSL"], adam.datasets["ADTTE"]
    safety = adsl.loc[adsl[cfg.populations.safety].astype(str).eq("Y"), ["USUBJID", cfg.groups.variable]]
    records = adtte[["USUBJID", "PARAMCD", "AVAL", "CNSR"]].merge(safety, on="USUBJID", how="inner")
    records = records.rename(columns={cfg.groups.variable: "GROUP"})
    ard = pd.read_csv(out / "ard.csv", dtype=str, keep_default_na=False)
    return ard, records[["USUBJID", "PARAMCD", "GROUP", "AVAL", "CNSR"]]


def _r_values(rscript: str, records: pd.DataFrame, folder: Path, times: list[int], conf: float,
              overall: str) -> pd.DataFrame:
    data, setup, result = folder / "adtte.csv", folder / "setup.csv", folder / "r.csv"
    records.astype({"PARAMCD": str, "GROUP": str}).to_csv(data, index=False)
    pd.DataFrame({"times": [" ".join(map(str, times))], "conf": [conf], "overall": [overall]}).to_csv(setup, index=False)
    script = folder / "km.R"
    script.write_text(R_SCRIPT, encoding="utf-8")
    run = subprocess.run([rscript, str(script), str(data), str(setup), str(result)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(result, dtype={"paramcd": str, "level": str, "variable": str, "variable_level": str,
                                   "stat_name": str})
    r["variable_level"] = r["variable_level"].str.strip()
    return r


def _compare(ard: pd.DataFrame, r: pd.DataFrame, cfg) -> int:
    recovery = [o for o in cfg.outcomes if o.kind == "recovery"]
    outcomes = {str(o.number) for o in recovery}
    km = ard[ard["outcome"].isin(outcomes) & ard["variable"].isin(["prob", "time"])
             & ard["stat_name"].isin(["estimate", "conf.low", "conf.high"])]
    km = km.rename(columns={"group2_level": "paramcd", "group1_level": "level"})
    keys = ["paramcd", "level", "variable", "variable_level", "stat_name"]
    merged = km.merge(r, on=keys, how="left", validate="one_to_one", indicator=True)
    # a group with no ADTTE record for a parameter has no R fit: its ARD values are all missing
    absent = merged["_merge"] == "left_only"
    assert (merged.loc[absent, "stat"] == "").all(), merged.loc[absent, keys + ["stat"]]
    both = merged[~absent]
    assert len(both) == len(r), "R gave values the ARD lacks"
    ours = pd.to_numeric(both["stat"].replace("", np.nan), errors="raise").to_numpy(float)
    theirs = both["value"].to_numpy(float)
    na_ours, na_r = np.isnan(ours), np.isnan(theirs)
    wrong_na = both[na_ours != na_r]
    assert wrong_na.empty, wrong_na[keys + ["stat", "value"]].head(20).to_string()
    diff = np.abs(ours - theirs)
    off = both[~na_ours & (diff > 1e-6)]
    assert off.empty, off[keys + ["stat", "value"]].head(20).to_string()
    return len(both)


@pytest.fixture(scope="session")
def report_cfg(spec):
    from sdtmgen.spec.loader import load_report_config

    return load_report_config(spec.folder)


def _times_and_conf(cfg) -> tuple[list[int], float]:
    recovery = [o for o in cfg.outcomes if o.kind == "recovery"]
    times = sorted({t for o in recovery for t in o.timepoints})
    confs = {o.conf_level for o in recovery}
    assert len(confs) == 1, "the R comparison runs one confidence level"
    return times, confs.pop()


def test_example_km_statistics_equal_r_survival(rscript, spec, example_raw, report_cfg, tmp_path):
    ard, records = _results(spec, example_raw, tmp_path / "report")
    times, conf = _times_and_conf(report_cfg)
    r = _r_values(rscript, records, tmp_path, times, conf, report_cfg.groups.overall)
    compared = _compare(ard, r, report_cfg)
    # 6 parameters x 4 levels x (3 quantiles + 4 days) x 3 values, less the groups nobody was at risk in
    assert compared >= 200 and r["value"].isna().any() and r["value"].notna().sum() > 100


@pytest.mark.parametrize("seed", [20260])
def test_simulated_200_subjects_km_statistics_equal_r_survival(rscript, spec, report_cfg, tmp_path, seed):
    from sdtmgen.simulate import load_simulation_params, simulate_study

    raw = tmp_path / "raw"
    simulate_study(load_simulation_params(ROOT / "specs" / "simulation.yaml"), n_subjects=200, seed=seed, out_dir=raw)
    ard, records = _results(spec, raw, tmp_path / "report")
    assert records["USUBJID"].nunique() > 100
    times, conf = _times_and_conf(report_cfg)
    r = _r_values(rscript, records, tmp_path, times, conf, report_cfg.groups.overall)
    assert _compare(ard, r, report_cfg) == len(r) >= 400
