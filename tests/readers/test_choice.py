"""How the reader is chosen: study.yaml's raw (a folder, or {format, path, options}) and detection."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from sdtmgen.cli import main
from sdtmgen.errors import RawDataError
from sdtmgen.raw_export import RawExport
from sdtmgen.readers import detect
from sdtmgen.spec.models import RawSource, StudySpec


PARAMS = Path(__file__).resolve().parents[2] / "specs" / "simulation.yaml"


def _study(raw):
    return {"studyid": "S1", "title": "t", "sponsor": "s", "raw": raw, "visits": []}


def test_raw_is_a_folder_or_a_reader_choice():
    plain = StudySpec.model_validate(_study("../examples/raw"))
    assert plain.raw_path == "../examples/raw" and plain.raw_source is None
    chosen = StudySpec.model_validate(_study({"format": "redcap", "path": "../edc", "options": {"columns": "label"}}))
    assert chosen.raw_path == "../edc" and chosen.raw_source.format == "redcap"
    assert chosen.raw_source.options == {"columns": "label"}
    with pytest.raises(ValidationError, match="format"):
        StudySpec.model_validate(_study({"format": "spss", "path": "x"}))
    with pytest.raises(ValidationError, match="extra"):
        StudySpec.model_validate(_study({"path": "x", "delimiter": ";"}))


def test_detection_and_a_wrong_choice(tmp_path):
    (tmp_path / "dm.csv").write_text("SUBJECT\n01-001\n")
    assert detect(tmp_path) == "csv"
    assert RawExport(tmp_path).read("dm")["SUBJECT"].tolist() == ["01-001"]
    with pytest.raises(RawDataError, match="not a raw export sdtmgen can detect"):
        detect(tmp_path / "dm.csv")
    with pytest.raises(RawDataError, match="expected one REDCap data dictionary, found 0"):
        RawExport(tmp_path, RawSource(format="redcap", path="."))
    with pytest.raises(RawDataError, match="expected one ODM XML file, found 0"):
        RawExport(tmp_path, RawSource(format="odm", path="."))


def test_simulate_writes_each_format(tmp_path):
    runner = CliRunner()
    for fmt, files in (("odm", ["export.xml"]), ("redcap", ["data.csv", "dictionary.csv", "event.csv"])):
        result = runner.invoke(main, ["simulate", "--subjects", "2", "--seed", "3", "--format", fmt,
                                      "--out", str(tmp_path / fmt), "--params", str(PARAMS)])
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (tmp_path / fmt).iterdir()) == files
        assert detect(tmp_path / fmt if fmt == "redcap" else tmp_path / fmt / "export.xml") == fmt
