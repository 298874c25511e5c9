"""The example study simulated as CSV forms and as one ODM file builds byte-identical SDTM datasets."""

from pathlib import Path

from sdtmgen.pipeline import build
from sdtmgen.raw import RawExport, read_form
from sdtmgen.simulate import load_simulation_params, simulate_study

SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_odm_export_builds_the_same_xpt_files_as_csv(tmp_path):
    params = load_simulation_params(SPECS / "simulation.yaml")
    counts = simulate_study(params, n_subjects=9, seed=7, out_dir=tmp_path / "csv")
    assert simulate_study(params, n_subjects=9, seed=7, out_dir=tmp_path / "odm", fmt="odm") == counts
    xml = tmp_path / "odm" / "export.xml"
    odm = RawExport(xml)  # format detected from the file
    for form in counts:  # every form, cell for cell, as the CSV reader reads it
        csv = read_form(tmp_path / "csv" / f"{form}.csv").frame
        assert odm.read(form)[list(csv.columns)].equals(csv), form
    outputs = {}
    for kind, raw in (("csv", tmp_path / "csv"), ("odm", xml)):
        summary = build(SPECS, raw, tmp_path / f"out-{kind}")
        outputs[kind] = {p.name: p.read_bytes() for p in sorted(summary.out.rglob("*.xpt"))}
    assert len(outputs["csv"]) >= 10
    assert outputs["odm"].keys() == outputs["csv"].keys()
    different = [name for name in outputs["csv"] if outputs["csv"][name] != outputs["odm"][name]]
    assert not different
