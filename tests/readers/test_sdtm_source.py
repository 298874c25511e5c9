"""A domain taken from a delivered SDTM dataset: the DM (and SUPPDM) the example build writes, fed back
as a CRO's delivery, gives the same SDTM and ADaM files; bad deliveries are named."""

from __future__ import annotations

import shutil

import pandas as pd
import pyreadstat
import pytest
import yaml

from sdtmgen.errors import BuildError, SpecError
from sdtmgen.pipeline import build
from sdtmgen.spec.loader import load_spec


@pytest.fixture(scope="module")
def example_build(tmp_path_factory, spec_folder, example_raw):
    out = tmp_path_factory.mktemp("csv") / "out"
    build(spec_folder, example_raw, out)
    return out


def _xpts(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*.xpt"))}


def _deliver_dm(specs, source: dict, supplemental_columns: bool = False) -> None:
    """The spec's DM taken from ``source`` instead of mapped (its sources and derivations removed)."""
    path = specs / "sdtm" / "dm.yaml"
    dm = yaml.safe_load(path.read_text())
    for key in ("sources", "derivations"):
        dm.pop(key)
    dm["source"] = source
    if not supplemental_columns:
        for supp in dm["supplemental"]:
            supp.pop("column")
    path.write_text(yaml.safe_dump(dm, sort_keys=False))


def _build_with_delivered_dm(example_build, spec_copy, example_raw, tmp_path):
    """The example rebuilt with DM/SUPPDM delivered as the XPTs its own build wrote."""
    delivered = spec_copy / "delivered"
    delivered.mkdir()
    for name in ("dm.xpt", "suppdm.xpt"):
        shutil.copy(example_build / "sdtm" / name, delivered / name)
    _deliver_dm(spec_copy, {"sdtm": "delivered/dm.xpt", "supp": "delivered/suppdm.xpt"})
    return build(spec_copy, example_raw, tmp_path / "out")


def test_delivered_dm_gives_the_same_outputs(example_build, spec_copy, example_raw, tmp_path):
    summary = _build_with_delivered_dm(example_build, spec_copy, example_raw, tmp_path)
    expected, got = _xpts(example_build), _xpts(summary.out)
    assert len(expected) >= 15 and got.keys() == expected.keys()
    assert [name for name in expected if expected[name] != got[name]] == []
    recon = pd.read_csv(summary.out / "reports" / "reconciliation.csv", dtype=str, keep_default_na=False)
    dm = recon[recon["domain"] == "DM"]
    assert dm[["form", "rows_read", "rows_mapped"]].values.tolist() == [["dm.xpt", "9", "9"]]
    lineage = pd.read_csv(summary.out / "reports" / "lineage" / "dm.csv", dtype=str)
    assert set(lineage["raw_file"]) == {"dm.xpt"} and sorted(lineage["raw_row"].astype(int)) == list(range(1, 10))
    unused = {f.variable for f in summary.findings if f.rule == "RAW-UNUSED"}
    assert "dm.csv" in unused  # the raw DM form is now read by nothing, and said so


def test_delivered_dm_as_csv_is_validated_like_a_mapped_one(example_build, spec_copy, example_raw, tmp_path):
    frame, _ = pyreadstat.read_xport(str(example_build / "sdtm" / "dm.xpt"))
    supp, _ = pyreadstat.read_xport(str(example_build / "sdtm" / "suppdm.xpt"))
    frame.loc[0, "SEX"] = "MALE"  # not in the SEX codelist: the CT check catches it as for a mapped DM
    frame.to_csv(spec_copy / "dm.csv", index=False)
    supp.to_csv(spec_copy / "suppdm.csv", index=False)
    _deliver_dm(spec_copy, {"sdtm": "dm.csv", "supp": "suppdm.csv"})
    with pytest.raises(BuildError) as failed:
        build(spec_copy, example_raw, tmp_path / "out")
    errors = [f for f in failed.value.findings if f.severity == "error"]
    assert any(f.dataset == "DM" and f.variable == "SEX" and "MALE" in f.values for f in errors), errors
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    (lambda f: f.assign(EXTRA="x"), "column(s) EXTRA are not variables of the DM spec"),
    (lambda f: f.drop(columns=["RFSTDTC"]), "variable(s) RFSTDTC are not in the delivered dataset"),
    (lambda f: f.assign(AGE=f["AGE"].astype(str)), "column AGE is character, but the spec's AGE is Num"),
])
def test_bad_deliveries_are_named(example_build, spec_copy, example_raw, tmp_path, change, message):
    frame, _ = pyreadstat.read_xport(str(example_build / "sdtm" / "dm.xpt"))
    pyreadstat.write_xport(change(frame), str(spec_copy / "dm.xpt"), table_name="DM")
    shutil.copy(example_build / "sdtm" / "suppdm.xpt", spec_copy / "suppdm.xpt")
    _deliver_dm(spec_copy, {"sdtm": "dm.xpt", "supp": "suppdm.xpt"})
    with pytest.raises(BuildError) as failed:
        build(spec_copy, example_raw, tmp_path / "out")
    errors = [f for f in failed.value.findings if f.severity == "error"]
    assert any(message in f.message and f.sources == ("dm.xpt",) for f in errors), [f.message for f in errors]


def test_unreadable_or_outside_delivery(example_build, spec_copy, example_raw, tmp_path):
    (spec_copy / "dm.xpt").write_bytes(b"not a transport file")
    _deliver_dm(spec_copy, {"sdtm": "dm.xpt"})
    path = spec_copy / "sdtm" / "dm.yaml"
    dm = yaml.safe_load(path.read_text())
    dm["supplemental"] = []
    path.write_text(yaml.safe_dump(dm, sort_keys=False))
    with pytest.raises(BuildError) as failed:
        build(spec_copy, example_raw, tmp_path / "out")
    assert any("dm.xpt: not a readable SAS transport" in f.message for f in failed.value.findings)
    dm["source"] = {"sdtm": "../../elsewhere/dm.xpt"}
    path.write_text(yaml.safe_dump(dm, sort_keys=False))
    with pytest.raises(SpecError, match="DM source.sdtm ../../elsewhere/dm.xpt points outside the allowed folders"):
        build(spec_copy, example_raw, tmp_path / "out")


@pytest.mark.parametrize("source, supplemental_columns, message", [
    ({"sdtm": "dm.sas7bdat"}, False, "source.sdtm"),
    ({"sdtm": "dm.xpt"}, False, "give source: {supp: ...}"),
    ({"sdtm": "dm.xpt", "supp": "suppdm.xpt"}, True, "a delivered domain maps no column"),
    ({"sdtm": "dm.xpt", "path": "x"}, False, "source.path"),
])
def test_source_key_is_checked_when_the_spec_loads(spec_copy, source, supplemental_columns, message):
    _deliver_dm(spec_copy, source, supplemental_columns)
    with pytest.raises(SpecError, match=message.replace("{", r"\{").replace("(", r"\(")) as bad:
        load_spec(spec_copy)
    assert "dm.yaml" in str(bad.value)


def test_adam_from_an_sdtm_package(example_build, spec_folder, tmp_path):
    """The SDTM folder the example build wrote, given as the raw export: detected as an SDTM package,
    every domain taken from it, and the same SDTM and ADaM files come out."""
    from sdtmgen.readers import detect

    package = example_build / "sdtm"
    assert detect(package) == "sdtm"
    summary = build(spec_folder, package, tmp_path / "out")
    expected, got = _xpts(example_build), _xpts(summary.out)
    assert any(p.parts[0] == "adam" for p in expected) and got.keys() == expected.keys()
    assert [name for name in expected if expected[name] != got[name]] == []
    recon = pd.read_csv(summary.out / "reports" / "reconciliation.csv", dtype=str, keep_default_na=False)
    assert set(recon["form"]) >= {"dm.xpt", "ae.xpt", "lb.xpt"} and (recon["rows_read"] == recon["rows_mapped"]).all()
    assert not [f for f in summary.findings if f.rule == "RAW-UNUSED"]


def test_manifest_hashes_the_delivered_and_sas_files(example_build, spec_copy, example_raw, tmp_path):
    import hashlib
    import json

    summary = _build_with_delivered_dm(example_build, spec_copy, example_raw, tmp_path)
    manifest = json.loads((summary.out / "manifest.json").read_text())
    assert manifest["spec"]["delivered/dm.xpt"] == hashlib.sha256((spec_copy / "delivered" / "dm.xpt").read_bytes()).hexdigest()
    assert "delivered/suppdm.xpt" in manifest["spec"] and "dm.csv" in manifest["raw"]
