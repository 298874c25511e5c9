"""Findings as text for the console: grouped by raw file and rule, a cap per rule, a total.

A build reports every data error it found in one run; a data manager reads them file by file,
so each finding is listed under the raw file(s) its offending rows come from (a finding on rows
of several files appears under each, with that file's rows). Findings not traced to a raw row
(dataset-level checks) come last, under their dataset. Each rule lists at most ``cap`` offending
rows per file, then says how many more there are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sdtmgen.errors import Finding

#: items shown per rule and raw file
DEFAULT_CAP = 20

#: the finding that lists what a build could not make (and so could not check) because of its errors
SKIPPED_RULE = "BUILD-SKIPPED"


def source_file(source: str) -> str:
    """'ae.csv:12' -> 'ae.csv'; a source without a row ('ae.csv') is the whole file."""
    name, sep, row = source.rpartition(":")
    return name if sep and row.isdigit() else source


@dataclass
class _Part:
    """The rows of one finding that come from one raw file."""

    finding: Finding
    items: list[str] = field(default_factory=list)
    total: int = 0


def _parts(finding: Finding) -> dict[str, _Part]:
    """The finding split by raw file: each part's item lines (a cell, or a raw row) and its count."""
    if not finding.sources:
        rows = [f"record {r}" for r in finding.rows]
        return {f"{finding.dataset} (not traced to a raw row)": _Part(finding, rows, len(rows))}
    parts: dict[str, _Part] = {}
    for i, source in enumerate(finding.sources):
        part = parts.setdefault(source_file(source), _Part(finding))
        if i < len(finding.cells):
            part.items.append(finding.cells[i])
        elif source_file(source) != source:
            part.items.append(source)
        else:
            continue  # the whole file: no row to count
        part.total += 1
    if len(parts) == 1 and len(finding.rows) > len(finding.sources):  # raw rows kept only for the first records
        part = next(iter(parts.values()))
        part.total += len(finding.rows) - len(finding.sources)
    return parts


def _heading(finding: Finding) -> str:
    where = finding.dataset + (f".{finding.variable}" if finding.variable else "")
    message = finding.message.replace("\n", "\n      ")
    return f"  [{finding.rule}] {where}: {message}"


def format_findings(findings: list[Finding], cap: int = DEFAULT_CAP, severity: str = "error") -> str:
    """The findings of ``severity`` grouped by raw file, then rule; at most ``cap`` rows per rule and
    file; a total; then what was not built because of them."""
    notes = [f for f in findings if f.rule == SKIPPED_RULE]
    findings = [f for f in findings if f.severity == severity and f.rule != SKIPPED_RULE]
    groups: dict[str, dict[str, list[_Part]]] = defaultdict(lambda: defaultdict(list))
    for finding in findings:
        for file, part in _parts(finding).items():
            groups[file][finding.rule].append(part)
    untraced = sorted(g for g in groups if g.endswith("(not traced to a raw row)"))
    lines: list[str] = []
    rows_total = 0
    for file in sorted(set(groups) - set(untraced)) + untraced:
        rules = groups[file]
        count = sum(len(parts) for parts in rules.values())
        lines.append(f"{file}: {count} finding{'s' if count != 1 else ''}")
        for parts in rules.values():
            budget = cap
            for part in parts:
                lines.append(_heading(part.finding))
                shown = part.items[:max(budget, 0)]
                budget -= len(shown)
                lines += [f"    {item}" for item in shown]
                hidden = part.total - len(shown)
                if hidden > 0:
                    lines.append(f"    ... and {hidden} more" if shown else f"    {hidden} row(s), not listed")
                if part.finding.values and not part.finding.cells:
                    values = ", ".join(repr(v) for v in part.finding.values[:10])
                    more = f" (+{len(part.finding.values) - 10} more)" if len(part.finding.values) > 10 else ""
                    lines.append(f"    values: {values}{more}")
                if part.finding.hint:
                    lines.append(f"    what to do: {part.finding.hint}")
                rows_total += part.total
    files = len(set(groups) - set(untraced))
    by_severity = defaultdict(int)
    for finding in findings:
        by_severity[finding.severity] += 1
    counted = ", ".join(f"{n} {severity}{'s' if n != 1 else ''}" for severity, n in sorted(by_severity.items()))
    lines.append(f"total: {counted or 'no findings'} in {files} raw file{'s' if files != 1 else ''}"
                 + (f" and {len(untraced)} dataset check group{'s' if len(untraced) != 1 else ''}" if untraced else "")
                 + f" ({rows_total} row{'s' if rows_total != 1 else ''})")
    lines += [f"note: {note.dataset}: {note.message}" if note.dataset != "*" else f"note: {note.message}"
              for note in notes]
    return "\n".join(lines)
