"""Benchmark: simulate studies of 100 / 1,000 / 10,000 subjects and time every build stage.

Usage (from the repository root)::

    .venv/bin/python bench/run.py                      # sizes 100 1000 10000
    .venv/bin/python bench/run.py --sizes 100 1000 --repeat 5
    .venv/bin/python bench/run.py --sizes 2000 --repeat 1 --skip report
    .venv/bin/python bench/run.py --profile 10000   # cProfile one build, print the hot spots

The raw exports are simulated from <spec>/simulation.yaml with bench/scale.yaml laid over it
(``--overrides``): near-daily blood counts, ~211 LB rows per subject (2.1 M at 10,000).

What it does, per size:

1. simulates the raw export once with ``sdtmgen.simulate.simulate_study`` (timed and reported
   separately: simulation is not part of a build), in its own process;
2. runs the real ``sdtmgen.pipeline.build`` N times (median reported), each time in a fresh
   child process, so that the peak memory is that of one build: ``ru_maxrss`` of the child
   (interpreter and imports included), or, when the build starts processes (the results' figure
   worker), the highest sampled sum of the RSS of the build and of those processes (their CPU time is
   added to the build's); ``--reuse-raw`` builds again on raw exports simulated in ``--work`` before;
3. attributes the build's wall time to its stages through the runner's hooks
   (``sdtmgen.runner.Hooks``: ``started``/``finished`` around every stage of
   ``sdtmgen.pipeline.build_stages()`` -- load spec, read raw, map SDTM, derive SDTM, validate
   SDTM, data review, write SDTM, SDTM define.xml, lineage, ADaM, write ADaM, ADaM define.xml,
   reports, results, package, and the findings checks between them); what no stage covers is shown
   as "other". CPU time is kept next to wall time (on a shared machine the wall time includes
   waiting for a core; XPT files are written by two threads, so that stage's CPU time can exceed
   its wall time), and so are how much each stage raised the peak RSS and the highest RSS sampled
   (every 20 ms) while it ran. Nothing in the engine is replaced; ``--skip`` asks the runner to
   give a stage's outputs without running it (the results report, define.xml) and the table says
   "skipped".

Validation errors do not stop the benchmark: they are counted, reported, and downgraded to
warnings inside the child so that the later stages (XPT, reports) still run and are timed.

Then it folds in bench/xpt_bench.py: ``sdtmgen.xpt.write_xpt`` against
``pyreadstat.write_xport`` on the same 2,000,000-row LB-like frame in one child process, and
-- for the largest size -- on the LB dataset that build actually produced.

Figures go to bench/results/<YYYY-MM-DD>.json (gitignored) and a table is printed. Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

_T0 = time.perf_counter()  # child processes measure their import time from here

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_SIZES = (100, 1000, 10000)
LARGE = 1000  # sizes above this get --repeat-large runs by default (1), others --repeat (3)

#: --skip choice -> the stages the runner gives empty outputs instead of running them
SKIPPABLE = {"report": ("results",), "define.xml": ("SDTM define.xml", "ADaM define.xml")}


# ------------------------------------------------------------------------------------------
# machine


def machine_info() -> dict:
    info: dict = {"nproc": os.cpu_count(), "platform": platform.platform(),
                  "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info.update(load())
    for mod in ("pandas", "numpy", "pyreadstat", "pandera", "pyarrow"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - absent or broken: say so
            info[mod] = None
    import sdtmgen

    info["sdtmgen"] = getattr(sdtmgen, "__version__", "?")
    info["sdtmgen_path"] = str(Path(sdtmgen.__file__).parent)
    try:
        tree = Path(sdtmgen.__file__).resolve().parents[1]
        commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "sdtmgen", "specs"],
                               capture_output=True, text=True, check=True).stdout.strip()
        info["git"] = commit + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        info["git"] = None
    return info


def load() -> dict:
    """How busy the machine is (other processes make wall times longer than CPU times)."""
    out: dict = {"loadavg": os.getloadavg()}
    try:  # Linux PSI: share of time some runnable task waited for a CPU
        out["cpu_pressure_avg60"] = float(Path("/proc/pressure/cpu").read_text().split()[2].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4 / 1024


def _descendants(pid: int) -> list[int]:
    """The processes started by ``pid`` and by them (Linux /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            todo += children
    return found


def tree_rss_mib(pids: list[int]) -> float:
    """The summed RSS of ``pids`` (MiB; those that ended meanwhile count 0).

    A child made by fork shares pages with its parent and would be counted twice: the build starts its
    workers fresh (spawn), so the sum is what the machine holds for the build."""
    total = 0.0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE_MIB
        except (OSError, IndexError, ValueError):
            pass  # ended meanwhile
    return total


# ------------------------------------------------------------------------------------------
# child: stage timers


class Stopwatch:
    """Exclusive wall and CPU time per stage: a timed call nested in another is subtracted from
    its parent. CPU time (this process, user + system) is kept because on a shared machine the
    wall time also counts the time spent waiting for a core."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.main_cpu: dict[str, float] = {}  # CPU time of the main thread alone (XPT writers run beside it)
        self.calls: dict[str, int] = {}
        self.rss_growth: dict[str, float] = {}  # MiB the peak RSS grew while the stage ran (exclusive)
        self._stack: list[list] = []  # [start wall, start cpu, nested wall, nested cpu, peak at start, nested growth, stage]
        self.max_rss: dict[str, float] = {}  # MiB: highest RSS sampled while the stage was innermost
        self.tree_peak = 0.0  # MiB: highest sum of the RSS of this process and the processes it started
        self.children_seen = 0  # most processes started by the build at one time

    def started(self, stage, ctx) -> None:  # sdtmgen.runner.Hooks
        self._stack.append([time.perf_counter(), time.process_time(), 0.0, 0.0, peak_rss_mib(), 0.0, stage.name,
                            time.thread_time(), 0.0])

    def finished(self, stage, ctx) -> None:
        frame = self._stack.pop()
        name = frame[6]
        wall = time.perf_counter() - frame[0]
        cpu = time.process_time() - frame[1]
        main = time.thread_time() - frame[7]  # hooks run on the main thread
        self.main_cpu[name] = self.main_cpu.get(name, 0.0) + main - frame[8]
        growth = peak_rss_mib() - frame[4]
        self.times[name] = self.times.get(name, 0.0) + wall - frame[2]
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - frame[3]
        self.rss_growth[name] = self.rss_growth.get(name, 0.0) + growth - frame[5]
        self.calls[name] = self.calls.get(name, 0) + 1
        if self._stack:
            self._stack[-1][2] += wall
            self._stack[-1][3] += cpu
            self._stack[-1][5] += growth
            self._stack[-1][8] += main

    def sample_rss(self, every: float = 0.02) -> threading.Event:
        """Sample the RSS of this process and of the processes it started (summed) in a thread; keep its
        maximum per innermost stage (``max_rss``) and over the run (``tree_peak``); set the event to stop."""
        stop = threading.Event()

        def run() -> None:
            me, children, tick = os.getpid(), [], 0
            while not stop.wait(every):
                if tick % 10 == 0:  # the process tree looked up every 10th sample (workers live long)
                    children = _descendants(me)
                    self.children_seen = max(self.children_seen, len(children))
                tick += 1
                rss = tree_rss_mib([me, *children])
                self.tree_peak = max(self.tree_peak, rss)
                stage = self._stack[-1][6] if self._stack else "other"
                if rss > self.max_rss.get(stage, 0.0):
                    self.max_rss[stage] = rss

        threading.Thread(target=run, daemon=True).start()
        return stop


class Downgrade:
    """Runner hook: validation errors become warnings as each stage ends (counted), so that the later
    stages still run and are timed; keeps the SDTM result when asked (the writer comparison)."""

    def __init__(self, keep_sdtm: bool = False) -> None:
        self.downgraded: list[str] = []
        self.keep_sdtm = keep_sdtm
        self.sdtm = None

    def started(self, stage, ctx) -> None:
        pass

    def finished(self, stage, ctx) -> None:
        for i, f in enumerate(ctx.findings):
            if f.severity == "error":
                self.downgraded.append(f"{f.rule} {f.dataset}.{f.variable}")
                ctx.findings[i] = dataclasses.replace(f, severity="warning")
        if self.keep_sdtm and stage.name == "derive SDTM" and "sdtm" in ctx:
            self.sdtm = ctx["sdtm"]


def run_build(args: argparse.Namespace, hooks: list):
    """The real build's stages over the runner, with the benchmark's hooks and --skip."""
    from sdtmgen.pipeline import run_build as run
    from sdtmgen.runner import RunContext

    skip = [name for choice in (args.skip or []) for name in SKIPPABLE[choice]]
    return run(RunContext(spec=args.spec, raw=args.raw, out=Path(args.out)), hooks, skip)


def stage_names() -> list[str]:
    from sdtmgen.pipeline import build_stages

    return list(dict.fromkeys(s.name for s in build_stages()))


def child_build(args: argparse.Namespace) -> dict:
    import sdtmgen.pipeline  # noqa: F401 - imports pandas, pandera, ...

    import_s = time.perf_counter() - _T0
    watch, downgrade = Stopwatch(), Downgrade(keep_sdtm=args.compare_lb)
    out = Path(args.out)
    sampling = watch.sample_rss() if Path("/proc/self/statm").exists() else threading.Event()
    t, c, main = time.perf_counter(), time.process_time(), time.thread_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    ctx = run_build(args, [watch, downgrade])
    sampling.set()
    total, total_cpu = time.perf_counter() - t, time.process_time() - c
    main_cpu = time.thread_time() - main  # the main thread alone: the build's critical path, in CPU time
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # processes the build started (and waited for)
    children_cpu = after.ru_utime + after.ru_stime - kids.ru_utime - kids.ru_stime
    total_cpu += children_cpu  # in "other": not attributed to a stage
    times, cpu = dict(watch.times), dict(watch.cpu)
    times["other"] = total - sum(times.values())
    cpu["other"] = total_cpu - sum(cpu.values())
    skipped = {name for choice in (args.skip or []) for name in SKIPPABLE[choice]}
    present = [f"{name} (skipped)" if name in skipped else name for name in stage_names()]
    calls = {(f"{k} (skipped)" if k in skipped else k): v for k, v in watch.calls.items()}
    result = {
        "ok": True, "build_s": total, "build_cpu_s": total_cpu, "children_cpu_s": children_cpu,
        "main_thread_cpu_s": main_cpu, "stages_main_cpu": dict(watch.main_cpu),
        "import_s": import_s, "stages": times,
        "stages_cpu": cpu, "present": present,
        "calls": calls, "records": ctx["records"],
        "peak_rss_growth_mib": {k: round(v) for k, v in watch.rss_growth.items() if v >= 1},
        "max_rss_mib": {k: round(v) for k, v in watch.max_rss.items()},
        "validation_errors": len(downgrade.downgraded),
        "validation_error_rules": sorted(set(downgrade.downgraded))[:20],
        "warnings": len(ctx.findings) - len(downgrade.downgraded),
        # the build's own peak, or the sampled peak of the sum over its process tree when it started processes
        "peak_rss_mib": max(peak_rss_mib(), watch.tree_peak) if watch.children_seen else peak_rss_mib(),
        "peak_rss_self_mib": peak_rss_mib(),
        "child_processes": watch.children_seen,
        "peak_rss_largest_child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "xpt_bytes": sum(p.stat().st_size for p in (out / "sdtm").glob("*.xpt")),
    }
    if args.compare_lb and downgrade.sdtm is not None and "LB" in downgrade.sdtm.datasets:
        result["xpt_vs_pyreadstat_lb"] = compare_writers_on_dataset(
            downgrade.sdtm, "LB", Path(args.out).parent, args.xpt_repeat)
    return result


def compare_writers_on_dataset(sdtm, name: str, folder: Path, repeat: int) -> dict:
    """Our writer vs pyreadstat on one dataset the build produced (same frame, same process)."""
    import pyreadstat

    from sdtmgen.pipeline import xpt_variables
    from sdtmgen.xpt import write_xpt

    frame, spec = sdtm.datasets[name], sdtm.specs[name]
    variables = xpt_variables(spec)
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        write_xpt(folder / "lb_ours.xpt", frame, dataset_name=name, dataset_label=spec.label, variables=variables)
        ours.append(time.perf_counter() - t)
        ours_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        pyreadstat.write_xport(frame, str(folder / "lb_pyreadstat.xpt"), table_name=name,
                               file_label=spec.label, column_labels=[v.label for v in variables],
                               file_format_version=5)
        theirs.append(time.perf_counter() - t)
        theirs_cpu.append(time.process_time() - c)
    for f in ("lb_ours.xpt", "lb_pyreadstat.xpt"):
        (folder / f).unlink(missing_ok=True)
    return {"rows": len(frame), "ours_s": statistics.median(ours), "pyreadstat_s": statistics.median(theirs),
            "ours_runs": ours, "pyreadstat_runs": theirs,
            "ratio": statistics.median(theirs) / statistics.median(ours),
            "ratio_cpu": statistics.median(theirs_cpu) / statistics.median(ours_cpu)}


def merge_overrides(base, over):
    """``over`` laid over ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge_overrides(base[k], v) if k in base else v
        return out
    return over


def child_simulate(args: argparse.Namespace) -> dict:
    from sdtmgen.simulate import load_simulation_params, simulate_study

    import_s = time.perf_counter() - _T0
    params = load_simulation_params(Path(args.params))
    if args.overrides and args.overrides != "none":
        import yaml

        from sdtmgen.spec.simulation import SimulationParams

        merged = merge_overrides(params.model_dump(mode="python", by_alias=True),
                                 yaml.safe_load(Path(args.overrides).read_text(encoding="utf-8")) or {})
        params = SimulationParams.model_validate(merged)
    t = time.perf_counter()
    counts = simulate_study(params, args.subjects, args.seed, Path(args.raw))
    return {"ok": True, "simulate_s": time.perf_counter() - t, "import_s": import_s, "rows": counts,
            "raw_bytes": sum(p.stat().st_size for p in Path(args.raw).glob("*.csv")),
            "peak_rss_mib": peak_rss_mib()}


def child_xpt(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from xpt_bench import build_frame, same_data

    import pyreadstat

    from sdtmgen.xpt import write_xpt

    frame, variables = build_frame(args.rows)
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="sdtmgen_bench_xpt_", dir=args.tmp) as tmp:
        a, b = Path(tmp) / "ours.xpt", Path(tmp) / "pyreadstat.xpt"
        for _ in range(args.xpt_repeat):
            t, c = time.perf_counter(), time.process_time()
            write_xpt(a, frame, dataset_name="LB", dataset_label="Laboratory Test Results", variables=variables)
            ours.append(time.perf_counter() - t)
            ours_cpu.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            pyreadstat.write_xport(frame, str(b), file_label="Laboratory Test Results",
                                   column_labels=[v.label for v in variables], table_name="LB",
                                   file_format_version=5)
            theirs.append(time.perf_counter() - t)
            theirs_cpu.append(time.process_time() - c)
        identical = same_data(a, b, len(variables))
        size = a.stat().st_size
        # the same values as Arrow-backed strings, the dtype the build produces (our writer only:
        # pyreadstat is ~3x slower on them than on object columns)
        arrow = frame.astype({v.name: "string[pyarrow]" for v in variables if v.type == "Char"})
        ours_arrow = []
        for _ in range(args.xpt_repeat):
            c = time.process_time()
            t = time.perf_counter()
            write_xpt(a, arrow, dataset_name="LB", dataset_label="Laboratory Test Results", variables=variables)
            ours_arrow.append((time.perf_counter() - t, time.process_time() - c))
    return {"ok": True, "rows": len(frame), "bytes": size, "ours_s": statistics.median(ours),
            "pyreadstat_s": statistics.median(theirs), "ours_runs": ours, "pyreadstat_runs": theirs,
            "ratio": statistics.median(theirs) / statistics.median(ours), "identical_observations": identical,
            "ours_cpu_s": statistics.median(ours_cpu), "pyreadstat_cpu_s": statistics.median(theirs_cpu),
            "ratio_cpu": statistics.median(theirs_cpu) / statistics.median(ours_cpu),
            "ours_arrow_strings_s": statistics.median(w for w, _ in ours_arrow),
            "ours_arrow_strings_cpu_s": statistics.median(c for _, c in ours_arrow)}


def child_profile(args: argparse.Namespace) -> dict:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    run_build(args, [Downgrade()])  # same behaviour as a timed run
    prof.disable()
    total = time.perf_counter() - t
    prof.dump_stats(args.profile_out)
    stats = pstats.Stats(args.profile_out)
    stats.sort_stats("cumulative").print_stats(r"sdtmgen", 40)
    stats.sort_stats("tottime").print_stats(25)
    return {"ok": True, "profiled_build_s": total, "profile": args.profile_out}


def simulation_settings(subjects: int, seed: int, params: str, overrides: str) -> dict:
    """What a simulated raw export depends on (``--reuse-raw``): size, seed, and the parameter files' bytes."""
    def digest(path: str) -> str | None:
        file = Path(path)
        return hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else None

    return {"subjects": subjects, "seed": seed, "params": digest(params),
            "overrides": None if overrides == "none" else digest(overrides)}


def run_child(kind: str, argv: list[str], timeout: float | None) -> dict:
    """Run this script as a child doing one job; it writes its result as JSON to a file."""
    with tempfile.NamedTemporaryFile(prefix="sdtmgen_bench_", suffix=".json", delete=False) as fh:
        result_path = fh.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--result", result_path, *argv]
    try:
        proc = subprocess.run(cmd, timeout=timeout, stdout=None if kind == "profile" else subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        text = Path(result_path).read_text() if Path(result_path).stat().st_size else ""
        if proc.returncode != 0 or not text:
            tail = (proc.stderr or "").strip().splitlines()[-6:]
            return {"ok": False, "error": "\n".join(tail) or f"exit code {proc.returncode}"}
        return json.loads(text)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    finally:
        Path(result_path).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------
# parent


def summarise(runs: list[dict]) -> dict:
    good = [r for r in runs if r.get("ok")]
    if not good:
        return {"ok": False, "error": runs[0].get("error") if runs else "no run"}
    names = [s.removesuffix(" (skipped)") for s in good[0]["present"]] + ["other"]  # the runner's stages, in order
    stages = {s: statistics.median(r["stages"].get(s, 0.0) for r in good) for s in names}
    stages_cpu = {s: statistics.median(r["stages_cpu"].get(s, 0.0) for r in good) for s in names}
    present = {s for s in good[0]["present"] if good[0]["calls"].get(s)} | {"other"}  # hooked and called
    skipped = sorted(s[: -len(" (skipped)")] for s in present if s.endswith(" (skipped)"))
    return {
        "skipped": skipped,
        "ok": True, "runs": len(good), "build_s": statistics.median(r["build_s"] for r in good),
        "build_runs_s": [r["build_s"] for r in good],
        "build_cpu_s": statistics.median(r["build_cpu_s"] for r in good),
        "main_thread_cpu_s": statistics.median(r.get("main_thread_cpu_s", 0.0) for r in good),
        "stages_cpu_s": {s: (v if s in present else None) for s, v in stages_cpu.items()},
        "import_s": statistics.median(r["import_s"] for r in good),
        "stages_s": {s: (v if s in present else None) for s, v in stages.items()},
        "peak_rss_mib": max(r["peak_rss_mib"] for r in good),
        "records": good[0]["records"], "xpt_bytes": good[0]["xpt_bytes"],
        "validation_errors": good[0]["validation_errors"],
        "peak_rss_growth_mib": good[0].get("peak_rss_growth_mib", {}),
        "max_rss_mib": good[0].get("max_rss_mib", {}),
        "validation_error_rules": good[0]["validation_error_rules"],
        "warnings": good[0]["warnings"],
        "child_processes": max(r.get("child_processes", 0) for r in good),
        **({"xpt_vs_pyreadstat_lb": good[0]["xpt_vs_pyreadstat_lb"]} if "xpt_vs_pyreadstat_lb" in good[0] else {}),
    }


def fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def print_table(report: dict) -> None:
    sizes = report["sizes"]
    keys = list(sizes)
    w = 16
    head = f"{'subjects':<32}" + "".join(f"{int(k):>{w},}" for k in keys)
    print("\n" + head + "\n" + f"{'stage, median s: wall (cpu)':<32}" + "".join(f"{'wall (cpu)':>{w}}" for k in keys))
    print("-" * len(head))

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:<32}" + "".join(f"{c:>{w}}" for c in cells))

    def both(build: dict, stage: str | None) -> str:
        if not build.get("ok"):
            return "FAILED"
        if stage in build.get("skipped", []):
            return "skipped"
        wall = build["build_s"] if stage is None else build["stages_s"].get(stage)
        cpu = build["build_cpu_s"] if stage is None else build["stages_cpu_s"].get(stage)
        return "-" if wall is None else f"{fmt_s(wall)} ({fmt_s(cpu)})"

    row("simulate (not in build)", [fmt_s(sizes[k]["simulate"].get("simulate_s")) for k in keys])
    row("python + imports (not in build)", [fmt_s(sizes[k]["build"].get("import_s")) for k in keys])
    names = list(dict.fromkeys(s for k in keys for s in sizes[k]["build"].get("stages_s", {})))
    for stage in names:
        row("  " + stage, [both(sizes[k]["build"], stage) for k in keys])
    row("full build", [both(sizes[k]["build"], None) for k in keys])
    row("  of which main thread, CPU s", [fmt_s(sizes[k]["build"].get("main_thread_cpu_s")) for k in keys])
    row("peak RSS of a build (MiB)", [f"{sizes[k]['build']['peak_rss_mib']:.0f}" if sizes[k]["build"].get("ok")
                                      else "-" for k in keys])
    row("runs (median of)", [str(sizes[k]["build"].get("runs", 0)) for k in keys])

    def top_stage(build: dict, key: str, sign: str) -> str:
        """The stage with the largest value of ``build[key]`` (a stage -> MiB mapping), as 'stage <sign>MiB'."""
        per_stage = build.get(key) or {}
        if not per_stage:
            return "-"
        stage = max(per_stage, key=per_stage.get)
        return f"{stage.split(':')[0][:9]} {sign}{per_stage[stage]:.0f}"

    row("peak grew most in (MiB)", [top_stage(sizes[k]["build"], "peak_rss_growth_mib", "+") for k in keys])
    row("highest RSS sampled in (MiB)", [top_stage(sizes[k]["build"], "max_rss_mib", "") for k in keys])
    row("raw rows (all forms)", [f"{sum(sizes[k]['simulate'].get('rows', {}).values()):,}" for k in keys])
    row("records (SDTM + ADaM datasets)", [f"{sum(sizes[k]['build'].get('records', {}).values()):,}" for k in keys])
    row("  of which LB", [f"{sizes[k]['build'].get('records', {}).get('LB', 0):,}" for k in keys])
    row("validation errors (downgraded)", [str(sizes[k]["build"].get("validation_errors", "-")) for k in keys])
    for k in keys:
        if not sizes[k]["build"].get("ok"):
            print(f"\n{int(k):,} subjects: build FAILED:\n    " + sizes[k]["build"]["error"].replace("\n", "\n    "))
    largest = sizes[keys[-1]]["build"] if keys else {}
    if largest.get("max_rss_mib"):
        print(f"\nhighest RSS sampled while each stage ran, {int(keys[-1]):,} subjects (MiB): "
              + ", ".join(f"{s} {v:,}" for s, v in largest["max_rss_mib"].items()))
    print()
    for line in report["verdicts"]:
        print(line)


def verdicts(report: dict) -> list[str]:
    out = []
    sizes = report["sizes"]
    big = sizes.get("10000", {}).get("build", {})
    m = report["machine"]
    out.append(f"machine load: loadavg {m['loadavg'][0]:.1f} at start, {report['load_at_end']['loadavg'][0]:.1f} at end "
               f"on {m['nproc']} CPUs; CPU pressure (share of time a task waited for a CPU, 60 s avg) "
               f"{m.get('cpu_pressure_avg60', '?')}% / {report['load_at_end'].get('cpu_pressure_avg60', '?')}%"
               + (" -- wall times are inflated, compare the CPU times"
                  if max(m.get("cpu_pressure_avg60", 0), report["load_at_end"].get("cpu_pressure_avg60", 0)) > 10
                  else ""))
    if big.get("ok"):
        out.append(f"10,000 subjects: full build {big['build_s']:.1f} s wall, {big['build_cpu_s']:.1f} s CPU (issue 13 "
                   f"target <= 35 s: {'PASS' if big['build_s'] <= 35 else 'FAIL'}; issue 7: < 60 s), peak "
                   f"{big['peak_rss_mib']:,.0f} MiB (target <= 2,560 MiB = 2.5 GiB: "
                   f"{'PASS' if big['peak_rss_mib'] <= 2560 else 'FAIL'})"
                   + (f"; the build's processes: at most {big['child_processes']} besides the build, their RSS summed "
                      f"with the build's" if big.get("child_processes") else ""))
    small = sizes.get("1000", {}).get("build", {})
    if big.get("ok") and small.get("ok"):
        ratio = big["build_s"] / small["build_s"]
        report["scaling_1000_to_10000"] = ratio
        report["scaling_1000_to_10000_cpu"] = ratio_cpu = big["build_cpu_s"] / small["build_cpu_s"]
        out.append(f"scaling 1,000 -> 10,000 subjects: {ratio:.1f}x the wall time, {ratio_cpu:.1f}x the CPU time "
                   f"(target <= 11x: {'PASS' if ratio <= 11 else 'FAIL'})")
    xpt = report.get("xpt")
    if xpt and xpt.get("ok"):
        out.append(f"XPT, {xpt['rows']:,}-row LB frame: write_xpt {xpt['ours_s']:.2f} s, pyreadstat.write_xport "
                   f"{xpt['pyreadstat_s']:.2f} s -> {xpt['ratio']:.1f}x (target >= 5x: "
                   f"{'PASS' if xpt['ratio'] >= 5 else 'FAIL'}; CPU time ratio {xpt['ratio_cpu']:.1f}x); "
                   f"observations identical: {xpt['identical_observations']}")
        out.append(f"  write_xpt on the same frame with string[pyarrow] columns (what the build produces): "
                   f"{xpt['ours_arrow_strings_s']:.2f} s")
    elif xpt:
        out.append(f"XPT comparison FAILED: {xpt.get('error')}")
    for k, size in sizes.items():
        lb = size.get("build", {}).get("xpt_vs_pyreadstat_lb")
        if lb:
            out.append(f"XPT, the LB of the {int(k):,}-subject build ({lb['rows']:,} rows): write_xpt "
                       f"{lb['ours_s']:.2f} s, pyreadstat {lb['pyreadstat_s']:.2f} s -> {lb['ratio']:.1f}x "
                       f"(CPU time {lb['ratio_cpu']:.1f}x)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="numbers of subjects")
    ap.add_argument("--repeat", type=int, default=3, help=f"builds per size <= {LARGE:,} subjects (median)")
    ap.add_argument("--repeat-large", type=int, default=1, help=f"builds per size > {LARGE:,} subjects")
    ap.add_argument("--seed", type=int, default=20240304)
    ap.add_argument("--spec", default=str(ROOT / "specs"), help="spec folder")
    ap.add_argument("--params", default=None, help="simulation parameters (default <spec>/simulation.yaml)")
    ap.add_argument("--overrides", default=str(ROOT / "bench" / "scale.yaml"),
                    help="YAML laid over the simulation parameters (default bench/scale.yaml: ~200 LB rows per "
                         "subject); 'none' for the parameters as they are")
    ap.add_argument("--work", default=None, help="folder for raw exports and outputs (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--reuse-raw", action="store_true",
                    help="with --work: reuse the raw exports a previous run simulated there with the same seed, "
                         "parameters and overrides (simulated once, built many times)")
    ap.add_argument("--out", default=None, help="results file (default bench/results/<date>.json)")
    ap.add_argument("--xpt-rows", type=int, default=2_000_000, help="rows of the XPT writer comparison (0: skip)")
    ap.add_argument("--xpt-repeat", type=int, default=1, help="runs of each writer in the comparisons")
    ap.add_argument("--no-lb-compare", action="store_true",
                    help="skip our writer vs pyreadstat on the largest build's LB")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a child is killed")
    ap.add_argument("--skip", nargs="+", choices=sorted(SKIPPABLE), default=[],
                    help="replace these stages by a no-op (e.g. a report that cannot be drawn at this size); "
                         "the table shows them as skipped")
    ap.add_argument("--profile", type=int, metavar="SUBJECTS", default=None,
                    help="instead of timing: cProfile one build of this size and print the hot spots")
    # internal: the child processes
    ap.add_argument("--child", choices=["build", "simulate", "xpt", "profile"], help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--raw", help=argparse.SUPPRESS)
    ap.add_argument("--subjects", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    ap.add_argument("--compare-lb", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        try:
            job = {"build": child_build, "simulate": child_simulate, "xpt": child_xpt, "profile": child_profile}
            result = job[args.child](args)
        except BaseException as exc:  # noqa: BLE001 - report any failure to the parent
            result = {"ok": False, "error": "".join(traceback.format_exception_only(exc)).strip()[-2000:]}
            traceback.print_exc()
        Path(args.result).write_text(json.dumps(result, default=str))
        return

    params = args.params or str(Path(args.spec) / "simulation.yaml")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="sdtmgen_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now()
    report: dict = {"date": started.isoformat(timespec="seconds"), "machine": machine_info(),
                    "settings": {k: getattr(args, k) for k in ("sizes", "repeat", "repeat_large", "seed", "spec",
                                                               "xpt_rows", "xpt_repeat", "skip")},
                    "sizes": {}}
    m = report["machine"]
    print(f"machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('ram_gib')} GiB RAM; Python {m['python']}, "
          f"pandas {m['pandas']}, numpy {m['numpy']}; sdtmgen from {m['sdtmgen_path']} ({m.get('git')})")
    try:
        if args.profile:
            n = args.profile
            raw = work / f"raw{n}"
            if not any(raw.glob("*.csv")):
                print(f"simulating {n:,} subjects ...", flush=True)
                sim = run_child("simulate", ["--subjects", str(n), "--seed", str(args.seed), "--raw", str(raw),
                                             "--params", params, "--overrides", args.overrides], args.timeout)
                if not sim.get("ok"):
                    sys.exit(f"simulation failed: {sim.get('error')}")
            RESULTS.mkdir(parents=True, exist_ok=True)
            prof_out = args.out or str(RESULTS / f"profile-{n}-{started:%Y-%m-%d}.prof")
            res = run_child("profile", ["--raw", str(raw), "--spec", args.spec, "--profile-out", prof_out,
                                        "--out", str(work / f"out{n}"),
                                        *(["--skip", *args.skip] if args.skip else [])], args.timeout)
            print(res if not res.get("ok") else f"profiled build: {res['profiled_build_s']:.1f} s; stats in {prof_out}")
            return

        for n in args.sizes:
            entry: dict = {}
            report["sizes"][str(n)] = entry
            raw = work / f"raw{n}"
            marker = work / f"raw{n}.simulated.json"
            settings = simulation_settings(n, args.seed, params, args.overrides)
            previous = json.loads(marker.read_text()) if args.reuse_raw and marker.is_file() else None
            if previous is not None and previous.get("settings") == settings and any(raw.glob("*.csv")):
                print(f"{n:,} subjects: reusing the raw export in {raw}", flush=True)
                entry["simulate"] = {**previous["result"], "reused": True}
            else:
                print(f"{n:,} subjects: simulating ...", flush=True)
                marker.unlink(missing_ok=True)
                entry["simulate"] = run_child("simulate", ["--subjects", str(n), "--seed", str(args.seed), "--raw",
                                                           str(raw), "--params", params, "--overrides", args.overrides],
                                              args.timeout)
                if entry["simulate"].get("ok") and args.work:
                    marker.write_text(json.dumps({"settings": settings, "result": entry["simulate"]}))
            if not entry["simulate"].get("ok"):
                entry["build"] = {"ok": False, "error": "simulation failed: " + entry["simulate"]["error"]}
                print("  simulation FAILED: " + entry["simulate"]["error"])
                continue
            repeats = args.repeat if n <= LARGE else args.repeat_large
            runs = []
            for i in range(repeats):
                print(f"  build {i + 1}/{repeats} ...", end=" ", flush=True)
                argv = ["--raw", str(raw), "--spec", args.spec, "--out", str(work / f"out{n}"),
                        "--xpt-repeat", str(args.xpt_repeat), *(["--skip", *args.skip] if args.skip else [])]
                if n == max(args.sizes) and i == 0 and not args.no_lb_compare:
                    argv.append("--compare-lb")
                run = run_child("build", argv, args.timeout)
                runs.append(run)
                print(f"{run['build_s']:.1f} s, peak {run['peak_rss_mib']:.0f} MiB" if run.get("ok") else "FAILED",
                      flush=True)
                if not run.get("ok"):
                    break  # a failing build fails the same way every time
            entry["build"] = summarise(runs)
            entry["build"]["all_runs"] = runs
            (work / f"out{n}").exists() and subprocess.run(["rm", "-rf", str(work / f"out{n}")], check=False)

        if args.xpt_rows:
            print(f"XPT writers on a {args.xpt_rows:,}-row LB frame ...", flush=True)
            report["xpt"] = run_child("xpt", ["--rows", str(args.xpt_rows), "--xpt-repeat", str(args.xpt_repeat),
                                              "--tmp", str(work)], args.timeout)
    finally:
        if not args.keep and not args.work:
            subprocess.run(["rm", "-rf", str(work)], check=False)

    report["load_at_end"] = load()
    report["verdicts"] = verdicts(report)
    report["elapsed_s"] = (_dt.datetime.now() - started).total_seconds()
    out = Path(args.out) if args.out else RESULTS / f"{started:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print_table(report)
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
