"""Command line: ``sdtmgen build``, ``sdtmgen simulate``, ``sdtmgen acrf``, ``sdtmgen schema``, ``sdtmgen ct import``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sdtmgen import __version__
from sdtmgen.errors import (EXIT_CODES, INTERNAL_ERROR, INTERRUPTED, BuildError, EnvironmentFailure, Finding,
                            SdtmgenError, Terminated)
from sdtmgen.findings_text import format_findings

console = Console(stderr=True)
SUFFIXES = {"xpt": ".xpt", "dataset-json": ".json", "ndjson": ".ndjson", "all": ".xpt/.json/.ndjson"}
#: warnings printed on the console after a run (all of them are in reports/conformance.txt)
WARNINGS_SHOWN = 5
EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {cause}" for code, cause in EXIT_CODES.items())
OUT_HELP = ("it must be absent, empty or a previous sdtmgen output (marked by .sdtmgen-build); the current "
            "folder and its parents, the home folder, /, the spec and raw folders are refused")


def _fail(exc: SdtmgenError) -> None:
    click.echo(f"error: {exc}", err=True)
    if isinstance(exc, BuildError):
        click.echo(format_findings(exc.findings), err=True)
    sys.exit(exc.exit_code)


def _run(action, unchanged: str):
    """Run a command's work; every failure becomes a message and the exit code of its cause (EXIT_CODES)."""
    try:
        return action()
    except SdtmgenError as exc:
        _fail(exc)
    except OSError as exc:
        failure = EnvironmentFailure.from_oserror(exc)
        if failure is not None:
            _fail(EnvironmentFailure(f"{failure}; {unchanged}"))
        _internal(exc, unchanged)
    except KeyboardInterrupt as exc:
        _interrupted(exc, unchanged)
    except Exception as exc:  # a defect, not bad input: say so plainly, keep the output untouched
        _internal(exc, unchanged)


def _interrupted(exc: KeyboardInterrupt, unchanged: str) -> None:
    if isinstance(exc, Terminated):
        click.echo(f"terminated ({exc.name}); {unchanged}", err=True)
        sys.exit(128 + exc.signum)
    click.echo(f"interrupted; {unchanged}", err=True)
    sys.exit(INTERRUPTED)


def _terminate_like_ctrl_c() -> None:
    """SIGTERM (kill, a CI timeout, a container stopping) and SIGHUP (the terminal closed) unwind the run as
    Ctrl-C does, so the unfinished output folder and the lock are removed; by default they kill the process
    on the spot and leave both behind (repaired only by the next run into the same folder)."""
    import signal

    def handler(signum, _frame):
        raise Terminated(signum, signal.Signals(signum).name)

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        try:
            previous[signum] = signal.signal(signum, handler)
        except (ValueError, OSError):  # not the main thread (an embedding program): leave its handlers alone
            break

    def restore() -> None:  # for a program that runs the command line in its own process (tests, scripts)
        for signum, old in previous.items():
            signal.signal(signum, old)

    click.get_current_context().call_on_close(restore)


class _Main(click.Group):
    """The command group; an interruption outside a command's work (while it starts, or prints its summary)
    exits as one inside it (130, or 128 + the signal), not with click's 'Aborted!' and the exit code of input errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            _interrupted(exc, "no output folder was being written at that moment")


def _internal(exc: Exception, unchanged: str) -> None:
    click.echo(f"internal error ({type(exc).__name__}: {exc}); {unchanged}. "
               f"Please report this with the spec and raw files.", err=True)
    sys.exit(INTERNAL_ERROR)


def _progress(status):
    """The progress line; repairs of an interrupted run are also printed, to stay on the screen."""
    from sdtmgen.output import REPAIRED

    def say(message: str) -> None:
        if message.startswith(REPAIRED):
            console.print(message, markup=False, highlight=False, soft_wrap=True)
        status.update(message)

    return say


def _show_warnings(findings: list[Finding], where: str) -> None:
    """The count and the first few warnings, on stderr."""
    warnings = [f for f in findings if f.severity == "warning"]
    if not warnings:
        return
    click.echo(f"{len(warnings)} warning(s) (--strict makes them errors):", err=True)
    for finding in warnings[:WARNINGS_SHOWN]:
        click.echo("  " + finding.describe().splitlines()[0], err=True)
    if len(warnings) > WARNINGS_SHOWN:
        click.echo(f"  ... and {len(warnings) - WARNINGS_SHOWN} more{where}", err=True)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="sdtmgen")
def main() -> None:
    """Raw CRF/EDC exports to CDISC SDTM datasets (SAS XPT v5), driven by a study spec."""
    _terminate_like_ctrl_c()


@main.command(epilog=EPILOG)
@click.option("--spec", "spec_folder", type=click.Path(file_okay=False, path_type=Path), default=Path("specs"),
              show_default=True, help="Spec folder (study.yaml, terminology.yaml, sdtm/*.yaml).")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="Raw export: a folder of CSV forms or a REDCap export, or an ODM XML file (format detected). "
                   "Default: the 'raw' named in study.yaml.")
@click.option("--out", type=click.Path(file_okay=False), default="output", show_default=True,
              help=f"Output folder, replaced only when the build succeeds; {OUT_HELP}.")
@click.option("--format", "formats", type=click.Choice(["xpt", "dataset-json", "ndjson", "all"]), default="xpt",
              show_default=True, help="Dataset files: SAS XPT v5, CDISC Dataset-JSON 1.1, its NDJSON form, or all three "
                                      "(define.xml is written in every case).")
@click.option("--strict", is_flag=True, help="Warnings are errors: the build fails (exit code 1) and writes nothing.")
@click.option("--timestamp", default=None, metavar="ISO8601",
              help="Creation date-time written in the XPT headers, define.xml and Dataset-JSON (e.g. 2026-12-03T19:30:00Z). "
                   "Default: SOURCE_DATE_EPOCH when set, else the fixed 1970-01-01T00:00:00 (same inputs, same bytes).")
def build(spec_folder: Path, raw: Path | None, out: str, formats: str, strict: bool,
          timestamp: str | None) -> None:
    """Build and validate the SDTM package and write its datasets and define.xml."""
    from sdtmgen.pipeline import build as run_build

    def work():
        with console.status("building", spinner="dots") as status:
            return run_build(spec_folder, raw, out, progress=_progress(status), formats=formats, strict=strict,
                             timestamp=timestamp)

    summary = _run(work, "the output folder was not changed")
    table = Table(title=f"sdtmgen {__version__}: {summary.out}")
    table.add_column("dataset")
    table.add_column("records", justify="right")
    for name, count in summary.records.items():
        table.add_row(f"{name.lower()}{SUFFIXES[formats]}", str(count))
    Console().print(table)
    conformance = summary.out / "reports" / "conformance.txt"
    click.echo(f"{len(summary.warnings)} warning(s), 0 errors; report: {conformance}")
    _show_warnings(summary.findings, f" in {conformance}")


@main.command(epilog=EPILOG)
@click.option("--spec", "spec_folder", type=click.Path(file_okay=False, path_type=Path), default=Path("specs"),
              show_default=True, help="Spec folder (study.yaml, sdtm/, adam/ and report.yaml).")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="Raw export: a folder of CSV forms or a REDCap export, or an ODM XML file (format detected). "
                   "Default: the 'raw' named in study.yaml.")
@click.option("--out", type=click.Path(file_okay=False), default="output/report", show_default=True,
              help=f"Report folder (ard.csv, report.html, plots/), replaced only on success; {OUT_HELP}.")
@click.option("--strict", is_flag=True, help="Warnings are errors: the report fails (exit code 1) and writes nothing.")
def report(spec_folder: Path, raw: Path | None, out: str, strict: bool) -> None:
    """Build SDTM and ADaM in memory and write the results: ARD, HTML report and plots."""
    from sdtmgen.report.build import report_from_spec

    def work():
        with console.status("reporting", spinner="dots") as status:
            return report_from_spec(spec_folder, raw, out, progress=_progress(status), strict=strict)

    result = _run(work, "the report folder was not changed")
    outcomes = sorted(set(result.ard["outcome"]))
    measures = f"{len(outcomes)} outcome measure{'' if len(outcomes) == 1 else 's'}"
    click.echo(f"{len(result.ard)} results for {measures}, {len(result.figures)} plots: "
               f"{Path(out) / 'report.html'}")
    if result.mtd is not None:
        click.echo(f"MTD: {result.mtd.mtd} ({result.mtd.rule})")
    _show_warnings(result.findings, "")


@main.command(epilog=EPILOG)
@click.option("--subjects", type=click.IntRange(min=1), default=9, show_default=True, help="Number of subjects.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same files).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the CSV files.")
@click.option("--params", type=click.Path(dir_okay=False, path_type=Path), default=Path("specs/simulation.yaml"),
              show_default=True, help="Simulation parameters.")
@click.option("--format", "fmt", type=click.Choice(["csv", "odm", "redcap"]), default="csv", show_default=True,
              help="Export format: one CSV per form, one CDISC ODM 1.3 XML file (export.xml), or a REDCap "
                   "project (data.csv, dictionary.csv, event.csv; read with raw options columns: label).")
@click.option("--force", is_flag=True,
              help="Write into a folder that already holds files (files of the same names are replaced).")
def simulate(subjects: int, seed: int, out: Path, params: Path, fmt: str, force: bool) -> None:
    """Write a simulated raw EDC export (one CSV per CRF form, or ODM XML) for the example study."""
    from sdtmgen.errors import OutputRefused
    from sdtmgen.simulate import load_simulation_params, simulate_study

    def work():
        if not force and out.is_dir() and any(out.iterdir()):  # e.g. the study's real raw export
            raise OutputRefused(f"--out {os.fspath(out)!r}: refused, the folder already holds files, which the "
                                f"simulated forms would replace; nothing was changed. Choose a new or empty folder, "
                                f"or add --force")
        if not force:
            from sdtmgen.output import check_target

            check_target(out)  # never /, the home or current folder (or around them), never a file
        return simulate_study(load_simulation_params(params), n_subjects=subjects, seed=seed, out_dir=out, fmt=fmt)

    counts = _run(work, "files already written in the folder may be incomplete")
    for form, rows in sorted(counts.items()):
        click.echo(f"{form}{'.csv' if fmt == 'csv' else ''}: {rows} rows")


@main.command(epilog=EPILOG)
@click.option("--spec", "spec_folder", type=click.Path(file_okay=False, path_type=Path), default=Path("specs"),
              show_default=True, help="Spec folder (study.yaml, sdtm/*.yaml).")
@click.option("--raw", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Raw export folder (one CSV per form). Default: the 'raw' folder named in study.yaml.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The PDF file to write (replaced only once complete); not inside the spec or raw folder. "
                   "An existing file that is not a PDF needs --force.")
@click.option("--force", is_flag=True, help="Replace an existing --out file that is not a PDF.")
def acrf(spec_folder: Path, raw: Path | None, out: Path, force: bool) -> None:
    """Write the annotated CRF (acrf.pdf): every raw form's fields with their SDTM annotations."""
    import os

    from sdtmgen.acrf import write_acrf
    from sdtmgen.errors import UsageError
    from sdtmgen.output import check_file_target
    from sdtmgen.pipeline import resolve_raw
    from sdtmgen.spec.loader import load_spec

    def work():
        check_file_target(out, lambda head: head.startswith(b"%PDF-"), "a PDF", force)
        spec = load_spec(spec_folder)
        raw_folder = resolve_raw(spec, raw)
        target = out.resolve()
        for what, folder in (("spec", Path(spec.folder).resolve()), ("raw", raw_folder.resolve())):
            if target.is_relative_to(folder):
                raise UsageError(f"--out {out} is inside the {what} folder {folder}; write the aCRF elsewhere")
        if not raw_folder.is_dir():
            raise UsageError(f"raw folder {raw_folder} does not exist")
        partial = target.with_name(f".{target.name}.sdtmgen-new")
        try:
            pages = write_acrf(partial, spec, raw_folder)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return pages

    pages = _run(work, f"{out} was not changed")
    click.echo(f"wrote {out}: {len({d for d, _ in pages})} domain(s), {len(pages)} annotated variable(s)")


@main.command(epilog=EPILOG)
@click.option("--kind", type=click.Choice(["study", "terminology", "domain", "adam", "report", "simulation"]),
              default="domain", show_default=True,
              help="Spec file kind: study.yaml, terminology.yaml, sdtm/<domain>.yaml, adam/<dataset>.yaml, report.yaml "
                   "or simulation.yaml.")
@click.option("--reference", is_flag=True,
              help="Print the spec reference (Markdown, docs/spec-reference.md) instead: every file kind's keys and "
                   "every registered rule, condition, reader, derivation and check with its parameters and an example.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON Schema here instead of standard output (an existing file that is not a "
                   "schema or reference written before needs --force).")
@click.option("--force", is_flag=True, help="Replace an existing --out file of other content.")
def schema(kind: str, reference: bool, out: Path | None, force: bool) -> None:
    """Print the JSON Schema of a kind of spec file (for editor checking), or the spec reference."""
    from sdtmgen.output import check_file_target
    from sdtmgen.spec.reference import reference as reference_text
    from sdtmgen.spec.reference import schema as kind_schema

    text = reference_text().rstrip("\n") if reference else json.dumps(kind_schema(kind), indent=1, sort_keys=True)
    if out:
        def written_before(head: bytes) -> bool:  # a JSON Schema or the spec reference, from any version
            return head.startswith(b"# Spec reference") or (head.startswith(b"{") and b'"$defs"' in head)

        def write() -> None:
            check_file_target(out, written_before, "a schema or spec reference written by sdtmgen", force)
            partial = out.with_name(f".{out.name}.partial")
            try:
                partial.write_text(text + "\n", encoding="utf-8")
                os.replace(partial, out)
            finally:
                partial.unlink(missing_ok=True)

        _run(write, f"{out} was not changed")
    else:
        click.echo(text)


@main.group(epilog=EPILOG)
def ct() -> None:
    """Controlled terminology: write codelists as terminology.yaml entries."""


@ct.command("import", epilog=EPILOG)
@click.option("--nci", "codes", multiple=True, metavar="C-CODE",
              help="NCI codelist C-code (e.g. C66742) from the packaged CT; may be repeated.")
@click.option("--ct-version", default=None, metavar="DATE",
              help="Packaged NCI SDTM CT package (default: the newest packaged).")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV/TSV codelist file: NCI CT export columns, or codelist, code, value, decode, synonyms.")
@click.option("--codelist", "select", multiple=True, metavar="ID|C-CODE",
              help="With --csv: only this codelist of the file (e.g. of a whole NCI CT export); may be repeated.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the YAML here instead of standard output (an existing file needs --force).")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def ct_import(codes: tuple[str, ...], ct_version: str | None, csv_file: Path | None, select: tuple[str, ...],
              out: Path | None, force: bool) -> None:
    """Print codelists as terminology.yaml entries, to paste under 'codelists:'.

    From the packaged NCI CT (--nci, terms with C-codes, decodes and CDISC synonyms) or from a CSV
    codelist file (--csv). In terminology.yaml the same codelists can also be named by reference:
    `- nci: C66742` or `- file: ct/sponsor.csv`.
    """
    if bool(codes) == (csv_file is not None):
        raise click.UsageError("give either --nci C-CODE (repeatable) or --csv FILE")
    if csv_file is not None and ct_version is not None:
        raise click.UsageError("--ct-version goes with --nci")
    if select and csv_file is None:
        raise click.UsageError("--codelist goes with --csv")
    if out is not None and out.exists() and not force:
        raise click.UsageError(f"--out {out} exists; add --force to replace it")

    def work() -> str:
        from sdtmgen import ct_reference
        from sdtmgen.standards import versions

        if csv_file is not None:
            return ct_reference.import_csv(csv_file, select or None)
        packaged = versions("ct")
        return ct_reference.import_nci(list(codes), ct_version or packaged[-1])

    text = _run(work, "nothing was written")
    if out is None:
        click.echo(text, nl=False)
        return

    def write() -> None:
        partial = out.with_name(f".{out.name}.partial")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)

    _run(write, f"{out} was not changed")
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
