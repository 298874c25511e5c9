"""The simulation spec loads into a strict model; unknown keys and dangling references are errors."""

from __future__ import annotations

import pytest
import yaml

from sdtmgen.errors import SpecError
from sdtmgen.simulate import SimulationParams, load_simulation_params, simulate_study


def _spec(root) -> dict:
    return yaml.safe_load((root / "specs" / "simulation.yaml").read_text(encoding="utf-8"))


def test_spec_loads(params):
    assert isinstance(params, SimulationParams)
    assert [d.dose for d in params.dose_levels] == sorted(d.dose for d in params.dose_levels)
    assert params.infusion.chemo_day == 7 and params.chemotherapy.days == [1, 3, 5]


def test_unknown_key_is_rejected(root, tmp_path):
    data = _spec(root)
    data["study"]["sponsor"] = "nobody"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SpecError, match="study.sponsor"):
        load_simulation_params(path)


def test_dangling_reference_is_rejected(root):
    data = _spec(root)
    data["adverse_events"][0]["term"] = "no_such_term"
    with pytest.raises(ValueError, match="no_such_term"):
        SimulationParams.model_validate(data)


def test_missing_treatment_visit_is_rejected(root):
    data = _spec(root)
    data["visits"] = [v for v in data["visits"] if v["name"] != "Day 20"]
    with pytest.raises(ValueError, match="20"):
        SimulationParams.model_validate(data)


def test_spec_changes_reach_the_output(root, tmp_path):
    data = _spec(root)
    data["study"]["site_number"] = "07"
    data["dose_levels"] = [{"name": "Level A", "dose": 10, "unit": "ug/kg"}, {"name": "Level B", "dose": 30, "unit": "ug/kg"}]
    data["adverse_events"] = [a for a in data["adverse_events"] if a["name"] != "dose-limiting infusion reaction"]
    simulate_study(data, n_subjects=7, seed=1, out_dir=tmp_path)
    dm = (tmp_path / "dm.csv").read_text(encoding="utf-8").splitlines()
    assert dm[1].startswith("07-001,07,")
    cohorts = [line.rsplit(",", 1)[1] for line in dm[1:]]
    assert cohorts == ["Level A"] * 3 + ["Level B"] * 3 + ["Level A"]


def test_bad_subject_count(params, tmp_path):
    with pytest.raises(ValueError):
        simulate_study(params, n_subjects=0, seed=1, out_dir=tmp_path)


def test_atc_class_text_and_level2_code_are_one_to_one(root):
    # the export writes ATCCLAS text and its level-2 code; one code with two texts would make
    # CMCLAS/CMCLASCD many-to-one (CORE-000792)
    data = _spec(root)
    data["chemotherapy"]["atc_class"] = "ANTIMETABOLITES"  # level 3 text under the level-2 code L01
    data["medications"]["x"] = {**next(iter(data["medications"].values())), "atc_code": "L01XX01",
                                "atc_class": "ANTINEOPLASTIC AGENTS"}
    with pytest.raises(ValueError, match="L01"):
        SimulationParams.model_validate(data)
