"""Empty and tiny studies: a form reduced to its header row, a study with no AEs, a one-subject export.

A header-only form is a form with nothing collected (no AEs, no exposure yet): it gives 0-record
datasets, written as valid XPT files with their define.xml entries, and results of 0/N; it never
ends in an internal error.
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.errors import SdtmgenError
from sdtmgen.xpt.reader import read_xpt_columns

ROOT = Path(__file__).resolve().parents[1]
FORMS = sorted(p.stem for p in (ROOT / "examples" / "raw").glob("*.csv"))

#: every form but dm.csv reduced to its header: subjects enrolled, nothing else collected yet
ONLY_DM = "all-but-dm"

#: forms without which the study cannot be built, and the rule that says so
STOPS_WITHOUT = {"dm": "XD-SUBJ-DM"}  # every other form's subjects are then missing from DM


def header_only(raw: Path, form: str) -> None:
    path = raw / f"{form}.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def copy_example(tmp: Path, example_raw: Path) -> Path:
    raw = tmp / "raw"
    shutil.copytree(example_raw, raw)
    return raw


def xpt_records(path: Path) -> int:
    """Records of an XPT file, read by pyreadstat and by the project's reader (which must agree)."""
    frame, meta = pyreadstat.read_xport(str(path))
    ours, our_meta = read_xpt_columns(path)
    assert len(frame) == len(ours) == our_meta.number_rows, path
    assert list(frame.columns) == list(ours.columns) == our_meta.column_names, path
    return len(frame)


def define_datasets(define: Path) -> set[str]:
    return set(re.findall(r'<ItemGroupDef OID="IG\.([A-Z0-9]+)"', define.read_text(encoding="utf-8")))


def ard_counts(ard: pd.DataFrame, analysis: str, stat: str) -> pd.Series:
    rows = ard[(ard["analysis"] == analysis) & (ard["stat_name"] == stat) & (ard["variable"] == "ANY")]
    return rows.set_index("group1_level")["stat"].astype(int)


@pytest.fixture(scope="module")
def full_analyses(spec, example_raw) -> set[str]:
    """The analyses of the example's results, every form complete."""
    from sdtmgen.adam.build import build_adam
    from sdtmgen.report.build import make_report, report_datasets
    from sdtmgen.spec.loader import load_report_config
    from sdtmgen.sdtm.build import build_sdtm

    sdtm = build_sdtm(spec, example_raw)
    adam = build_adam(spec, sdtm.datasets)
    report = make_report(report_datasets(sdtm.datasets, adam.datasets), load_report_config(spec.folder), draw=False)
    return set(report.ard["analysis"])


@pytest.mark.parametrize("form", FORMS + [ONLY_DM])
def test_every_form_reduced_to_its_header_builds_or_stops_with_a_data_error(form, tmp_path, spec_folder,
                                                                           example_raw, spec, full_analyses,
                                                                           monkeypatch):
    from sdtmgen import pipeline
    from sdtmgen.report import build as report_build

    # the figures are drawn by the zero-AE and one-subject builds below; here only the results
    monkeypatch.setattr(report_build, "make_report", functools.partial(report_build.make_report, draw=False))
    raw = copy_example(tmp_path, example_raw)
    emptied = [f for f in FORMS if f != "dm"] if form == ONLY_DM else [form]
    for name in emptied:
        header_only(raw, name)
    out = tmp_path / "out"
    if form in STOPS_WITHOUT:
        with pytest.raises(SdtmgenError) as stop:
            pipeline.build(spec_folder, raw, out)
        assert {f.rule for f in stop.value.findings if f.severity == "error"} == {STOPS_WITHOUT[form]}
        assert not out.exists()
        return
    summary = pipeline.build(spec_folder, raw, out)
    fed_only_by_emptied = [d.domain for d in spec.domains if d.sources and {s.form for s in d.sources} <= set(emptied)]
    assert fed_only_by_emptied or form in ("cm", "chemo", "ds", "ic", "transfusion")  # each feeds a domain with others
    for name in fed_only_by_emptied:
        assert summary.records[name] == 0, name
    counts = pd.read_csv(out / "reports" / "reconciliation.csv")
    for name in emptied:
        assert (counts["form"] == f"{name}.csv").any() and (counts.loc[counts["form"] == f"{name}.csv", "rows_read"] == 0).all()
    for package in ("sdtm", "adam"):
        written = {p.stem.upper(): p for p in (out / package).glob("*.xpt")}
        assert define_datasets(out / package / "define.xml") == set(written)
        for name, path in written.items():
            assert xpt_records(path) == summary.records[name], name
    ard = pd.read_csv(out / "report" / "ard.csv", dtype=str, keep_default_na=False)
    if form == ONLY_DM:
        assert summary.records["DM"] == summary.records["ADSL"] == 9 and summary.records["ADAE"] == 0
        return
    missing = sorted(set(full_analyses) - set(ard["analysis"]))
    assert not missing, f"results that disappeared instead of reading 0/N: {missing}"


@pytest.fixture(scope="module")
def zero_ae_build(tmp_path_factory, spec_folder, example_raw) -> Path:
    """The example study with ae.csv reduced to its header, built by the command line."""
    tmp = tmp_path_factory.mktemp("zero_ae")
    raw = copy_example(tmp, example_raw)
    header_only(raw, "ae")
    out = tmp / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_zero_ae_study_writes_empty_ae_datasets_with_define_entries(zero_ae_build):
    out = zero_ae_build
    assert xpt_records(out / "sdtm" / "ae.xpt") == 0
    assert xpt_records(out / "adam" / "adae.xpt") == 0
    frame, meta = pyreadstat.read_xport(str(out / "sdtm" / "ae.xpt"))
    assert meta.table_name == "AE" and "AETERM" in frame.columns and "AESEQ" in frame.columns
    assert {"AE", "DM"} <= define_datasets(out / "sdtm" / "define.xml")
    assert "ADAE" in define_datasets(out / "adam" / "define.xml")
    assert xpt_records(out / "sdtm" / "dm.xpt") == 9


def test_zero_ae_study_reports_zero_of_n_for_ae_outcomes(zero_ae_build):
    ard = pd.read_csv(zero_ae_build / "report" / "ard.csv", dtype=str, keep_default_na=False)
    adsl, _ = pyreadstat.read_xport(str(zero_ae_build / "adam" / "adsl.xpt"))
    safety = adsl[adsl["SAFFL"] == "Y"]
    for analysis in ("AE.AWIN28FL", "AE.AWIN1YFL", "SAE.AWIN28FL", "SAE.AWIN1YFL"):
        n, big_n = ard_counts(ard, analysis, "n"), ard_counts(ard, analysis, "N")
        assert len(n) and (n == 0).all(), analysis
        by_group = safety.groupby("TRT01P").size()
        for group, count in by_group.items():
            assert big_n[group] == count, (analysis, group)
    html = (zero_ae_build / "report" / "report.html").read_text(encoding="utf-8")
    assert re.search(r"Subjects with any AE</td><td>0/3 \(0%\)", html)  # 0% and 100% without decimals


@pytest.fixture(scope="module")
def one_subject_build(tmp_path_factory, spec_folder, example_raw) -> tuple[Path, str]:
    """Every form of the example reduced to the rows of its first subject, built by the command line."""
    tmp = tmp_path_factory.mktemp("one_subject")
    raw = copy_example(tmp, example_raw)
    subject = pd.read_csv(raw / "dm.csv", dtype=str, keep_default_na=False)["SUBJECT"].iloc[0]
    for path in raw.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame[frame["SUBJECT"] == subject].to_csv(path, index=False, lineterminator="\n")
    out = tmp / "out"
    result = CliRunner().invoke(main, ["build", "--spec", str(spec_folder), "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, subject


def test_one_subject_export_builds(one_subject_build):
    out, subject = one_subject_build
    dm, _ = pyreadstat.read_xport(str(out / "sdtm" / "dm.xpt"))
    assert len(dm) == 1 and dm["SUBJID"].iloc[0] == subject
    adsl, _ = pyreadstat.read_xport(str(out / "adam" / "adsl.xpt"))
    assert len(adsl) == 1
    for path in (out / "sdtm").glob("*.xpt"):
        frame, _ = pyreadstat.read_xport(str(path))
        if "USUBJID" in frame.columns and len(frame):
            assert set(frame["USUBJID"]) == set(dm["USUBJID"]), path.name
    ard = pd.read_csv(out / "report" / "ard.csv", dtype=str, keep_default_na=False)
    big_n = ard_counts(ard, "AE.AWIN28FL", "N")
    assert big_n[adsl["TRT01P"].iloc[0]] == 1
    assert (out / "report" / "report.html").is_file() and list((out / "report" / "plots").glob("*.png"))


def _no_chunks():
    import pyarrow as pa

    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([], pa.large_string())))


@pytest.mark.parametrize("text", [_no_chunks, lambda: pd.Series([], dtype="string[pyarrow]"),
                                  lambda: pd.Series([], dtype=object)], ids=["no-chunks", "arrow", "object"])
def test_xpt_of_zero_records_reads_back(tmp_path, text):
    """A 0-row text column (Arrow-backed: possibly a chunked array of no chunks) gives a valid XPT file."""
    from sdtmgen.xpt import XptVariable, write_xpt

    frame = pd.DataFrame({"USUBJID": text(), "AESEQ": pd.Series([], dtype="float64")})
    path = tmp_path / "ae.xpt"
    write_xpt(path, frame, dataset_name="AE", dataset_label="Adverse Events",
              variables=[XptVariable(name="USUBJID", label="Unique Subject Identifier", type="Char", length=20),
                         XptVariable(name="AESEQ", label="Sequence Number", type="Num")])
    assert xpt_records(path) == 0
    _, meta = pyreadstat.read_xport(str(path))
    assert meta.table_name == "AE" and meta.variable_storage_width == {"USUBJID": 20, "AESEQ": 8}


def test_zero_ae_defines_validate_against_the_define_2_1_schema(zero_ae_build, reference):
    """The 0-record AE/ADAE entries (no value-level metadata, no data-driven codelist values) stay
    valid Define-XML 2.1, by CDISC's own schema."""
    from lxml import etree

    path = reference / "define-xml-2.1" / "schema" / "cdisc-define-2.1" / "define2-1-0.xsd"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    arm = reference / "define-xml-2.1" / "schema" / "cdisc-arm-1.0" / "arm1-0-0.xsd"
    for package, xsd in (("sdtm", path), ("adam", arm)):  # the ADaM define carries Analysis Results Metadata
        schema = etree.XMLSchema(etree.parse(str(xsd)))
        document = etree.parse(str(zero_ae_build / package / "define.xml"))
        assert schema.validate(document), (package, schema.error_log)
