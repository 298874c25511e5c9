"""Per-study severities of data-quality rules, declared in study.yaml with a reason.

A study may keep records that a conformance rule flags when it has a documented reason (e.g. an end
date before the start date that the site confirmed and that must be submitted as collected)::

    data_quality:
      XD-START-END: {severity: warning, reason: "site-confirmed dates, query closed 2024-07-01"}

``error`` stops the build (the default of every rule), ``warning`` keeps the records and reports
each finding with the reason, ``off`` does not report the rule's findings; the setting and its
reason are written to the conformance report either way. Rules on SDTMIG Required variables and
FDA rules cannot be changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sdtmgen.errors import Finding

from sdtmgen.validate.rule_base import LOCKED  # noqa: F401  (rules a study cannot change)


class DataQualitySetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Literal["error", "warning", "off"] = Field(
        description="the rule's findings become errors (the build fails) or warnings (reported) with the reason "
                    "added to their message; off: they are left out")
    reason: str = Field(min_length=3, max_length=1000, pattern=r"\S",
                        description="why the study sets this severity (shown in the conformance report)")


def setting_problems(settings: dict[str, DataQualitySetting]) -> list[str]:
    """Settings naming an unknown or a locked rule."""
    from sdtmgen.validate.conformance import RULES

    problems = []
    for rule_id in settings:
        if rule_id in LOCKED or rule_id.upper().startswith("FDA"):
            problems.append(f"data_quality: rule {rule_id} cannot be changed by a study "
                            f"(Required variables and FDA rules always apply)")
        elif rule_id not in RULES:
            problems.append(f"data_quality: unknown rule {rule_id}; rules that can be set: "
                            f"{', '.join(sorted(set(RULES) - LOCKED))}")
    return problems


def apply_settings(findings: list[Finding], settings: dict[str, DataQualitySetting]) -> list[Finding]:
    """The findings with the study's severities: downgraded with the reason, or left out when off."""
    if not settings:
        return findings
    out = []
    for finding in findings:
        setting = settings.get(finding.rule)
        if setting is None or setting.severity == finding.severity:
            out.append(finding)
        elif setting.severity != "off":
            out.append(replace(finding, severity=setting.severity,
                               message=f"{finding.message} [{setting.severity} for this study: {setting.reason}]"))
    return out
