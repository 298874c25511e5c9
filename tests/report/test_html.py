"""The HTML page: one section per outcome, everything escaped, figures embedded or linked."""

from __future__ import annotations

import re

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
