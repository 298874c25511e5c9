"""Dataset-JSON 1.1 / NDJSON output of the example build: valid, same values as the XPT, same OIDs as define.xml."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyreadstat
import pytest
from lxml import etree

from sdtmgen.dataset_json import iso_to_sas, write_dataset_json
from sdtmgen.define_xml.oids import XPATH_NS
from sdtmgen.pipeline import build

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def package(tmp_path_factory, spec_folder, example_raw) -> Path:
    # the same folder tests/define_xml/conftest.py builds: one build per session for both
    out = tmp_path_factory.getbasetemp() / "example-package-all-formats"
    if not (out / "manifest.json").is_file():
        build(spec_folder, example_raw, out, formats="all")
    return out


@pytest.fixture(scope="module")
def dataset_schema(reference) -> dict:
    path = reference / "dataset-json-1.1" / "dataset.schema.json"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return json.loads(path.read_text(encoding="utf-8"))


def folders(package: Path) -> list[Path]:
    return [package / kind for kind in ("sdtm", "adam") if (package / kind).is_dir()]


def xpt_files(package: Path) -> list[Path]:
    files = [p for folder in folders(package) for p in sorted(folder.glob("*.xpt"))]
    assert files
    return files


def test_every_dataset_json_validates_against_the_schema(package, dataset_schema):
    validator = jsonschema.Draft201909Validator(dataset_schema)
    for xpt in xpt_files(package):
        doc = json.loads(xpt.with_suffix(".json").read_text(encoding="utf-8"))
        errors = sorted(validator.iter_errors(doc), key=str)
        assert not errors, f"{xpt.stem}.json: {errors[0].message}"
        assert doc["records"] == len(doc["rows"])


def test_the_schema_check_can_fail(dataset_schema):
    validator = jsonschema.Draft201909Validator(dataset_schema)
    assert list(validator.iter_errors({"datasetJSONVersion": "1.1.0", "name": "DM"}))


def test_ndjson_metadata_line_validates_and_rows_follow(package, dataset_schema):
    # the published NDJSON schema has a broken $ref (see ../shared/reference/README.md): line 1 is
    # checked against dataset.schema.json, which does not require rows; each further line is a Row
    validator = jsonschema.Draft201909Validator(dataset_schema)
    row_validator = jsonschema.Draft201909Validator({"$defs": dataset_schema["$defs"], "$ref": "#/$defs/Row"})
    for xpt in xpt_files(package):
        lines = xpt.with_suffix(".ndjson").read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        assert "rows" not in head
        errors = list(validator.iter_errors(head))
        assert not errors, f"{xpt.stem}.ndjson line 1: {errors[0].message}"
        assert len(lines) - 1 == head["records"]
        for line in lines[1:]:
            row = json.loads(line)
            assert not list(row_validator.iter_errors(row)) and len(row) == len(head["columns"])
        full = json.loads(xpt.with_suffix(".json").read_text(encoding="utf-8"))
        assert [json.loads(line) for line in lines[1:]] == full.pop("rows") and head == full


def _same(json_value, xpt_value, is_num: bool, kind: str | None) -> bool:
    if is_num:
        if json_value is None:
            return isinstance(xpt_value, float) and math.isnan(xpt_value)
        if kind:  # a SAS date/datetime/time written as ISO 8601 text (targetDataType integer)
            return iso_to_sas(json_value, kind) == float(xpt_value)
        return float(json_value) == float(xpt_value)
    return (json_value or "") == xpt_value


def test_dataset_json_reads_back_to_the_xpt_values(package):
    for xpt in xpt_files(package):
        frame, meta = pyreadstat.read_xport(str(xpt), disable_datetime_conversion=True)
        doc = json.loads(xpt.with_suffix(".json").read_text(encoding="utf-8"))
        assert [c["name"] for c in doc["columns"]] == meta.column_names
        assert doc["label"] == meta.file_label and doc["name"] == meta.table_name
        assert len(doc["rows"]) == len(frame), xpt.name
        for j, col in enumerate(doc["columns"]):
            is_num = meta.readstat_variable_types[col["name"]] == "double"
            assert col["label"] == meta.column_names_to_labels[col["name"]]
            if not is_num:
                assert col["length"] == meta.variable_storage_width[col["name"]], (xpt.name, col["name"])
            values = frame[col["name"]].tolist()
            kind = col["dataType"] if col.get("targetDataType") == "integer" else None
            assert kind is None or col["dataType"] in ("date", "datetime", "time") and col.get("displayFormat")
            bad = [i for i, row in enumerate(doc["rows"]) if not _same(row[j], values[i], is_num, kind)]
            assert not bad, f"{xpt.name} {col['name']} row {bad[0]}: {doc['rows'][bad[0]][j]!r} vs {values[bad[0]]!r}"
            if col["dataType"] == "double":
                assert all(isinstance(row[j], float) or row[j] is None for row in doc["rows"])


def test_item_oids_and_metadata_equal_define_xml(package):
    for folder in folders(package):
        define = etree.parse(str(folder / "define.xml"))
        study_oid = define.getroot().find("odm:Study", XPATH_NS).get("OID")
        mdv_oid = define.find(".//odm:MetaDataVersion", XPATH_NS).get("OID")
        items = {i.get("OID"): i for i in define.xpath("//odm:ItemDef", namespaces=XPATH_NS)}
        for path in sorted(folder.glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            group = define.xpath("//odm:ItemGroupDef[@OID=$o]", namespaces=XPATH_NS, o=doc["itemGroupOID"])[0]
            assert (doc["studyOID"], doc["metaDataVersionOID"], doc["metaDataRef"]) == (study_oid, mdv_oid, "define.xml")
            refs = group.findall("odm:ItemRef", XPATH_NS)
            assert [c["itemOID"] for c in doc["columns"]] == [r.get("ItemOID") for r in refs]
            for column, ref in zip(doc["columns"], refs):
                item = items[column["itemOID"]]
                assert column["name"] == item.get("Name")
                assert column.get("keySequence") == (int(ref.get("KeySequence")) if ref.get("KeySequence") else None)
                if item.get("Length") is not None and column["dataType"] == "string":
                    assert column["length"] == int(item.get("Length"))
                if item.get("{http://www.cdisc.org/ns/def/v2.1}DisplayFormat"):
                    assert column["displayFormat"] == item.get("{http://www.cdisc.org/ns/def/v2.1}DisplayFormat")
                if item.get("DataType") in ("integer", "float") and "targetDataType" not in column:
                    assert column["dataType"] == "double"  # the spec says Num; define.xml how precise
                if column["dataType"] == "string":
                    assert item.get("DataType") not in ("integer", "float"), column["itemOID"]


def test_same_frame_gives_the_same_bytes(sdtm, spec, tmp_path):
    frame, dspec = sdtm.datasets["VS"], sdtm.specs["VS"]
    for suffix, ndjson in ((".json", False), (".ndjson", True)):
        paths = [tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"]
        for path in paths:
            write_dataset_json(path, frame, dspec, study=spec.study, name="VS", ndjson=ndjson)
        assert paths[0].read_bytes() == paths[1].read_bytes()
    doc = json.loads((tmp_path / "a.json").read_text())
    stresn = [c["name"] for c in doc["columns"]].index("VSSTRESN")
    expected = frame["VSSTRESN"].to_numpy(dtype=float)
    got = np.array([np.nan if r[stresn] is None else r[stresn] for r in doc["rows"]], dtype=float)
    assert np.array_equal(got, expected, equal_nan=True)


def test_numeric_sas_dates_are_iso_8601_with_target_data_type_integer(spec, tmp_path):
    import pandas as pd

    from sdtmgen.spec.models import DomainSpec, Variable

    ds = DomainSpec.model_construct(
        domain="ADXX", label="Dates", dataset_class="ADAM OTHER", structure="One record per subject",
        keys=["USUBJID"], variables=[
            Variable(name="USUBJID", label="Unique Subject Identifier", type="Char", core="Req"),
            Variable(name="ADT", label="Analysis Date", type="Num", core="Exp", format="DATE9."),
            Variable(name="ADTM", label="Analysis Datetime", type="Num", core="Exp", format="DATETIME20."),
            Variable(name="ATM", label="Analysis Time", type="Num", core="Exp", format="TIME8.")],
        sources=[], derivations=[], supplemental=[], value_level=[])
    frame = pd.DataFrame({"USUBJID": ["1", "2"], "ADT": [23445.0, float("nan")],
                          "ADTM": [23445 * 86400.0 + 3661, float("nan")], "ATM": [3661.0, 0.0]})
    write_dataset_json(tmp_path / "adxx.json", frame, ds, study=spec.study, standard="ADaMIG")
    doc = json.loads((tmp_path / "adxx.json").read_text())
    columns = {c["name"]: c for c in doc["columns"]}
    assert [(columns[n]["dataType"], columns[n].get("targetDataType")) for n in ("ADT", "ADTM", "ATM")] == [
        ("date", "integer"), ("datetime", "integer"), ("time", "integer")]
    assert doc["rows"] == [["1", "2024-03-10", "2024-03-10T01:01:01", "01:01:01"], ["2", None, None, "00:00:00"]]
    assert doc["metaDataVersionOID"].endswith(".ADaMIG.1.3")


def _column_types(folder: Path) -> dict[tuple[str, str], tuple]:
    types = {}
    for path in sorted([*folder.glob("sdtm/*.json"), *folder.glob("adam/*.json")]):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for column in doc["columns"]:
            types[(doc["name"], column["name"])] = (column["dataType"], column.get("targetDataType"))
    return types


def _define_types(folder: Path) -> dict[str, str]:
    return {item.get("OID"): item.get("DataType") for kind in ("sdtm", "adam")
            for item in etree.parse(str(folder / kind / "define.xml")).xpath("//odm:ItemDef", namespaces=XPATH_NS)}


def test_two_simulations_give_every_column_the_same_data_type(spec_folder, tmp_path):
    """dataType comes from the spec: two studies whose data differ (DM.DTHDTC with a time in one, date
    only in the other; MH.MHENDTC complete or partial) still get the same type for every column."""
    from sdtmgen.simulate import load_simulation_params, simulate_study

    params = load_simulation_params(spec_folder / "simulation.yaml")
    outs = []
    for n, seed in ((3, 11), (40, 12)):
        simulate_study(params, n_subjects=n, seed=seed, out_dir=tmp_path / f"raw{n}")
        build(spec_folder, tmp_path / f"raw{n}", tmp_path / f"out{n}", formats="dataset-json")
        outs.append(tmp_path / f"out{n}")
    first, second = (_column_types(out) for out in outs)
    assert first.keys() == second.keys() and len(first) > 300
    assert {k: v for k, v in first.items() if second[k] != v} == {}
    # the data do differ where types are judged from values: define.xml, which describes them precisely
    define_first, define_second = (_define_types(out) for out in outs)
    assert {oid for oid, t in define_first.items() if define_second.get(oid) != t}
    assert first[("DM", "DTHDTC")] == ("string", None)
    assert first[("SV", "VISITNUM")] == ("double", None)
    assert first[("ADSL", "TRTSDT")] == ("date", "integer")
