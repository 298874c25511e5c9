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
    return sorted(rules, key=lambda r: r["id"])


def write_conformance_report(folder: Path, findings: list[Finding], settings: dict | None = None) -> None:
    """``settings``: the study's data-quality severities (rule id -> setting with ``severity`` and ``reason``)."""
    counts = Counter(f.rule for f in findings)
    rules = [{**r, "findings": counts.get(r["id"], 0),
              "status": "pass" if not counts.get(r["id"]) else ("fail" if r["severity"] == "error" else "warn")}
             for r in rule_catalogue()]
    for rule in rules:  # a study's own severity, with its reason
        setting = (settings or {}).get(rule["id"])
        if setting is not None:
            rule.update(severity=setting.severity, reason=setting.reason)
            if setting.severity == "off":
                rule["status"] = "off"
            elif counts.get(rule["id"]):
                rule["status"] = "fail" if setting.severity == "error" else "warn"
    known = {r["id"] for r in rules}
    rules += [{"id": rid, "severity": next(f.severity for f in findings if f.rule == rid), "message": "mapping finding",
               "kind": "mapping", "findings": n, "status": "warn"} for rid, n in sorted(counts.items()) if rid not in known]
    summary = {"errors": sum(f.severity == "error" for f in findings),
               "warnings": sum(f.severity == "warning" for f in findings)}
    payload = {"summary": summary, "rules": rules, "findings": [asdict(f) for f in findings]}
    (folder / "conformance.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    lines = [f"Conformance report: {summary['errors']} error(s), {summary['warnings']} warning(s)", "",
             f"{'rule':<16}{'severity':<10}{'status':<8}{'findings':>8}  message"]
    lines += [f"{r['id']:<16}{r['severity']:<10}{r['status']:<8}{r['findings']:>8}  {r['message']}" for r in rules]
    study_set = [r for r in rules if "reason" in r]
    if study_set:
        lines += ["", "Severities set by the study:"]
        lines += [f"  {r['id']}: {r['severity']} - {r['reason']}" for r in study_set]
    lines += ["", "Findings:" if findings else "No findings."]
    lines += [f.describe() for f in findings]
    (folder / "conformance.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
