"""The example study simulated as CSV forms, one ODM file and a REDCap project builds byte-identical
SDTM and ADaM datasets."""

import re
import shutil
from pathlib import Path

from sdtmgen.pipeline import build
from sdtmgen.raw import read_form
from sdtmgen.raw_export import RawExport
from sdtmgen.simulate import load_simulation_params, simulate_study
from sdtmgen.spec.loader import load_spec

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_odm_and_redcap_exports_build_the_same_xpt_files_as_csv(tmp_path):
    params = load_simulation_params(SPECS / "simulation.yaml")
    counts = simulate_study(params, n_subjects=9, seed=7, out_dir=tmp_path / "csv")
    for fmt in ("odm", "redcap"):
        assert simulate_study(params, n_subjects=9, seed=7, out_dir=tmp_path / fmt, fmt=fmt) == counts
    xml = tmp_path / "odm" / "export.xml"
    # the REDCap project names its fields <form>_<column> and labels them with the column: detected, the
    # spec does not change (columns: auto); naming the field names instead changes the forms' columns
    field_specs = tmp_path / "specs-redcap"
    shutil.copytree(SPECS, field_specs)
    study = field_specs / "study.yaml"
    text, replaced = re.subn(r"(?m)^  raw: .*$", "  raw: {format: redcap, path: ../redcap, options: {columns: field}}",
                             study.read_text())
    assert replaced == 1
    study.write_text(text)
    assert "ae_aeterm" in RawExport(tmp_path / "redcap", load_spec(field_specs).study.raw_source).read("ae")
    odm = RawExport(xml)  # format detected from the file
    for form in counts:  # every form, cell for cell, as the CSV reader reads it
        csv = read_form(tmp_path / "csv" / f"{form}.csv").frame
        assert odm.read(form)[list(csv.columns)].equals(csv), form
    outputs = {}
    for kind, specs, raw in (("csv", SPECS, tmp_path / "csv"), ("odm", SPECS, xml),
                             ("redcap", SPECS, tmp_path / "redcap")):
        summary = build(specs, raw, tmp_path / f"out-{kind}")
        outputs[kind] = {p.relative_to(summary.out): p.read_bytes() for p in sorted(summary.out.rglob("*.xpt"))}
    assert len(outputs["csv"]) >= 10
    for kind in ("odm", "redcap"):
        assert outputs[kind].keys() == outputs["csv"].keys()
        assert [name for name in outputs["csv"] if outputs["csv"][name] != outputs[kind][name]] == [], kind
