"""ADaM end to end on the example study: files, validation, ADTTE rules, and a spec-only threshold change."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyreadstat
import pytest

from sdtmgen.adam.build import build_adam, run_adam_derivations, validate_adam
from sdtmgen.errors import SpecError
from sdtmgen.pipeline import build
from sdtmgen.sdtm.build import build_sdtm
from sdtmgen.spec.loader import load_spec
from sdtmgen.spec.models import AdamDatasetSpec

ADAM = {"adsl", "adae", "adlb", "adtte"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory, spec_folder, example_raw) -> Path:
    if example_raw.is_dir():
        return example_raw
    from sdtmgen.simulate import load_simulation_params, simulate_study

    folder = tmp_path_factory.mktemp("raw")
    simulate_study(load_simulation_params(spec_folder / "simulation.yaml"), 9, 1, folder)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory, spec_folder, raw):
    """The default build, minus the results report (not ours, and slow): the spec copied without report.yaml
    (its standards ship with the package, so nothing needs to sit beside the copy)."""
    root = tmp_path_factory.mktemp("adam")
    (root / "work").mkdir()
    specs = root / "work" / "specs"
    shutil.copytree(spec_folder, specs)
    (specs / "report.yaml").unlink(missing_ok=True)
    out = root / "out"
    summary = build(specs, raw, out)
    read = {name: pyreadstat.read_xport(str(out / "adam" / f"{name}.xpt")) for name in ADAM}
    lb, _ = pyreadstat.read_xport(str(out / "sdtm" / "lb.xpt"))
    return out, summary, read, lb


@pytest.fixture(scope="module")
def in_memory(spec_folder, raw):
    spec = load_spec(spec_folder)
    sdtm = build_sdtm(spec, raw)
    untouched = {name: frame.copy() for name, frame in sdtm.datasets.items()}
    result = build_adam(spec, sdtm.datasets)
    assert set(untouched) == set(sdtm.datasets) and all(untouched[n].equals(f) for n, f in sdtm.datasets.items()), \
        "build_adam must only read the SDTM datasets"
    return spec, sdtm.datasets, result


def sas_format(text: str) -> tuple[str, int, int]:
    """A SAS format as (name, width, decimals): "DATE9", "DATE9." and "date9." are the same format."""
    match = re.fullmatch(r"(\$?[A-Z_]*?)(\d*)\.?(\d*)", text.strip().upper())
    assert match, f"not a SAS format: {text!r}"
    name, width, decimals = match.groups()
    return name, int(width or 0), int(decimals or 0)


def test_default_build_writes_the_adam_datasets(built):
    out, summary, read, _ = built
    assert {p.stem for p in (out / "adam").glob("*.xpt")} == ADAM
    for name, (frame, meta) in read.items():
        assert meta.table_name == name.upper() and len(frame) == summary.records[name.upper()] > 0
    adsl, meta = read["adsl"]
    assert len(adsl) == 9 and adsl["USUBJID"].is_unique
    # pyreadstat spells a format "DATE9" in some releases and "DATE9." in others: compare its meaning
    assert sas_format(meta.original_variable_types["TRTSDT"]) == ("DATE", 9, 0)
    # pyreadstat turns DATE9. numbers back into dates: SAS dates count days from 1960-01-01
    assert adsl["CHEMSDT"].notna().all() and (adsl["TRTSDT"] > adsl["CHEMSDT"]).all()


def test_adam_datasets_pass_their_generated_schemas(built, in_memory):
    out, _, _, _ = built
    report = json.loads((out / "reports" / "conformance.json").read_text())
    assert not [f for f in report["findings"] if f["dataset"] in {n.upper() for n in ADAM} and f["severity"] == "error"]
    spec, _, result = in_memory
    assert not [f for f in validate_adam(result, spec.terminology) if f.severity == "error"]
    broken = result.datasets["ADSL"].copy()
    broken.loc[0, "USUBJID"] = pd.NA
    bad = SimpleNamespace(datasets={"ADSL": broken}, specs={"ADSL": result.specs["ADSL"]}, findings=[])
    assert "SCH-REQUIRED" in {f.rule for f in validate_adam(bad, spec.terminology)}


def test_adtte_aval_is_days_from_start_on_every_record(in_memory):
    tte = in_memory[2].datasets["ADTTE"]
    assert len(tte) > 0 and tte["CNSR"].isin([0.0, 1.0]).all()
    assert (tte["AVAL"] == tte["ADT"] - tte["STARTDT"] + 1).all()
    adsl = in_memory[2].datasets["ADSL"].set_index("USUBJID")
    assert (tte["STARTDT"].to_numpy() == tte["USUBJID"].map(adsl["CHEMSDT"]).to_numpy()).all()


def test_every_srcseq_points_at_an_lb_record_of_the_right_test(built, in_memory):
    _, _, read, lb = built
    spec = in_memory[0]
    lab_of = {e.paramcd: e.lab for e in spec.adam[[d.dataset for d in spec.adam].index("ADTTE")].derivations[0].endpoints}
    tte, _ = read["adtte"]
    keyed = lb.set_index(["USUBJID", "LBSEQ"])
    for row in tte.itertuples():
        assert (row.USUBJID, row.SRCSEQ) in keyed.index, row
        assert keyed.loc[(row.USUBJID, row.SRCSEQ), "LBTESTCD"] == lab_of[row.PARAMCD]
    adlb, _ = read["adlb"]
    assert adlb.set_index(["USUBJID", "SRCSEQ"]).index.isin(keyed.index).all()


def test_only_subjects_that_fell_below_a_threshold_have_a_record(in_memory):
    spec, _, result = in_memory
    recovery = next(d for d in spec.adam if d.dataset == "ADTTE").derivations[0]
    adlb, tte = result.datasets["ADLB"], result.datasets["ADTTE"]
    window = adlb[(adlb["ADY"] >= recovery.from_day) & (adlb["ADY"] <= recovery.to_day) & adlb["AVAL"].notna()]
    not_at_risk = 0
    for ep in recovery.endpoints:
        values = window[window["PARAMCD"] == ep.lab]
        fell = set(values.loc[values["AVAL"] < ep.threshold, "USUBJID"])
        assert set(tte.loc[tte["PARAMCD"] == ep.paramcd, "USUBJID"]) == fell, ep.paramcd
        not_at_risk += values["USUBJID"].nunique() - len(fell)
    assert not_at_risk > 0, "the example should have subjects who never fall below some threshold"


def test_a_threshold_changed_in_a_copied_spec_changes_adtte(in_memory, spec_folder, tmp_path):
    _, sdtm, default = in_memory
    copy = tmp_path / "specs"
    shutil.copytree(spec_folder, copy)
    path = copy / "adam" / "adtte.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("threshold: 0.5\n") == 1
    path.write_text(text.replace("threshold: 0.5\n", "threshold: 1.0\n"), encoding="utf-8")
    changed = build_adam(load_spec(copy), sdtm).datasets["ADTTE"]
    cols = ["USUBJID", "ADT", "CNSR", "SRCSEQ"]
    before = default.datasets["ADTTE"]
    new05 = changed[changed["PARAMCD"] == "ANCREC05"][cols].reset_index(drop=True)
    old05 = before[before["PARAMCD"] == "ANCREC05"][cols].reset_index(drop=True)
    old10 = before[before["PARAMCD"] == "ANCREC10"][cols].reset_index(drop=True)
    assert not new05.equals(old05)
    pd.testing.assert_frame_equal(new05, old10)


def test_adam_matches_its_sdtm_sources(in_memory):
    _, sdtm, result = in_memory
    adae, adlb = result.datasets["ADAE"], result.datasets["ADLB"]
    assert len(adae) == len(sdtm["AE"]) and adae.groupby("USUBJID")["ASEQ"].apply(
        lambda s: s.tolist() == list(range(1, len(s) + 1))).all()
    assert set(adlb["PARAMCD"]) == {"NEUT", "PLAT", "HGB", "WBC", "LYM"}
    assert (adlb.groupby(["USUBJID", "PARAMCD"])["ABLFL"].count() == 1).all()
    assert adlb["ATOXGR"].notna().any(), "CTCAE grades come from standards.ctcae"


def _ds(name, steps):
    return AdamDatasetSpec.model_validate({
        "dataset": name, "label": name, "class": "X", "structure": "x", "keys": ["USUBJID"], "derivations": steps,
        "variables": [{"name": "USUBJID", "label": "Unique Subject Identifier", "type": "Char", "core": "Req"}]})


def test_a_cycle_between_datasets_is_a_spec_error():
    dm = pd.DataFrame({"USUBJID": ["A"]})
    one = _ds("ADONE", [{"derive": "source_records", "dataset": "DM"},
                        {"derive": "merge_subject", "dataset": "ADTWO", "variables": ["Y"]},
                        {"derive": "constant", "values": {"X": "x"}}])
    two = _ds("ADTWO", [{"derive": "source_records", "dataset": "DM"},
                        {"derive": "merge_subject", "dataset": "ADONE", "variables": ["X"]},
                        {"derive": "constant", "values": {"Y": "y"}}])
    spec = SimpleNamespace(adam=[one, two], folder=".", study=SimpleNamespace())
    with pytest.raises(SpecError, match="can never run"):
        run_adam_derivations(spec, {"DM": dm}, [])
