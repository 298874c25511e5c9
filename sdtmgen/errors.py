"""Errors and findings shared by every stage of a build.

A build never shows a traceback for bad input: everything the user can fix is raised as one of
these, and the CLI prints its message and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class SdtmgenError(Exception):
    """Base class for errors the user can act on."""


class SpecError(SdtmgenError):
    """A spec file is invalid; the message names the file and line."""


class RawDataError(SdtmgenError):
    """Raw input cannot be mapped; the message names the raw file, row, column and value."""


class BuildError(SdtmgenError):
    """The build found errors (validation, conformance) and wrote no output."""

    def __init__(self, message: str, findings: list["Finding"] | None = None):
        super().__init__(message)
        self.findings = findings or []


@dataclass(frozen=True)
class Finding:
    """One problem found in a dataset: what rule, where, and how bad."""

    rule: str
    severity: str  # "error" | "warning"
    dataset: str
    message: str
    variable: str = ""
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())  # "form.csv:row" of the offending records
    not_run: bool = False  # the rule could not run (the message says why): reported as 'not run', never 'pass'

    def describe(self) -> str:
        where = self.dataset + (f".{self.variable}" if self.variable else "")
        text = f"[{self.severity.upper()}] {self.rule} {where}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" (+{len(self.rows) - 10} more)" if len(self.rows) > 10 else ""
            text += f"\n    records: {shown}{more}"
        if self.values:
            text += "\n    values: " + ", ".join(repr(v) for v in self.values[:10])
        if self.sources:
            text += "\n    raw: " + ", ".join(self.sources[:10])
        return text
