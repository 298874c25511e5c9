"""The HTML page: one section per outcome, everything escaped, figures embedded or linked."""

from __future__ import annotations

import re

import pandas as pd

from sdtmgen.report import make_report, write_report


def test_a_section_and_a_table_per_outcome(report, report_config):
    page = report.html
    for outcome in report_config.outcomes:
        assert f'<section id="outcome-{outcome.number}">' in page
    assert page.count("<table>") >= 16 + 1  # populations
    assert "MTD: not determined" in page and "MTD-TOO-FEW" in page
    assert "2/3 (66.7%)" in page  # FN in DL1


def test_every_recovery_endpoint_has_a_km_plot_and_each_group_a_blood_count_plot(report, report_config, study):
    names = {f.name for f in report.figures}
    for outcome in report_config.outcomes:
        if outcome.kind == "recovery":
            assert {f"km_{p.lower()}.png" for p in outcome.paramcds} <= names
    assert {f"blood_counts_group{i}.png" for i in study.GROUPS} <= names
    assert report.html.count('<img src="data:image/png;base64,') == len(report.figures)


def test_text_from_data_and_spec_is_escaped(study, report_config):
    frames = study.datasets()
    frames["ADAE"].loc[0, "AEDECOD"] = "<script>alert('x')</script> & co"
    cfg = report_config.model_copy(update={"title": 'Results <b>"bold"</b>'})
    page = make_report(frames, cfg, draw=False).html
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "Results &lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in page
    # ADTTE PARAM text of the fixture holds "<b>" too
    assert "PLTREC50 &lt;b&gt;" in page


def test_linked_figures_point_at_the_written_pngs(report_config, frames, tmp_path):
    plots = report_config.plots.model_copy(update={"embed": False, "blood_counts": None})
    cfg = report_config.model_copy(update={"plots": plots,
                                           "outcomes": [o for o in report_config.outcomes if o.number == 4]})
    report = make_report(frames, cfg)
    assert len(report.figures) == 2
    write_report(tmp_path, report)
    links = re.findall(r'<img src="([^"]+)"', report.html)
    assert links and all(link.startswith("plots/") for link in links)
    for link in links:
        assert (tmp_path / link).is_file()
    assert "data:image" not in report.html


def test_a_study_team_reads_plain_labels_group_sizes_and_the_cutoff(frames, report_config, report):
    """Column headers carry the safety N of the group; 0 and 100% without decimals; no variable codes
    ("TRANSFL = Y", "(ADAE FNFL)") in the labels; report.yaml's plain names replace variable names; the
    data cut-off date (TS DCUTDTC) is on the page."""
    page = report.html
    sizes = report.ard[(report.ard["stat_name"] == "N") & (report.ard["outcome"] == 5)]
    for level, size in zip(sizes["group1_level"], sizes["stat"]):
        assert f"<th>{level} (N={size})</th>" in page
    assert "(0%)" in page and "(0.0%)" not in page and "(100.0%)" not in page
    for code in ("TRANSFL = Y", "RBCTRFL = Y", "ADAE FNFL", "from CHEMSDT"):
        assert code not in page, code
    assert "from the start of chemotherapy" in page and "Data cut-off" not in page
    ts = pd.DataFrame({"TSPARMCD": ["TITLE", "DCUTDTC"], "TSVAL": ["x", "2024-06-30"]})
    with_cutoff = make_report({**frames, "TS": ts}, report_config, draw=False).html
    assert "Data cut-off: 2024-06-30" in with_cutoff


def test_an_analysis_nobody_was_at_risk_for_is_one_line(frames, report_config):
    """A recovery parameter without any ADTTE record: one line saying so, no table of NE, no plot."""
    adtte = frames["ADTTE"]
    gone = next(p for o in report_config.outcomes if o.kind == "recovery" for p in o.paramcds
                if (adtte["PARAMCD"] == p).any())
    report = make_report({**frames, "ADTTE": adtte[adtte["PARAMCD"] != gone]}, report_config)
    page = report.html
    assert "no subject at risk in any group, nothing to estimate" in page
    assert f"km_{gone.lower()}.png" in {f.name for f in report.figures}  # drawn for the files, not shown
    assert page.count('<img src="data:image/png;base64,') == len(report.figures) - 1
