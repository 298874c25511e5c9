"""The number-at-risk table under the Kaplan-Meier plots: the subjects whose time is not before the day."""

from __future__ import annotations

import numpy as np

from sdtmgen.report.km import fit
from sdtmgen.report.plots import at_risk


def test_at_risk_counts_subjects_with_a_time_not_before_the_day():
    rng = np.random.default_rng(7)
    times = rng.integers(1, 45, size=60).astype(float)
    censored = rng.random(60) < 0.3
    km = fit(times, censored)
    days = np.arange(0, 50, 7, dtype=float)
    expected = np.array([(times >= d).sum() for d in days])  # counted directly from the data
    assert at_risk(km, days).tolist() == expected.tolist()
    assert at_risk(km, np.array([0.0]))[0] == 60 and at_risk(km, np.array([99.0]))[0] == 0


def test_the_km_plot_draws_the_table(report, report_config):
    """The KM figure is taller than the configured height by the table rows (one per group + header)."""
    import io

    from PIL import Image

    km = next(f for f in report.figures if f.name.startswith("km_"))
    _, height = Image.open(io.BytesIO(km.png)).size
    plots = report_config.plots
    assert height > plots.km_height * plots.dpi


def test_blood_count_panels_share_one_scale_across_groups_and_hold_the_thresholds(report_config):
    """Each panel's y range covers every group's values and its thresholds (so the groups' separate
    figures compare), log panels stay positive, a panel without values has none."""
    import pandas as pd

    from sdtmgen.report.plots import panel_limits

    panels = report_config.plots.blood_counts.panels
    values = pd.DataFrame({"_PANEL": [0, 0, 1, 1], "_AVAL": [0.1, 4.0, 12.0, 300.0], "GROUP": ["a", "b", "a", "b"]})
    limits = panel_limits(values, panels)
    for c, panel in enumerate(panels[:2]):
        low, high = limits[c]
        mine = values.loc[values["_PANEL"] == c, "_AVAL"].tolist() + [t.value for t in panel.thresholds]
        assert low <= min(mine) and high >= max(mine)
    assert all(t.value for p in panels for t in p.thresholds)  # the example configures reference lines
    if len(panels) > 2:
        low, high = limits[2]  # no value: the range is that of the thresholds alone
        assert low <= min(t.value for t in panels[2].thresholds) <= high
