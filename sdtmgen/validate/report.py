"""The conformance report: every rule that ran, whether it passed, and each finding."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from sdtmgen.errors import Finding
from sdtmgen.validate.conformance import RULES
from sdtmgen.validate.schema import SCHEMA_RULES


def rule_catalogue() -> list[dict[str, str]]:
    rules = [{"id": rid, "severity": sev, "message": msg, "kind": "dataset schema"}
             for rid, (sev, msg) in SCHEMA_RULES.items()]
    rules += [{"id": r.id, "severity": r.severity, "message": r.message, "kind": "conformance"}
              for r in RULES.values()]
    from sdtmgen.review import catalogue  # data-review checks (DR-...)

    rules += catalogue()
    return sorted(rules, key=lambda r: r["id"])


def rule_status(rule: dict, count: int, not_run: list[str], raised: bool = False) -> str:
    """'not run' when the rule could not run at all (never 'pass'); else pass, or fail/warn by severity
    (``raised``: the study set the check's severity to error)."""
    if not_run:
        return "not run"
    return "pass" if not count else ("fail" if rule["severity"] == "error" or raised else "warn")


def write_conformance_report(folder: Path, findings: list[Finding], settings: dict | None = None) -> None:
    """reports/conformance.json and .txt: every rule with its status (pass, fail, warn, off, or not run with
    the reason; datasets a rule could not check are listed with the reason too), then every finding.
    ``settings``: the study's data-quality severities (rule id -> setting with ``severity`` and ``reason``)."""
    counts = Counter(f.rule for f in findings if not f.not_run)
    raised = {f.rule for f in findings if f.severity == "error"}  # a study may raise a check to error
    reasons: dict[str, list[str]] = {}      # the rule did not run at all
    skipped: dict[str, list[str]] = {}      # the rule ran, but not on these datasets
    for f in findings:
        if f.not_run:
            (reasons if f.dataset == "*" else skipped).setdefault(f.rule, []).append(
                f.message.removeprefix("not run: "))
    rules = []
    for r in rule_catalogue():
        entry = {**r, "findings": counts.get(r["id"], 0),
                 "status": rule_status(r, counts.get(r["id"], 0), reasons.get(r["id"], []), r["id"] in raised)}
        if r["id"] in reasons:
            entry["reason"] = "; ".join(dict.fromkeys(reasons[r["id"]]))
        if r["id"] in skipped:
            entry["not_run_on"] = "; ".join(dict.fromkeys(skipped[r["id"]]))
        rules.append(entry)
    for rule in rules:  # a study's own severity, with its reason
        setting = (settings or {}).get(rule["id"])
        if setting is not None:
            rule.update(severity=setting.severity, study_reason=setting.reason)
            if setting.severity == "off":
                rule["status"] = "off"
            elif counts.get(rule["id"]):
                rule["status"] = "fail" if setting.severity == "error" else "warn"
    known = {r["id"] for r in rules}
    rules += [{"id": rid, "severity": next(f.severity for f in findings if f.rule == rid), "message": "mapping finding",
               "kind": "mapping", "findings": n, "status": "warn"} for rid, n in sorted(counts.items()) if rid not in known]
    summary = {"errors": sum(f.severity == "error" for f in findings),
               "warnings": sum(f.severity == "warning" for f in findings),
               "not_run": sum(r["status"] == "not run" for r in rules)}
    payload = {"summary": summary, "rules": rules, "findings": [asdict(f) for f in findings]}
    (folder / "conformance.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    width = max([16] + [len(r["id"]) + 2 for r in rules])
    lines = [f"Conformance report: {summary['errors']} error(s), {summary['warnings']} warning(s), "
             f"{summary['not_run']} rule(s) not run", "",
             f"{'rule':<{width}}{'severity':<10}{'status':<8}{'findings':>8}  message"]
    lines += [f"{r['id']:<{width}}{r['severity']:<10}{r['status']:<8}{r['findings']:>8}  {r['message']}"
              + (f" -- NOT RUN: {r['reason']}" if r.get("reason") else "")
              + (f" -- not run on: {r['not_run_on']}" if r.get("not_run_on") else "") for r in rules]
    study_set = [r for r in rules if "study_reason" in r]
    if study_set:
        lines += ["", "Severities set by the study:"]
        lines += [f"  {r['id']}: {r['severity']} - {r['study_reason']}" for r in study_set]
    lines += ["", "Findings:" if findings else "No findings."]
    lines += [f.describe() for f in findings]
    (folder / "conformance.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
