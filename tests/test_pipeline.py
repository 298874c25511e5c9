"""The whole build on the embedded example study, as a user runs it."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.errors import BuildError
from sdtmgen.pipeline import build
from sdtmgen.standards import packaged_ig

EXPECTED = {"dm", "ex", "lb", "ae", "cm", "vs", "mh", "ds", "sv", "se", "ts", "ta", "te", "tv", "ti", "relrec",
            "suppdm", "suppae", "suppmh"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, spec_folder, example_raw):
    out = tmp_path_factory.mktemp("build") / "out"
    summary = build(spec_folder, example_raw, out)
    return out, summary


def test_default_build_writes_every_dataset_readable_by_pyreadstat(built):
    out, summary = built
    files = {p.stem for p in (out / "sdtm").glob("*.xpt")}
    assert files == EXPECTED
    for path in (out / "sdtm").glob("*.xpt"):
        frame, meta = pyreadstat.read_xport(str(path))
        assert len(frame) == summary.records[path.stem.upper()], path.name
        assert meta.table_name == path.stem.upper()
    dm, _ = pyreadstat.read_xport(str(out / "sdtm" / "dm.xpt"))
    assert dm["USUBJID"].nunique() == len(dm) == 9


def test_conformance_report_has_no_errors(built):
    out, _ = built
    report = json.loads((out / "reports" / "conformance.json").read_text())
    assert report["summary"]["errors"] == 0
    ran = {r["id"] for r in report["rules"]}
    assert {"XD-SUBJ-DM", "XD-EPOCH-SE", "XD-VISIT-TV", "XD-RELREC", "IG-REQ", "IG-EXP", "IG-LABEL"} <= ran
    assert "No findings." in (out / "reports" / "conformance.txt").read_text() or report["summary"]["warnings"] >= 0


def test_every_raw_row_is_accounted_for(built):
    out, _ = built
    counts = pd.read_csv(out / "reports" / "reconciliation.csv")
    assert (counts["rows_read"] == counts["rows_mapped"] + counts["rows_excluded"]).all()
    assert set(counts["form"]) >= {"dm.csv", "ae.csv", "cm.csv", "hem.csv", "exo.csv", "chemo.csv", "transfusion.csv"}


def test_same_input_gives_byte_identical_output(built, tmp_path, spec_folder, example_raw):
    out, _ = built
    again = tmp_path / "again"
    build(spec_folder, example_raw, again)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            assert (again / path.relative_to(out)).read_bytes() == path.read_bytes(), path


def test_sdtm_rules_users_check(built):
    out, _ = built
    read = lambda name: pyreadstat.read_xport(str(out / "sdtm" / f"{name}.xpt"))[0]  # noqa: E731
    for name in ("ae", "cm", "lb", "ex", "vs", "ds", "mh", "se"):
        frame = read(name)
        seq = f"{name.upper()}SEQ"
        assert not frame.duplicated(["USUBJID", seq]).any()
        for dy in [c for c in frame.columns if c.endswith("DY") and c != "VISITDY"]:
            assert not (frame[dy] == 0).any(), f"{name}.{dy} has day 0"
    lb = read("lb")
    hgb = lb[(lb["LBTESTCD"] == "HGB") & (lb["LBORRESU"] == "g/dL") & lb["LBSTRESN"].notna()]
    assert len(hgb) > 0 and (hgb["LBSTRESU"] == "g/L").all()
    assert (abs(hgb["LBSTRESN"] - 10 * hgb["LBORRES"].astype(float)) < 1e-6).all()
    assert lb.groupby(["USUBJID", "LBTESTCD"])["LBLOBXFL"].apply(lambda s: (s == "Y").sum()).max() == 1
    keys = ["STUDYID", "USUBJID", "LBTESTCD", "LBDTC", "VISITNUM"]
    assert lb[keys].astype(str).equals(lb[keys].astype(str).sort_values(keys).reset_index(drop=True)) or \
        lb.sort_values(keys, kind="mergesort").index.equals(lb.index)
    ae = read("ae")
    assert ae["AETOXGR"].isin(["1", "2", "3", "4", "5"]).all()


def test_a_spec_change_changes_the_output_without_code(tmp_path, spec_copy, example_raw):
    specs = spec_copy
    dm = (specs / "sdtm" / "dm.yaml").read_text()
    (specs / "sdtm" / "dm.yaml").write_text(dm.replace("label: Subject Identifier for the Study",
                                                       "label: Subject Number"))
    terms = (specs / "terminology.yaml").read_text()
    # a sponsor term renamed; the CRF's text becomes its synonym
    term = "      - {value: GENERAL MEDICAL HISTORY, synonyms: [MEDICAL HISTORY]}"
    assert term in terms
    (specs / "terminology.yaml").write_text(terms.replace(
        term, "      - {value: OTHER CONDITIONS, synonyms: [MEDICAL HISTORY]}"))
    with pytest.raises(BuildError) as failed:
        build(specs, example_raw, tmp_path / "out")
    # the IG label rule (packaged SDTMIG 3.4) notices the changed label; the new term flows into DM
    assert any(f.rule == "IG-LABEL" and f.variable == "SUBJID" for f in failed.value.findings)
    # a sponsor's own IG metadata (standards.sdtmig_file) replaces the packaged one
    ig = packaged_ig("sdtmig", "3.4").copy()
    ig.loc[(ig["dataset"] == "DM") & (ig["name"] == "SUBJID"), "label"] = "Subject Number"
    ig.to_csv(specs / "sponsor-ig.tsv", sep="\t", index=False, lineterminator="\n")
    study = (specs / "study.yaml").read_text()
    assert "  standards:\n" in study
    (specs / "study.yaml").write_text(study.replace("  standards:\n", "  standards:\n    sdtmig_file: sponsor-ig.tsv\n"))
    build(specs, example_raw, tmp_path / "out")
    _, meta = pyreadstat.read_xport(str(tmp_path / "out" / "sdtm" / "dm.xpt"))
    assert meta.column_names_to_labels["SUBJID"] == "Subject Number"
    mh, _ = pyreadstat.read_xport(str(tmp_path / "out" / "sdtm" / "mh.xpt"))
    assert "OTHER CONDITIONS" in set(mh["MHCAT"]) and "GENERAL MEDICAL HISTORY" not in set(mh["MHCAT"])


def test_subject_missing_from_demographics_fails_naming_subject_file_and_row(tmp_path, spec_folder, example_raw):
    raw = tmp_path / "raw"
    shutil.copytree(example_raw, raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    stray = ae.iloc[[0]].assign(SUBJECT="01-999")
    pd.concat([ae, stray]).to_csv(raw / "ae.csv", index=False, lineterminator="\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "XD-SUBJ-DM" in result.output and "01-999" in result.output
    assert f"ae.csv:{len(ae) + 2}" in result.output
    assert not out.exists()


def test_a_failed_build_leaves_the_previous_output_untouched(tmp_path, spec_folder, example_raw, monkeypatch):
    out = tmp_path / "out"
    build(spec_folder, example_raw, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    import sdtmgen.pipeline as pipeline

    calls = {"n": 0}
    real = pipeline.write_xpt

    def dies_half_way(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_xpt", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        build(spec_folder, example_raw, out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder or lock left


def _slow_writers(monkeypatch) -> list[str]:
    """The XPT writers made slower (0.05 s a file); the names of the files they finish, in order."""
    import time

    import sdtmgen.pipeline as pipeline

    real, written = pipeline.write_xpt, []

    def slow(path, *args, **kwargs):
        time.sleep(0.05)
        real(path, *args, **kwargs)
        written.append(path.name)

    monkeypatch.setattr(pipeline, "write_xpt", slow)
    return written


def test_an_interrupt_while_xpt_files_are_written_in_the_background_leaves_nothing(tmp_path, spec_folder,
                                                                                     example_raw, monkeypatch):
    """The SDTM files are written during the validation and the ADaM files during the results: an error on
    the main thread meanwhile waits for the writers, discards the folder and leaves no thread running."""
    import threading

    import sdtmgen.report.build as report_build

    written = _slow_writers(monkeypatch)

    def interrupted(*args, **kwargs):
        assert threading.current_thread() is threading.main_thread()
        raise KeyboardInterrupt("stopped during the results")

    monkeypatch.setattr(report_build, "write_results", interrupted)
    with pytest.raises(KeyboardInterrupt, match="during the results"):
        build(spec_folder, example_raw, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # no output, temporary folder or lock
    assert not [t for t in threading.enumerate() if t.name.startswith("xpt")]
    assert "dm.xpt" in written  # the SDTM files were written before the interrupt


def test_an_adam_validation_error_while_the_adam_files_are_written_leaves_nothing(tmp_path, spec_folder,
                                                                                   example_raw, monkeypatch):
    """The ADaM XPT files start before the ADaM validation: an error it finds stops the build, the writers
    are awaited, and neither the output folder nor a thread is left."""
    import threading

    import sdtmgen.steps as steps
    from sdtmgen.errors import Finding

    written = _slow_writers(monkeypatch)

    def finds_an_error(adam, *args, **kwargs):
        assert (tmp_path / "out").exists() is False and adam.datasets
        return [Finding(rule="ADAM-TEST", severity="error", dataset="ADSL", variable="USUBJID", message="made up")]

    monkeypatch.setattr(steps, "validate_adam", finds_an_error)
    with pytest.raises(BuildError, match="1 validation error") as failed:
        build(spec_folder, example_raw, tmp_path / "out")
    assert [f.rule for f in failed.value.findings if f.severity == "error"] == ["ADAM-TEST"]
    assert list(tmp_path.iterdir()) == []  # no output, temporary folder or lock
    assert not [t for t in threading.enumerate() if t.name.startswith("xpt")]
    assert "adsl.xpt" in written or "adlb.xpt" in written  # ADaM files had been started


def test_cli_help_for_every_command():
    runner = CliRunner()
    for args in ([], ["build"], ["simulate"], ["schema"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_manifest_records_tool_version_and_input_checksums(built, spec_folder, example_raw):
    import hashlib

    from sdtmgen import __version__

    out, _ = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == __version__
    raw_files = sorted(p.name for p in example_raw.glob("*.csv"))
    assert sorted(manifest["raw"]) == raw_files
    for name, digest in manifest["raw"].items():
        assert hashlib.sha256((example_raw / name).read_bytes()).hexdigest() == digest
    assert manifest["spec"]["study.yaml"] == hashlib.sha256((spec_folder / "study.yaml").read_bytes()).hexdigest()
    lineage = pd.read_csv(out / "reports" / "lineage" / "ae.csv")
    ae, _ = pyreadstat.read_xport(str(out / "sdtm" / "ae.xpt"))
    raw_ae = pd.read_csv(example_raw / "ae.csv", dtype=str, keep_default_na=False)
    # the lineage row of each AE record points at the raw line it came from
    assert len(lineage) == len(ae)
    first = raw_ae.iloc[lineage.loc[0, "raw_row"] - 2]
    assert ae.loc[0, "AETERM"] == first["AETERM"].upper()


def test_trial_summary_has_the_parameters_fda_expects(built):
    out, _ = built
    ts, _ = pyreadstat.read_xport(str(out / "sdtm" / "ts.xpt"))
    dm, _ = pyreadstat.read_xport(str(out / "sdtm" / "dm.xpt"))
    expected = {"SSTDTC", "SPONSOR", "TITLE", "TPHASE", "TTYPE", "INTMODEL", "INTTYPE", "TBLIND", "NARMS", "PLANSUB",
                "AGEMIN", "AGEMAX", "SEXPOP", "REGID", "TRT", "PCLAS", "STYPE", "ADDON", "DCUTDTC", "SDTIGVER",
                "SDTMVER", "ACTSUB"}
    assert expected <= set(ts["TSPARMCD"])
    value = dict(zip(ts["TSPARMCD"], ts["TSVAL"]))
    assert value["SSTDTC"] == dm["RFICDTC"].str.slice(0, 10).min()
    assert value["ACTSUB"] == str(len(dm))
    coded = ts[ts["TSPARMCD"].isin(["TPHASE", "TBLIND", "INTMODEL", "STYPE", "SEXPOP"])]
    assert (coded["TSVALCD"].str.match(r"^C\d+$")).all() and (coded["TSVCDREF"] == "CDISC CT").all()
    # a parameter without a value says why
    pclas = ts[ts["TSPARMCD"] == "PCLAS"].iloc[0]
    assert pclas["TSVAL"] == "" and pclas["TSVALNF"] == "UNK"


# --- the runner and its stage lists ---------------------------------------------------------------------

class _Recorder:
    """Runner hook: the order of stage starts and ends."""

    def __init__(self):
        self.events = []

    def started(self, stage, ctx):
        self.events.append(("start", stage.name))

    def finished(self, stage, ctx):
        self.events.append(("end", stage.name))


def _main_stages(names):
    return [n for n in names if n not in ("check findings", "timestamp", "prepare output", "check output",
                                          "define.xml findings", "check ADaM")]


def test_build_and_report_are_stage_lists_over_one_runner():
    from sdtmgen.pipeline import build_stages
    from sdtmgen.report.build import report_stages

    assert _main_stages([s.name for s in build_stages()]) == [
        "load spec", "read raw", "map SDTM", "derive SDTM", "start SDTM files", "validate SDTM", "data review",
        "write SDTM", "SDTM define.xml", "lineage", "ADaM", "start ADaM files", "validate ADaM", "write ADaM", "results",
        "ADaM files", "ADaM define.xml", "reports", "package"]
    # the report shares the in-memory stages (no data review) and writes only its folder
    assert _main_stages([s.name for s in report_stages()]) == [
        "load spec", "read raw", "map SDTM", "derive SDTM", "validate SDTM", "SDTM datasets", "ADaM", "results",
        "package"]


def test_the_runner_checks_declared_inputs_and_outputs():
    from sdtmgen.runner import RunContext, Runner, Stage

    class Gives(Stage):
        name, gives = "gives", ("a",)

        def run(self, ctx):
            ctx["a"] = 1

    class Needs(Stage):
        name, needs, drops = "needs", ("a",), ("a",)

        def run(self, ctx):
            ctx["seen"] = ctx["a"]

    class Forgets(Stage):
        name, gives = "forgets", ("b",)

        def run(self, ctx):
            pass

    with pytest.raises(ValueError, match="stage 'needs' needs a, which no earlier stage gives"):
        Runner([Needs(), Gives()])
    with pytest.raises(ValueError, match="stage 'needs' needs a"):
        Runner([Gives(), Needs(), Needs()])  # dropped by the first
    hooks = _Recorder()
    ctx = Runner([Gives(), Needs()], [hooks]).run(RunContext(spec=None))
    assert ctx.values == {"seen": 1}  # "a" dropped after the stage that declared it
    assert hooks.events == [("start", "gives"), ("end", "gives"), ("start", "needs"), ("end", "needs")]
    with pytest.raises(RuntimeError, match="stage 'forgets' did not give b"):
        Runner([Forgets()], [hooks]).run(RunContext(spec=None))
    assert hooks.events[-1] == ("end", "forgets")  # hooks see the end of a failing stage too


def test_hooks_see_every_build_stage_and_the_build_is_unchanged(built, tmp_path, spec_folder, example_raw):
    from sdtmgen.pipeline import build_stages

    out, summary = built
    hooks = _Recorder()
    again = build(spec_folder, example_raw, tmp_path / "hooked", hooks=[hooks])
    names = [s.name for s in build_stages()]
    assert hooks.events == [(kind, n) for n in names for kind in ("start", "end")]
    assert again.records == summary.records


def test_a_bad_report_yaml_stops_the_build_before_any_raw_data_is_read(spec_copy, tmp_path, example_raw):
    from sdtmgen.errors import SpecError

    report = spec_copy / "report.yaml"
    report.write_text(report.read_text().replace("proportion_conf_level: 0.95", "proportion_conf_level: 2"))
    hooks = _Recorder()
    with pytest.raises(SpecError, match="report.yaml") as stop:
        build(spec_copy, example_raw, tmp_path / "out", hooks=[hooks])
    assert "proportion_conf_level" in str(stop.value)
    assert ("start", "read raw") not in hooks.events and hooks.events[-1] == ("end", "load spec")
    assert not (tmp_path / "out").exists()
