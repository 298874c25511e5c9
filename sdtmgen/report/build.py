"""The report folder: ard.csv, report.html and plots/*.png from the ADaM datasets.

``make_report`` computes everything in memory; ``write_report`` writes it into a folder (the
build's atomic output folder, or the ``sdtmgen report`` target).
"""

from __future__ import annotations

import re
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from sdtmgen.csv_text import write_csv

from sdtmgen.report import dlt, durations, febrile, incidence, km, plots
from sdtmgen.report.ard import Ard, write_ard, write_ard_json
from sdtmgen.spec.report import BloodCounts, ReportConfig
from sdtmgen.report.data import Inputs, prepare
from sdtmgen.report.datasets import DATASETS, report_datasets  # noqa: F401  (also imported from here)
from sdtmgen.report.html import Figure, render
from sdtmgen.report.worker import FigureWorker, InlinePainter, painter
from sdtmgen.runner import RunContext, Stage



@dataclass
class Report:
    ard: pd.DataFrame
    html: str
    figures: list[Figure] = field(default_factory=list)
    mtd: dlt.MtdResult | None = None
    findings: list = field(default_factory=list)  # validation warnings of the SDTM and ADaM built for it
    values: list | None = None  # the ARD's typed values, row by row (ard.json)
    listings: list[Listing] = field(default_factory=list)
    tables: dict | None = None  # what the RTF tables need: levels, sizes, outcomes, indent, population, source


@dataclass
class Listing:
    """A record-level listing: written as ``<name>.csv`` and shown under its outcome measure."""

    outcome: int
    name: str
    title: str
    frame: pd.DataFrame
    show: object = None  # boolean mask of the rows report.html shows (None: all)
    shown: str = ""  # what those rows are


def _six_digits(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns as text with 6 significant digits (``%.6g``), missing as empty."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            values = out[column].to_numpy(dtype="float64")
            text = np.char.mod("%.6g", np.nan_to_num(values)).astype(object)
            text[np.isnan(values)] = ""
            out[column] = text
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"


def populations(inputs: Inputs) -> pd.DataFrame:
    rows = []
    for level in inputs.levels:
        members = inputs.members(level)
        rows.append({"Group": level, "Safety population": len(members),
                     "DLT-evaluable": int(members["DLTEVL"].sum())})
    return pd.DataFrame(rows)


def review_listings(ard: Ard, inputs: Inputs, cfg: ReportConfig) -> list[Listing]:
    """The data-review checks: ARD rows and their record-level listings."""
    check = cfg.febrile_neutropenia_check
    if check is None:
        return []
    frame = febrile.check_febrile_neutropenia(ard, inputs, check, cfg)
    return [Listing(check.outcome, "fn_check", "Derived febrile neutropenia check: fever days with a low ANC "
                    "(one row per subject and day), and reported febrile neutropenia without one", frame,
                    show=frame["REVIEW"].str.startswith(("derived only", "reported only")).to_numpy(bool),
                    shown="the disagreements to review")]


def compute(inputs: Inputs, cfg: ReportConfig, draw: bool = True,
            paint: FigureWorker | InlinePainter | None = None) -> tuple[Ard, list[Figure], dlt.MtdResult | None]:
    """The ARD and the figures. ``paint``: where the Kaplan-Meier and daily blood-count figures are drawn (a
    figure worker: their ``png`` is then a Future until ``finish_figures``; default: here, at once)."""
    paint = paint if paint is not None else InlinePainter()
    ard = Ard(groups=inputs.groups, overall=inputs.overall, group_variable=cfg.groups.variable,
              conf_level=cfg.proportion_conf_level)
    figures: list[Figure] = []
    counts: list[dlt.DoseCount] | None = None
    mtd_outcome = cfg.outcome("mtd")
    mtd = None
    for o in sorted(cfg.outcomes, key=lambda x: (x.kind == "mtd", x.number)):
        if o.kind == "ae_summary":
            incidence.ae_summary(ard, inputs, o)
        elif o.kind == "dlt":
            counts = dlt.dlt_table(ard, inputs, o, mtd_outcome.rules if mtd_outcome else None)
        elif o.kind == "mtd":
            mtd = dlt.mtd_table(ard, inputs, o, counts or [])
        elif o.kind == "recovery":
            fits = km.recovery(ard, inputs, o)
            for paramcd, by_level in (fits.items() if draw else ()):
                title = next(r["analysis_label"] for r in ard.rows if r["analysis"] == paramcd and r["outcome"] == o.number)
                name = f"km_{_slug(paramcd)}.png"
                figures.append(Figure(o.number, name, f"Kaplan-Meier: {title}",
                                      paint.submit("km", plots.km_spec(title, by_level, inputs.groups, cfg), name)))
        elif o.kind == "event_incidence":
            incidence.event_incidence(ard, inputs, o, cfg)
        elif o.kind == "episode_duration":
            durations.episode_duration(ard, inputs, o, cfg)
        elif o.kind == "lab_incidence":
            incidence.lab_incidence(ard, inputs, o, cfg)
        elif o.kind == "subject_flags":
            incidence.subject_flags(ard, inputs, o, cfg)
    bc = cfg.plots.blood_counts
    if bc is not None and draw:
        figures += blood_count_figures(inputs, cfg, paint)
    return ard, figures, mtd


def finish_figures(figures: list[Figure]) -> None:
    """Each figure's PNG bytes in place of the Future a figure worker gave (its error raised here)."""
    for fig in figures:
        if isinstance(fig.png, Future):
            fig.png = fig.png.result()


def summarised_groups(inputs: Inputs, bc: BloodCounts) -> list[str]:
    """Dose groups with more safety subjects than ``max_subjects``: drawn as daily summaries."""
    return [level for level in inputs.groups if inputs.size(level) > bc.max_subjects]


def blood_count_figures(inputs: Inputs, cfg: ReportConfig,
                        paint: FigureWorker | InlinePainter | None = None) -> list[Figure]:
    """One figure per dose group: by subject up to ``max_subjects`` safety subjects, else the daily summary
    (drawn by ``paint`` when given: see ``compute``)."""
    paint = paint if paint is not None else InlinePainter()
    bc = cfg.plots.blood_counts
    assert bc is not None
    values = plots.window_values(inputs, cfg)
    large = summarised_groups(inputs, bc)
    small = [level for level in inputs.groups if level not in large]
    summary = plots.daily_summary(values[values["GROUP"].isin(large)]) if large else None
    transfusions = plots.transfusion_days(inputs, bc) if small else None
    fn = (durations.episodes(inputs, bc.febrile_neutropenia_flag, cfg, _gap_of(cfg, bc.febrile_neutropenia_flag))
          if bc.febrile_neutropenia_flag and small else None)
    labels = ", ".join(p.label for p in bc.panels)
    days = f"days {cfg.window.first_day}-{cfg.window.last_day}"
    figures = []
    for number, level in enumerate(inputs.groups, start=1):
        name = f"blood_counts_group{number}.png"
        if level in large:
            n = inputs.size(level)
            figures.append(Figure(None, name, f"{level}: {labels}, daily median and quartiles of {n} subjects, {days} "
                                              f"(more than the {bc.max_subjects} subjects drawn one by one)",
                                  paint.submit("blood_count_summary",
                                               plots.blood_count_summary_spec(level, n, cfg, summary), name)))
        else:
            figures.append(Figure(None, name, f"{level}: {labels} by subject, {days}",
                                  plots.blood_count_plot(level, inputs, cfg, values, transfusions, fn)))
    return figures


def blood_count_note(inputs: Inputs, cfg: ReportConfig) -> str:
    """What the blood-count section says when a group is summarised: which, why, and what is not drawn."""
    bc = cfg.plots.blood_counts
    if bc is None:
        return ""
    large = summarised_groups(inputs, bc)
    if not large:
        return ""
    flagged = f" and with {bc.flag} = Y" if bc.flag else ""
    markers = (([f"{bc.flag} = Y points"] if bc.flag else [])
               + ([f"{bc.febrile_neutropenia_label.lower()} episodes"] if bc.febrile_neutropenia_flag else [])
               + (["transfusions"] if bc.transfusions else []))
    return (f"Dose groups of more than {bc.max_subjects} safety subjects (plots.blood_counts.max_subjects in "
            f"report.yaml) are drawn as the median and quartiles (25%-75%) over subjects by day, one value per "
            f"subject and day (the median of that day's values), above the number of subjects with a value"
            f"{flagged} on each day"
            + (f"; per-subject markers ({', '.join(markers)}) are drawn only subject by subject" if markers else "")
            + f". Drawn this way: {'; '.join(f'{level} ({inputs.size(level)} subjects)' for level in large)}.")


def _gap_of(cfg: ReportConfig, flag: str) -> int:
    """The merge gap of the duration outcome of this flag (episodes drawn as the table counts them)."""
    match = next((o for o in cfg.outcomes if o.kind == "episode_duration" and o.flag == flag), None)
    return match.merge_gap_days if match else 0


def _worker_pays(cfg: ReportConfig) -> bool:
    """Whether the report has figures a worker draws (Kaplan-Meier, or blood counts that may be summarised)."""
    return cfg.outcome("recovery") is not None or cfg.plots.blood_counts is not None


def data_cutoff(ts: pd.DataFrame | None) -> str:
    """TS DCUTDTC (the data cut-off date), or "" when the study has none."""
    if ts is None or not {"TSPARMCD", "TSVAL"} <= set(ts.columns):
        return ""
    values = ts.loc[ts["TSPARMCD"].astype(str).str.strip() == "DCUTDTC", "TSVAL"].dropna().astype(str).str.strip()
    return next((v for v in values if v), "")


def make_report(datasets: Mapping[str, pd.DataFrame], cfg: ReportConfig, subtitle: str = "",
                draw: bool = True) -> Report:
    """Everything in memory; ``draw=False`` skips the figures (the ARD is the same).

    The Kaplan-Meier and daily blood-count figures are drawn by a figure worker (``sdtmgen.report.worker``:
    another process, started here so that it is ready when the first figure is) while the tables and
    listings are computed; their bytes are the same as drawn here."""
    with painter(worker=draw and _worker_pays(cfg)) as paint:
        inputs = prepare(datasets, cfg)
        ard, figures, mtd = compute(inputs, cfg, draw, paint)
        listings = review_listings(ard, inputs, cfg)
        finish_figures(figures)
    frame = ard.frame()
    outcomes = sorted(cfg.outcomes, key=lambda o: o.number)
    indent = frozenset([*(o.term for o in cfg.outcomes if o.kind in ("ae_summary", "dlt")),
                        *(o.medications.class_variable for o in cfg.outcomes
                          if o.kind == "subject_flags" and o.medications and o.medications.indication)])
    note = blood_count_note(inputs, cfg) if draw else ""
    page = render(cfg.title, subtitle, frame, inputs.levels, outcomes, figures, populations(inputs), cfg.plots.embed,
                  counts_title="Blood counts by subject" if not note else "Blood counts",
                  counts_note=note, indent=indent,
                  listings=[(item.outcome, item.title, item.name, item.frame, item.show, item.shown)
                            for item in listings],
                  names=cfg.labels, cutoff=data_cutoff(datasets.get("TS")))
    tables = None
    if cfg.rtf_tables:
        from sdtmgen import __version__

        tables = {"levels": inputs.levels, "sizes": {lv: inputs.size(lv) for lv in inputs.levels},
                  "outcomes": outcomes, "indent": indent,
                  "population": f"Safety population ({cfg.populations.safety} = Y), N = {inputs.size(inputs.overall)}",
                  "source": f"Source: ard.csv (sdtmgen {__version__}). {subtitle}".strip()}
    return Report(ard=frame, html=page, figures=figures, mtd=mtd, values=ard.values(), listings=listings,
                  tables=tables)


def write_report(folder: Path, report: Report) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_ard(report.ard, folder / "ard.csv")
    write_ard_json(report.ard, report.values, folder / "ard.json")
    if report.tables is not None:
        from sdtmgen.report.rtf import write_rtf_tables

        write_rtf_tables(folder / "rtf", report.ard, **report.tables)
    for item in report.listings:  # through the shared writer: text that would start a formula is neutralised
        write_csv(folder / f"{item.name}.csv", _six_digits(item.frame))
    (folder / "report.html").write_text(report.html, encoding="utf-8", newline="\n")
    plot_dir = folder / "plots"
    plot_dir.mkdir(exist_ok=True)
    for fig in report.figures:
        (plot_dir / fig.name).write_bytes(fig.png)


def subtitle_of(spec) -> str:
    study = spec.study
    registry = f" ({study.registry_id})" if study.registry_id else ""
    return f"Study {study.studyid}{registry}, {study.sponsor}."


def write_results(folder: Path, spec, sdtm: Mapping[str, pd.DataFrame], adam: Mapping[str, pd.DataFrame],
                  progress=None) -> Report | None:
    """The build's report step: ``folder`` (``<out>/report``) when the spec has a report.yaml and ADaM exists.

    Returns the report written, or None when there is none to write.
    """
    cfg = spec.report
    if cfg is None or not adam:
        return None
    if progress:
        progress("writing report")
    report = make_report(report_datasets(sdtm, adam), cfg, subtitle_of(spec))
    write_report(folder, report)
    return report


# ------------------------------------------------------------------------------------------
# stages (sdtmgen.runner): the results in memory, and ``sdtmgen report``


class ComputeResults(Stage):
    """The results (ARD, page, figures) in memory, when the spec has a report.yaml and ADaM datasets."""

    name = "results"
    needs = ("spec", "sdtm_datasets", "adam")
    gives = ("results",)

    def run(self, ctx: RunContext) -> None:
        cfg, adam = ctx["spec"].report, ctx["adam"]
        ctx["results"] = None
        if cfg is None or adam is None or not adam.datasets:
            return
        ctx.say("computing results")
        report = make_report(report_datasets(ctx["sdtm_datasets"], adam.datasets), cfg, subtitle_of(ctx["spec"]))
        report.findings = ctx.findings
        ctx["results"] = report

    def skip(self, ctx: RunContext) -> None:
        ctx["results"] = None


class RequireAdam(Stage):
    name = "check ADaM"
    needs = ("spec", "adam")

    def run(self, ctx: RunContext) -> None:
        from sdtmgen.errors import SpecError

        if not ctx["adam"].datasets:
            raise SpecError(f"{ctx['spec'].folder}: no ADaM dataset specs (adam/*.yaml); nothing to report")


class WriteReportFolder(Stage):
    """``sdtmgen report``'s output: the report folder written and swapped in atomically."""

    name = "package"
    needs = ("results", "protect")

    def run(self, ctx: RunContext) -> None:
        from sdtmgen.output import atomic_folder

        with atomic_folder(ctx.out, ctx["protect"], kind="report", notify=ctx.say) as work:
            write_report(work, ctx["results"])


def report_stages() -> list[Stage]:
    """``sdtmgen report``: SDTM and ADaM in memory (no data review), the results, the report folder."""
    from sdtmgen.runner import StopOnErrors
    from sdtmgen.steps import (CheckOutput, DeriveAdam, DeriveSdtm, LoadSpec, MapSdtm, PrepareOutput, ReadRaw,
                               SdtmDatasets, ValidateSdtm)

    stop = "no report was written"
    return [PrepareOutput(), LoadSpec(require_report=True), CheckOutput(), ReadRaw(), MapSdtm(), DeriveSdtm(),
            ValidateSdtm(say=False), StopOnErrors("validation", stop, strict=False), SdtmDatasets(),
            DeriveAdam(), StopOnErrors("validation", stop, strict=False), RequireAdam(),
            StopOnErrors("validation", stop, strict=True), ComputeResults(), WriteReportFolder()]


def report_from_spec(spec_folder: str | Path, raw: str | Path | None = None, out: str | Path = "output/report",
                     progress=None, strict: bool = False, hooks=()) -> Report:
    """``sdtmgen report``: SDTM and ADaM built and validated in memory, the report folder written atomically.

    ``strict``: warnings fail it like errors (BuildError), before anything is written. ``hooks``: called
    around every stage (``sdtmgen.runner.Hooks``).
    """
    from sdtmgen.runner import Runner

    ctx = RunContext(spec=spec_folder, raw=raw, out=out, strict=strict, say=progress or (lambda _msg: None))
    Runner(report_stages(), hooks).run(ctx)
    return ctx["results"]
