"""Results: the analysis results dataset (ARD), the HTML report and its figures, from ADaM.

One concept per module: ``config`` (report.yaml), ``data`` (inputs and groups), ``ard`` (the
long-form results dataset), ``incidence``, ``durations`` (episodes), ``km`` (Kaplan-Meier),
``dlt`` (DLTs, 3+3, MTD), ``plots``, ``html``, ``build`` (the report folder).
"""

from sdtmgen.report.build import Report, make_report, write_report
from sdtmgen.report.config import ReportConfig, load_report_config

__all__ = ["Report", "ReportConfig", "load_report_config", "make_report", "write_report"]
