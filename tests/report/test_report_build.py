"""End to end: the default build writes report/ with results for all 16 outcome measures; the ADaM
spec, not the code, decides the numbers; ``sdtmgen report`` writes the same folder on its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sdtmgen.cli import main
from sdtmgen.pipeline import build

@pytest.fixture(scope="module")
def built(tmp_path_factory, spec_folder, example_raw):
    out = tmp_path_factory.mktemp("report_build") / "out"
    build(spec_folder, example_raw, out)
    return out


def read_ard(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_default_build_writes_results_for_every_outcome_group_and_overall(built):
    ard = read_ard(built / "report" / "ard.csv")
    assert sorted(ard["outcome"].astype(int).unique()) == list(range(1, 17))
    adsl_groups = ["UCMSC-Exo 50 ug/kg", "UCMSC-Exo 100 ug/kg", "UCMSC-Exo 200 ug/kg"]
    for outcome, rows in ard.groupby(ard["outcome"].astype(int)):
        levels = list(dict.fromkeys(rows["group1_level"]))
        assert levels == (["Overall"] if outcome == 3 else [*adsl_groups, "Overall"]), outcome
    n = ard[(ard["analysis"] == "AE.AWIN28FL") & (ard["variable"] == "ANY") & (ard["stat_name"] == "N")]
    assert n.set_index("group1_level")["stat"].to_dict() == {**{g: "3" for g in adsl_groups}, "Overall": "9"}
    mtd = ard[ard["outcome"] == "3"].set_index("stat_name")["stat"]
    assert mtd["mtd"] == "not determined" and mtd["rule"] == "MTD-TOO-FEW"


def test_report_html_and_pngs_exist(built):
    folder = built / "report"
    page = (folder / "report.html").read_text(encoding="utf-8")
    for outcome in range(1, 17):
        assert f'id="outcome-{outcome}"' in page
    pngs = sorted(p.name for p in (folder / "plots").glob("*.png"))
    assert {f"km_{p}.png" for p in ("ancrec05", "ancrec10", "pltrec50", "pltrec20", "hgbrec80", "hgbrec60")} <= set(pngs)
    assert {"blood_counts_group1.png", "blood_counts_group2.png", "blood_counts_group3.png"} <= set(pngs)
    for name in pngs:
        assert (folder / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def copied_spec(spec_folder: Path, tmp_path: Path) -> Path:
    """The spec copied (it needs nothing beside it: the standards ship with the package)."""
    specs = tmp_path / "work" / "specs"
    shutil.copytree(spec_folder, specs)
    return specs


def test_changing_the_adam_anc_threshold_changes_the_ard(built, spec_folder, example_raw, tmp_path):
    specs = copied_spec(spec_folder, tmp_path)
    adtte = (specs / "adam" / "adtte.yaml").read_text(encoding="utf-8")
    old = "        lab: NEUT\n        threshold: 0.5\n"
    assert adtte.count(old) == 1
    (specs / "adam" / "adtte.yaml").write_text(adtte.replace(old, "        lab: NEUT\n        threshold: 0.2\n"),
                                               encoding="utf-8")
    # only outcome 4 and no blood count plots, to keep the test quick: `sdtmgen report` still runs it all
    config = yaml.safe_load((specs / "report.yaml").read_text(encoding="utf-8"))
    config["report"]["outcomes"] = [o for o in config["report"]["outcomes"] if o["number"] == 4]
    config["report"]["plots"]["blood_counts"] = None
    config["report"]["febrile_neutropenia_check"] = None
    (specs / "report.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--spec", str(specs), "--raw", str(example_raw), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 outcome measure," in result.output
    before, after = read_ard(built / "report" / "ard.csv"), read_ard(out / "ard.csv")
    rows = lambda ard, analysis: ard[ard["analysis"] == analysis].reset_index(drop=True)  # noqa: E731
    keys = ["group1_level", "variable", "variable_level", "stat_name", "stat"]
    assert not rows(before, "ANCREC05")[keys].equals(rows(after, "ANCREC05")[keys])
    # the other ANC threshold is untouched
    pd.testing.assert_frame_equal(rows(before, "ANCREC10"), rows(after, "ANCREC10"))
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == ["km_ancrec05.png", "km_ancrec10.png"]
    assert (out / "report.html").is_file()


def test_report_command_without_report_yaml_fails_cleanly(tmp_path, spec_folder):
    specs = copied_spec(spec_folder, tmp_path)
    (specs / "report.yaml").unlink()
    result = CliRunner().invoke(main, ["report", "--spec", str(specs), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "report.yaml" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_report_command_help():
    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    assert "--spec" in result.output and "--raw" in result.output and "--out" in result.output


def test_the_build_step_is_skipped_without_adam_or_report_yaml(tmp_path, spec_folder, frames):
    from types import SimpleNamespace

    from sdtmgen.report.build import write_results
    from sdtmgen.spec.loader import load_report_config

    with_config = SimpleNamespace(folder=str(spec_folder), report=load_report_config(spec_folder))
    without_config = SimpleNamespace(folder=str(tmp_path), report=load_report_config(tmp_path))
    assert with_config.report is not None and without_config.report is None
    assert write_results(tmp_path / "a", with_config, {}, {}) is None  # no ADaM datasets
    assert write_results(tmp_path / "b", without_config, {}, frames) is None  # no report.yaml
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
