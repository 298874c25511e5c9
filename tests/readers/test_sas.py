"""SAS datasets (.sas7bdat, .xpt) as the raw export: the example export written as SAS datasets, with
complete dates, times and numbers stored as SAS numerics, builds byte-identical SDTM and ADaM files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from sdtmgen.errors import RawDataError
from sdtmgen.pipeline import build
from sdtmgen.raw import read_form
from sdtmgen.raw_export import RawExport
from sdtmgen.readers import detect
from sdtmgen.readers.sas import render_numeric
from sdtmgen.spec.models import RawSource

SAS_DAY0 = pd.Timestamp("1960-01-01")


def _as_sas(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """A raw form as a SAS dataset would hold it: a column whose every value is a complete date
    (DD MON YYYY) becomes a SAS date (DATE9.), HH:MM a SAS time (TIME5.), a number that reads back
    the same a SAS numeric; the rest stays character. Empty -> SAS missing."""
    out, formats = {}, {}
    for name in frame.columns:
        if name.startswith("_"):
            continue
        text = frame[name].astype(str)
        filled = text[text != ""]
        as_float = pd.to_numeric(text.where(text != ""), errors="coerce")
        dates = pd.to_datetime(filled.str.title(), format="%d %b %Y", errors="coerce")
        if len(filled) and dates.notna().all():
            parsed = pd.to_datetime(text.str.title().replace("", None), format="%d %b %Y")
            out[name] = ((parsed - SAS_DAY0).dt.days).astype("float64")
            formats[name] = "DATE9."
        elif len(filled) and filled.str.fullmatch(r"\d\d:\d\d").all():
            clock = text.where(text != "")
            out[name] = pd.to_numeric(clock.str[:2]) * 3600 + pd.to_numeric(clock.str[3:5]) * 60
            formats[name] = "TIME5."
        elif len(filled) and as_float[text != ""].notna().all() and \
                (render_numeric(as_float.to_numpy(), None) == text.to_numpy()).all():
            out[name] = as_float.astype("float64")
        else:
            out[name] = text
    return pd.DataFrame(out), formats


@pytest.fixture(scope="module")
def sas_export(tmp_path_factory, example_raw):
    """The example export as SAS datasets: odd forms as .xpt (version 8: long names), even as .sas7bdat."""
    folder = tmp_path_factory.mktemp("sas")
    kinds = {}
    for i, path in enumerate(sorted(example_raw.glob("*.csv"))):
        frame, formats = _as_sas(read_form(path).frame)
        if i % 2:
            pyreadstat.write_xport(frame, str(folder / f"{path.stem}.xpt"), file_format_version=8,
                                   variable_format=formats, table_name=path.stem.upper()[:8])
        else:
            pyreadstat.write_sas7bdat(frame, str(folder / f"{path.stem.upper()}.sas7bdat"), variable_format=formats)
        kinds.update({f"{path.stem}:{k}": v for k, v in formats.items()})
    return folder, kinds


def test_sas_forms_read_as_the_csv_forms(sas_export, example_raw):
    folder, kinds = sas_export
    # the export really stores dates, times and numbers as SAS numerics
    assert {"DATE9.", "TIME5."} <= set(kinds.values()) and "dm:BRTHDAT" in kinds and "hem:LBTIM" in kinds
    assert detect(folder) == "sas"
    raw = RawExport(folder)
    assert sorted(raw.reader_forms()) == sorted(p.stem for p in example_raw.glob("*.csv"))
    for path in sorted(example_raw.glob("*.csv")):
        csv = read_form(path).frame
        sas = raw.read(path.stem)
        assert sas[list(csv.columns)].equals(csv), path.stem
        assert sas["_ROW"].tolist() == list(range(1, len(csv) + 1))  # observation numbers
        assert sas["_FILE"].iloc[0] in (f"{path.stem}.xpt", f"{path.stem.upper()}.sas7bdat")


def test_sas_export_builds_the_same_sdtm_and_adam_files(sas_export, example_raw, spec_folder, tmp_path):
    folder, _ = sas_export
    outputs = {}
    for kind, raw in (("csv", example_raw), ("sas", folder)):
        summary = build(spec_folder, raw, tmp_path / f"out-{kind}")
        outputs[kind] = {p.relative_to(summary.out): p.read_bytes() for p in sorted(summary.out.rglob("*.xpt"))}
    assert len(outputs["csv"]) >= 15 and any(p.parts[0] == "adam" for p in outputs["csv"])
    assert outputs["sas"].keys() == outputs["csv"].keys()
    assert [name for name in outputs["csv"] if outputs["csv"][name] != outputs["sas"][name]] == []
    recon = (tmp_path / "out-sas" / "reports" / "reconciliation.csv").read_text()
    assert "AE.sas7bdat" in recon and "hem.xpt" in recon  # lineage names the SAS files
    lineage = pd.read_csv(tmp_path / "out-sas" / "reports" / "lineage" / "dm.csv", dtype=str)
    assert set(lineage["raw_file"]) == {"DM.sas7bdat"} and lineage["raw_row"].astype(int).min() == 1


def test_sas_values_rendered_as_text():
    day = float((pd.Timestamp("2025-03-12") - SAS_DAY0).days)
    assert render_numeric(np.array([day, np.nan]), "DATE9.").tolist() == ["12 MAR 2025", ""]
    assert render_numeric(np.array([day]), "YYMMDD10.", dates="iso").tolist() == ["2025-03-12"]
    assert render_numeric(np.array([36000.0, 36005.0, np.nan]), "TIME8.").tolist() == ["10:00:00", "10:00:05", ""]
    assert render_numeric(np.array([36000.0]), "HHMM.").tolist() == ["10:00"]
    assert render_numeric(np.array([day * 86400 + 3600 * 9 + 60 * 30]), "DATETIME20.").tolist() == \
        ["2025-03-12T09:30"]
    assert render_numeric(np.array([3.0, 0.32, -0.0, 12.5, np.nan]), "BEST12.").tolist() == \
        ["3", "0.32", "0", "12.5", ""]


def test_sas_special_missing_values_are_empty(tmp_path):
    frame = pd.DataFrame({"SUBJECT": ["01-001", "01-002", ""], "AGE": [40.0, np.nan, np.nan]})
    pyreadstat.write_sas7bdat(frame, str(tmp_path / "dm.sas7bdat"), missing_user_values={"AGE": ["A"]})
    read = RawExport(tmp_path).read("dm")
    assert read["SUBJECT"].tolist() == ["01-001", "01-002", ""] and read["AGE"].tolist() == ["40", "", ""]


def test_sas_bad_input_is_named(tmp_path):
    (tmp_path / "dm.xpt").write_bytes(b"HEADER RECORD*******LIBRARY but not really a transport file" * 3)
    (tmp_path / "ae.sas7bdat").write_bytes(b"\x00" * 100)
    raw = RawExport(tmp_path, RawSource(format="sas", path="."))
    with pytest.raises(RawDataError, match=r"dm\.xpt: not a readable SAS transport") as bad:
        raw.read("dm")
    assert bad.value.file == "dm.xpt"
    with pytest.raises(RawDataError, match=r"ae\.sas7bdat: not a readable SAS dataset"):
        raw.read("ae")
    with pytest.raises(RawDataError, match=re.escape("raw form 'vs' not found: expected vs.sas7bdat or vs.xpt")):
        raw.read("vs")
    pyreadstat.write_xport(pd.DataFrame({"A": ["x"]}), str(tmp_path / "AE.xpt"))
    with pytest.raises(RawDataError, match="form ae is given twice"):
        RawExport(tmp_path, RawSource(format="sas", path="."))
    with pytest.raises(RawDataError, match="given as their folder"):
        RawExport(tmp_path / "dm.xpt", RawSource(format="sas", path="."))


def test_sas_missing_form_fails_the_build_naming_it(sas_export, spec_folder, tmp_path):
    folder, _ = sas_export
    partial = tmp_path / "partial"
    partial.mkdir()
    for path in folder.iterdir():
        if path.stem.lower() != "vs":
            (partial / path.name).write_bytes(path.read_bytes())
    from sdtmgen.errors import BuildError
    with pytest.raises(BuildError) as failed:
        build(spec_folder, partial, tmp_path / "out")
    messages = [f.message for f in failed.value.findings if f.severity == "error"]
    assert any("raw form 'vs' not found: expected vs.sas7bdat or vs.xpt" in m for m in messages), messages
    assert not (tmp_path / "out").exists()
