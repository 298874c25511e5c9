"""Benchmark: reading the same study as CSV forms and as one CDISC ODM file (issue 14's 2x target).

Usage:  python bench/read_bench.py [--subjects 10000] [--seed 7] [--repeat 3] [--work DIR] [--keep]

Simulates the example study once per format (``sdtmgen simulate --format csv|odm``, same seed), then
reads every form of each export through ``sdtmgen.raw_export.RawExport`` - what ``sdtmgen build`` does - in a
fresh process per read, CSV and ODM alternating so that both meet the same load on a shared machine.
Prints, per format, the median wall and CPU time of the reads (imports excluded, the ODM loop's compiled
code loaded from numba's cache included) and the highest peak RSS (``ru_maxrss``, interpreter and imports
included) with how much the read itself grew it (peak minus the RSS after imports), the ODM/CSV ratios,
and the machine's load before and after. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy, pandas, pyarrow  # imports are not part of the read
from sdtmgen.raw_export import RawExport
path = Path(sys.argv[1])
if path.is_file():
    import sdtmgen.readers.odm, sdtmgen.readers.odm_kernel  # numba too: only where the build would import it
base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
wall, cpu = time.perf_counter(), time.process_time()
raw = RawExport(path)
forms = raw.reader_forms() or sorted(p.stem for p in path.glob("*.csv"))
rows = cells = 0
for form in forms:
    frame = raw.read(form)
    rows += len(frame)
    cells += frame.size
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "rss_mib": peak, "growth_mib": peak - base,
                  "forms": len(forms), "rows": rows, "cells": cells}))
"""


def load() -> str:
    avg = os.getloadavg()
    try:
        pressure = Path("/proc/pressure/cpu").read_text().split()[1]
    except OSError:
        pressure = "n/a"
    return f"load average {avg[0]:.2f} {avg[1]:.2f} {avg[2]:.2f}, CPU pressure {pressure}"


def simulate(subjects: int, seed: int, fmt: str, out: Path) -> Path:
    if not out.exists():
        subprocess.run([sys.executable, "-m", "sdtmgen.cli", "simulate", "--subjects", str(subjects), "--seed", str(seed),
                        "--format", fmt, "--out", str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out / "export.xml" if fmt == "odm" else out


def read(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, cwd=ROOT, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, help="folder for the exports (kept; reused when present)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="read-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    paths = {fmt: simulate(args.subjects, args.seed, fmt, work / f"{fmt}-{args.subjects}-{args.seed}")
             for fmt in ("csv", "odm")}
    sizes = {fmt: sum(p.stat().st_size for p in ([path] if path.is_file() else path.glob("*.csv")))
             for fmt, path in paths.items()}
    read(paths["odm"])  # warm-up: numba compiles the ODM loop into its cache once
    print(f"{args.subjects} subjects, seed {args.seed}: CSV {sizes['csv'] / 1e6:.0f} MB, ODM {sizes['odm'] / 1e6:.0f} MB")
    print("before:", load())
    runs: dict[str, list[dict]] = {"csv": [], "odm": []}
    for _ in range(args.repeat):
        for fmt in ("csv", "odm"):
            runs[fmt].append(read(paths[fmt]))
    print("after: ", load())
    assert runs["csv"][0]["rows"] == runs["odm"][0]["rows"], "the two exports do not hold the same rows"
    summary = {}
    for fmt, done in runs.items():
        summary[fmt] = {"wall": statistics.median(r["wall"] for r in done), "cpu": statistics.median(r["cpu"] for r in done),
                        "rss": max(r["rss_mib"] for r in done), "growth": max(r["growth_mib"] for r in done)}
        print(f"{fmt}: {done[0]['forms']} forms, {done[0]['rows']:,} rows; wall {[round(r['wall'], 2) for r in done]} s, "
              f"CPU {[round(r['cpu'], 2) for r in done]} s, peak RSS {[round(r['rss_mib']) for r in done]} MiB "
              f"(grown by the read: {[round(r['growth_mib']) for r in done]} MiB)")
    csv, odm = summary["csv"], summary["odm"]
    print(f"ODM / CSV: wall {odm['wall'] / csv['wall']:.2f}x (median {odm['wall']:.2f} / {csv['wall']:.2f} s), "
          f"CPU {odm['cpu'] / csv['cpu']:.2f}x ({odm['cpu']:.2f} / {csv['cpu']:.2f} s), "
          f"peak RSS {odm['rss'] / csv['rss']:.2f}x ({odm['rss']:.0f} / {csv['rss']:.0f} MiB), "
          f"grown by the read {odm['growth'] / csv['growth']:.2f}x ({odm['growth']:.0f} / {csv['growth']:.0f} MiB)")
    # each ODM read against the CSV read just before it (the two met about the same load)
    print("ODM / CSV CPU, run by run:", [round(o["cpu"] / c["cpu"], 2) for c, o in zip(runs["csv"], runs["odm"])])
    print("ODM / CSV wall, run by run:", [round(o["wall"] / c["wall"], 2) for c, o in zip(runs["csv"], runs["odm"])])


if __name__ == "__main__":
    main()
