"""Benchmark: sdtmgen.xpt.write_xpt vs pyreadstat.write_xport (XPT v5) on an LB-like frame.

Usage:  python bench/xpt_bench.py [--rows 2000000] [--repeat 3] [--no-verify] [--skip-pyreadstat]

Builds a lab-results frame (15 character, 6 numeric variables, ~3% missing results), writes it
with both writers into a temporary folder (median of --repeat runs each), checks that the
observation bytes of the two files agree, and prints a table. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import mmap
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdtmgen.xpt import XptVariable, write_xpt  # noqa: E402

TESTS = [
    ("ALB", "Albumin", "g/L", 35, 50),
    ("ALP", "Alkaline Phosphatase", "U/L", 40, 130),
    ("ALT", "Alanine Aminotransferase", "U/L", 7, 56),
    ("AST", "Aspartate Aminotransferase", "U/L", 10, 40),
    ("BILI", "Bilirubin", "umol/L", 2, 21),
    ("BUN", "Blood Urea Nitrogen", "mmol/L", 2.5, 7.1),
    ("CA", "Calcium", "mmol/L", 2.1, 2.6),
    ("CL", "Chloride", "mmol/L", 96, 106),
    ("CREAT", "Creatinine", "umol/L", 53, 115),
    ("GLUC", "Glucose", "mmol/L", 3.9, 5.6),
    ("HGB", "Hemoglobin", "g/L", 120, 170),
    ("K", "Potassium", "mmol/L", 3.5, 5.1),
    ("LYM", "Lymphocytes", "10^9/L", 1.0, 4.8),
    ("NEUT", "Neutrophils", "10^9/L", 1.8, 7.7),
    ("PLAT", "Platelets", "10^9/L", 150, 400),
    ("SODIUM", "Sodium", "mmol/L", 135, 145),
    ("WBC", "Leukocytes", "10^9/L", 4.0, 11.0),
]
VISITS = [
    ("SCREENING 1", 1.0, -7),
    ("WEEK 2", 4.0, 14),
    ("WEEK 4", 5.0, 28),
    ("WEEK 6", 7.0, 42),
    ("WEEK 8", 8.0, 56),
    ("WEEK 12", 9.0, 84),
    ("WEEK 16", 10.0, 112),
    ("WEEK 20", 11.0, 140),
    ("WEEK 24", 12.0, 168),
    ("WEEK 26", 13.0, 182),
    ("UNSCHEDULED 3.1", 3.1, 20),
]


def build_frame(rows: int, seed: int = 20240101) -> tuple[pd.DataFrame, list[XptVariable]]:
    rng = np.random.default_rng(seed)
    subjects = np.array([f"01-{700 + s // 50:03d}-{1000 + s:04d}" for s in range(1500)], dtype=object)
    subj = rng.integers(0, len(subjects), rows)
    test = rng.integers(0, len(TESTS), rows)
    visit = rng.integers(0, len(VISITS), rows)
    lo = np.array([t[3] for t in TESTS], dtype=float)[test]
    hi = np.array([t[4] for t in TESTS], dtype=float)[test]
    result = np.round(rng.normal((lo + hi) / 2, (hi - lo) / 3), 1)
    not_done = rng.random(rows) < 0.03
    result[not_done] = np.nan

    # formatted results: many distinct values, built from a pool so the benchmark starts fast
    pool_vals = np.round(np.linspace(-50.0, 500.0, 5501), 1)
    pool_txt = np.array([f"{v:.1f}" for v in pool_vals], dtype=object)
    idx = np.clip(np.searchsorted(pool_vals, result), 0, len(pool_vals) - 1)
    orres = pool_txt[idx]
    orres[not_done] = None
    nrind = np.where(result < lo, "LOW", np.where(result > hi, "HIGH", "NORMAL")).astype(object)
    nrind[not_done] = ""

    days = np.array([v[2] for v in VISITS])[visit] + rng.integers(-2, 3, rows)
    base = np.datetime64("2013-07-01") + rng.integers(0, 365, len(subjects))
    dates = (base[subj] + days).astype("datetime64[D]")
    uniq_dates, inv = np.unique(dates, return_inverse=True)
    dtc = np.array([f"{d}T08:{m:02d}" for d, m in zip(uniq_dates.astype(str), range(len(uniq_dates)))],
                   dtype=object)[inv % len(uniq_dates)]

    lab = lambda col: np.array([t[col] for t in TESTS], dtype=object)[test]  # noqa: E731
    frame = pd.DataFrame(
        {
            "STUDYID": np.full(rows, "CDISCPILOT01", dtype=object),
            "DOMAIN": np.full(rows, "LB", dtype=object),
            "USUBJID": subjects[subj],
            "LBSEQ": np.arange(1, rows + 1, dtype=float),
            "LBTESTCD": lab(0),
            "LBTEST": lab(1),
            "LBCAT": np.where(test < 10, "CHEMISTRY", "HEMATOLOGY").astype(object),
            "LBORRES": orres,
            "LBORRESU": lab(2),
            "LBORNRLO": np.array([str(t[3]) for t in TESTS], dtype=object)[test],
            "LBORNRHI": np.array([str(t[4]) for t in TESTS], dtype=object)[test],
            "LBSTRESC": orres.copy(),
            "LBSTRESN": result,
            "LBSTRESU": lab(2),
            "LBSTNRLO": lo,
            "LBSTNRHI": hi,
            "LBNRIND": nrind,
            "VISITNUM": np.array([v[1] for v in VISITS])[visit],
            "VISIT": np.array([v[0] for v in VISITS], dtype=object)[visit],
            "LBDTC": dtc,
            "LBDY": days.astype(float) + 1,
        }
    )
    labels = {
        "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation",
        "USUBJID": "Unique Subject Identifier", "LBSEQ": "Sequence Number",
        "LBTESTCD": "Lab Test or Examination Short Name", "LBTEST": "Lab Test or Examination Name",
        "LBCAT": "Category for Lab Test", "LBORRES": "Result or Finding in Original Units",
        "LBORRESU": "Original Units", "LBORNRLO": "Reference Range Lower Limit in Orig Unit",
        "LBORNRHI": "Reference Range Upper Limit in Orig Unit",
        "LBSTRESC": "Character Result/Finding in Std Format",
        "LBSTRESN": "Numeric Result/Finding in Standard Units", "LBSTRESU": "Standard Units",
        "LBSTNRLO": "Reference Range Lower Limit-Std Units",
        "LBSTNRHI": "Reference Range Upper Limit-Std Units",
        "LBNRIND": "Reference Range Indicator", "VISITNUM": "Visit Number",
        "VISIT": "Visit Name", "LBDTC": "Date/Time of Specimen Collection",
        "LBDY": "Study Day of Specimen Collection",
    }  # fmt: skip
    variables = [
        XptVariable(c, labels[c], "Num" if frame[c].dtype.kind == "f" else "Char")
        for c in frame.columns
    ]
    return frame, variables


class RssPeak:
    """Samples the resident set size (Linux /proc) in a thread: peak growth over the start."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "RssPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def data_section_offset(path: Path, nvars: int) -> int:
    # 8 header records, the namestrs padded to 80, the OBS header
    return 8 * 80 + (-(-nvars * 140 // 80)) * 80 + 80


def same_data(a: Path, b: Path, nvars: int) -> bool:
    off = data_section_offset(a, nvars)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        ma = mmap.mmap(fa.fileno(), 0, access=mmap.ACCESS_READ)
        mb = mmap.mmap(fb.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            if len(ma) != len(mb):
                return False
            step = 64 << 20
            return all(ma[i : i + step] == mb[i : i + step] for i in range(off, len(ma), step))
        finally:
            ma.close()
            mb.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-verify", action="store_true", help="skip the byte comparison")
    ap.add_argument("--skip-pyreadstat", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    frame, variables = build_frame(args.rows)
    n_char = sum(v.type == "Char" for v in variables)
    print(
        f"frame: {len(frame):,} rows, {n_char} Char + {len(variables) - n_char} Num variables "
        f"(built in {time.perf_counter() - t0:.1f}s)"
    )

    with tempfile.TemporaryDirectory(prefix="xpt_bench_") as tmp:
        ours_path = Path(tmp) / "lb_ours.xpt"
        theirs_path = Path(tmp) / "lb_pyreadstat.xpt"
        ours = []
        rss_growth = 0.0
        for _ in range(args.repeat):
            with RssPeak() as rss:
                t = time.perf_counter()
                write_xpt(ours_path, frame, dataset_name="LB",
                          dataset_label="Laboratory Test Results", variables=variables)
                ours.append(time.perf_counter() - t)
            rss_growth = max(rss_growth, rss.growth_mib)
        size = os.path.getsize(ours_path)

        theirs = []
        if not args.skip_pyreadstat:
            import pyreadstat

            labels = [v.label for v in variables]
            for _ in range(args.repeat):
                t = time.perf_counter()
                pyreadstat.write_xport(frame, theirs_path, file_label="Laboratory Test Results",
                                       column_labels=labels, table_name="LB",
                                       file_format_version=5)
                theirs.append(time.perf_counter() - t)

        frame_mib = frame.memory_usage(deep=False).sum() / 2**20
        print(
            f"output: {size / 1e6:.0f} MB; peak RSS growth during our writes: {rss_growth:.0f} MiB "
            f"(frame's own arrays: {frame_mib:.0f} MiB)"
        )
        print()
        print(f"{'writer':<26}{'median s':>10}{'runs (s)':>28}{'MB/s':>8}")
        rows = [("sdtmgen.xpt.write_xpt", ours)]
        if theirs:
            rows.append(("pyreadstat.write_xport", theirs))
        for name, runs in rows:
            med = statistics.median(runs)
            runs_txt = " ".join(f"{r:.2f}" for r in runs)
            print(f"{name:<26}{med:>10.2f}{runs_txt:>28}{size / 1e6 / med:>8.0f}")
        if theirs:
            speedup = statistics.median(theirs) / statistics.median(ours)
            print(f"\nspeed-up: {speedup:.1f}x (target >= 5x)")
            if not args.no_verify:
                ok = same_data(ours_path, theirs_path, len(variables))
                print(f"observation bytes identical to pyreadstat: {ok}")


if __name__ == "__main__":
    main()
