"""The ARD's shape, order and formatting; two runs give identical bytes."""

from __future__ import annotations

import math

import pytest

from sdtmgen.report import durations, km, make_report, plots, write_report
from sdtmgen.report.ard import COLUMNS, Ard, format_display, format_stat, round_half_up
from sdtmgen.report.data import prepare

# a cards ARD (cards::ard_categorical / cardx::ard_survival_survfit) with two grouping columns, then stat_fmt
# as cards::apply_fmt_fn() adds it
CARDS = ["group1", "group1_level", "group2", "group2_level", "variable", "variable_level", "context", "stat_name",
         "stat_label", "stat", "stat_fmt", "fmt_fn", "warning", "error"]


def test_columns_follow_the_cards_convention(ard):
    assert list(ard.columns)[:len(CARDS)] == CARDS
    assert list(ard.columns) == COLUMNS
    assert (ard["group1"] == "TRT01P").all()
    props = ard[(ard["context"] == "categorical") & (ard["stat_name"] == "p")]
    assert len(props) and "pct" not in set(ard["stat_name"])
    assert props["stat"].astype(float).between(0, 1).all() and (props["fmt_fn"] == "xx.x%").all()
    assert (props["stat_label"] == "%").all()
    assert set(ard["error"]) == {""}
    nobody = ard[(ard["context"] == "survival") & (ard["variable"] == "prob") & (ard["warning"] != "")]
    assert len(nobody) and (nobody["warning"] == "no subject at risk").all() and (nobody["stat"] == "").all()


def test_ard_json_holds_the_same_rows_typed(report, tmp_path):
    import json

    import pandas as pd

    write_report(tmp_path, report)
    rows = json.loads((tmp_path / "ard.json").read_text(encoding="utf-8"))
    csv = pd.read_csv(tmp_path / "ard.csv", dtype=str, keep_default_na=False)
    assert len(rows) == len(csv) and list(rows[0]) == list(csv.columns)
    for row, (_, line) in zip(rows, csv.iterrows()):
        if row["stat"] is None:
            assert line["stat"] == ""
        elif isinstance(row["stat"], (int, float)) and not isinstance(row["stat"], bool):
            assert float(line["stat"]) == pytest.approx(row["stat"], abs=5e-7)
        else:
            assert line["stat"] == row["stat"]


def test_every_outcome_has_every_group_and_overall(ard, study):
    levels = [*study.GROUPS.values(), "Overall"]
    assert sorted(ard["outcome"].unique()) == list(range(1, 17))
    for outcome, rows in ard.groupby("outcome"):
        expected = ["Overall"] if outcome == 3 else levels
        assert list(dict.fromkeys(rows["group1_level"])) == expected, outcome


def test_rows_are_sorted_outcome_then_group_by_dose(ard, study):
    assert ard["outcome"].is_monotonic_increasing
    order = {g: i for i, g in enumerate([*study.GROUPS.values(), "Overall"])}
    for _, rows in ard.groupby(["outcome", "analysis"], sort=False):
        ranks = rows["group1_level"].map(order)
        assert ranks.is_monotonic_increasing


def test_groups_are_ordered_by_dose_level_not_by_name(study, report_config):
    frames = study.datasets()
    names = {1: "Low", 2: "Mid", 3: "A high dose"}  # alphabetical order differs from TRT01PN
    for name in ("ADSL", "ADAE", "ADLB", "ADTTE"):
        frames[name]["TRT01P"] = frames[name]["USUBJID"].map(
            dict(zip(frames["ADSL"]["USUBJID"], frames["ADSL"]["TRT01PN"].map(names))))
    ard = make_report(frames, report_config, draw=False).ard
    assert list(dict.fromkeys(ard.loc[ard["outcome"] == 5, "group1_level"])) == ["Low", "Mid", "A high dose", "Overall"]


def test_stat_formatting_is_fixed():
    assert format_stat(3) == "3"
    assert format_stat(1 / 3) == "0.333333"
    assert format_stat(-1e-9) == "0.000000"
    assert format_stat(float("nan")) == "" and format_stat(None) == ""
    assert format_stat("escalate") == "escalate"
    assert round_half_up(5.25, 1) == "5.3" and round_half_up(0.125, 2) == "0.13" and round_half_up(-0.04, 1) == "0.0"
    assert format_display("p", 2 / 3, "categorical") == "66.7"
    assert format_display("estimate", math.inf, "survival") == "NE"


def test_two_runs_give_identical_bytes(report, frames, report_config, tmp_path):
    again = make_report(frames, report_config, subtitle="hand-made test data", draw=False)
    assert again.ard.equals(report.ard)
    write_report(tmp_path / "a", report)
    write_report(tmp_path / "b", again)
    for name in ("ard.csv", "ard.json", "fn_check.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert make_report(frames, report_config, subtitle="hand-made test data", draw=False).html == again.html
    # redraw one KM plot and one blood count plot (drawing is the slow part): the same bytes
    inputs = prepare(frames, report_config)
    recovery = next(o for o in report_config.outcomes if o.kind == "recovery")
    fits = km.recovery(Ard(inputs.groups, inputs.overall), inputs, recovery)
    paramcd = recovery.paramcds[0]
    title = report.ard.loc[report.ard["analysis"] == paramcd, "analysis_label"].iloc[0]
    png = {f.name: f.png for f in report.figures}
    assert plots.km_plot(title, fits[paramcd], inputs.groups, report_config) == png[f"km_{paramcd.lower()}.png"]
    fn = durations.episodes(inputs, "FNFL", report_config, 0)
    values = plots.window_values(inputs, report_config)
    transfusions = plots.transfusion_days(inputs, report_config.plots.blood_counts)
    assert (plots.blood_count_plot(inputs.groups[0], inputs, report_config, values, transfusions, fn)
            == png["blood_counts_group1.png"])


def test_pngs_carry_no_software_or_date_metadata(report):
    for fig in report.figures:
        assert fig.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"Software" not in fig.png and b"matplotlib" not in fig.png.lower()
        assert b"tIME" not in fig.png


def test_csv_is_plain_text_with_unix_newlines(report, tmp_path):
    write_report(tmp_path, report)
    data = (tmp_path / "ard.csv").read_bytes()
    assert b"\r\n" not in data
    assert data.split(b"\n", 1)[0].decode() == ",".join(COLUMNS)
    assert len(data.decode("utf-8").splitlines()) == len(report.ard) + 1


@pytest.mark.parametrize("outcome, contexts", [(1, {"categorical"}), (2, {"categorical", "dlt"}), (3, {"mtd"}),
                                               (4, {"survival"}), (6, {"continuous"}),
                                                   (15, {"categorical", "continuous"})])
def test_contexts(ard, outcome, contexts):
    assert set(ard.loc[ard["outcome"] == outcome, "context"]) == contexts
