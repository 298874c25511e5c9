"""Exact (Clopper-Pearson) limits of every incidence: against R's ``binom.test`` and in the ARD."""

from __future__ import annotations

import math
import shutil
import subprocess

import pandas as pd
import pytest

from sdtmgen.report.ard import clopper_pearson

CASES = [(n, total) for total in (1, 2, 3, 5, 6, 9, 17, 40, 200) for n in sorted({0, 1, 2, total // 2, total - 1, total})
         if 0 <= n <= total]


def test_clopper_pearson_equals_r_binom_test(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed (Debian: apt-get install r-base-core)")
    table = tmp_path / "cases.csv"
    pd.DataFrame(CASES, columns=["n", "total"]).to_csv(table, index=False)
    script = (f'd <- read.csv("{table}"); for (level in c(0.95, 0.9)) for (i in seq_len(nrow(d))) {{ '
              'ci <- binom.test(d$n[i], d$total[i], conf.level = level)$conf.int; '
              'cat(level, d$n[i], d$total[i], sprintf("%.15g", ci[1]), sprintf("%.15g", ci[2]), "\\n") }')
    run = subprocess.run([rscript, "-e", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split("\n")
    rows = [line.split() for line in lines if line.strip()]
    assert len(rows) == 2 * len(CASES)
    for level, n, total, low, high in rows:
        got = clopper_pearson(int(n), int(total), float(level))
        assert got == pytest.approx((float(low), float(high)), abs=1e-9), (level, n, total)


def test_no_denominator_no_limits():
    assert all(math.isnan(v) for v in clopper_pearson(0, 0))


def test_every_incidence_in_the_ard_has_its_exact_limits(ard, stat, study):
    G = study.GROUPS
    # DLT rate per dose level: DL3 1 of 3 evaluable -> binom.test(1, 3): 0.008403759, 0.9057007
    low = stat(ard, outcome=2, analysis="DLT", level=G[3], stat_name="conf.low", variable="DLTFL")
    high = stat(ard, outcome=2, analysis="DLT", level=G[3], stat_name="conf.high", variable="DLTFL")
    assert (float(low), float(high)) == pytest.approx((0.008403759, 0.9057007), abs=1e-6)
    # 0 of 3: (0, 0.7075982)
    assert float(stat(ard, outcome=2, analysis="DLT", level=G[1], stat_name="conf.high", variable="DLTFL")) \
        == pytest.approx(0.7075982, abs=1e-6)
    props = ard[(ard["context"] == "categorical")]
    keys = ["outcome", "analysis", "group1_level", "group2_level", "variable", "variable_level"]
    counted = props[props["stat_name"] == "n"].set_index(keys).index
    for name in ("conf.low", "conf.high"):
        assert props[props["stat_name"] == name].set_index(keys).index.sort_values().equals(counted.sort_values()), name
