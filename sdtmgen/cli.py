"""Command line: ``sdtmgen build``, ``sdtmgen simulate``, ``sdtmgen schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sdtmgen import __version__
from sdtmgen.errors import BuildError, SdtmgenError

console = Console(stderr=True)
SUFFIXES = {"xpt": ".xpt", "dataset-json": ".json", "ndjson": ".ndjson", "all": ".xpt/.json/.ndjson"}


def _fail(exc: SdtmgenError) -> None:
    click.echo(f"error: {exc}", err=True)
    if isinstance(exc, BuildError):
        for finding in exc.findings:
            if finding.severity == "error":
                click.echo(finding.describe(), err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sdtmgen")
def main() -> None:
    """Raw CRF/EDC exports to CDISC SDTM datasets (SAS XPT v5), driven by a study spec."""


@main.command()
@click.option("--spec", "spec_folder", type=click.Path(file_okay=False, path_type=Path), default=Path("specs"),
              show_default=True, help="Spec folder (study.yaml, terminology.yaml, sdtm/*.yaml).")
@click.option("--raw", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Raw export folder (one CSV per form). Default: the 'raw' folder named in study.yaml.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output"), show_default=True,
              help="Output folder; replaced only when the build succeeds.")
@click.option("--format", "formats", type=click.Choice(["xpt", "dataset-json", "ndjson", "all"]), default="xpt",
              show_default=True, help="Dataset files: SAS XPT v5, CDISC Dataset-JSON 1.1, its NDJSON form, or all three "
                                      "(define.xml is written in every case).")
@click.option("--timestamp", default=None, metavar="ISO8601",
              help="Creation date-time written in the XPT headers, define.xml and Dataset-JSON (e.g. 2026-12-03T19:30:00Z). "
                   "Default: SOURCE_DATE_EPOCH when set, else the fixed 1970-01-01T00:00:00 (same inputs, same bytes).")
def build(spec_folder: Path, raw: Path | None, out: Path, formats: str, timestamp: str | None) -> None:
    """Build and validate the SDTM package and write its datasets and define.xml."""
    from sdtmgen.pipeline import build as run_build

    try:
        with console.status("building", spinner="dots") as status:
            summary = run_build(spec_folder, raw, out, progress=lambda msg: status.update(msg), formats=formats,
                                 timestamp=timestamp)
    except SdtmgenError as exc:
        _fail(exc)
        return
    except Exception as exc:  # a defect, not bad input: say so plainly, keep the output untouched
        click.echo(f"internal error ({type(exc).__name__}: {exc}); the output folder was not changed. "
                   f"Please report this with the spec and raw files.", err=True)
        sys.exit(2)
    table = Table(title=f"sdtmgen {__version__}: {summary.out}")
    table.add_column("dataset")
    table.add_column("records", justify="right")
    for name, count in summary.records.items():
        table.add_row(f"{name.lower()}{SUFFIXES[formats]}", str(count))
    Console().print(table)
    click.echo(f"{len(summary.warnings)} warning(s), 0 errors; report: {summary.out / 'reports' / 'conformance.txt'}")


@main.command()
@click.option("--spec", "spec_folder", type=click.Path(file_okay=False, path_type=Path), default=Path("specs"),
              show_default=True, help="Spec folder (study.yaml, sdtm/, adam/ and report.yaml).")
@click.option("--raw", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Raw export folder (one CSV per form). Default: the 'raw' folder named in study.yaml.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("output/report"),
              show_default=True, help="Report folder (ard.csv, report.html, plots/); replaced only on success.")
def report(spec_folder: Path, raw: Path | None, out: Path) -> None:
    """Build SDTM and ADaM in memory and write the results: ARD, HTML report and plots."""
    from sdtmgen.report.build import report_from_spec

    try:
        with console.status("reporting", spinner="dots") as status:
            result = report_from_spec(spec_folder, raw, out, progress=lambda msg: status.update(msg))
    except SdtmgenError as exc:
        _fail(exc)
        return
    except Exception as exc:  # a defect, not bad input
        click.echo(f"internal error ({type(exc).__name__}: {exc}); the report folder was not changed. "
                   f"Please report this with the spec and raw files.", err=True)
        sys.exit(2)
    outcomes = sorted(set(result.ard["outcome"]))
    measures = f"{len(outcomes)} outcome measure{'' if len(outcomes) == 1 else 's'}"
    click.echo(f"{len(result.ard)} results for {measures}, {len(result.figures)} plots: "
               f"{out / 'report.html'}")
    if result.mtd is not None:
        click.echo(f"MTD: {result.mtd.mtd} ({result.mtd.rule})")


@main.command()
@click.option("--subjects", type=click.IntRange(min=1), default=9, show_default=True, help="Number of subjects.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same files).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the CSV files.")
@click.option("--params", type=click.Path(dir_okay=False, path_type=Path), default=Path("specs/simulation.yaml"),
              show_default=True, help="Simulation parameters.")
def simulate(subjects: int, seed: int, out: Path, params: Path) -> None:
    """Write a simulated raw EDC export (one CSV per CRF form) for the example study."""
    from sdtmgen.simulate import load_simulation_params, simulate_study

    try:
        counts = simulate_study(load_simulation_params(params), n_subjects=subjects, seed=seed, out_dir=out)
    except SdtmgenError as exc:
        _fail(exc)
        return
    for form, rows in sorted(counts.items()):
        click.echo(f"{form}.csv: {rows} rows")


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON Schema here instead of standard output.")
def schema(out: Path | None) -> None:
    """Print the JSON Schema of domain spec files (for editor checking)."""
    from sdtmgen.spec.models import DomainSpec

    text = json.dumps(DomainSpec.model_json_schema(by_alias=True), indent=1, sort_keys=True)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


if __name__ == "__main__":
    main()
